/**
 * The CPU backend's kernel benchmark (issue 15): the WASM GEMMs at the ViT's shapes, one module for
 * the command line (`npm run bench:kernels`, in Node or headless Chromium with --browser) and the
 * Kernels view (a worker), so both run the same cases with the same timing and compute the ratios
 * in one place.
 *
 * Cases: for each linear layer of a block (to_qkv, to_out, fc1, fc2; M = 65·images tokens):
 * gemm_f32 (FP32, FMA in the relaxed build), gemm_w8a8 (INT8 weights × INT8 activations, per
 * channel × per token, int16 operands) and gemm_w4a8_i8 (INT4 weights in groups of 32, and per
 * channel, int8 operands and the relaxed int8 dot). Operands
 * are quantized and packed before timing (as the plan does once per plan / once per layer); only the
 * product is timed, plus one row for the activation quantizer (per token, int8) to show what the
 * integer path pays outside the GEMM. Timing: performance.now around repeated calls until a run lasts
 * ≥ minMs (browsers coarsen the clock to 0.1 ms); a layer's kernels take turns run by run, and each
 * figure is the fastest of `runs` runs after `warmup` (the least disturbed on a shared machine).
 */
import type { BenchRow } from '../kernels/bench';
import { type DotProbe, type DotRoute, FLAG_DOT32, packW8Planes, type WasmCpuKernelsT } from './cpuKernels';

