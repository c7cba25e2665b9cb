/**
 * Per-site quantization semantics — the single definition the CPU reference forward, the CPU
 * backend, the WebGPU backend and tools/ref/quant_ref.py follow.
 *
 * Every site computes Y = A·Bᵀ (+ bias) per image:
 *  - weight sites: A = input activations [T×K], B = weight [N×K];
 *  - q·kᵀ: A = q of all heads stacked [H·T × hd], B = k stacked [H·T × hd]; product per head;
 *  - attn·v: A = attn stacked [H·T × T], B = vᵀ stacked [H·hd × T]; product per head.
 * Granularities on those stacked matrices: 'tensor' = one range per image (all heads),
 * 'token'/'channel' = one per row, 'group' = per row and run of groupSize columns.
 * SmoothQuant multiplies W's columns by s and divides A by s per input channel: folded into the
 * preceding LayerNorm's γ and β for to_qkv and fc1 (`lnFold`: the forward runs that LayerNorm with
 * them), at run time elsewhere when asked. LLM.int8 keeps outlier columns of A in FP32.
 */
import type { Linear } from '../model/vitWeights';
import type { SiteInfo } from './sites';
import { type Bits, storageOffset } from '../quant/scaleZero';
import { dequantizeMatrix, type MatrixQuantSpec, type QuantizedMatrix, quantizeMatrix } from '../quant/quantizeMatrix';
import { gptqQuantize } from '../quant/gptq';
import { applySmoothing, SMOOTH_ALPHAS, smoothScales, smoothWeights } from '../quant/smoothquant';
import { llmInt8Matmul } from './llmInt8';
import { calibrateRange, type RangeHistogram } from '../quant/calibrate';
import type { OperandScheme, Plan, SitePathInfo, SiteScheme } from './plan';
import { fp32Site, sitePath } from './plan';
import type { Calibration } from './calibration';
import type { W8A8Operands } from '../kernels/gemmW8A8.ref';
import type { W4A8Operands } from '../kernels/gemmW4A8.ref';
import { fakeQuantFormat, type NumberFormat } from '../quant/formats';
import { hadamardSigns, rotateRows } from '../quant/hadamard';

/** The arithmetic a forward pass needs; the TS reference and the WASM CPU kernels both provide it. */
export interface MatOps {
  /** Y[m×n] = X[m×k]·W[n×k]ᵀ + b */
  gemmF32(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, n: number, k: number): Float32Array;
  gemmW8A8(o: W8A8Operands): Float32Array;
  gemmW4A8(o: W4A8Operands): Float32Array;
  quantize(x: Float32Array, rows: number, cols: number, spec: MatrixQuantSpec): QuantizedMatrix;
}

export interface Clip {
  min: number;
  max: number;
}

export function matrixSpec(o: OperandScheme, clip?: Clip): MatrixQuantSpec {
  if (o.bits === 32) throw new Error('matrixSpec: FP32 operand has no quantization spec');
  if (o.format && o.format !== 'int') throw new Error(`matrixSpec: ${o.format} is not an INT grid (use fakeQuantOperand)`);
  const granularity = o.granularity === 'tensor' ? 'tensor' : o.granularity === 'group' ? 'group' : 'row';
  return {
    bits: o.bits as Bits,
    symmetric: o.symmetric,
    granularity,
    groupSize: o.groupSize,
    clip: o.range === 'static' ? clip : undefined,
  };
}

/** Signed storage integers (q − offset) and zero points, as the integer kernels take them. */
export function toStorage(q: QuantizedMatrix): { values: Int32Array; zeros: Int32Array } {
  const off = storageOffset(q.spec.bits, q.spec.symmetric);
  if (off === 0) return { values: q.q, zeros: q.zeros };
  const values = new Int32Array(q.q.length);
  for (let i = 0; i < values.length; i++) values[i] = q.q[i] - off;
  const zeros = new Int32Array(q.zeros.length);
  for (let i = 0; i < zeros.length; i++) zeros[i] = q.zeros[i] - off;
  return { values, zeros };
}

