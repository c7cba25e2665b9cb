/**
 * Kernel benchmark, usable from Node (tools/cli/benchKernels.ts) and the browser (Kernels page).
 *
 * API:
 *   runKernelBench(ctx, { images?, large?, runs?, warmup?, onProgress?, signal? }) → Promise<KernelBenchResult>
 *   formatBenchTable(result) → string
 *
 * Measures GOP/s (2·M·N·K per product; int ops counted like float ops) of gemm_f32, gemm_w8a8,
 * gemm_w4a8 (g = 128 and per-channel) and the attention products, on the ViT's shapes (T = 65,
 * dim 128, mlp 256, 4 heads, `images` images → M = 65·images) and on one large square GEMM.
 * Each figure is the median of `runs` timed runs after `warmup` runs; the time is the GPU time of
 * the pass (timestamp queries) when the device has them, else submit→done wall-clock.
 * Only the product itself is timed (operands already quantized and packed).
 */
import { GpuBuffer } from '../gpu/buffers';
import type { GpuAdapterSummary, GpuContext } from '../gpu/device';
import { GpuTimer } from '../gpu/timestamps';
import { int4WordsPerRow, int8WordsPerRow } from '../quant/pack';
import type { PassTarget } from './common';
import { createAttention } from './attention';
import { type GemmF32Variant, createGemmF32 } from './gemmF32';
import { createGemmW4A8 } from './gemmW4A8';
import { createGemmW8A8 } from './gemmW8A8';

export interface KernelBenchOptions {
  /** images per batch for the ViT shapes (default 16 → M = 1040) */
  images?: number;
  /** side of the large square GEMM (default 512) */
  large?: number;
  runs?: number;
  warmup?: number;
  /** also time the other FP32 variant (tiled vs direct) on the square GEMM (default false) */
  compareF32Variants?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
  signal?: AbortSignal;
}

export interface BenchRow {
  kernel: string;
  /** 'vit:qkv' … or 'square' */
  group: string;
  shape: string;
  ops: number;
  ms: number;
  gops: number;
  /** kernel variant that ran (gemm_f32: tiled | direct | direct4; int8 kernels: dot4I8Packed | unpacked) */
  variant?: string;
}

export interface KernelBenchResult {
  adapter: GpuAdapterSummary;
  timing: 'timestamp' | 'wallclock';
  int8Variant: string;
  date: string;
  options: Required<Omit<KernelBenchOptions, 'onProgress' | 'signal' | 'compareF32Variants'>>;
  rows: BenchRow[];
  /**
   * Throughput ratios measured in this run: the top-level numbers are on the large square GEMM
   * (W4A8 at g = 128, against the faster FP32 variant); `vit` compares total time of the four linear layers of one block at the ViT shapes.
   */
  ratios: { int8_over_fp32: number; int4_over_fp32: number; vit: { int8_over_fp32: number; int4_over_fp32: number } };
  /**
   * ONNX Runtime Web and TensorFlow.js at the same shapes, in the same page/worker (browser only:
   * src/kernels/yardsticks.ts, run after this benchmark by its callers); a string says why not.
   */
  yardsticks?: import('./yardsticks').YardstickResult | string;
}

/** The sizes the Kernels view offers; `npm run bench:kernels -- --size` takes the same names (default standard). */
export const KERNEL_BENCH_PRESETS = {
  quick: { images: 1, large: 128, runs: 3, warmup: 1 },
  standard: { images: 16, large: 512, runs: 7, warmup: 2 },
} as const;

/**
 * Why the WebGPU ratios are what they are on this adapter, in plain words (the Kernels view and the
 * command line print the same sentences).
 */
export function explainGpuRatios(r: KernelBenchResult): string[] {
  const out: string[] = [];
  const f = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');
  if (r.adapter?.isFallback)
    out.push(
      `This adapter is a software GPU (SwiftShader): the shaders run on the CPU cores through a compiler that has no int8 dot-product instruction to target, so ${r.int8Variant === 'dot4I8Packed' ? 'dot4I8Packed is emulated with scalar multiplies and shifts' : 'int8 values are unpacked from words with shifts'}; the integer kernels gain only from moving fewer bytes. INT8/FP32 here: ${f(r.ratios.vit.int8_over_fp32)} on the ViT's layers, ${f(r.ratios.int8_over_fp32)} on the ${r.options.large}³ square — and these move from run to run with whatever else the CPU cores are doing; they say nothing about a hardware GPU.`,
    );
  else
    out.push(
      `On a hardware GPU ${r.int8Variant === 'dot4I8Packed' ? 'dot4I8Packed does four int8 products in one instruction, and INT8/INT4 weights move 4×/8× fewer bytes than FP32' : 'this adapter lacks packed int8 dot products, so int8 values are unpacked with shifts'}; INT8/FP32 is ${f(r.ratios.vit.int8_over_fp32)} on the ViT's layers and ${f(r.ratios.int8_over_fp32)} on the ${r.options.large}³ square.`,
    );
  out.push(
    `The ViT's products are small (M = 65·${r.options.images} tokens, K = 128 or 256): fixed costs per dispatch (launch, epilogue, scales) weigh more there than on the ${r.options.large}³ square, which is why the two ratios differ.`,
  );
  return out;
}

