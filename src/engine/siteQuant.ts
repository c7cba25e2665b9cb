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
 * SmoothQuant divides A by s per input channel and multiplies W's columns by s (the division is
 * what folding s into the preceding LayerNorm computes). LLM.int8 keeps outlier columns of A in FP32.
 */
import type { Linear } from '../model/vitWeights';
import type { SiteInfo } from '../model/sites';
import { type Bits, storageOffset } from '../quant/scaleZero';
import { dequantizeMatrix, type MatrixQuantSpec, type QuantizedMatrix, quantizeMatrix } from '../quant/quantizeMatrix';
import { gptqQuantize } from '../quant/gptq';
import { applySmoothing, smoothScales, smoothWeights } from '../quant/smoothquant';
import { llmInt8Matmul } from '../quant/llmInt8';
import { calibrateRange } from '../quant/calibrate';
import type { OperandScheme, Plan, SitePathInfo, SiteScheme } from './plan';
import { sitePath } from './plan';
import type { Calibration } from './calibration';
import type { W8A8Operands } from '../kernels/gemmW8A8.ref';
import type { W4A8Operands } from '../kernels/gemmW4A8.ref';

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
  const granularity = o.granularity === 'tensor' ? 'tensor' : o.granularity === 'group' ? 'group' : 'row';
  return { bits: o.bits as Bits, symmetric: o.symmetric, granularity, groupSize: o.groupSize, clip: o.range === 'static' ? clip : undefined };
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
}

export interface PreparedSite {
  info: SiteInfo;
  scheme: SiteScheme;
  path: SitePathInfo;
  weight?: PreparedWeight;
  /** static clip ranges for A and (attention sites) B */
  clipA?: Clip;
  clipB?: Clip;
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
    if (s.a.range === 'static' || s.b.range === 'static' || s.smoothquant || s.gptq) out.push(i);
  });
  return out;
}

function clipFor(o: OperandScheme, cal: Calibration | undefined, site: number, role: 'a' | 'b', divide?: Float32Array): Clip | undefined {
  if (o.range !== 'static' || o.bits === 32) return undefined;
  const c = cal?.sites[site]?.[role];
  if (!c) throw new CalibrationNeeded([site]);
  if (divide) {
    // A smoothed operand's range: per-column min/max divided by s (only min/max is exact here).
    let lo = 0;
    let hi = 0;
    for (let j = 0; j < divide.length; j++) {
      lo = Math.min(lo, c.colMin[j] / divide[j]);
      hi = Math.max(hi, c.colMax[j] / divide[j]);
    }
    return { min: lo, max: hi };
  }
  return calibrateRange(c.hist, o.calibrator ?? 'minmax', { bits: o.bits as Bits, symmetric: o.symmetric, percentile: o.percentile });
}

/** Weight-side work done once per plan: SmoothQuant scaling, RTN or GPTQ quantization, clips. */
export function preparePlan(plan: Plan, sites: SiteInfo[], linears: (Linear | null)[], cal?: Calibration): PreparedPlan {
  const missing = planNeedsCalibration(plan).filter((i) => !cal?.sites[i]);
  if (missing.length) throw new CalibrationNeeded(missing);
  const prepared = plan.sites.map((scheme, i): PreparedSite => {
    const info = sites[i];
    const path = sitePath(scheme, info.hasWeight);
    const lin = linears[i];
    let weight: PreparedWeight | undefined;
    if (info.hasWeight && lin) {
      let w = lin.w;
      let smooth: Float32Array | undefined;
      if (scheme.smoothquant && path.path !== 'fp32') {
        smooth = smoothScales(cal!.sites[i]!.a.colAbsMax, lin.w, lin.out, lin.in, scheme.smoothquant.alpha);
        w = smoothWeights(lin.w, lin.out, lin.in, smooth);
      }
      weight = { w, smooth };
      if (scheme.b.bits !== 32) {
        const spec = matrixSpec(scheme.b);
        const q = scheme.gptq
          ? ({ rows: lin.out, cols: lin.in, spec, ...gptqQuantize(w, lin.out, lin.in, hessianFor(cal!, i, smooth), spec, scheme.gptq) } as QuantizedMatrix)
          : quantizeMatrix(w, lin.out, lin.in, spec);
        weight.q = q;
        weight.deq = dequantizeMatrix(q);
        weight.storage = toStorage(q);
      }
    }
    const clipA = clipFor(scheme.a, cal, i, 'a', weight?.smooth);
    const clipB = info.hasWeight ? undefined : clipFor(scheme.b, cal, i, 'b');
    return { info, scheme, path, weight, clipA, clipB };
  });
  return { plan, sites: prepared };
}