export interface CpuBenchOptions {
  /** images per batch (M = 65·images, default 16) */
  images?: number;
  runs?: number;
  warmup?: number;
  /** shortest timed run, ms (default 20) */
  minMs?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** The sizes the Kernels view offers; the command line takes the same names (--size). */
export const CPU_BENCH_PRESETS = {
  quick: { images: 4, runs: 5, warmup: 1, minMs: 20 },
  standard: { images: 16, runs: 7, warmup: 2, minMs: 30 },
} as const;

/** A row of the CPU benchmark: the WebGPU benchmark's row shape (one table in the Kernels view), no variant. */
export type CpuBenchRow = Omit<BenchRow, 'variant'>;

export interface CpuBenchResult {
  engine: 'wasm';
  /** 'simd128+relaxed' (FMA, relaxed int8 dot) or 'simd128' */
  features: string;
  relaxedUnavailable: string | null;
  runtime: string;
  timing: string;
  date: string;
  options: Required<Omit<CpuBenchOptions, 'onProgress'>>;
  rows: CpuBenchRow[];
  /** the CPU model, where the command line could read it (npm run bench:kernels; absent in the browser and in older runs) */
  machine?: string;
  /** gemm_w4a8_i8's dot route on this machine (cpuKernels.ts probeW4A8Dot): what the plans run (absent in runs before it existed) */
  w4a8Dot?: DotProbe;
  /** the W8A8 GEMM's route on this machine (probeW8A8Dot) */
  w8a8Dot?: DotProbe;
  ratios: {
    /** total time of the four linear layers of a block, FP32 / integer (INT4: the dot route the probe chose) */
    vit: { int8_over_fp32: number; int4_g32_over_fp32: number; int4_channel_over_fp32: number };
    /** the W4A8 kernel's two dot routes side by side (int32: null in the SIMD128 build, which has one route) */
    int4Routes?: Record<DotRoute, { g32_over_fp32: number; channel_over_fp32: number } | null>;
    /** the W8A8 GEMM's two routes side by side, FP32 time / INT8 time (int32: null in the SIMD128 build) */
    int8Routes?: Record<DotRoute, number | null>;
    /** per layer: FP32 time / integer time */
    perLayer: Record<string, { int8: number; int4_g32: number; int4_channel: number }>;
  };
}

/** the rows of the int32 dot routes (gemm_w4a8_i8 with FLAG_DOT32, gemm_w8a8_dot) end in this */
export const DOT32_SUFFIX = ' (int32 dot)';
/** gemm_w8a8's rows (the int16 route; + DOT32_SUFFIX: gemm_w8a8_dot) */
const W8A8_ROW = 'gemm_w8a8 (int8 × int8)';

const LAYERS: [string, number, number][] = [
  ['vit:qkv', 384, 128],
  ['vit:out', 128, 128],
  ['vit:fc1', 256, 128],
  ['vit:fc2', 128, 256],
];

export function runCpuKernelBench(kernels: WasmCpuKernelsT, opts: CpuBenchOptions = {}): CpuBenchResult {
  const o = { images: opts.images ?? 16, runs: opts.runs ?? 5, warmup: opts.warmup ?? 1, minMs: opts.minMs ?? 20 };
  const ex = kernels.ex;
  const ar = kernels.arena;
  const M = 65 * o.images;
  const rows: CpuBenchRow[] = [];
  /** calls per timed run so that one run lasts minMs */
  const calibrate = (f: () => void): number => {
    let reps = 1;
    for (;;) {
      const t = performance.now();
      for (let i = 0; i < reps; i++) f();
      const ms = performance.now() - t;
      if (ms >= o.minMs || reps >= 1 << 16) return reps;
      reps = Math.min(1 << 16, Math.max(reps * 2, Math.ceil((reps * o.minMs * 1.2) / Math.max(ms, 0.05))));
    }
  };
  /**
   * A layer's kernels timed run by run in turn (a change of machine load hits them alike); each
   * figure is the fastest run (on a shared machine the least disturbed one), ms per call.
   */
  const timeInterleaved = (cases: { f: () => void; done: (ms: number) => void }[]) => {
    const reps = cases.map((c) => calibrate(c.f));
    const best = cases.map(() => Infinity);
    for (let r = 0; r < o.warmup + o.runs; r++)
      cases.forEach((c, i) => {
        const t = performance.now();
        for (let j = 0; j < reps[i]; j++) c.f();
        if (r >= o.warmup) best[i] = Math.min(best[i], (performance.now() - t) / reps[i]);
      });
    cases.forEach((c, i) => c.done(best[i]));
  };
  // the relaxed builds have both dot routes: each is timed (the probe picked one for the plans)
  const dot32 = kernels.wasmFeatures !== 'simd128';
  const w4a8Dot = kernels.w4a8Dot();
  const w8a8Dot = kernels.w8a8Dot();
  const total = LAYERS.length * 5 + 1;
  let done = 0;
  const step = (label: string) => opts.onProgress?.(done++, total, label);
  // deterministic, non-trivial operands (speed must not depend on zeros)
  const hash = (i: number) => ((i * 2654435761) >>> 0) / 2 ** 32;
  ar.scoped(() => {
    for (const [group, n, k] of LAYERS) {
      const shape = `${M}×${n}×${k}`;
      const ops = 2 * M * n * k;
      const push = (kernel: string, ms: number) => rows.push({ kernel, group, shape, ops, ms, gops: ops / (ms * 1e6) });
      // rows in this order whatever the timing order
      const slots: (() => void)[] = [];
      const cases: { f: () => void; done: (ms: number) => void }[] = [];
      const later = (kernel: string, f: () => void, row?: (ms: number) => CpuBenchRow) => {
        let ms = NaN;
        cases.push({ f, done: (v) => (ms = v) });
        slots.push(() => (row ? rows.push(row(ms)) : push(kernel, ms)));
      };
      ar.scoped(() => {
        const x = ar.alloc(M * k * 4);
        ar.f32(x, M * k).forEach((_, i, a) => (a[i] = hash(i) * 4 - 2));
        const w = ar.alloc(n * k * 4);
        ar.f32(w, n * k).forEach((_, i, a) => (a[i] = hash(i + 7) - 0.5));
        const bias = ar.alloc(n * 4);
        const y = ar.alloc(M * n * 4);
        // FP32
        step(`gemm_f32 ${group}`);
        const panels = ar.alloc(Math.ceil(n / 8) * 8 * k * 4);
        ex.pack_b_f32(w, n, k, panels);
        later('gemm_f32', () => ex.gemm_f32(x, panels, bias, y, M, n, k, 0, 0));
        // int8 activations, per token asymmetric (what the W8A8 / W4A8 plans feed the GEMM)
        const wq = ar.alloc(n * k * 4);
        const xq = (gs: number, gp: number, i8: boolean) => {
          const groups = Math.ceil(k / gs);
          const rowsP = Math.ceil((M + 1) / 4) * 4;
          const A = {
            xp: ar.alloc(rowsP * groups * gp * (i8 ? 1 : 2)),
            sums: ar.alloc(M * groups * 4),
            sx: ar.alloc(M * 4),
            zx: ar.alloc(M * 4),
          };
          const rc = ex.quantize_i16(x, M, k, 1, 1, 8, 0, 1, 0, gs, gp, groups, rowsP, 128, A.xp, A.sums, A.sx, A.zx, i8 ? 1 : 0);
          if (rc !== 0) throw new Error(`cpu bench: quantize returned ${rc}`);
          return A;
        };
        // W8A8 (int16 operands: the kernel the CPU backend runs for INT8 × INT8)
        step(`gemm_w8a8 ${group}`);
        {
          ar.i32(wq, n * k).forEach((_, i, a) => (a[i] = Math.floor(hash(i + 3) * 255) - 127));
          const kp = Math.ceil(k / 8) * 8;
          const A = xq(k, kp, false);
          const wRows = ar.alloc(n * kp * 2);
          ex.pack_i16(wq, n, k, k, kp, 1, n, 0, wRows, 0);
          const wp = ar.alloc(ex.panelI16Size(n, kp));
          ex.panel_i16(wRows, n, kp, wp);
          const sw = ar.alloc(n * 4);
          ar.f32(sw, n).fill(0.01);
          later(W8A8_ROW, () => ex.gemm_w8a8(A.xp, wp, M, n, kp, A.sx, 1, sw, 1, bias, y, 0, 0));
          if (dot32) {
            // the int32 route: int8 storage activations, the weights split into two 4-bit planes
            const A8 = xq(k, kp, true);
            const W8 = packW8Planes(ar, ex, ar.i32(wq, n * k).slice(), undefined, n, k);
            later(`${W8A8_ROW}${DOT32_SUFFIX}`, () =>
              ex.gemm_w8a8_dot(A8.xp, A8.sums, W8.wh, W8.wl, W8.wc, M, n, kp, A8.zx, 1, A8.sx, 1, sw, 1, bias, y, 0, 0),
            );
          }
          if (group === 'vit:qkv') {
            const rowsP = Math.ceil((M + 1) / 4) * 4;
            const q = { xp: ar.alloc(rowsP * kp), sums: ar.alloc(M * 4), sx: ar.alloc(M * 4), zx: ar.alloc(M * 4) };
            step('quantize A per token');
            later(
              '',
              () => ex.quantize_i16(x, M, k, 1, 1, 8, 0, 1, 0, k, kp, 1, rowsP, 128, q.xp, q.sums, q.sx, q.zx, 1),
              (ms) => ({
                kernel: 'quantize A (per token, int8)',
                group,
                shape: `${M}×${k}`,
                ops: M * k,
                ms,
                gops: (M * k) / (ms * 1e6),
              }),
            );
          }
        }
        // W4A8, groups of 32 and per channel
        for (const gs of [32, k]) {
          step(`gemm_w4a8 ${gs === k ? 'per channel' : `g=${gs}`} ${group}`);
          ar.i32(wq, n * k).forEach((_, i, a) => (a[i] = Math.floor(hash(i + 5) * 15) - 7));
          const groups = Math.ceil(k / gs);
          const gp = Math.ceil(gs / 8) * 8;
          const A = xq(gs, gp, true);
          const sw = ar.alloc(n * groups * 4);
          ar.f32(sw, n * groups).fill(0.01);
          const wp = ar.alloc(ex.packedW4Size(n, gp, groups));
          const consts = ar.alloc(ex.w4ConstsSize(n, groups));
          ex.pack_w4_nib(wq, n, k, gs, gp, groups, sw, wp, ar.alloc(n * groups * 4), consts);
          const name = gs === k ? 'gemm_w4a8 per-channel' : 'gemm_w4a8 g=32';
          later(name, () => ex.gemm_w4a8_i8(A.xp, A.sums, wp, M, n, groups, gp, consts, A.zx, 1, A.sx, 1, bias, y, 0, 0));
          if (dot32)
            later(`${name}${DOT32_SUFFIX}`, () =>
              ex.gemm_w4a8_i8(A.xp, A.sums, wp, M, n, groups, gp, consts, A.zx, 1, A.sx, 1, bias, y, FLAG_DOT32, 0),
            );
        }
        step(`timing ${group}`);
        timeInterleaved(cases);
        for (const sl of slots) sl();
      });
    }
  });
  opts.onProgress?.(total, total, 'done');
  const find = (kernel: string, group: string) => rows.find((r) => r.kernel === kernel && r.group === group)?.ms ?? NaN;
  const sum = (kernel: string) => LAYERS.reduce((s, [g]) => s + find(kernel, g), 0);
  const f32 = sum('gemm_f32');
  // headline ratios: the routes the plans run here
  const chosen = w4a8Dot.chosen === 'int32' ? DOT32_SUFFIX : '';
  const int8 = `${W8A8_ROW}${w8a8Dot.chosen === 'int32' ? DOT32_SUFFIX : ''}`;
  const perLayer: CpuBenchResult['ratios']['perLayer'] = {};
  for (const [g] of LAYERS)
    perLayer[g] = {
      int8: find('gemm_f32', g) / find(int8, g),
      int4_g32: find('gemm_f32', g) / find(`gemm_w4a8 g=32${chosen}`, g),
      int4_channel: find('gemm_f32', g) / find(`gemm_w4a8 per-channel${chosen}`, g),
    };
  const route = (suffix: string) => ({
    g32_over_fp32: f32 / sum(`gemm_w4a8 g=32${suffix}`),
    channel_over_fp32: f32 / sum(`gemm_w4a8 per-channel${suffix}`),
  });
  const nav = (globalThis as { navigator?: { userAgent?: string } }).navigator;
  const proc = (globalThis as { process?: { version?: string } }).process;
  return {
    engine: 'wasm',
    features: kernels.wasmFeatures,
    relaxedUnavailable: kernels.relaxedUnavailable ?? null,
    runtime:
      typeof window !== 'undefined' || typeof importScripts === 'function' ? (nav?.userAgent ?? 'browser') : `node ${proc?.version ?? ''}`,
    timing: `performance.now; a layer's kernels in turn, run by run; fastest of ${o.runs} runs (each ≥ ${o.minMs} ms of repeated calls) after ${o.warmup} warm-up`,
    date: new Date().toISOString(),
    options: o,
    rows,
    w4a8Dot,
    w8a8Dot,
    ratios: {
      vit: {
        int8_over_fp32: f32 / sum(int8),
        int4_g32_over_fp32: f32 / sum(`gemm_w4a8 g=32${chosen}`),
        int4_channel_over_fp32: f32 / sum(`gemm_w4a8 per-channel${chosen}`),
      },
      int4Routes: { int16: route(''), int32: dot32 ? route(DOT32_SUFFIX) : null },
      int8Routes: {
        int16: f32 / sum(W8A8_ROW),
        int32: dot32 ? f32 / sum(`${W8A8_ROW}${DOT32_SUFFIX}`) : null,
      },
      perLayer,
    },
  };
}

declare const importScripts: unknown;

export function formatCpuBenchTable(r: CpuBenchResult): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
  const lines = [
    `CPU backend (WASM ${r.features}${r.relaxedUnavailable ? `; relaxed SIMD unavailable: ${r.relaxedUnavailable}` : ''}) on ${r.runtime}; ${r.timing}`,
    `${'kernel'.padEnd(34)} ${'group'.padEnd(10)} ${'shape'.padEnd(16)} ${'ms'.padStart(9)} ${'GOP/s'.padStart(8)}`,
  ];
  for (const x of r.rows)
    lines.push(
      `${x.kernel.padEnd(34)} ${x.group.padEnd(10)} ${x.shape.padEnd(16)} ${x.ms.toFixed(3).padStart(9)} ${x.gops.toFixed(2).padStart(8)}`,
    );
  const v = r.ratios.vit;
  lines.push(
    `ViT block's linear layers, FP32 time / integer time: INT8 ${f(v.int8_over_fp32)}×, INT4 g=32 ${f(v.int4_g32_over_fp32)}×, INT4 per-channel ${f(v.int4_channel_over_fp32)}×${r.w4a8Dot ? ` (INT4 on the ${r.w4a8Dot.chosen} dot route: ${r.w4a8Dot.reason})` : ''}`,
  );
  const i32 = r.ratios.int4Routes?.int32;
  const i16 = r.ratios.int4Routes?.int16;
  if (i32 && i16) {
    lines.push(
      `INT4 dot routes side by side: int16 lanes g=32 ${f(i16.g32_over_fp32)}×, per-channel ${f(i16.channel_over_fp32)}×; int32 dot g=32 ${f(i32.g32_over_fp32)}×, per-channel ${f(i32.channel_over_fp32)}×`,
    );
    const r8 = r.ratios.int8Routes;
    if (r8?.int32 != null && r8.int16 != null)
      lines.push(
        `INT8 routes side by side: int16 operands ${f(r8.int16)}×, split weights on the int32 dot ${f(r8.int32)}×${r.w8a8Dot ? ` (INT8 runs the ${r.w8a8Dot.chosen} route: ${r.w8a8Dot.reason})` : ''}`,
      );
  }
  return lines.join('\n');
}

