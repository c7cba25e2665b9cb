/**
 * Multi-head attention core for a batch of images, FP32 or quantized (W8A8 integer products).
 *
 * API:
 *   const att = createAttention(ctx, { images, tokens, heads, headDim, q?, k?, p?, v?, variant? })
 *   att.encode(encoderOrPass, { qkv, out })        scores → softmax → context
 *   att.encodeScores(target, { qkv }) / att.encodeSoftmax(target) / att.encodeContext(target, { qkv, out })
 *   att.scores   GpuBuffer [images·heads × T × T]: S = (q·kᵀ)·(1/√hd), softmax in place → P
 *   att.internals  packed operands, scales and zeros (tests, statistics)
 *   await att.checkFlags(); att.destroy()
 *
 * Layout: qkv [images·T × 3·dim] (q = cols 0..dim, k = dim..2dim, v = 2dim..3dim; head h = cols
 * h·hd..(h+1)·hd inside each), out [images·T × dim] with head h in cols h·hd… (the to_out input).
 * Quantized operands (bits 8/4/2 in int8 lanes, storage zero points):
 *   q, p: 'token' = one range per (image, head, token) row; 'tensor' = one range per image (all heads)
 *   k:    'token' (= 'channel': k's rows are S's output columns) or 'tensor' (per image)
 *   v:    'channel' = one range per (image, head, column of v); 'tensor' = per image
 * q and k are both quantized or both FP32, likewise p and v. The 1/√hd scale is applied after the
 * product (as the model does), in the GEMM epilogue.
 */
import { GpuBuffer } from '../gpu/buffers';
import type { BufArg } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import type { Bits } from '../quant/scaleZero';
import { type PassTarget, KernelError, checkDim, checkFits, withPass } from './common';
import { type GemmF32Op, createGemmF32 } from './gemmF32';
import { type GemmW8A8Op, createGemmW8A8 } from './gemmW8A8';
import type { Int8Variant } from './int8Variant';
import { type QuantizeRowsOp, createQuantizeRows } from './quantizeRows';
import { type SoftmaxOp, createSoftmax } from './softmax';

export interface AttnQuant {
  bits: Bits;
  symmetric: boolean;
  granularity: 'token' | 'tensor' | 'channel';
  clip?: { min: number; max: number };
}

export interface AttentionConfig {
  images: number;
  tokens: number;
  heads: number;
  headDim: number;
  q?: AttnQuant;
  k?: AttnQuant;
  p?: AttnQuant;
  v?: AttnQuant;
  variant?: Int8Variant;
}

interface QuantSet {
  op: QuantizeRowsOp;
  packed: GpuBuffer<'u32'>;
  scales: GpuBuffer<'f32'>;
  zeros: GpuBuffer<'i32'>;
}

export interface AttentionOp {
  readonly scores: GpuBuffer<'f32'>;
  readonly internals: { q?: QuantSet; k?: QuantSet; p?: QuantSet; v?: QuantSet; variant?: Int8Variant };
  /** arithmetic ops of the two products per encode */
  readonly ops: number;
  encode(target: PassTarget, b: { qkv: BufArg; out: BufArg }, timestampWrites?: GPUComputePassTimestampWrites): void;
  encodeScores(target: PassTarget, b: { qkv: BufArg }): void;
  encodeSoftmax(target: PassTarget): void;
  encodeContext(target: PassTarget, b: { qkv: BufArg; out: BufArg }): void;
  checkFlags(): Promise<void>;
  destroy(): void;
}

