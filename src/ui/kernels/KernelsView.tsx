/**
 * Kernels view: the committed benchmark (results/kernels.json, `npm run bench:kernels`) at once,
 * labelled with its adapter and date; the browser benchmark in a worker replaces it when run.
 */
import { KernelsAB } from '../compare/KernelsAB';
import { useRef, useState } from 'react';
import committedRun from '../../../results/kernels.json';
import { Term } from '../help/Term';
import { Bar, BarChart, CartesianGrid, Cell, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useResults } from '../engine/results';
import { ChartCard } from '../common/ChartCard';
import { fmtNum } from '../common/format';

import { explainGpuRatios, KERNEL_BENCH_PRESETS, type KernelBenchResult } from '../../kernels/bench';
import type { CpuBenchResult } from '../../cpu/cpuBench';
import { CpuKernelsCard } from './CpuKernelsCard';
import { LibrariesCard } from './LibrariesCard';

type BenchResult = Partial<KernelBenchResult>;
const COMMITTED = committedRun as unknown as BenchResult & {
  date?: string;
  cpu?: CpuBenchResult | { error: string } | null;
  webgpuError?: string;
};
const COMMITTED_CPU = COMMITTED.cpu && 'rows' in COMMITTED.cpu ? COMMITTED.cpu : null;

/** the table's columns in a fixed order with units (other keys follow) */
const COLUMN_LABEL: Record<string, string> = {
  kernel: 'kernel',
  group: 'shape of',
  shape: 'M×N×K',
  ops: 'ops',
  ms: 'ms',
  gops: 'GOP/s',
  variant: 'variant',
};

// the command line's presets (npm run bench:kernels -- --size quick|standard): same cases, same timing
const SIZES = KERNEL_BENCH_PRESETS;

function flatRatios(r: BenchResult['ratios']): [string, number][] {
  if (!r) return [];
  return [
    ['INT8 / FP32 · square GEMM', r.int8_over_fp32],
    ['INT4 / FP32 · square GEMM', r.int4_over_fp32],
    ['INT8 / FP32 · ViT block', r.vit?.int8_over_fp32],
    ['INT4 / FP32 · ViT block', r.vit?.int4_over_fp32],
  ].filter((x): x is [string, number] => typeof x[1] === 'number' && Number.isFinite(x[1]));
}

function describe(a: unknown): string {
  if (!a) return 'unknown adapter';
  if (typeof a === 'string') return a;
  const o = a as Record<string, unknown>;
  return (
    [o.vendor, o.architecture, o.device, o.description].filter(Boolean).join(' / ') + (o.isFallback ? ' (fallback adapter)' : '') ||
    JSON.stringify(a)
  );
}

