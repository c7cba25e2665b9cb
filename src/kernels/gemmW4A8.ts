/**
 * W4A8 GEMM (shaders/gemm_w4a8.wgsl): int4 weights (8 per u32) × int8 activations (4 per u32),
 * per-output-channel (groupSize ≥ K) or per-group (groupSize % 8 == 0, e.g. 32/64/128) scales.
 *
 * API:
 *   const op = createGemmW4A8(ctx, { m, n, k, groupSize, sxGroup?, zxGroup?, output?, bias?, gelu?, residual?, variant? })
 *   op.encode(encoderOrPass, { x, w, sx, sw, zx?, bias?, residual?, y }, timestampWrites?)
 *   op.groups, op.variant, op.destroy()
 *   runGemmW4A8(ctx, operands: W4A8Operands, opts?) → { y: Float32Array | Int32Array, variant }
 *   prepareW4Weights(w, n, k, groupSize, bits?) → { packed, scales, groupSize }   (CPU, constant weights)
 *
 * sx index m/sxGroup (1 = per token), zx index m/zxGroup (undefined = symmetric); sw is N × groups.
 * output 'acc' writes the per-group corrected accumulators [M × N × groups] (i32).
 */
import src from '../../shaders/gemm_w4a8.wgsl?raw';
import { composeWgsl, UniformLayout } from './wgsl';
import { type BufArg, GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { dummyBuffer, getPipeline } from '../gpu/pipelineCache';
import { int4WordsPerRow, int8WordsPerRow, packInt4Rows, packInt8Rows } from '../quant/pack';
import { quantizeMatrix } from '../quant/quantizeMatrix';
import { type PassTarget, KernelError, bindGroup, checkDim, checkFits, checkLength, dispatch, submitAndWait, withPass } from './common';
import type { ResidualMode } from './gemmF32';
import type { W4A8Operands } from './gemmW4A8.ref';
import { type Int8Variant, chooseVariant } from './int8Variant';

export interface GemmW4A8Config {
  m: number;
  n: number;
  k: number;
  /** columns per weight scale along K; ≥ K = per output channel */
  groupSize: number;
  sxGroup?: number;
  zxGroup?: number;
  output?: 'f32' | 'acc';
  bias?: boolean;
  gelu?: boolean;
  residual?: ResidualMode;
  variant?: Int8Variant;
  /** vec4 loads when K % 32 == 0 and the group size is a multiple of 32 (or per channel); default true */
  vec4?: boolean;
}

export interface GemmW4A8Buffers {
  x: BufArg;
  w: BufArg;
  sx: BufArg;
  sw: BufArg;
  zx?: BufArg;
  bias?: BufArg;
  residual?: BufArg;
  y: BufArg;
}

export interface GemmW4A8Op {
  readonly variant: Int8Variant;
  readonly vec4: boolean;
  readonly groups: number;
  readonly ops: number;
  encode(target: PassTarget, b: GemmW4A8Buffers, timestampWrites?: GPUComputePassTimestampWrites): void;
  destroy(): void;
}

/** The uniform of gemm_w4a8.wgsl, declared once (the shader's `//#uniforms`). */
export const GEMM_W4A8_PARAMS = new UniformLayout('Params', [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['Kx', 'u32'],
  ['Kw', 'u32'],
  ['groupWords', 'u32'],
  ['groups', 'u32'],
  ['mode', 'u32'],
  ['sxDiv', 'u32'],
  ['zxDiv', 'u32'],
  ['hasBias', 'u32'],
  ['act', 'u32'],
  ['resid', 'u32'],
] as const);

export function createGemmW4A8(ctx: GpuContext, cfg: GemmW4A8Config): GemmW4A8Op {
  const { m, n, k } = cfg;
  checkDim(m, 'gemmW4A8: M');
  checkDim(n, 'gemmW4A8: N');
  checkDim(k, 'gemmW4A8: K');
  checkDim(cfg.groupSize, 'gemmW4A8: groupSize');
  const perChannel = cfg.groupSize >= k;
  if (!perChannel && cfg.groupSize % 8 !== 0)
    throw new KernelError(`gemmW4A8: groupSize ${cfg.groupSize} must be a multiple of 8 (one packed int4 word) or ≥ K`);
  const groupSize = perChannel ? k : cfg.groupSize;
  const groups = Math.ceil(k / groupSize);
  const kx = int8WordsPerRow(k),
    kw = int4WordsPerRow(k);
  const groupWords = perChannel ? kw : groupSize / 8;
  const variant = chooseVariant(ctx, cfg.variant);
  const output = cfg.output ?? 'f32';
  const residual = cfg.residual ?? 'none';
  if (output === 'acc' && (cfg.gelu || cfg.bias || residual !== 'none')) throw new KernelError("gemmW4A8: output 'acc' has no epilogue");
  const sxG = cfg.sxGroup ?? 1;
  checkDim(sxG, 'gemmW4A8: sxGroup');
  if (cfg.zxGroup !== undefined) checkDim(cfg.zxGroup, 'gemmW4A8: zxGroup');
  const gx = Math.ceil(n / 32),
    gy = Math.ceil(m / 32);
  if (gx > 65535 || gy > 65535) throw new KernelError(`gemmW4A8: ${m}×${n} exceeds the dispatch limits`);
  const u = GEMM_W4A8_PARAMS.create(
    ctx,
    {
      M: m,
      N: n,
      K: k,
      Kx: kx,
      Kw: kw,
      groupWords,
      groups,
      mode: output === 'acc' ? 1 : 0,
      sxDiv: sxG,
      zxDiv: cfg.zxGroup ?? 0,
      hasBias: cfg.bias ? 1 : 0,
      act: cfg.gelu ? 1 : 0,
      resid: residual === 'buffer' ? 1 : residual === 'accumulate' ? 2 : 0,
    },
    'gemm_w4a8.params',
  );
  const vec4 = (cfg.vec4 ?? true) && k % 32 === 0 && groupSize % 32 === 0;
  const pipeline = getPipeline(ctx, `gemm_w4a8${vec4 ? ':vec4' : ''}:${variant}`, () =>
    composeWgsl(src, { flags: { VEC4: vec4, PACKED_DOT4: variant === 'dot4I8Packed' }, uniforms: GEMM_W4A8_PARAMS }),
  );
  let destroyed = false;
  return {
    variant,
    vec4,
    groups,
    ops: 2 * m * n * k,
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError('gemmW4A8: op used after destroy()');
      const d = dummyBuffer(ctx);
      if (cfg.zxGroup && !b.zx) throw new KernelError('gemmW4A8: config has zxGroup but no zx buffer');
      if (cfg.bias && !b.bias) throw new KernelError('gemmW4A8: config has bias but no bias buffer');
      if (residual === 'buffer' && !b.residual) throw new KernelError('gemmW4A8: residual "buffer" needs a residual buffer');
      const entries = [
        u,
        checkFits(b.x, m * kx, 'gemmW4A8 X (packed int8 words)'),
        checkFits(b.w, n * kw, 'gemmW4A8 W (packed int4 words)'),
        checkFits(b.sx, Math.ceil(m / sxG), 'gemmW4A8 sx'),
        checkFits(b.sw, n * groups, 'gemmW4A8 sw (N × groups)'),
        cfg.zxGroup ? checkFits(b.zx!, Math.ceil(m / cfg.zxGroup), 'gemmW4A8 zx') : d,
        cfg.bias ? checkFits(b.bias!, n, 'gemmW4A8 bias') : d,
        residual === 'buffer' ? checkFits(b.residual!, m * n, 'gemmW4A8 residual') : d,
        checkFits(b.y, output === 'acc' ? m * n * groups : m * n, 'gemmW4A8 Y'),
      ];
      const bg = bindGroup(ctx, pipeline, entries);
      withPass(target, (p) => dispatch(p, pipeline, bg, gx, gy, 1), tsw);
    },
    destroy() {
      if (!destroyed) u.destroy();
      destroyed = true;
    },
  };
}