export function createAttention(ctx: GpuContext, cfg: AttentionConfig): AttentionOp {
  const { images, tokens: T, heads, headDim: hd } = cfg;
  checkDim(images, 'attention: images');
  checkDim(T, 'attention: tokens');
  checkDim(heads, 'attention: heads');
  checkDim(hd, 'attention: headDim');
  if (!!cfg.q !== !!cfg.k) throw new KernelError('attention: q and k must both be quantized or both FP32');
  if (!!cfg.p !== !!cfg.v) throw new KernelError('attention: p (attn) and v must both be quantized or both FP32');
  const dim = heads * hd;
  const Z = images * heads;
  const qkvView = (off: number) => ({ off, row: 3 * dim, outer: T * 3 * dim, inner: hd });
  const owned: { destroy(): void }[] = [];
  const own = <X extends { destroy(): void }>(x: X) => (owned.push(x), x);
  const scores = own(new GpuBuffer(ctx, { dtype: 'f32', length: Z * T * T, label: 'attention.scores' }));
  const alpha = 1 / Math.sqrt(hd);

  const quantSet = (
    rows: number,
    cols: number,
    view: Parameters<typeof createQuantizeRows>[1]['view'],
    s: AttnQuant,
    perRowNames: string[],
  ): QuantSet => {
    if (!perRowNames.includes(s.granularity) && s.granularity !== 'tensor')
      throw new KernelError(
        `attention: granularity '${s.granularity}' is not one of ${[...perRowNames, 'tensor'].join(', ')} for this operand`,
      );
    const op = own(
      createQuantizeRows(ctx, {
        rows,
        cols,
        batch: Z,
        batchInner: heads,
        view,
        bits: s.bits,
        symmetric: s.symmetric,
        granularity: s.granularity === 'tensor' ? 'tensor' : 'row',
        rowsPerTensor: rows * heads,
        clip: s.clip,
      }),
    );
    return {
      op,
      packed: own(new GpuBuffer(ctx, { dtype: 'u32', length: op.totalRows * op.wordsPerRow, label: 'attention.packed' })),
      scales: own(new GpuBuffer(ctx, { dtype: 'f32', length: op.groups, label: 'attention.scales' })),
      zeros: own(new GpuBuffer(ctx, { dtype: 'i32', length: op.groups, label: 'attention.zeros' })),
    };
  };
  const group = (s: AttnQuant, rows: number) => (s.granularity === 'tensor' ? rows * heads : 1);

  // q·kᵀ
  let qkF32: GemmF32Op | undefined, qkI8: GemmW8A8Op | undefined, qs: QuantSet | undefined, ks: QuantSet | undefined;
  if (cfg.q && cfg.k) {
    qs = quantSet(T, hd, qkvView(0), cfg.q, ['token']);
    ks = quantSet(T, hd, qkvView(dim), cfg.k, ['token', 'channel']);
    qkI8 = own(
      createGemmW8A8(ctx, {
        m: T,
        n: T,
        k: hd,
        batch: Z,
        batchInner: heads,
        alpha,
        variant: cfg.variant,
        sxGroup: group(cfg.q, T),
        swGroup: group(cfg.k, T),
        zxGroup: cfg.q.symmetric ? undefined : group(cfg.q, T),
        zwGroup: cfg.k.symmetric ? undefined : group(cfg.k, T),
      }),
    );
  } else {
    qkF32 = own(createGemmF32(ctx, { m: T, n: T, k: hd, batch: Z, batchInner: heads, alpha, x: qkvView(0), w: qkvView(dim) }));
  }
  const softmax: SoftmaxOp = own(createSoftmax(ctx, { rows: Z * T, cols: T }));
  // attn·v
  const outView = { off: 0, row: dim, outer: T * dim, inner: hd };
  let pvF32: GemmF32Op | undefined, pvI8: GemmW8A8Op | undefined, ps: QuantSet | undefined, vs: QuantSet | undefined;
  if (cfg.p && cfg.v) {
    ps = quantSet(T, T, undefined, cfg.p, ['token']);
    // v transposed: logical row = channel of v, column = token → packed Vᵀ [hd × T] per (image, head)
    vs = quantSet(hd, T, { off: 2 * dim, row: 1, col: 3 * dim, outer: T * 3 * dim, inner: hd }, cfg.v, ['channel']);
    pvI8 = own(
      createGemmW8A8(ctx, {
        m: T,
        n: hd,
        k: T,
        batch: Z,
        batchInner: heads,
        y: outView,
        variant: cfg.variant,
        sxGroup: group(cfg.p, T),
        swGroup: group(cfg.v, hd),
        zxGroup: cfg.p.symmetric ? undefined : group(cfg.p, T),
        zwGroup: cfg.v.symmetric ? undefined : group(cfg.v, hd),
      }),
    );
  } else {
    pvF32 = own(
      createGemmF32(ctx, {
        m: T,
        n: hd,
        k: T,
        batch: Z,
        batchInner: heads,
        transB: true,
        w: { off: 2 * dim, row: 3 * dim, outer: T * 3 * dim, inner: hd },
        y: outView,
      }),
    );
  }
  const quantOps = [qs, ks, ps, vs].filter((x): x is QuantSet => !!x);
  let destroyed = false;
  const alive = () => {
    if (destroyed) throw new KernelError('attention: op used after destroy()');
  };
  // the whole [images × tokens × 3·dim] qkv and [images × tokens × dim] out, not just what the views touch
  const checkIo = (qkv: BufArg, out?: BufArg) => {
    checkFits(qkv, images * T * 3 * dim, `attention qkv [${images} images × ${T} tokens × ${3 * dim}]`);
    if (out) checkFits(out, images * T * dim, `attention out [${images} images × ${T} tokens × ${dim}]`);
  };
  const encodeScores = (p: GPUComputePassEncoder, qkv: BufArg) => {
    if (qkI8 && qs && ks) {
      qs.op.encode(p, { input: qkv, q: qs.packed, scales: qs.scales, zeros: qs.zeros });
      ks.op.encode(p, { input: qkv, q: ks.packed, scales: ks.scales, zeros: ks.zeros });
      qkI8.encode(p, { x: qs.packed, w: ks.packed, sx: qs.scales, sw: ks.scales, zx: qs.zeros, zw: ks.zeros, y: scores });
    } else qkF32!.encode(p, { x: qkv, w: qkv, y: scores });
  };
  const encodeContext = (p: GPUComputePassEncoder, qkv: BufArg, out: BufArg) => {
    if (pvI8 && ps && vs) {
      ps.op.encode(p, { input: scores, q: ps.packed, scales: ps.scales, zeros: ps.zeros });
      vs.op.encode(p, { input: qkv, q: vs.packed, scales: vs.scales, zeros: vs.zeros });
      pvI8.encode(p, { x: ps.packed, w: vs.packed, sx: ps.scales, sw: vs.scales, zx: ps.zeros, zw: vs.zeros, y: out });
    } else pvF32!.encode(p, { x: scores, w: qkv, y: out });
  };
  return {
    scores,
    internals: { q: qs, k: ks, p: ps, v: vs, variant: qkI8?.variant ?? pvI8?.variant },
    ops: 2 * 2 * Z * T * T * hd,
    encode(target, b, tsw) {
      alive();
      checkIo(b.qkv, b.out);
      withPass(
        target,
        (p) => {
          encodeScores(p, b.qkv);
          softmax.encode(p, { x: scores });
          encodeContext(p, b.qkv, b.out);
        },
        tsw,
      );
    },
    encodeScores(target, b) {
      alive();
      checkIo(b.qkv);
      withPass(target, (p) => encodeScores(p, b.qkv));
    },
    encodeSoftmax(target) {
      alive();
      withPass(target, (p) => softmax.encode(p, { x: scores }));
    },
    encodeContext(target, b) {
      alive();
      checkIo(b.qkv, b.out);
      withPass(target, (p) => encodeContext(p, b.qkv, b.out));
    },
    async checkFlags() {
      for (const q of quantOps) await q.op.checkFlags();
      for (const op of [qkF32, qkI8, softmax, pvF32, pvI8]) await op?.checkFlags();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const o of owned.reverse()) o.destroy();
    },
  };
}