/** Products per second of the instruction routes a GEMM can take, × f32x4.relaxed_madd's (npm run bench:simd). */
export interface SimdCeilings {
  /** where they were measured (e.g. 'Chromium 156 on Intel Xeon @ 2.80GHz') */
  where: string;
  /** the CPU model they were measured on (null in files without it) */
  cpu: string | null;
  /** exact int16 × int16 → int32 (i32x4.dot_i16x8_s + add) */
  int16Dot: number;
  /** i32x4.relaxed_dot_i8x16_i7x16_add_s (one instruction where the engine maps it to a dot: AVX-VNNI, arm64 sdot) */
  relaxedDotAdd: number;
  /** the relaxed int8 dot into int16 sums (exact for a 7-bit operand over a few steps: 4-bit weights) */
  relaxedDotI16: number;
  /** the f32x4.relaxed_madd loop itself, billions of multiply-adds a second (null in files without it) */
  fmaGMacs: number | null;
}

/** The ceilings of one engine in results/simd.json (null when a loop is missing). */
export function simdCeilings(json: unknown, engine: 'node' | 'chromium'): SimdCeilings | null {
  const j = json as {
    machine?: { cpu?: string };
    node?: { version?: string; loops?: SimdLoopJson[] };
    chromium?: { userAgent?: string; loops?: SimdLoopJson[] };
  };
  const e = j?.[engine];
  const get = (id: string) => e?.loops?.find((l) => l.id === id);
  const [a, b, c] = [
    get('i16-dot-add')?.vsRelaxedMadd,
    get('i8-relaxed-dot-add-i32')?.vsRelaxedMadd,
    get('i8-relaxed-dot-i16')?.vsRelaxedMadd,
  ];
  if (a == null || b == null || c == null) return null;
  const who =
    engine === 'node'
      ? `Node ${j.node?.version ?? ''}`
      : (
          /HeadlessChrome\/(\d+)|Chrome\/(\d+)/
            .exec(j.chromium?.userAgent ?? '')
            ?.slice(1)
            .find(Boolean) ?? ''
        ).replace(/^/, 'Chromium ');
  return {
    where: `${who.trim()} on ${j.machine?.cpu ?? 'this machine'}`,
    cpu: j.machine?.cpu ?? null,
    int16Dot: a,
    relaxedDotAdd: b,
    relaxedDotI16: c,
    fmaGMacs: get('f32-relaxed-madd')?.gMacsPerSecond ?? null,
  };
}