export function KernelsView() {
  const webgpu = useResults((r) => r.webgpuAvailable);
  const backend = useResults((r) => r.backend);
  const [state, setState] = useState<{
    running: boolean;
    progress?: { done: number; total: number; phase: string };
    result?: BenchResult;
    error?: string;
    missing?: boolean;
  }>({ running: false });
  const [size, setSize] = useState<keyof typeof SIZES>('quick');
  const worker = useRef<Worker | null>(null);
  const run = () => {
    worker.current?.terminate();
    const w = new Worker(new URL('./bench.worker.ts', import.meta.url), { type: 'module' });
    worker.current = w;
    setState({ running: true, progress: { done: 0, total: 1, phase: 'starting the GPU device' } });
    w.postMessage({ type: 'run', options: SIZES[size] });
    w.onmessage = (ev) => {
      const m = ev.data as {
        type: string;
        message?: string;
        missing?: boolean;
        result?: BenchResult;
        done?: number;
        total?: number;
        phase?: string;
      };
      if (m.type === 'progress') setState((s) => ({ ...s, progress: { done: m.done!, total: m.total!, phase: m.phase ?? '' } }));
      else if (m.type === 'result') {
        setState({ running: false, result: m.result });
        w.terminate();
      } else if (m.type === 'error') {
        setState({ running: false, error: m.message, missing: m.missing });
        w.terminate();
      }
    };
    w.onerror = (e) => setState({ running: false, error: e.message || 'benchmark worker failed' });
  };
  const cancel = () => {
    worker.current?.terminate();
    setState({ running: false, error: 'cancelled' });
  };
  // before (or without) a run here, the committed run stands in, labelled as such
  const shown: (BenchResult & { date?: string }) | undefined = state.result ?? COMMITTED;
  const isCommitted = !state.result;
  const ratios = flatRatios(shown?.ratios);
  const rows = (shown?.rows ?? []) as unknown as Record<string, unknown>[];
  const keys = new Set(rows.flatMap((r) => Object.keys(r)));
  const cols = [...Object.keys(COLUMN_LABEL).filter((c) => keys.has(c)), ...[...keys].filter((c) => !(c in COLUMN_LABEL))];
  return (
    <div className="view-grid">
      <KernelsAB />
      <section className="card span-2">
        <div className="toolbar">
          <label className="inline-field">
            <span>size</span>
            <select
              value={size}
              onChange={(e) => setSize(e.target.value as keyof typeof SIZES)}
              aria-label="Benchmark size"
              disabled={state.running}
            >
              <option value="quick">quick (1 image, 128³) — software adapters</option>
              <option value="standard">standard (16 images, 512³)</option>
            </select>
          </label>
          <button type="button" className="btn" onClick={run} disabled={state.running || webgpu === false} data-testid="run-bench">
            Run kernel benchmark
          </button>
          {state.running && (
            <button type="button" className="btn ghost" onClick={cancel}>
              Cancel
            </button>
          )}
          <span className="muted">
            Matrix products (GEMMs) at the ViT's shapes: FP32 vs <Term id="w8a8">W8A8</Term> (<Term id="dot4">dot4I8Packed</Term>: four{' '}
            <Term id="int8-lanes">int8 lanes</Term> per instruction) vs <Term id="w4a8">W4A8</Term>, timed on this browser's WebGPU adapter.
            A ratio above 1× means faster than FP32; a software adapter (SwiftShader) has no int8 hardware, so INT8 can be slower there.
            {backend?.adapter && ` Engine adapter: ${describe(backend.adapter)}.`}
          </span>
        </div>
        {webgpu === false && (
          <div className="inline-error">
            This browser has no WebGPU: the kernel benchmark needs it (the CPU backend still scores plans).
          </div>
        )}
        {state.progress && state.running && (
          <div className="progress">
            <div
              className="progress-track"
              role="progressbar"
              aria-valuemin={0}
              aria-valuemax={state.progress.total}
              aria-valuenow={state.progress.done}
            >
              <div
                className="progress-fill"
                style={{ width: `${((100 * state.progress.done) / Math.max(1, state.progress.total)).toFixed(1)}%` }}
              />
            </div>
            <span className="progress-text">
              {state.progress.phase} {state.progress.done}/{state.progress.total}
            </span>
          </div>
        )}
        {state.error && <div className={state.missing ? 'banner info' : 'inline-error'}>{state.error}</div>}
        {shown && (
          <div className="bench-head">
            {isCommitted && (
              <div className="banner info" data-testid="kernels-committed">
                committed run: {describe(shown.adapter)}, {shown.date ? new Date(shown.date).toISOString().slice(0, 10) : 'undated'}{' '}
                (results/kernels.json, npm run bench:kernels) — run the benchmark to time this browser’s adapter
              </div>
            )}
            <div>
              <span className="k">adapter</span> <strong>{describe(shown.adapter)}</strong>
              <span className="muted">
                {' '}
                · timing {shown.timing} · INT8 kernel {shown.int8Variant}
              </span>
            </div>
            <div className="ratio-row">
              {ratios.map(([k, v]) => (
                <div className="ratio" key={k}>
                  <div className="ratio-v">{v.toFixed(2)}×</div>
                  <div className="ratio-k">{k}</div>
                </div>
              ))}
            </div>
            {shown.ratios && shown.adapter && shown.options && (
              <ul className="explain" data-testid="gpu-kernels-explain">
                {explainGpuRatios(shown as KernelBenchResult).map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ul>
            )}
          </div>
        )}
      </section>
      <LibrariesCard result={shown?.yardsticks} committed={isCommitted} />
      <CpuKernelsCard committed={COMMITTED_CPU} size={size} />
      {ratios.length > 0 && (
        <ChartCard
          className="span-2"
          title="Throughput vs FP32"
          subtitle={`> 1 is faster than the FP32 GEMM on ${isCommitted ? 'the committed run’s' : 'this'} adapter`}
          csv={() => ratios.map(([k, v]) => ({ ratio: k, value: v }))}
          file="kernel-ratios"
        >
          <ResponsiveContainer width="100%" height={170}>
            <BarChart
              layout="vertical"
              data={ratios.map(([k, v]) => ({ k, v: +v.toFixed(3) }))}
              margin={{ top: 4, right: 56, bottom: 4, left: 8 }}
            >
              <CartesianGrid strokeDasharray="3 3" horizontal={false} stroke="#e2e8f0" />
              <YAxis type="category" dataKey="k" tick={{ fontSize: 12 }} width={180} />
              <XAxis
                type="number"
                tick={{ fontSize: 11 }}
                domain={[0, (m: number) => Math.max(1.2, Math.ceil(m * 10) / 10)]}
                tickFormatter={(v) => `${v}×`}
              />
              <Tooltip formatter={(v) => `${Number(v).toFixed(2)}×`} />
              <ReferenceLine x={1} stroke="#334155" />
              <Bar
                dataKey="v"
                isAnimationActive={false}
                label={{ position: 'right', fontSize: 11, formatter: (v: unknown) => `${Number(v).toFixed(2)}×` }}
              >
                {ratios.map(([k, v]) => (
                  <Cell key={k} fill={v >= 1 ? '#22a06b' : '#4f46e5'} />
                ))}
              </Bar>
            </BarChart>
          </ResponsiveContainer>
        </ChartCard>
      )}
      {rows.length > 0 && (
        <ChartCard
          title="Benchmark rows"
          subtitle="ops = 2·M·N·K per product; GOP/s = ops / time; variant = the kernel's code path"
          csv={() => rows}
          file="kernel-bench"
          className="span-2"
        >
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  {cols.map((c) => (
                    <th key={c}>{COLUMN_LABEL[c] ?? c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((r, i) => (
                  <tr key={i}>
                    {cols.map((c) => (
                      <td key={c}>{typeof r[c] === 'number' ? fmtNum(r[c] as number, 4) : String(r[c] ?? '')}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </ChartCard>
      )}
    </div>
  );
}