export interface PreparedWeight {
  /** weights after SmoothQuant scaling (== original when none) */
  w: Float32Array;
  /** quantized weights (RTN or GPTQ), when b.bits < 32 */
  q?: QuantizedMatrix;
  /** dequantized weights, for fake-quant / weight-only */
  deq?: Float32Array;
  storage?: { values: Int32Array; zeros: Int32Array };
  /** SmoothQuant per-input-channel scales; A is divided by them */
  smooth?: Float32Array;
  /** 'fold': the division happens in the preceding LayerNorm (lnFold); 'runtime': in runLinearSite */
  smoothPlacement?: 'fold' | 'runtime';
  /** the α used (fixed, or the one the search chose) */
  alpha?: number;
  /** the bias when preparation changed it (rotation: LayerNorm β folded in, b + W·β) */
  bias?: Float32Array;
}

export interface PreparedSite {
  info: SiteInfo;
  scheme: SiteScheme;
  path: SitePathInfo;
  weight?: PreparedWeight;
  /** static clip ranges for A and (attention sites) B */
  clipA?: Clip;
  clipB?: Clip;
  /** γ/s and β/s of the LayerNorm feeding this site (SmoothQuant folded) */
  lnFold?: { g: Float32Array; b: Float32Array };
  /** what the preparation decided that the user should see (searched α, a calibrator's fallback) */
  notes?: string[];
  /** Hadamard rotation: A is multiplied by R = D·H/√k (these signs D) before quantization; W·R is in weight.w */
  rotation?: { signs: Float32Array };
}

/** The operand's non-INT format, if any. */
export function operandFormat(o: OperandScheme): Exclude<NumberFormat, 'int'> | undefined {
  return o.bits !== 32 && o.format && o.format !== 'int' ? o.format : undefined;
}

/**
 * Fake quantization of an operand [rows × k] (one image, or the stacked heads of one image):
 * a non-INT format by its codec (blocks along k), INT on the plan's grid via `ops.quantize`.
 */
export function fakeQuantOperand(ops: MatOps, x: Float32Array, rows: number, k: number, o: OperandScheme, clip?: Clip): Float32Array {
  if (o.bits === 32) return x;
  const fmt = operandFormat(o);
  if (fmt) return fakeQuantFormat(x, rows, k, fmt);
  return dequantizeMatrix(ops.quantize(x, rows, k, matrixSpec(o, clip)));
}

/**
 * A site whose execution must follow this file's per-image definition (no packed or WebGPU path):
 * a rotation, a format on A, or a format on an attention site's B. A format on a weight is decoded
 * once in preparePlan (weight.deq, by its code book) and multiplies on the existing FP32 GEMM
 * (weight-only) or the fake-quant path with an INT A.
 */
export function needsSiteDefinition(ps: PreparedSite): boolean {
  return (
    ps.rotation !== undefined ||
    operandFormat(ps.scheme.a) !== undefined ||
    (!ps.info.hasWeight && operandFormat(ps.scheme.b) !== undefined)
  );
}

export interface PreparedPlan {
  plan: Plan;
  sites: PreparedSite[];
}

export class CalibrationNeeded extends Error {
  constructor(readonly sites: number[]) {
    super(`sites ${sites.join(', ')} need calibration data (static ranges, SmoothQuant or GPTQ)`);
    this.name = 'CalibrationNeeded';
  }
}

export function planNeedsCalibration(plan: Plan): number[] {
  const out: number[] = [];
  plan.sites.forEach((s, i) => {
    // an explicit clip is a given range: nothing to calibrate for that operand
    const cal = (o: OperandScheme) => o.range === 'static' && !o.clip;
    if (cal(s.a) || cal(s.b) || s.smoothquant || s.gptq) out.push(i);
  });
  return out;
}

function clipFor(
  o: OperandScheme,
  cal: Calibration | undefined,
  site: number,
  role: 'a' | 'b',
  notes: string[],
  smoothed?: RangeHistogram,
): Clip | undefined {
  if (o.range !== 'static' || o.bits === 32) return undefined;
  if (o.clip) return { min: o.clip.min, max: o.clip.max };
  const c = cal?.sites[site]?.[role];
  if (!c) throw new CalibrationNeeded([site]);
  // a smoothed operand is calibrated on its own histogram (of A/s), with the plan's calibrator
  const r = calibrateRange(smoothed ?? c.hist, o.calibrator ?? 'minmax', {
    bits: o.bits as Bits,
    symmetric: o.symmetric,
    percentile: o.percentile,
  });
  if (r.note) notes.push(r.note);
  return { min: r.min, max: r.max };
}