/**
 * simdCeilings, only when they were measured on `cpu` (the CPU of the run they will be set beside):
 * the explanation divides them by that run's FP32 rate. `cpu` undefined: a run that did not record
 * its CPU (the browser, runs before the field existed), taken to be the same machine.
 */
export function ceilingsFor(json: unknown, engine: 'node' | 'chromium', cpu: string | undefined): SimdCeilings | null {
  const c = simdCeilings(json, engine);
  return c && (cpu === undefined || c.cpu === cpu) ? c : null;
}

interface SimdLoopJson {
  id: string;
  vsRelaxedMadd?: number | null;
  gMacsPerSecond?: number;
}

/**
 * The fastest exact 8-bit × 8-bit route the measured instructions allow, × the multiply-add rate.
 * The relaxed dot is exact only with a 7-bit operand, so an 8-bit weight costs two of its dots
 * (w + 128 = 16·h + l); the int16 dot takes 8-bit values as they are.
 */
export function exactInt8Ceiling(c: SimdCeilings): { rate: number; route: string } {
  const routes = [
    { rate: c.int16Dot, route: '16-bit operands, dot_i16x8' },
    { rate: c.relaxedDotI16 / 2, route: 'weights split into two 4-bit halves, the relaxed dot into 16-bit sums' },
    { rate: c.relaxedDotAdd / 2, route: 'weights split into two 4-bit halves, the relaxed dot into 32-bit sums' },
  ];
  return routes.reduce((best, r) => (r.rate > best.rate ? r : best));
}

