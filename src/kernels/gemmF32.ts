/**
 * FP32 GEMM (shaders/gemm_f32.wgsl): Y = epilogue(alpha · X·Wᵀ).
 *
 * API:
 *   const op = createGemmF32(ctx, { m, n, k, batch?, batchInner?, x?, w?, transB?, y?, alpha?, bias?, gelu?, residual? })
 *   op.encode(encoderOrPass, { x, w, y, bias?, residual? }, timestampWrites?)   (GPU buffers, no readback)
 *   op.destroy()
 *   runGemmF32(ctx, x, w, bias, m, n, k, opts?) → Promise<Float32Array>      (typed arrays, tests)
 *
 * Layouts: X M×K, W N×K (transB: K×N, for attn·v), Y M×N, row-major; `x/w/y` views give base
 * offsets, row strides and two-level batch strides (z = outer·batchInner + inner) so per-head
 * attention products read q/k/v straight from the [T × 3·dim] qkv buffer.
 * Epilogue order: y = alpha·acc + bias[n] → GELU (tanh form) → + residual (same layout as Y) or + Y.
 * op.variant: 'tiled' (workgroup-memory tiles 64×64×16, 4×4 per thread) or 'direct' (4×4 per thread
 * from global memory, no barriers: the faster one on SwiftShader) — see GemmF32Config.variant.
 */