/**
 * What preparing a plan may need beyond the FP32 calibration statistics; the engine provides it
 * (each costs forward passes over calibration images, so only plans that ask pay for it).
 */
export interface PrepareContext {
  /** γ and β of the LayerNorm feeding a foldable site */
  layerNorm(site: number): { g: Float32Array; b: Float32Array };
  /** FP32 inputs of a site on the α-search images: rows × k, `perImage` rows per image */
  siteInputs(site: number): { x: Float32Array; rows: number; perImage: number };
  /** histograms (two passes) of each listed site's FP32 input divided by its s, over the calibration images */
  smoothedHistograms(scales: Map<number, Float32Array>): Map<number, RangeHistogram>;
  /** Σ x xᵀ (k×k) and row count of a site's inputs when the model runs `partial` (GPTQ sequential) */
  sequentialHessian(site: number, partial: PreparedPlan): { sum: Float64Array; rows: number };
  /** arithmetic for the α search */
  ops: MatOps;
}

function needContext(ctx: PrepareContext | undefined, site: number, what: string): PrepareContext {
  if (!ctx) throw new Error(`site ${site}: ${what} needs the engine's calibration context (preparePlan(..., ctx))`);
  return ctx;
}

/** Fake-quantized A (dynamic ranges: per image for 'tensor', per row for 'token'). */
function fakeQuantRows(ops: MatOps, x: Float32Array, rows: number, perImage: number, k: number, o: OperandScheme): Float32Array {
  if (o.bits === 32) return x;
  const spec = matrixSpec({ ...o, range: 'dynamic' });
  if (spec.granularity !== 'tensor') return dequantizeMatrix(ops.quantize(x, rows, k, spec));
  const out = new Float32Array(x.length);
  for (let r0 = 0; r0 < rows; r0 += perImage) {
    const n = Math.min(perImage, rows - r0);
    out.set(dequantizeMatrix(ops.quantize(x.subarray(r0 * k, (r0 + n) * k), n, k, spec)), r0 * k);
  }
  return out;
}

/**
 * SmoothQuant α by search (science.md §3): for α ∈ {0, 0.05, …, 1} the site's output MSE
 * ‖Q(X/s)·Q(W·s)ᵀ − X·Wᵀ‖² / (rows·n) on FP32 calibration inputs, A with dynamic min/max ranges
 * of the plan's granularity, W by RTN on the plan's grid; ties keep the smaller α.
 */
export function searchSmoothAlpha(
  scheme: SiteScheme,
  lin: Linear,
  actAbsMax: Float32Array,
  inputs: { x: Float32Array; rows: number; perImage: number },
  ops: MatOps,
): { alpha: number; mse: number[] } {
  const { x, rows, perImage } = inputs;
  const n = lin.out;
  const k = lin.in;
  const yRef = ops.gemmF32(x, lin.w, null, rows, n, k);
  const mse: number[] = [];
  let best = 0;
  for (const alpha of SMOOTH_ALPHAS) {
    const sc = smoothScales(actAbsMax, lin.w, n, k, alpha);
    const ws = smoothWeights(lin.w, n, k, sc);
    const wq = scheme.b.bits === 32 ? ws : dequantizeMatrix(quantizeMatrix(ws, n, k, matrixSpec(scheme.b)));
    const xq = fakeQuantRows(ops, applySmoothing(x, rows, k, sc), rows, perImage, k, scheme.a);
    const y = ops.gemmF32(xq, wq, null, rows, n, k);
    let e = 0;
    for (let i = 0; i < y.length; i++) e += (y[i] - yRef[i]) ** 2;
    mse.push(e / y.length);
    if (mse[mse.length - 1] < mse[best]) best = mse.length - 1;
  }
  return { alpha: SMOOTH_ALPHAS[best], mse };
}

/** A site that computes in FP32 (placeholders for not-yet-prepared sites). */
export function fp32PreparedSite(info: SiteInfo): PreparedSite {
  const scheme = fp32Site();
  return { info, scheme, path: sitePath(scheme, info.hasWeight) };
}

/**
 * Weight-side work done once per plan, site by site in forward order: SmoothQuant scales (fixed or
 * searched α) folded into W and the preceding LayerNorm or applied at run time, RTN or GPTQ
 * (sequential: Hessians from the model whose earlier sites are already prepared), static clips.
 */
