/**
 * Library yardsticks for the kernel benchmark (browser only: the Kernels view's worker and
 * `npm run bench:kernels -- --browser` call runYardsticks after runKernelBench, same page/worker).
 *
 * API (the runner is src/kernels/yardsticksRun.ts, imported only by the benchmark's worker and page):
 *   runYardsticks(ctx, { images, large, runs, warmup, onProgress?, signal? }) → Promise<YardstickResult>
 *   yardstickCases(images, large)     → the shapes (the ViT's four linear layers and the square), pure
 *   summarizeYardsticks(rows)         → per library op: ViT-block and square ratios vs our FP32, pure
 *   explainYardsticks(result)         → plain-words sentences (view and CLI print the same)
 *
 * At each shape: our FP32 WGSL GEMM (gemm_f32, as in the main table), ONNX Runtime Web's `MatMul`
 * (FP32) and `MatMulNBits` (4-bit, block 32, accuracy_level 4: its DP4A path where the adapter
 * allows) on its WebGPU EP, and TensorFlow.js `matMul` on its WebGPU backend. The libraries are
 * imported lazily by the runner, so they never enter the main app's bundle.
 *
 * Timing: every library owns its own GPU device, so no timestamp query can bracket its passes; all
 * rows here — ours included — are timed the same way: wall clock from the call (our submit, ORT's
 * session.run, TF.js's matMul) to that device's queue being idle (onSubmittedWorkDone), operands
 * already on the GPU, outputs left on the GPU. Median of `runs` after `warmup`, the presets of the
 * main table. The libraries' figures therefore include their own dispatch overhead (ORT: its
 * session/kernel dispatch in wasm; TF.js: its JS op dispatch and shader cache lookup); ours includes
 * one submit. A library that fails to start gives rows with `skipped` and the reason, never a time.
 */

export interface YardstickOptions {
  images: number;
  large: number;
  runs: number;
  warmup: number;
  onProgress?: (done: number, total: number, label: string) => void;
  signal?: AbortSignal;
}

export type YardstickLib = 'ours' | 'onnxruntime-web' | 'tfjs';

export interface YardstickRow {
  library: YardstickLib;
  /** 'gemm_f32 (WGSL)', 'MatMul (FP32)', 'MatMulNBits (4-bit b32)', 'matMul (FP32)' */
  op: string;
  group: string;
  shape: string;
  ops: number;
  /** wall-clock ms (median); absent when skipped */
  ms?: number;
  gops?: number;
  /** throughput / our FP32 WGSL GEMM's at the same shape, same timing (> 1: faster than ours) */
  vsOurFp32?: number;
  /** code path or the reason it is not the fast one (ORT MatMulNBits: DP4A or not, and why) */
  note?: string;
  /** why there is no figure */
  skipped?: string;
  /** first output row vs a float64 reference: max |Δ| / max |ref| (libraries only) */
  relErr?: number;
}

export interface YardstickSummary {
  library: YardstickLib;
  op: string;
  /** our FP32 time / its time over the ViT's four linear layers (NaN if any is missing) */
  vit: number;
  square: number;
}

export interface YardstickResult {
  timing: string;
  versions: Record<string, string>;
  rows: YardstickRow[];
  summary: YardstickSummary[];
}

export interface YardstickCase {
  group: string;
  m: number;
  n: number;
  k: number;
}

/** The shapes of the main table's GEMMs: the ViT's linear layers (M = 65·images) and the square. */
export function yardstickCases(images: number, large: number): YardstickCase[] {
  const M = 65 * images,
    dim = 128,
    mlp = 256;
  return [
    { group: 'vit:qkv', m: M, n: 3 * dim, k: dim },
    { group: 'vit:out', m: M, n: dim, k: dim },
    { group: 'vit:fc1', m: M, n: mlp, k: dim },
    { group: 'vit:fc2', m: M, n: dim, k: mlp },
    { group: 'square', m: large, n: large, k: large },
  ];
}

const VIT = ['vit:qkv', 'vit:out', 'vit:fc1', 'vit:fc2'];

/** Ratios per library op: ViT block (sum of the four layers' times) and square, vs our FP32 rows. */
export function summarizeYardsticks(rows: YardstickRow[]): YardstickSummary[] {
  const ours = (g: string) => rows.find((r) => r.library === 'ours' && r.group === g)?.ms;
  const keys = [...new Map(rows.filter((r) => r.library !== 'ours').map((r) => [`${r.library}\u0000${r.op}`, r])).values()];
  return keys.map(({ library, op }) => {
    const t = (g: string) => rows.find((r) => r.library === library && r.op === op && r.group === g)?.ms;
    const sum = (f: (g: string) => number | undefined) => VIT.reduce((s, g) => s + (f(g) ?? NaN), 0);
    return { library, op, vit: sum(ours) / sum(t), square: (ours('square') ?? NaN) / (t('square') ?? NaN) };
  });
}