/**
 * Why the CPU ratios are what they are, in plain words, from this run's figures (the Kernels view
 * and the command line print the same sentences).
 * `ceilings` (results/simd.json) must come from the machine and engine of `r`: the bound sentences divide
 * one by the other.
 */
export function explainCpuRatios(r: CpuBenchResult, ceilings?: SimdCeilings | null): string[] {
  const v = r.ratios.vit;
  const fp32Gops = Math.max(0, ...r.rows.filter((x) => x.kernel === 'gemm_f32').map((x) => x.gops));
  const out: string[] = [];
  const fma = r.features === 'simd128+relaxed';
  const relaxedDot = r.features !== 'simd128';
  out.push(
    fma
      ? `FP32 is one fused multiply-add per 4 products (f32x4): ${fp32Gops.toFixed(1)} GFLOP/s at best here.`
      : `FP32 is a multiply then an add per 4 products (this build has no fused multiply-add${r.features === 'simd128+relaxed-dot' ? ": Node's tools keep the SIMD128 FP32 figures" : ''}): ${fp32Gops.toFixed(1)} GFLOP/s at best here.`,
    `INT8 × INT8 runs on 16-bit lanes: both operands centred (q − z fits 16 bits, so no zero-point terms are left for the epilogue), each dot_i16x8 makes 8 products — two per 32-bit lane — then an add into the sums, in 4-row × 8-channel tiles like FP32's. ${
      fma
        ? "That is two instructions per 8 products against FP32's one per 4: about the same work per product, so the gain is bounded by the engine's int16 ceiling below"
        : "That is two instructions per 8 products against FP32's two per 4 here"
    }: INT8 runs at ${(r.ratios.int8Routes?.int16 ?? v.int8_over_fp32).toFixed(2)}× FP32 that way. The relaxed int8 dot (16 products per instruction) gives exact results only when one operand fits in 7 bits; an 8-bit weight has to be split into two 4-bit halves — two dots per 16 products (the int32 route below).`,
    relaxedDot
      ? `INT4 weights use the relaxed int8 dot: one instruction per 16 products (weight + 8 fits in 4 bits, so the result is exact everywhere), unpacked from bytes in registers, each unpacked vector serving four rows of activations. With one scale per 32 weights, every group of 32 ends in exact integer corrections and a float multiply-add per output: INT4 g=32 runs at ${v.int4_g32_over_fp32.toFixed(2)}× FP32, per-channel INT4 (one scale per row: that epilogue once per output) at ${v.int4_channel_over_fp32.toFixed(2)}×.`
      : `This engine runs the SIMD128 build${r.relaxedUnavailable ? ` (${r.relaxedUnavailable})` : ''}: no int8 dot instruction, so INT4 weights are multiplied through widening multiplies and shuffles, several instructions per 8 products (INT4 g=32 ${v.int4_g32_over_fp32.toFixed(2)}×, per channel ${v.int4_channel_over_fp32.toFixed(2)}× FP32).`,
  );
  const r8 = r.ratios.int8Routes;
  if (relaxedDot && r8?.int32 != null && r8.int16 != null && r.w8a8Dot)
    out.push(
      `INT8 can also take the int32 dot exactly, by splitting each 8-bit weight into two 4-bit halves (w + 128 = 16·h + l): two dots per 16 products, 8 products an instruction where the dot is one instruction, against FMA's 4. Here: int16 operands ${r8.int16.toFixed(2)}× FP32, split weights ${r8.int32.toFixed(2)}×; the backend runs the ${r.w8a8Dot.chosen} route: ${r.w8a8Dot.reason}.`,
    );
  const routes = r.ratios.int4Routes;
  if (relaxedDot && routes?.int32 && routes.int16 && r.w4a8Dot)
    out.push(
      `INT4 dots can be summed two ways (same numbers): in 16-bit lanes widened every 8 dots (i16x8.relaxed_dot_i8x16_i7x16_s), or straight into 32-bit sums (i32x4.relaxed_dot_i8x16_i7x16_add_s) — one instruction per 16 products only where the CPU has a dot instruction the engine uses (x64 with AVX-VNNI: vpdpbusd; arm64 with the dot-product extension: sdot), three elsewhere. Here: 16-bit lanes g=32 ${routes.int16.g32_over_fp32.toFixed(2)}× FP32, 32-bit dot g=32 ${routes.int32.g32_over_fp32.toFixed(2)}×. The backend times both when it loads and runs the ${r.w4a8Dot.chosen === 'int32' ? '32-bit dot' : '16-bit lanes'}: ${r.w4a8Dot.reason}.`,
    );
  if (ceilings) out.push(...explainCeilings(ceilings, fp32Gops));
  out.push(
    'A whole plan also pays for quantizing activations (the "quantize A" row) and for the parts that stay in float (softmax, LayerNorm), so plan-level gains are smaller than GEMM-level ones.',
  );
  return out;
}