/** H = 2/N Σ x xᵀ of the site's input; with SmoothQuant the input is x/s, so H_ij / (s_i s_j). */
function hessianFor(cal: Calibration, site: number, smooth?: Float32Array): Float64Array {
  const c = cal.sites[site];
  if (!c?.hessian) throw new CalibrationNeeded([site]);
  const k = Math.round(Math.sqrt(c.hessian.length));
  const h = new Float64Array(c.hessian.length);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) h[i * k + j] = (2 * c.hessian[i * k + j]) / Math.max(1, c.hessianRows) / (smooth ? smooth[i] * smooth[j] : 1);
  return h;
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
export function runLinearSite(ps: PreparedSite, lin: Linear, aIn: Float32Array, m: number, ops: MatOps): Float32Array {
  const { scheme, path } = ps;
  const n = lin.out;
  const k = lin.in;
  if (path.path === 'fp32') return ops.gemmF32(aIn, lin.w, lin.b, m, n, k);
  const wt = ps.weight!;
  const a = wt.smooth ? applySmoothing(aIn, m, k, wt.smooth) : aIn;
  switch (path.path) {
    case 'weight-only':
      return ops.gemmF32(a, wt.deq!, lin.b, m, n, k);
    case 'fake-quant': {
      if (scheme.llmInt8) {
        const aBits = (scheme.a.bits === 32 ? 8 : scheme.a.bits) as 8 | 4 | 2;
        const bBits = (scheme.b.bits === 32 ? 8 : scheme.b.bits) as 8 | 4 | 2;
        return llmInt8Matmul(a, wt.w, lin.b, m, n, k, scheme.llmInt8.threshold, { aBits, bBits, gemm: (o) => ops.gemmW8A8(o) });
      }
      const aq = scheme.a.bits === 32 ? a : dequantizeMatrix(ops.quantize(a, m, k, matrixSpec(scheme.a, ps.clipA)));
      return ops.gemmF32(aq, wt.deq ?? wt.w, lin.b, m, n, k);
    }
    case 'int8-gemm':
    case 'int4-gemm': {
      const qa = ops.quantize(a, m, k, matrixSpec(scheme.a, ps.clipA));
      const sa = toStorage(qa);
      const wq = wt.q!;
      if (path.path === 'int8-gemm') {
        return ops.gemmW8A8({ m, n, k, xq: sa.values, zx: sa.zeros, sx: qa.scales, wq: wt.storage!.values, zw: wt.storage!.zeros, sw: wq.scales, bias: lin.b });
      }
      return ops.gemmW4A8({ m, n, k, xq: sa.values, zx: sa.zeros, sx: qa.scales, wq: wt.storage!.values, sw: wq.scales, groupSize: wq.groupSize, bias: lin.b });
    }
  }
  throw new Error(`unknown path ${path.path}`);
}

/**
 * An attention site for one image: A [heads·M × K], B [heads·N × K] (stacked per head) →
 * Y [heads·M × N], the product of each head's blocks.
 */
export function runAttentionSite(ps: PreparedSite, a: Float32Array, b: Float32Array, heads: number, m: number, n: number, k: number, ops: MatOps): Float32Array {
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
        m, n, k,
        xq: sliceRows(sa.values, k, h * m, m) as Int32Array, zx: perRow(sa.zeros, h * m, m, ta) as Int32Array, sx: perRow(qa.scales, h * m, m, ta) as Float32Array,
        wq: sliceRows(sb.values, k, h * n, n) as Int32Array, zw: perRow(sb.zeros, h * n, n, tb) as Int32Array, sw: perRow(qb.scales, h * n, n, tb) as Float32Array,
        bias: null,
      });
      y.set(yh, h * m * n);
    }
    return y;
  }
  // fp32, fake-quant and "weight-only" (B quantized, A FP32) all multiply dequantized floats.
  const aq = scheme.a.bits === 32 ? a : dequantizeMatrix(ops.quantize(a, heads * m, k, matrixSpec(scheme.a, ps.clipA)));
  const bq = scheme.b.bits === 32 ? b : dequantizeMatrix(ops.quantize(b, heads * n, k, matrixSpec(scheme.b, ps.clipB)));
  for (let h = 0; h < heads; h++) {
    y.set(ops.gemmF32(aq.subarray(h * m * k, (h + 1) * m * k), bq.subarray(h * n * k, (h + 1) * n * k), null, m, n, k), h * m * n);
  }
  return y;
}