export async function runGemmW4A8(
  ctx: GpuContext,
  o: W4A8Operands,
  opts: { output?: 'f32' | 'acc'; variant?: Int8Variant; vec4?: boolean } = {},
): Promise<{ y: Float32Array | Int32Array; variant: Int8Variant; vec4: boolean }> {
  const { m, n, k } = o;
  const op = createGemmW4A8(ctx, {
    m,
    n,
    k,
    groupSize: o.groupSize,
    sxGroup: o.sx.length === 1 ? m : 1,
    zxGroup: o.zx ? (o.zx.length === 1 ? m : 1) : undefined,
    bias: !!o.bias && opts.output !== 'acc',
    output: opts.output,
    variant: opts.variant,
    vec4: opts.vec4,
  });
  const bufs: GpuBuffer[] = [];
  const keep = <T extends GpuBuffer>(b: T) => (bufs.push(b), b);
  try {
    const shape = `gemmW4A8 ${m}×${n}×${k}, ${op.groups} group${op.groups > 1 ? 's' : ''} a row of W`;
    checkLength('runGemmW4A8 xq', o.xq, m * k, `${shape} (X is M×K)`);
    checkLength('runGemmW4A8 wq', o.wq, n * k, `${shape} (W is N×K)`);
    checkLength('runGemmW4A8 sx', o.sx, [1, m], `${shape} (per tensor or per row of X)`);
    checkLength('runGemmW4A8 sw', o.sw, n * op.groups, `${shape} (N × groups)`);
    checkLength('runGemmW4A8 zx', o.zx, [1, m], `${shape} (per tensor or per row of X)`);
    checkLength('runGemmW4A8 bias', o.bias, n, `${shape} (bias is N)`);
    const y = keep(GpuBuffer.u32(ctx, opts.output === 'acc' ? m * n * op.groups : m * n));
    await submitAndWait(ctx, (enc) =>
      op.encode(enc, {
        x: keep(GpuBuffer.u32(ctx, packInt8Rows(o.xq, m, k))),
        w: keep(GpuBuffer.u32(ctx, packInt4Rows(o.wq, n, k))),
        sx: keep(GpuBuffer.f32(ctx, o.sx)),
        sw: keep(GpuBuffer.f32(ctx, o.sw)),
        zx: o.zx ? keep(GpuBuffer.i32(ctx, o.zx)) : undefined,
        bias: o.bias && opts.output !== 'acc' ? keep(GpuBuffer.f32(ctx, o.bias)) : undefined,
        y,
      }),
    );
    const raw = await y.read();
    return { y: opts.output === 'acc' ? new Int32Array(raw.buffer) : new Float32Array(raw.buffer), variant: op.variant, vec4: op.vec4 };
  } finally {
    bufs.forEach((b) => b.destroy());
    op.destroy();
  }
}

/**
 * CPU preparation of constant weights for gemm_w4a8: symmetric INT4 (or INT2, stored in int4 lanes)
 * per output channel (groupSize ≥ K) or per group along K; returns packed int4 words and the
 * N × groups scales. (The kernel has no weight zero point: weights are symmetric.)
 */
export function prepareW4Weights(
  w: ArrayLike<number>,
  n: number,
  k: number,
  groupSize: number,
  bits: 4 | 2 = 4,
): { packed: Uint32Array; scales: Float32Array; groupSize: number } {
  const g = groupSize >= k ? k : groupSize;
  if (g < k && g % 8 !== 0) throw new KernelError(`prepareW4Weights: groupSize ${groupSize} must be a multiple of 8 or ≥ K`);
  const m = quantizeMatrix(
    w,
    n,
    k,
    g >= k ? { bits, symmetric: true, granularity: 'row' } : { bits, symmetric: true, granularity: 'group', groupSize: g },
  );
  return { packed: packInt4Rows(m.q, n, k), scales: m.scales, groupSize: g };
}