/**
 * What the instructions allow on the machine of `c`, against our FP32 GEMM's rate there
 * (`fp32Gops`, measured on the same machine and engine: the caller's to guarantee).
 */
function explainCeilings(c: SimdCeilings, fp32Gops: number): string[] {
  const e8 = exactInt8Ceiling(c);
  const int4 = Math.max(c.relaxedDotI16, c.relaxedDotAdd);
  // our FP32 GEMM's multiply-adds per second over the FMA loop's: the ceilings × this are ratios to our GEMM
  const eff = c.fmaGMacs && fp32Gops > 0 ? fp32Gops / 2 / c.fmaGMacs : null;
  const out = [
    `What the engine itself allows (npm run bench:simd, ${c.where}): an exact int8 × int8 product runs at most ${e8.rate.toFixed(2)}× the float fused multiply-add's rate (${e8.route}${e8.rate > c.int16Dot ? `; 16-bit operands with dot_i16x8: ${c.int16Dot.toFixed(2)}×` : ''}; the relaxed int8 dot is exact only for a 7-bit operand). ${
      eff === null
        ? ''
        : `Our FP32 GEMM reaches ${(100 * eff).toFixed(0)}% of that multiply-add rate, so an exact INT8 GEMM can run at most ${(e8.rate / eff).toFixed(2)}× it here, before loads, unpacking and epilogues: ${
            e8.rate / eff < 2 ? 'twice FP32 is out of reach on this CPU and engine' : 'twice FP32 is within the instructions’ reach here'
          }. `
    }4-bit weights (one relaxed dot per 16 products) could reach up to ${int4.toFixed(2)}× the multiply-add rate${eff === null ? '' : ` (${(int4 / eff).toFixed(2)}× our FP32 GEMM)`} before loads and epilogues.`,
  ];
  out.push(
    c.relaxedDotAdd < c.relaxedDotI16
      ? `The relaxed dot into 32-bit sums (${c.relaxedDotAdd.toFixed(2)}×) is slower than into 16-bit sums (${c.relaxedDotI16.toFixed(2)}×) here: this CPU or engine does not map it to one dot instruction (AVX-VNNI's vpdpbusd, arm64's sdot).`
      : `The relaxed dot into 32-bit sums runs at ${c.relaxedDotAdd.toFixed(2)}× the multiply-add rate, no slower than into 16-bit sums (${c.relaxedDotI16.toFixed(2)}×): a one-instruction dot here.`,
  );
  return out;
}
