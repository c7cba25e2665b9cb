/**
 * W8A8 integer GEMM (shaders/gemm_w8a8.wgsl): packed int8 X (M×K) and W (N×K), exact i32
 * accumulation with zero-point correction, fused dequant epilogue.
 *
 * API:
 *   const op = createGemmW8A8(ctx, { m, n, k, batch?, batchInner?, x?, w?, y?, sxGroup?, swGroup?,
 *                                    zxGroup?, zwGroup?, output?: 'f32'|'acc', alpha?, bias?, gelu?,
 *                                    residual?, variant? })
 *   op.variant  'dot4I8Packed' | 'unpacked' (chosen from the adapter unless forced)
 *   op.encode(encoderOrPass, { x, w, sx, sw, zx?, zw?, bias?, residual?, y }, timestampWrites?)
 *   op.destroy()
 *   runGemmW8A8(ctx, operands: W8A8Operands, opts?) → { y, variant, vec4 }   (typed arrays, tests)
 *   prepareW8Weights(w, n, k, spec) → { packed, scales, zeros?, swGroup }   (CPU, constant weights)
 *
 * Scales/zeros: row m of batch z uses sx[(z·M+m)/sxGroup] (sxGroup 1 = per token; T = per image
 * tensor; M·batch = one for all); column n uses sw[(z·N+n)/swGroup]. zxGroup/zwGroup undefined =
 * symmetric (no zero point). Storage zero points (asymmetric values minus 2^(bits−1)), see gemmW8A8.ref.ts.
 * Views (x, w in u32 words; y in elements) as in gemmF32: offsets, row strides, batch strides.
 */