export function preparePlan(
  plan: Plan,
  sites: SiteInfo[],
  linears: (Linear | null)[],
  cal?: Calibration,
  ctx?: PrepareContext,
): PreparedPlan {
  const missing = planNeedsCalibration(plan).filter((i) => !cal?.sites[i]);
  if (missing.length) throw new CalibrationNeeded(missing);
  // SmoothQuant first (it depends on no other site), so that the smoothed static ranges of all
  // sites come from one pass over the calibration images
  const smoothing = plan.sites.map((scheme, i) => {
    const lin = linears[i];
    const sq = scheme.smoothquant;
    if (!sq || !lin || sitePath(scheme, sites[i].hasWeight).path === 'fp32') return undefined;
    const notes: string[] = [];
    const actMax = cal!.sites[i]!.a.colAbsMax;
    let alpha: number;
    if (sq.alpha === 'search') {
      const c = needContext(ctx, i, 'the SmoothQuant α search');
      alpha = searchSmoothAlpha(scheme, lin, actMax, c.siteInputs(i), c.ops).alpha;
      notes.push(`SmoothQuant α = ${alpha.toFixed(2)} (searched on calibration images)`);
    } else alpha = sq.alpha;
    const smooth = smoothScales(actMax, lin.w, lin.out, lin.in, alpha);
    const placement = sq.placement ?? 'fold';
    let lnFold: PreparedSite['lnFold'];
    if (placement === 'fold') {
      const ln = needContext(ctx, i, 'folding SmoothQuant into the LayerNorm').layerNorm(i);
      lnFold = { g: ln.g.map((v, j) => v / smooth[j]), b: ln.b.map((v, j) => v / smooth[j]) };
    } else notes.push('SmoothQuant: run-time scaling (not foldable): A is divided by s before quantization');
    return {
      weight: { w: smoothWeights(lin.w, lin.out, lin.in, smooth), smooth, smoothPlacement: placement, alpha } as PreparedWeight,
      lnFold,
      notes,
    };
  });
  const wantHist = new Map<number, Float32Array>();
  smoothing.forEach((sm, i) => {
    const a = plan.sites[i].a;
    if (sm && a.range === 'static' && a.bits !== 32) wantHist.set(i, sm.weight.smooth!);
  });
  const smoothedHists = wantHist.size
    ? needContext(ctx, [...wantHist.keys()][0], 'static ranges after smoothing').smoothedHistograms(wantHist)
    : new Map<number, RangeHistogram>();

  const prepared: PreparedSite[] = [];
  plan.sites.forEach((scheme, i) => {
    const info = sites[i];
    const path = sitePath(scheme, info.hasWeight);
    const lin = linears[i];
    const sm = smoothing[i];
    const notes: string[] = [...(sm?.notes ?? [])];
    let weight: PreparedWeight | undefined;
    const lnFold = sm?.lnFold;
    const smoothedHist = smoothedHists.get(i);
    let lnFoldSite = lnFold;
    let rotation: PreparedSite['rotation'];
    if (info.hasWeight && lin) {
      weight = sm ? { ...sm.weight } : { w: lin.w };
      if (scheme.rotation) {
        // QuaRot-style: LayerNorm γ into W's columns and β into the bias first (to_qkv, fc1), then W·R
        let w0 = lin.w;
        if (info.kind === 'to_qkv' || info.kind === 'fc1') {
          const ln = needContext(ctx, i, 'folding the LayerNorm before the rotation').layerNorm(i);
          const k = lin.in;
          w0 = new Float32Array(lin.w.length);
          const b = new Float32Array(lin.b);
          for (let r = 0; r < lin.out; r++) {
            let acc = 0;
            for (let c = 0; c < k; c++) {
              w0[r * k + c] = lin.w[r * k + c] * ln.g[c];
              acc += lin.w[r * k + c] * ln.b[c];
            }
            b[r] = Math.fround(b[r] + acc);
          }
          weight.bias = b;
          lnFoldSite = { g: new Float32Array(k).fill(1), b: new Float32Array(k) };
        }
        const signs = hadamardSigns(lin.in, scheme.rotation.seed, i);
        weight.w = rotateRows(w0, lin.out, lin.in, signs);
        rotation = { signs };
        notes.push(
          `Hadamard rotation (seed ${scheme.rotation.seed}): W·R folded into the weights${lnFoldSite !== lnFold ? ' after LayerNorm γ, β' : ''}; A·R online (fast Walsh–Hadamard)`,
        );
      }
      const w = weight.w;
      const bFmt = operandFormat(scheme.b);
      if (bFmt) weight.deq = fakeQuantFormat(w, lin.out, lin.in, bFmt);
      else if (scheme.b.bits !== 32) {
        // a learned per-tensor weight range (plan clip) replaces the weights' min/max
        const spec = matrixSpec(scheme.b, scheme.b.clip);
        let q: QuantizedMatrix;
        if (scheme.gptq) {
          let h: Float64Array;
          if (scheme.gptq.sequential !== false) {
            const partial: PreparedPlan = { plan, sites: [...prepared, ...sites.slice(i).map(fp32PreparedSite)] };
            const hs = needContext(ctx, i, 'GPTQ sequential').sequentialHessian(i, partial);
            h = scaledHessian(hs.sum, hs.rows, weight.smooth);
          } else h = hessianFor(cal!, i, weight.smooth);
          q = { rows: lin.out, cols: lin.in, spec, ...gptqQuantize(w, lin.out, lin.in, h, spec, scheme.gptq) } as QuantizedMatrix;
        } else q = quantizeMatrix(w, lin.out, lin.in, spec);
        weight.q = q;
        weight.deq = dequantizeMatrix(q);
        weight.storage = toStorage(q);
      }
    }
    const clipA = clipFor(scheme.a, cal, i, 'a', notes, smoothedHist);
    const clipB = info.hasWeight ? undefined : clipFor(scheme.b, cal, i, 'b', notes);
    prepared.push({
      info,
      scheme,
      path,
      weight,
      clipA,
      clipB,
      lnFold: lnFoldSite,
      notes: notes.length ? notes : undefined,
      ...(rotation ? { rotation } : {}),
    });
  });
  return { plan, sites: prepared };
}

