/**
 * Kernels view: ONNX Runtime Web (MatMul, MatMulNBits) and TensorFlow.js (matMul) beside our FP32
 * WGSL GEMM at the same shapes, from the same run as the table above (the worker runs
 * src/kernels/yardsticks.ts after the kernel benchmark; `npm run bench:kernels -- --browser` too).
 */
import { fmtNum } from '../common/format';
import { explainYardsticks, type YardstickResult } from '../../kernels/yardsticks';

const LIB: Record<string, string> = { ours: 'ours', 'onnxruntime-web': 'ONNX Runtime Web', tfjs: 'TensorFlow.js' };

export function LibrariesCard({ result, committed }: { result: YardstickResult | string | undefined; committed: boolean }) {
  return (
    <section className="card span-2" data-testid="kernels-libs">
      <h3>Libraries beside ours (WebGPU)</h3>
      {typeof result !== 'object' ? (
        <div className="banner info" data-testid="kernels-libs-none">
          {result ??
            (committed
              ? 'the committed run has no library rows — run the benchmark here, or npm run bench:kernels -- --browser'
              : 'not run')}
        </div>
      ) : (
        <>
          <div className="muted">
            {committed ? 'committed run · ' : ''}
            {result.timing}
            {Object.keys(result.versions).length > 0 &&
              ` · ${Object.entries(result.versions)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}`}
          </div>
          <div className="ratio-row">
            {result.summary.map((s) => (
              <div className="ratio" key={`${s.library} ${s.op}`} data-testid="kernels-libs-ratio">
                <div className="ratio-v">{Number.isFinite(s.vit) ? `${s.vit.toFixed(2)}×` : 'n/a'}</div>
                <div className="ratio-k">
                  {LIB[s.library]} {s.op} / our FP32 · ViT block
                </div>
              </div>
            ))}
          </div>
          <ul className="explain" data-testid="kernels-libs-explain">
            {explainYardsticks(result).map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>library</th>
                  <th>op</th>
                  <th>shape of</th>
                  <th>M×N×K</th>
                  <th>ms</th>
                  <th>GOP/s</th>
                  <th>× our FP32</th>
                  <th>note</th>
                </tr>
              </thead>
              <tbody>
                {result.rows.map((r, i) => (
                  <tr key={i} data-testid="kernels-libs-row" data-lib={r.library}>
                    <td>{LIB[r.library] ?? r.library}</td>
                    <td>{r.op}</td>
                    <td>{r.group}</td>
                    <td>{r.shape}</td>
                    <td className="lib-ms">{r.ms !== undefined ? fmtNum(r.ms, 4) : `skipped: ${r.skipped ?? 'no figure'}`}</td>
                    <td>{r.gops !== undefined ? fmtNum(r.gops, 4) : ''}</td>
                    <td>{r.vsOurFp32 !== undefined ? `${r.vsOurFp32.toFixed(2)}×` : ''}</td>
                    <td>{r.note ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