import src from '../../shaders/gemm_f32.wgsl?raw';
import { composeWgsl, UniformLayout } from './wgsl';
import { GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { dummyBuffer, getPipeline } from '../gpu/pipelineCache';
import {
  type MatView,
  type PassTarget,
  KernelError,
  NonFiniteFlag,
  bindGroup,
  checkDim,
  checkFits,
  checkLength,
  checkLengthAtLeast,
  dispatch,
  fullView,
  submitAndWait,
  viewExtent,
  withPass,
} from './common';
import type { BufArg } from '../gpu/buffers';
import { gpuBufferOf } from '../gpu/buffers';

export type ResidualMode = 'none' | 'buffer' | 'accumulate';

export interface GemmF32Config {
  m: number;
  n: number;
  k: number;
  /** batch items (default 1) */
  batch?: number;
  /** inner batch count: z = outer·batchInner + inner (default batch) */
  batchInner?: number;
  x?: MatView;
  w?: MatView;
  y?: MatView;
  /** W stored K×N (W[n,k] at k·row + n) */
  transB?: boolean;
  alpha?: number;
  bias?: boolean;
  gelu?: boolean;
  /** 'buffer': + residual[same layout as Y]; 'accumulate': + Y's previous content */
  residual?: ResidualMode;
  /** 'tiled' (workgroup memory, 64×64 tiles) or 'direct' (no barriers); default: direct on fallback
   * (CPU-emulated) adapters such as SwiftShader, tiled elsewhere */
  variant?: GemmF32Variant;
}

/** 'direct4' is 'direct' with vec4 loads along K; chosen automatically instead of 'direct' when K and
 * all X/W offsets and strides are multiples of 4 and transB is off. */
export type GemmF32Variant = 'tiled' | 'direct' | 'direct4';

export interface GemmF32Buffers {
  x: BufArg;
  w: BufArg;
  y: BufArg;
  bias?: BufArg;
  residual?: BufArg;
}

export interface GemmF32Op {
  readonly config: Readonly<GemmF32Config>;
  readonly variant: GemmF32Variant;
  /** multiply-adds × 2 per encode */
  readonly flops: number;
  encode(target: PassTarget, b: GemmF32Buffers, timestampWrites?: GPUComputePassTimestampWrites): void;
  /** X, W and Y extents (elements) the op reads and writes */
  readonly extents: { x: number; w: number; y: number };
  /** NonFiniteInputError if an output was NaN/Inf since the last check */
  checkFlags(): Promise<void>;
  destroy(): void;
}

/** The uniform of gemm_f32.wgsl, declared once (the shader's `//#uniforms`). */
export const GEMM_F32_PARAMS = new UniformLayout('Params', [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['batchInner', 'u32'],
  ['xOuter', 'u32'],
  ['xInner', 'u32'],
  ['xRow', 'u32'],
  ['xOff', 'u32'],
  ['wOuter', 'u32'],
  ['wInner', 'u32'],
  ['wRow', 'u32'],
  ['wOff', 'u32'],
  ['yOuter', 'u32'],
  ['yInner', 'u32'],
  ['yRow', 'u32'],
  ['yOff', 'u32'],
  ['transB', 'u32'],
  ['hasBias', 'u32'],
  ['act', 'u32'],
  ['resid', 'u32'],
  ['alpha', 'f32'],
] as const);

export function createGemmF32(ctx: GpuContext, cfg: GemmF32Config): GemmF32Op {
  const { m, n, k } = cfg;
  checkDim(m, 'gemmF32: M');
  checkDim(n, 'gemmF32: N');
  checkDim(k, 'gemmF32: K');
  const batch = cfg.batch ?? 1;
  checkDim(batch, 'gemmF32: batch');
  const batchInner = cfg.batchInner ?? batch;
  checkDim(batchInner, 'gemmF32: batchInner');
  if (batch % batchInner !== 0) throw new KernelError(`gemmF32: batch ${batch} is not a multiple of batchInner ${batchInner}`);
  if (batch > 65535) throw new KernelError(`gemmF32: batch ${batch} exceeds 65535 workgroups`);
  const trans = !!cfg.transB;
  const xv = fullView(cfg.x, k, m * k);
  const wv = fullView(cfg.w, trans ? n : k, n * k);
  const yv = fullView(cfg.y, n, m * n);
  const residual = cfg.residual ?? 'none';
  // without explicit batch strides a view is dense over z (z-linear): inner = one matrix, outer = batchInner of them
  const lin = (v: Required<MatView>, size: number, given?: MatView) => {
    if (given?.inner === undefined && given?.outer === undefined) {
      v.inner = size;
      v.outer = size * batchInner;
    }
  };
  lin(xv, m * k, cfg.x);
  lin(wv, n * k, cfg.w);
  lin(yv, m * n, cfg.y);
  const aligned4 = !trans && [k, xv.off, xv.row, xv.outer, xv.inner, wv.off, wv.row, wv.outer, wv.inner].every((v) => v % 4 === 0);
  let variant: GemmF32Variant = cfg.variant ?? (ctx.adapterInfo.isFallback ? 'direct' : 'tiled');
  if (variant === 'direct' && aligned4 && cfg.variant === undefined) variant = 'direct4';
  if (variant === 'direct4' && !aligned4)
    throw new KernelError('gemmF32: variant direct4 needs transB off, K and all X/W offsets/strides multiples of 4');
  const tile = variant === 'tiled' ? 64 : 32;
  const gx = Math.ceil(n / tile);
  const gy = Math.ceil(m / tile);
  if (gx > 65535 || gy > 65535) throw new KernelError(`gemmF32: ${m}×${n} needs more than 65535 workgroups along one axis`);
  const u = GEMM_F32_PARAMS.create(
    ctx,
    {
      M: m,
      N: n,
      K: k,
      batchInner,
      xOuter: xv.outer,
      xInner: xv.inner,
      xRow: xv.row,
      xOff: xv.off,
      wOuter: wv.outer,
      wInner: wv.inner,
      wRow: wv.row,
      wOff: wv.off,
      yOuter: yv.outer,
      yInner: yv.inner,
      yRow: yv.row,
      yOff: yv.off,
      transB: trans ? 1 : 0,
      hasBias: cfg.bias ? 1 : 0,
      act: cfg.gelu ? 1 : 0,
      resid: residual === 'buffer' ? 1 : residual === 'accumulate' ? 2 : 0,
      alpha: cfg.alpha ?? 1,
    },
    'gemm_f32.params',
  );
  const vec4 = variant === 'direct4';
  const pipeline = getPipeline(
    ctx,
    `gemm_f32${vec4 ? ':vec4' : ''}`,
    () => composeWgsl(src, { flags: { VEC4: vec4 }, uniforms: GEMM_F32_PARAMS }),
    variant === 'tiled' ? 'main' : vec4 ? 'main' : 'main_direct',
  );
  const flag = new NonFiniteFlag(ctx, 'gemmF32');
  const need = {
    x: viewExtent(xv, m, k, batch, batchInner),
    w: trans ? viewExtent(wv, k, n, batch, batchInner) : viewExtent(wv, n, k, batch, batchInner),
    y: viewExtent(yv, m, n, batch, batchInner),
  };
  let destroyed = false;
  return {
    config: { ...cfg },
    variant,
    flops: 2 * m * n * k * batch,
    extents: need,
    checkFlags: () => flag.check(),
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError('gemmF32: op used after destroy()');
      const x = checkFits(b.x, need.x, 'gemmF32 X');
      const w = checkFits(b.w, need.w, 'gemmF32 W');
      const y = checkFits(b.y, need.y, 'gemmF32 Y');
      if (cfg.bias && !b.bias) throw new KernelError('gemmF32: config has bias but no bias buffer was given');
      if (residual === 'buffer' && !b.residual) throw new KernelError('gemmF32: residual "buffer" needs a residual buffer');
      const bias = cfg.bias ? checkFits(b.bias!, n, 'gemmF32 bias') : dummyBuffer(ctx);
      const r = residual === 'buffer' ? checkFits(b.residual!, need.y, 'gemmF32 residual') : dummyBuffer(ctx);
      if (residual === 'buffer' && gpuBufferOf(b.residual!) === y)
        throw new KernelError("gemmF32: residual buffer is Y itself; use residual: 'accumulate'");
      const bg = bindGroup(ctx, pipeline, [u, x, w, bias, r, y, flag.buffer]);
      withPass(target, (p) => dispatch(p, pipeline, bg, gx, gy, batch), tsw);
    },
    destroy() {
      if (!destroyed) {
        u.destroy();
        flag.destroy();
      }
      destroyed = true;
    },
  };
}