/** H = 2/N Σ x xᵀ from a sum of outer products; with SmoothQuant the input is x/s, so H_ij / (s_i s_j). */
function scaledHessian(sum: Float64Array, rows: number, smooth?: Float32Array): Float64Array {
  const k = Math.round(Math.sqrt(sum.length));
  const h = new Float64Array(sum.length);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) h[i * k + j] = (2 * sum[i * k + j]) / Math.max(1, rows) / (smooth ? smooth[i] * smooth[j] : 1);
  return h;
}

/** H of the site's FP32 input (calibration statistics). */
function hessianFor(cal: Calibration, site: number, smooth?: Float32Array): Float64Array {
  const c = cal.sites[site];
  if (!c?.hessian) throw new CalibrationNeeded([site]);
  return scaledHessian(c.hessian, c.hessianRows, smooth);
}

// ---------------------------------------------------------------------------------------------
// Execution of one site for one image.

function sliceRows(q: Float32Array | Int32Array, cols: number, r0: number, rows: number) {
  return q.subarray(r0 * cols, (r0 + rows) * cols);
}
function perRow(v: Float32Array | Int32Array, r0: number, rows: number, isTensor: boolean) {
  return isTensor ? v.subarray(0, 1) : v.subarray(r0, r0 + rows);
}

