/**
 * The CPU backend's kernels in the Kernels view: the committed run (results/kernels.json `cpu`,
 * `npm run bench:kernels -- --browser`) at once, this browser's on request (a worker running
 * src/cpu/cpuBench.ts with the same preset as the WebGPU benchmark), ratios explained in plain words.
 */
import { useRef, useState } from 'react';
import { CPU_BENCH_PRESETS, type CpuBenchResult, ceilingsFor, explainCpuRatios } from '../../cpu/cpuBench';
import committedSimd from '../../../results/simd.json';
import { fmtNum } from '../common/format';

export function CpuKernelsCard({ committed, size }: { committed: CpuBenchResult | null; size: keyof typeof CPU_BENCH_PRESETS }) {
  const [state, setState] = useState<{ running: boolean; progress?: string; result?: CpuBenchResult; error?: string }>({ running: false });
  const worker = useRef<Worker | null>(null);
  const run = () => {
    worker.current?.terminate();
    const w = new Worker(new URL('./cpuBench.worker.ts', import.meta.url), { type: 'module' });
    worker.current = w;
    setState({ running: true, progress: 'loading the wasm kernels' });
    w.postMessage({ type: 'run', options: CPU_BENCH_PRESETS[size] });
    w.onmessage = (ev) => {
      const m = ev.data as { type: string; message?: string; result?: CpuBenchResult; done?: number; total?: number; phase?: string };
      if (m.type === 'progress') setState((s) => ({ ...s, progress: `${m.phase} ${m.done}/${m.total}` }));
      else {
        setState(m.type === 'result' ? { running: false, result: m.result } : { running: false, error: m.message });
        w.terminate();
      }
    };
    w.onerror = (e) => setState({ running: false, error: e.message || 'CPU benchmark worker failed' });
  };
  const shown = state.result ?? committed ?? undefined;
  const v = shown?.ratios.vit;
  const tiles: [string, number][] = v
    ? [
        ['INT8 / FP32 · ViT block (CPU)', v.int8_over_fp32],
        ['INT4 g=32 / FP32 · ViT block (CPU)', v.int4_g32_over_fp32],
        ['INT4 per-channel / FP32 · ViT block (CPU)', v.int4_channel_over_fp32],
      ]
    : [];
  return (
    <section className="card span-2" data-testid="cpu-kernels">
      <div className="toolbar">
        <strong>CPU backend kernels (WebAssembly)</strong>
        <button type="button" className="btn" onClick={run} disabled={state.running} data-testid="run-cpu-bench">
          Run CPU kernel benchmark
        </button>
        {state.running && <span className="muted">{state.progress}</span>}
        <span className="muted">
          The GEMMs the CPU backend runs (WASM SIMD, relaxed SIMD where the browser has it), same cases and timing as npm run bench:kernels.
        </span>
      </div>
      {state.error && <div className="inline-error">{state.error}</div>}
      {shown && (
        <>
          {!state.result && (
            <div className="banner info" data-testid="cpu-kernels-committed">
              committed run: {shown.runtime}, {shown.date.slice(0, 10)} (results/kernels.json, npm run bench:kernels -- --browser) — run it
              to time this browser
            </div>
          )}
          <div>
            <span className="k">wasm build</span> <strong>{shown.features}</strong>
            <span className="muted">
              {' '}
              · {shown.timing}
              {shown.relaxedUnavailable ? ` · relaxed SIMD unavailable: ${shown.relaxedUnavailable}` : ''}
            </span>
          </div>
          {(
            [
              ['INT8', 'cpu-w8a8-route', shown.w8a8Dot, 'split weights, 32-bit dot', '16-bit operands'],
              ['INT4', 'cpu-w4a8-route', shown.w4a8Dot, '32-bit dot', '16-bit lanes'],
            ] as const
          ).map(
            ([what, id, p, r32, r16]) =>
              p && (
                <div data-testid={id} key={id}>
                  <span className="k">{what} route</span> <strong>{p.chosen === 'int32' ? r32 : r16}</strong>
                  <span className="muted"> · {p.reason}</span>
                </div>
              ),
          )}
          <div className="ratio-row">
            {tiles.map(([k, x]) => (
              <div className="ratio" key={k}>
                <div className="ratio-v">{Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a'}</div>
                <div className="ratio-k">{k}</div>
              </div>
            ))}
          </div>
          <ul className="explain" data-testid="cpu-kernels-explain">
            {/* the ceilings are divided by the run's FP32 rate: quoted only beside the committed run, and only
                when it names no other CPU than results/simd.json's (runs before 'machine' was recorded: same VM) */}
            {explainCpuRatios(shown, state.result ? null : ceilingsFor(committedSimd, 'chromium', shown.machine)).map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>kernel</th>
                  <th>shape of</th>
                  <th>M×N×K</th>
                  <th>ms</th>
                  <th>GOP/s</th>
                </tr>
              </thead>
              <tbody>
                {shown.rows.map((r, i) => (
                  <tr key={i}>
                    <td>{r.kernel}</td>
                    <td>{r.group}</td>
                    <td>{r.shape}</td>
                    <td>{fmtNum(r.ms, 4)}</td>
                    <td>{fmtNum(r.gops, 4)}</td>
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