import src from '../../shaders/gemm_w8a8.wgsl?raw';
import { composeWgsl, UniformLayout } from './wgsl';
import { type BufArg, GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { dummyBuffer, getPipeline } from '../gpu/pipelineCache';
import { int8WordsPerRow, packInt8Rows } from '../quant/pack';
import { quantizeMatrix } from '../quant/quantizeMatrix';
import { storageOffset } from '../quant/scaleZero';
import {
  type MatView,
  type PassTarget,
  KernelError,
  NonFiniteFlag,
  bindGroup,
  checkDim,
  checkFits,
  checkLength,
  dispatch,
  fullView,
  submitAndWait,
  viewExtent,
  withPass,
} from './common';
import type { W8A8Operands } from './gemmW8A8.ref';
import { type Int8Variant, chooseVariant } from './int8Variant';
import type { ResidualMode } from './gemmF32';

export interface GemmW8A8Config {
  m: number;
  n: number;
  k: number;
  batch?: number;
  batchInner?: number;
  x?: MatView;
  w?: MatView;
  y?: MatView;
  sxGroup?: number;
  swGroup?: number;
  zxGroup?: number;
  zwGroup?: number;
  output?: 'f32' | 'acc';
  alpha?: number;
  bias?: boolean;
  gelu?: boolean;
  residual?: ResidualMode;
  variant?: Int8Variant;
  /** vec4 loads (16 lanes a load) when ⌈K/4⌉ % 4 == 0 and all X/W offsets/strides are multiples of 4
   * words; default true (falls back to scalar loads otherwise) */
  vec4?: boolean;
}

export interface GemmW8A8Buffers {
  x: BufArg;
  w: BufArg;
  sx: BufArg;
  sw: BufArg;
  zx?: BufArg;
  zw?: BufArg;
  bias?: BufArg;
  residual?: BufArg;
  y: BufArg;
}

export interface GemmW8A8Op {
  readonly variant: Int8Variant;
  /** whether the vec4-load shader runs */
  readonly vec4: boolean;
  readonly config: Readonly<GemmW8A8Config>;
  /** 2·M·N·K·batch integer ops per encode */
  readonly ops: number;
  encode(target: PassTarget, b: GemmW8A8Buffers, timestampWrites?: GPUComputePassTimestampWrites): void;
  /** NonFiniteInputError if an f32 output was NaN/Inf (e.g. a NaN scale) since the last check */
  checkFlags(): Promise<void>;
  destroy(): void;
}

/** The uniform of gemm_w8a8.wgsl, declared once (the shader's `//#uniforms`). */
export const GEMM_W8A8_PARAMS = new UniformLayout('Params', [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['Kw', 'u32'],
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
  ['sxDiv', 'u32'],
  ['swDiv', 'u32'],
  ['zxDiv', 'u32'],
  ['zwDiv', 'u32'],
  ['mode', 'u32'],
  ['hasBias', 'u32'],
  ['act', 'u32'],
  ['resid', 'u32'],
  ['alpha', 'f32'],
  ['batchInner', 'u32'],
] as const);

export function createGemmW8A8(ctx: GpuContext, cfg: GemmW8A8Config): GemmW8A8Op {
  const { m, n, k } = cfg;
  checkDim(m, 'gemmW8A8: M');
  checkDim(n, 'gemmW8A8: N');
  checkDim(k, 'gemmW8A8: K');
  // X, W, sx, sw, zx, zw, bias, residual, Y and the NaN/Inf flag: say so rather than fail validation
  const storage = ctx.limits.maxStorageBuffersPerShaderStage;
  if (storage < 10) throw new KernelError(`gemmW8A8: needs 10 storage buffers per shader stage; this device offers ${storage}`);
  const batch = cfg.batch ?? 1;
  const batchInner = cfg.batchInner ?? batch;
  checkDim(batch, 'gemmW8A8: batch');
  checkDim(batchInner, 'gemmW8A8: batchInner');
  if (batch % batchInner) throw new KernelError(`gemmW8A8: batch ${batch} is not a multiple of batchInner ${batchInner}`);
  const variant = chooseVariant(ctx, cfg.variant);
  const kw = int8WordsPerRow(k);
  const xv = fullView(cfg.x, kw, m * kw);
  const wv = fullView(cfg.w, kw, n * kw);
  const yv = fullView(cfg.y, n, m * n);
  const lin = (v: Required<MatView>, size: number, given?: MatView) => {
    if (given?.inner === undefined && given?.outer === undefined) {
      v.inner = size;
      v.outer = size * batchInner;
    }
  };
  lin(xv, m * kw, cfg.x);
  lin(wv, n * kw, cfg.w);
  lin(yv, m * n, cfg.y);
  const sxG = cfg.sxGroup ?? 1,
    swG = cfg.swGroup ?? 1;
  checkDim(sxG, 'gemmW8A8: sxGroup');
  checkDim(swG, 'gemmW8A8: swGroup');
  if (cfg.zxGroup !== undefined) checkDim(cfg.zxGroup, 'gemmW8A8: zxGroup');
  if (cfg.zwGroup !== undefined) checkDim(cfg.zwGroup, 'gemmW8A8: zwGroup');
  if (k * 128 * 128 * 4 > 2 ** 31 - 1) throw new KernelError(`gemmW8A8: K = ${k} may overflow the i32 accumulator`);
  const output = cfg.output ?? 'f32';
  if (output === 'acc' && (cfg.gelu || cfg.bias || (cfg.residual ?? 'none') !== 'none'))
    throw new KernelError("gemmW8A8: output 'acc' has no epilogue (bias, GELU, residual)");
  const residual = cfg.residual ?? 'none';
  const gx = Math.ceil(n / 32),
    gy = Math.ceil(m / 32);
  if (gx > 65535 || gy > 65535 || batch > 65535) throw new KernelError(`gemmW8A8: ${m}×${n}×${batch} exceeds the dispatch limits`);
  const u = GEMM_W8A8_PARAMS.create(
    ctx,
    {
      M: m,
      N: n,
      K: k,
      Kw: kw,
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
      sxDiv: sxG,
      swDiv: swG,
      zxDiv: cfg.zxGroup ?? 0,
      zwDiv: cfg.zwGroup ?? 0,
      mode: output === 'acc' ? 1 : 0,
      hasBias: cfg.bias ? 1 : 0,
      act: cfg.gelu ? 1 : 0,
      resid: residual === 'buffer' ? 1 : residual === 'accumulate' ? 2 : 0,
      alpha: cfg.alpha ?? 1,
      batchInner,
    },
    'gemm_w8a8.params',
  );
  const vec4 = (cfg.vec4 ?? true) && [kw, xv.off, xv.row, xv.outer, xv.inner, wv.off, wv.row, wv.outer, wv.inner].every((v) => v % 4 === 0);
  const pipeline = getPipeline(ctx, `gemm_w8a8${vec4 ? ':vec4' : ''}:${variant}`, () =>
    composeWgsl(src, { flags: { VEC4: vec4, PACKED_DOT4: variant === 'dot4I8Packed' }, uniforms: GEMM_W8A8_PARAMS }),
  );
  const flag = new NonFiniteFlag(ctx, 'gemmW8A8');
  const need = {
    x: viewExtent(xv, m, kw, batch, batchInner),
    w: viewExtent(wv, n, kw, batch, batchInner),
    y: viewExtent(yv, m, n, batch, batchInner),
    sx: Math.ceil((batch * m) / sxG),
    sw: Math.ceil((batch * n) / swG),
    zx: cfg.zxGroup ? Math.ceil((batch * m) / cfg.zxGroup) : 0,
    zw: cfg.zwGroup ? Math.ceil((batch * n) / cfg.zwGroup) : 0,
  };
  let destroyed = false;
  return {
    variant,
    vec4,
    config: { ...cfg },
    ops: 2 * m * n * k * batch,
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError('gemmW8A8: op used after destroy()');
      const d = dummyBuffer(ctx);
      if (cfg.zxGroup && !b.zx) throw new KernelError('gemmW8A8: config has zxGroup but no zx buffer');
      if (cfg.zwGroup && !b.zw) throw new KernelError('gemmW8A8: config has zwGroup but no zw buffer');
      if (cfg.bias && !b.bias) throw new KernelError('gemmW8A8: config has bias but no bias buffer');
      if (residual === 'buffer' && !b.residual) throw new KernelError('gemmW8A8: residual "buffer" needs a residual buffer');
      const entries = [
        u,
        checkFits(b.x, need.x, 'gemmW8A8 X (packed words)'),
        checkFits(b.w, need.w, 'gemmW8A8 W (packed words)'),
        checkFits(b.sx, need.sx, 'gemmW8A8 sx'),
        checkFits(b.sw, need.sw, 'gemmW8A8 sw'),
        cfg.zxGroup ? checkFits(b.zx!, need.zx, 'gemmW8A8 zx') : d,
        cfg.zwGroup ? checkFits(b.zw!, need.zw, 'gemmW8A8 zw') : d,
        cfg.bias ? checkFits(b.bias!, n, 'gemmW8A8 bias') : d,
        residual === 'buffer' ? checkFits(b.residual!, need.y, 'gemmW8A8 residual') : d,
        checkFits(b.y, need.y, 'gemmW8A8 Y'),
        flag.buffer,
      ];
      const bg = bindGroup(ctx, pipeline, entries);
      withPass(target, (p) => dispatch(p, pipeline, bg, gx, gy, batch), tsw);
    },
    checkFlags: () => flag.check(),
    destroy() {
      if (!destroyed) {
        u.destroy();
        flag.destroy();
      }
      destroyed = true;
    },
  };
}