interface Case {
  kernel: string;
  group: string;
  shape: string;
  ops: number;
  make(): { encode(t: PassTarget, tsw?: GPUComputePassTimestampWrites): void; destroy(): void; variant?: string };
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Deterministic non-trivial buffer contents (speed must not depend on zeros or denormals). */
function filled(ctx: GpuContext, kind: 'f32' | 'u32', n: number, scale = 1): GpuBuffer {
  if (kind === 'f32') {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5) * scale;
    return GpuBuffer.f32(ctx, a);
  }
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 2654435761) >>> 0;
  return GpuBuffer.u32(ctx, a);
}

export async function runKernelBench(ctx: GpuContext, opts: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const o = { images: opts.images ?? 16, large: opts.large ?? 512, runs: opts.runs ?? 3, warmup: opts.warmup ?? 1 };
  const T = 65,
    dim = 128,
    mlp = 256,
    heads = 4,
    hd = dim / heads;
  const M = T * o.images;
  const owned: GpuBuffer[] = [];
  const buf = (kind: 'f32' | 'u32', n: number, scale?: number) => {
    const b = filled(ctx, kind, n, scale);
    owned.push(b);
    return b;
  };
  const cases: Case[] = [];
  const defaultF32: GemmF32Variant = ctx.adapterInfo.isFallback ? 'direct' : 'tiled';
  const linear = (group: string, m: number, n: number, k: number, f32Variants: GemmF32Variant[] = [defaultF32]) => {
    const shape = `${m}×${n}×${k}`;
    const ops = 2 * m * n * k;
    for (const variant of f32Variants)
      cases.push({
        kernel: variant === defaultF32 ? 'gemm_f32' : `gemm_f32 ${variant}`,
        group,
        shape,
        ops,
        make() {
          const op = createGemmF32(ctx, { m, n, k, bias: true, variant: variant === defaultF32 ? undefined : variant });
          const b = { x: buf('f32', m * k), w: buf('f32', n * k, 0.1), bias: buf('f32', n), y: buf('f32', m * n) };
          return { encode: (t, tsw) => op.encode(t, b, tsw), destroy: () => op.destroy(), variant: op.variant };
        },
      });
    cases.push({
      kernel: 'gemm_w8a8',
      group,
      shape,
      ops,
      make() {
        const op = createGemmW8A8(ctx, { m, n, k, sxGroup: 1, swGroup: 1, zxGroup: 1, bias: true });
        const kw = int8WordsPerRow(k);
        const b = {
          x: buf('u32', m * kw),
          w: buf('u32', n * kw),
          sx: buf('f32', m),
          sw: buf('f32', n),
          zx: buf('u32', m),
          bias: buf('f32', n),
          y: buf('f32', m * n),
        };
        return { encode: (t, tsw) => op.encode(t, b, tsw), destroy: () => op.destroy(), variant: op.variant };
      },
    });
    for (const g of [128, k]) {
      cases.push({
        kernel: g >= k ? 'gemm_w4a8 per-channel' : `gemm_w4a8 g=${g}`,
        group,
        shape,
        ops,
        make() {
          const op = createGemmW4A8(ctx, { m, n, k, groupSize: g, sxGroup: 1, zxGroup: 1, bias: true });
          const b = {
            x: buf('u32', m * int8WordsPerRow(k)),
            w: buf('u32', n * int4WordsPerRow(k)),
            sx: buf('f32', m),
            sw: buf('f32', n * op.groups),
            zx: buf('u32', m),
            bias: buf('f32', n),
            y: buf('f32', m * n),
          };
          return { encode: (t, tsw) => op.encode(t, b, tsw), destroy: () => op.destroy(), variant: op.variant };
        },
      });
      if (g >= k) break;
    }
  };
  linear('vit:qkv', M, 3 * dim, dim);
  linear('vit:out', M, dim, dim);
  linear('vit:fc1', M, mlp, dim);
  linear('vit:fc2', M, dim, mlp);
  for (const q of [false, true]) {
    cases.push({
      kernel: q ? 'attention int8 (quant+q·kᵀ+softmax+attn·v)' : 'attention f32 (q·kᵀ+softmax+attn·v)',
      group: 'vit:attention',
      shape: `${o.images}×${heads}×(${T}²×${hd} + ${T}×${hd}×${T})`,
      ops: 2 * 2 * o.images * heads * T * T * hd,
      make() {
        const s = { bits: 8 as const, symmetric: false, granularity: 'tensor' as const };
        const att = createAttention(ctx, { images: o.images, tokens: T, heads, headDim: hd, ...(q ? { q: s, k: s, p: s, v: s } : {}) });
        const b = { qkv: buf('f32', M * 3 * dim), out: buf('f32', M * dim) };
        // time the two products and the softmax (quantization of the operands included for int8)
        return { encode: (t, tsw) => att.encode(t, b, tsw), destroy: () => att.destroy(), variant: att.internals.variant };
      },
    });
  }
  const L = o.large;
  // optionally both FP32 variants on the square: the ratios compare with the faster one
  linear('square', L, L, L, opts.compareF32Variants ? (defaultF32 === 'direct' ? ['direct', 'tiled'] : ['tiled', 'direct']) : [defaultF32]);

  const timer = new GpuTimer(ctx);
  const rows: BenchRow[] = [];
  const total = cases.length;
  let variant = '';
  try {
    for (const [i, c] of cases.entries()) {
      if (opts.signal?.aborted) throw new DOMException('benchmark cancelled', 'AbortError');
      opts.onProgress?.(i, total, `${c.kernel} ${c.shape}`);
      const run = c.make();
      try {
        const times: number[] = [];
        for (let r = 0; r < o.warmup + o.runs; r++) {
          if (opts.signal?.aborted) throw new DOMException('benchmark cancelled', 'AbortError');
          const ms = await timer.time((enc, tsw) => run.encode(enc, tsw));
          if (r >= o.warmup) times.push(ms);
        }
        const ms = median(times);
        rows.push({ kernel: c.kernel, group: c.group, shape: c.shape, ops: c.ops, ms, gops: c.ops / (ms * 1e6), variant: run.variant });
      } finally {
        run.destroy();
        for (const b of owned.splice(0)) b.destroy();
      }
    }
    opts.onProgress?.(total, total, 'done');
    variant = ctx.features.packedDot4 ? 'dot4I8Packed' : 'unpacked';
  } finally {
    timer.destroy();
    for (const b of owned) b.destroy();
  }
  const find = (kernel: string, group: string) => rows.find((r) => r.kernel === kernel && r.group === group);
  const ratio = (a?: BenchRow, b?: BenchRow) => (a && b ? a.gops / b.gops : NaN);
  const squareF32 = rows.filter((r) => r.group === 'square' && r.kernel.startsWith('gemm_f32')).sort((a, b) => b.gops - a.gops)[0];
  const squareW4 = find('gemm_w4a8 g=128', 'square') ?? find('gemm_w4a8 per-channel', 'square');
  const vitGroups = ['vit:qkv', 'vit:out', 'vit:fc1', 'vit:fc2'];
  const vitTime = (kernel: (g: string) => string) => vitGroups.reduce((s, g) => s + (find(kernel(g), g)?.ms ?? NaN), 0);
  const f32Vit = vitTime(() => 'gemm_f32');
  return {
    adapter: ctx.adapterInfo,
    timing: timer.source,
    int8Variant: variant,
    date: new Date().toISOString(),
    options: o,
    rows,
    ratios: {
      int8_over_fp32: ratio(find('gemm_w8a8', 'square'), squareF32),
      int4_over_fp32: ratio(squareW4, squareF32),
      vit: {
        int8_over_fp32: f32Vit / vitTime(() => 'gemm_w8a8'),
        int4_over_fp32: f32Vit / vitTime((g) => (g === 'vit:fc2' ? 'gemm_w4a8 g=128' : 'gemm_w4a8 per-channel')),
      },
    },
  };
}