/** A weight site: A [m×k] (one image) → Y [m×n]. */
/** `llmMask`: LLM.int8()'s outlier columns of this (smoothed) operand when the caller found them already (outlierColumns). */
export function runLinearSite(
  ps: PreparedSite,
  lin: Linear,
  aIn: Float32Array,
  m: number,
  ops: MatOps,
  hint: { llmMask?: Uint8Array } = {},
): Float32Array {
  const { scheme, path } = ps;
  const n = lin.out;
  const k = lin.in;
  const bias = ps.weight?.bias ?? lin.b;
  if (path.path === 'fp32' && !ps.rotation) return ops.gemmF32(aIn, lin.w, lin.b, m, n, k);
  const wt = ps.weight!;
  // folded smoothing already happened in the LayerNorm that produced aIn; the rotation runs here
  const a = ps.rotation
    ? rotateRows(aIn, m, k, ps.rotation.signs)
    : wt.smooth && wt.smoothPlacement === 'runtime'
      ? applySmoothing(aIn, m, k, wt.smooth)
      : aIn;
  switch (path.path) {
    case 'fp32':
      return ops.gemmF32(a, wt.w, bias, m, n, k);
    case 'weight-only':
      return ops.gemmF32(a, wt.deq!, bias, m, n, k);
    case 'fake-quant': {
      if (scheme.llmInt8) {
        const aBits = (scheme.a.bits === 32 ? 8 : scheme.a.bits) as 8 | 4 | 2;
        const bBits = (scheme.b.bits === 32 ? 8 : scheme.b.bits) as 8 | 4 | 2;
        return llmInt8Matmul(a, wt.w, lin.b, m, n, k, scheme.llmInt8.threshold, {
          aBits,
          bBits,
          gemm: (o) => ops.gemmW8A8(o),
          quantize: (x, r, c, spec) => ops.quantize(x, r, c, spec),
          mask: hint.llmMask,
        });
      }
      const aq = fakeQuantOperand(ops, a, m, k, scheme.a, ps.clipA);
      return ops.gemmF32(aq, wt.deq ?? wt.w, bias, m, n, k);
    }
    case 'int8-gemm':
    case 'int4-gemm': {
      const qa = ops.quantize(a, m, k, matrixSpec(scheme.a, ps.clipA));
      const sa = toStorage(qa);
      const wq = wt.q!;
      if (path.path === 'int8-gemm') {
        return ops.gemmW8A8({
          m,
          n,
          k,
          xq: sa.values,
          zx: sa.zeros,
          sx: qa.scales,
          wq: wt.storage!.values,
          zw: wt.storage!.zeros,
          sw: wq.scales,
          bias,
        });
      }
      return ops.gemmW4A8({
        m,
        n,
        k,
        xq: sa.values,
        zx: sa.zeros,
        sx: qa.scales,
        wq: wt.storage!.values,
        sw: wq.scales,
        groupSize: wq.groupSize,
        bias,
      });
    }
  }
  throw new Error(`unknown path ${path.path}`);
}

/**
 * An attention site for one image: A [heads·M × K], B [heads·N × K] (stacked per head) →
 * Y [heads·M × N], the product of each head's blocks.
 */
export function runAttentionSite(
  ps: PreparedSite,
  a: Float32Array,
  b: Float32Array,
  heads: number,
  m: number,
  n: number,
  k: number,
  ops: MatOps,
): Float32Array {
  const { scheme, path } = ps;
  const y = new Float32Array(heads * m * n);
  if (path.path === 'int8-gemm') {
    const qa = ops.quantize(a, heads * m, k, matrixSpec(scheme.a, ps.clipA));
    const qb = ops.quantize(b, heads * n, k, matrixSpec(scheme.b, ps.clipB));
    const sa = toStorage(qa);
    const sb = toStorage(qb);
    const ta = qa.spec.granularity === 'tensor';
    const tb = qb.spec.granularity === 'tensor';
    for (let h = 0; h < heads; h++) {
      const yh = ops.gemmW8A8({
        m,
        n,
        k,
        xq: sliceRows(sa.values, k, h * m, m) as Int32Array,
        zx: perRow(sa.zeros, h * m, m, ta) as Int32Array,
        sx: perRow(qa.scales, h * m, m, ta) as Float32Array,
        wq: sliceRows(sb.values, k, h * n, n) as Int32Array,
        zw: perRow(sb.zeros, h * n, n, tb) as Int32Array,
        sw: perRow(qb.scales, h * n, n, tb) as Float32Array,
        bias: null,
      });
      y.set(yh, h * m * n);
    }
    return y;
  }
  // fp32, fake-quant and "weight-only" (B quantized, A FP32) all multiply dequantized floats.
  const aq = fakeQuantOperand(ops, a, heads * m, k, scheme.a, ps.clipA);
  const bq = fakeQuantOperand(ops, b, heads * n, k, scheme.b, ps.clipB);
  for (let h = 0; h < heads; h++) {
    y.set(ops.gemmF32(aq.subarray(h * m * k, (h + 1) * m * k), bq.subarray(h * n * k, (h + 1) * n * k), null, m, n, k), h * m * n);
  }
  return y;
}