export interface RunW8A8Options {
  output?: 'f32' | 'acc';
  variant?: Int8Variant;
  vec4?: boolean;
  gelu?: boolean;
}

/** Convenience for tests: pack, upload, run, read back. Scale/zero arrays of length 1 = per tensor. */
export async function runGemmW8A8(
  ctx: GpuContext,
  o: W8A8Operands,
  opts: RunW8A8Options = {},
): Promise<{ y: Float32Array | Int32Array; variant: Int8Variant; vec4: boolean }> {
  const { m, n, k } = o;
  const shape = `gemmW8A8 ${m}×${n}×${k}`;
  checkLength('runGemmW8A8 xq', o.xq, m * k, `${shape} (X is M×K)`);
  checkLength('runGemmW8A8 wq', o.wq, n * k, `${shape} (W is N×K)`);
  checkLength('runGemmW8A8 sx', o.sx, [1, m], `${shape} (per tensor or per row of X)`);
  checkLength('runGemmW8A8 sw', o.sw, [1, n], `${shape} (per tensor or per row of W)`);
  checkLength('runGemmW8A8 zx', o.zx, [1, m], `${shape} (per tensor or per row of X)`);
  checkLength('runGemmW8A8 zw', o.zw, [1, n], `${shape} (per tensor or per row of W)`);
  checkLength('runGemmW8A8 bias', o.bias, n, `${shape} (bias is N)`);
  const grp = (len: number, total: number) => (len === 1 ? total : 1);
  const op = createGemmW8A8(ctx, {
    m,
    n,
    k,
    sxGroup: grp(o.sx.length, m),
    swGroup: grp(o.sw.length, n),
    zxGroup: o.zx ? grp(o.zx.length, m) : undefined,
    zwGroup: o.zw ? grp(o.zw.length, n) : undefined,
    bias: !!o.bias && opts.output !== 'acc',
    gelu: opts.gelu,
    output: opts.output,
    variant: opts.variant,
    vec4: opts.vec4,
  });
  const bufs: GpuBuffer[] = [];
  const keep = <T extends GpuBuffer>(b: T) => (bufs.push(b), b);
  try {
    const x = keep(GpuBuffer.u32(ctx, packInt8Rows(o.xq, m, k)));
    const w = keep(GpuBuffer.u32(ctx, packInt8Rows(o.wq, n, k)));
    const y = keep(GpuBuffer.u32(ctx, m * n));
    await submitAndWait(ctx, (enc) =>
      op.encode(enc, {
        x,
        w,
        y,
        sx: keep(GpuBuffer.f32(ctx, o.sx)),
        sw: keep(GpuBuffer.f32(ctx, o.sw)),
        zx: o.zx ? keep(GpuBuffer.i32(ctx, o.zx)) : undefined,
        zw: o.zw ? keep(GpuBuffer.i32(ctx, o.zw)) : undefined,
        bias: o.bias && opts.output !== 'acc' ? keep(GpuBuffer.f32(ctx, o.bias)) : undefined,
      }),
    );
    await op.checkFlags();
    const raw = await y.read();
    return { y: opts.output === 'acc' ? new Int32Array(raw.buffer) : new Float32Array(raw.buffer), variant: op.variant, vec4: op.vec4 };
  } finally {
    bufs.forEach((b) => b.destroy());
    op.destroy();
  }
}

/**
 * CPU preparation of constant weights for gemm_w8a8: quantize W [N×K] per output channel ('row')
 * or per tensor, bits 8/4/2 in int8 lanes; returns packed words, scales and storage zero points
 * (undefined when symmetric) — upload them once and pass swGroup = 1 ('row') or N ('tensor').
 */
export function prepareW8Weights(
  w: ArrayLike<number>,
  n: number,
  k: number,
  spec: { bits: 8 | 4 | 2; symmetric: boolean; granularity: 'row' | 'tensor' },
): { packed: Uint32Array; scales: Float32Array; zeros?: Int32Array; swGroup: number } {
  const m = quantizeMatrix(w, n, k, spec);
  const off = storageOffset(spec.bits, spec.symmetric);
  const q = off ? m.q.map((v) => v - off) : m.q;
  return {
    packed: packInt8Rows(q, n, k),
    scales: m.scales,
    zeros: spec.symmetric ? undefined : m.zeros.map((z) => z - off),
    swGroup: spec.granularity === 'row' ? 1 : n,
  };
}