export const LIB_NAME: Record<YardstickLib, string> = { ours: 'ours', 'onnxruntime-web': 'ONNX Runtime Web', tfjs: 'TensorFlow.js' };

export function explainYardsticks(r: YardstickResult): string[] {
  const f = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');
  const out = [
    `Libraries beside ours: each figure is wall clock from the call to its device's queue being idle (operands and results stay on the GPU), the same way for our FP32 GEMM in these rows — so ONNX Runtime's and TensorFlow.js's figures include their own dispatch overhead (a session.run through wasm, a JS op dispatch), which weighs most on the ViT's small products. Ratios are their throughput over our FP32 WGSL GEMM's (> 1: faster than ours).`,
  ];
  for (const s of r.summary)
    out.push(`${LIB_NAME[s.library]} ${s.op}: ${f(s.vit)} our FP32 on the ViT's four linear layers, ${f(s.square)} on the square.`);
  const skipped = [...new Set(r.rows.filter((x) => x.skipped).map((x) => `${LIB_NAME[x.library]} ${x.op}: ${x.skipped}`))];
  if (skipped.length) out.push(`Not measured here — ${skipped.join('; ')}.`);
  const nb = r.rows.find((x) => x.op.startsWith('MatMulNBits') && x.note);
  if (nb) {
    const errs = r.rows.filter((x) => x.op.startsWith('MatMulNBits') && x.relErr !== undefined).map((x) => x.relErr!);
    const e = errs.length ? Math.max(...errs) : NaN;
    const evidence = !Number.isFinite(e)
      ? ''
      : e > 3e-3
        ? ` Its outputs differ from the exact 4-bit product by up to ${(100 * e).toFixed(1)}% (first row), which fits activations quantized to int8 as the DP4A path does; a float path would be within about 10⁻⁵ (f32) or 10⁻³ (f16).`
        : ` Its outputs match the exact 4-bit product within ${e.toExponential(1)}: a float path ran (the DP4A path quantizes activations to int8, which shows as about 1% error).`;
    out.push(`ONNX Runtime's MatMulNBits on this adapter, by ONNX Runtime's rule: ${nb.note}.${evidence}`);
  }
  return out;
}

export function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function det(n: number, scale: number, seed = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ((((i + seed) * 2654435761) >>> 0) / 2 ** 32 - 0.5) * scale;
  return a;
}

/** The operands every library gets at a shape (A M×K; B K×N for FP32; q N×K 4-bit + scales per 32). */
export function operands(c: YardstickCase) {
  const q = Int8Array.from({ length: c.n * c.k }, (_, i) => (((i * 2654435761) >>> 0) % 16) - 8);
  const scales = det(c.n * (c.k / 32), 0.02, 7).map((v) => Math.abs(v) + 0.001);
  return { a: det(c.m * c.k, 1, 1), b: det(c.k * c.n, 0.1, 3), q, scales };
}

/**
 * Relative error of a library's first output row against a float64 reference (max |Δ| / max |ref|):
 * a library that returned without computing (or computed something else) is caught, not timed.
 */
export function firstRowError(c: YardstickCase, nbits: boolean, row: ArrayLike<number>): number {
  const { a, b, q, scales } = operands(c);
  let maxD = 0,
    maxR = 0;
  for (let j = 0; j < c.n; j++) {
    let acc = 0;
    for (let t = 0; t < c.k; t++) acc += a[t] * (nbits ? scales[j * (c.k / 32) + (t >> 5)] * q[j * c.k + t] : b[t * c.n + j]);
    maxD = Math.max(maxD, Math.abs(row[j] - acc));
    maxR = Math.max(maxR, Math.abs(acc));
  }
  return maxD / Math.max(maxR, 1e-30);
}

/** above this, a row's result is called wrong (MatMulNBits at accuracy_level 4 quantizes A to int8) */
export const RESULT_TOLERANCE = 0.05;

export function formatYardstickTable(r: YardstickResult): string {
  const f = (v?: number, d = 2) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(d));
  const lines = [
    `libraries beside ours (${r.timing}; ${
      Object.entries(r.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'no library started'
    })`,
    `${'library'.padEnd(16)} ${'op'.padEnd(24)} ${'group'.padEnd(9)} ${'shape'.padEnd(14)} ${'ms'.padStart(9)} ${'GOP/s'.padStart(8)} ${'×ours FP32'.padStart(10)}  note`,
  ];
  for (const x of r.rows)
    lines.push(
      `${LIB_NAME[x.library].padEnd(16)} ${x.op.padEnd(24)} ${x.group.padEnd(9)} ${x.shape.padEnd(14)} ${f(x.ms).padStart(9)} ${f(x.gops, 3).padStart(8)} ${f(x.vsOurFp32).padStart(10)}  ${x.skipped ? `skipped: ${x.skipped}` : (x.note ?? '')}`,
    );
  return lines.join('\n');
}