export function formatBenchTable(r: KernelBenchResult): string {
  const lines = [
    `adapter: ${[r.adapter.vendor, r.adapter.architecture, r.adapter.description].filter(Boolean).join(' / ')}${r.adapter.isFallback ? ' (fallback)' : ''}; timing: ${r.timing}; int8: ${r.int8Variant}`,
    `${'kernel'.padEnd(44)} ${'variant'.padEnd(13)} ${'group'.padEnd(14)} ${'shape'.padEnd(28)} ${'ms'.padStart(10)} ${'GOP/s'.padStart(9)}`,
  ];
  for (const x of r.rows)
    lines.push(
      `${x.kernel.padEnd(44)} ${(x.variant ?? '').padEnd(13)} ${x.group.padEnd(14)} ${x.shape.padEnd(28)} ${x.ms.toFixed(2).padStart(10)} ${x.gops.toFixed(3).padStart(9)}`,
    );
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
  lines.push(
    `ratios (square ${r.options.large}³): int8/fp32 = ${f(r.ratios.int8_over_fp32)}, int4(g=128)/fp32 = ${f(r.ratios.int4_over_fp32)}; ` +
      `ViT linear layers: int8/fp32 = ${f(r.ratios.vit.int8_over_fp32)}, int4/fp32 = ${f(r.ratios.vit.int4_over_fp32)}`,
  );
  return lines.join('\n');
}