/** Convenience: upload, run once, read back. */
export async function runGemmF32(
  ctx: GpuContext,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  m: number,
  n: number,
  k: number,
  opts: Omit<GemmF32Config, 'm' | 'n' | 'k' | 'bias'> & { residual?: ResidualMode; residualData?: Float32Array } = {},
): Promise<Float32Array> {
  const batch = opts.batch ?? 1;
  const op = createGemmF32(ctx, { ...opts, m, n, k, bias: !!bias });
  try {
    const shape = `gemmF32 ${m}×${n}×${k}${batch > 1 ? ` ×${batch}` : ''}`;
    // dense operands must match the shape exactly; an operand read through a view, at least its extent
    if (opts.x) checkLengthAtLeast('runGemmF32 x', x, op.extents.x, shape);
    else checkLength('runGemmF32 x', x, m * k * batch, `${shape} (X is M×K)`);
    if (opts.w) checkLengthAtLeast('runGemmF32 w', w, op.extents.w, shape);
    else checkLength('runGemmF32 w', w, n * k * batch, `${shape} (W is ${opts.transB ? 'K×N' : 'N×K'})`);
    checkLength('runGemmF32 bias', bias, n, `${shape} (bias is N)`);
    if (opts.residualData) checkLengthAtLeast('runGemmF32 residualData', opts.residualData, op.extents.y, shape);
  } catch (e) {
    op.destroy();
    throw e;
  }
  const bx = GpuBuffer.f32(ctx, x);
  const bw = GpuBuffer.f32(ctx, w);
  const yLen = opts.y ? viewExtent(fullView(opts.y, n, m * n), m, n, batch, opts.batchInner ?? batch) : m * n * batch;
  const by = opts.residual === 'accumulate' && opts.residualData ? GpuBuffer.f32(ctx, opts.residualData) : GpuBuffer.f32(ctx, yLen);
  const bb = bias ? GpuBuffer.f32(ctx, bias) : undefined;
  const br = opts.residual === 'buffer' && opts.residualData ? GpuBuffer.f32(ctx, opts.residualData) : undefined;
  try {
    await submitAndWait(ctx, (enc) => op.encode(enc, { x: bx, w: bw, y: by, bias: bb, residual: br }));
    await op.checkFlags();
    return await by.read();
  } finally {
    for (const b of [bx, bw, by, bb, br]) b?.destroy();
    op.destroy();
  }
}
