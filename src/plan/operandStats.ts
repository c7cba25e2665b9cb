/**
 * Statistics of one operand matrix (CPU path; the WebGPU backend computes the same numbers with
 * shaders/stats.wgsl). Definitions: σ is the population standard deviation; "beyond 6σ" counts
 * |x − mean| > 6σ (note 000's outlier measure).
 */
import type { Histogram, OperandStats } from './types';

export const HISTOGRAM_BINS = 128;
export const SAMPLE_SIZE = 4096;

export function histogram(x: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const w = hi > lo ? (hi - lo) / bins : 1;
  for (let i = 0; i < x.length; i++) {
    let b = Math.floor((x[i] - lo) / w);
    if (b < 0) b = 0;
    if (b >= bins) b = bins - 1;
    counts[b]++;
  }
  return { lo, hi, counts };
}

export function operandStats(role: 'a' | 'b', x: Float32Array, rows: number, cols: number, bins = HISTOGRAM_BINS): OperandStats {
  const n = x.length;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const mean = n ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - mean) ** 2;
  const std = n ? Math.sqrt(ss / n) : 0;
  let beyond = 0;
  let maxDev = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(x[i] - mean);
    if (d > maxDev) maxDev = d;
    if (d > 6 * std) beyond++;
  }
  const colAbsMax = new Array<number>(cols).fill(0);
  const rowMin = new Array<number>(rows).fill(Infinity);
  const rowMax = new Array<number>(rows).fill(-Infinity);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c];
      const a = Math.abs(v);
      if (a > colAbsMax[c]) colAbsMax[c] = a;
      if (v < rowMin[r]) rowMin[r] = v;
      if (v > rowMax[r]) rowMax[r] = v;
    }
  const sample = valueSample(x, n, min, max);
  return {
    role,
    rows,
    cols,
    min: n ? min : 0,
    max: n ? max : 0,
    mean,
    std,
    absmax: n ? Math.max(Math.abs(min), Math.abs(max)) : 0,
    beyond6Sigma: n ? beyond / n : 0,
    maxSigma: std > 0 ? maxDev / std : 0,
    histogram: histogram(x, n ? min : 0, n ? max : 0, bins),
    colAbsMax,
    rowMin,
    rowMax,
    sample,
  };
}

/** The deterministic value sample of an operand (the x → q → x̂ explorer): evenly strided, always with the extremes. */
export function valueSample(x: ArrayLike<number>, n: number, min: number, max: number): number[] {
  const step = Math.max(1, Math.floor(n / SAMPLE_SIZE));
  const sample: number[] = [];
  for (let i = 0; i < n && sample.length < SAMPLE_SIZE - 2; i += step) sample.push(x[i]);
  if (n) sample.push(min, max);
  return sample;
}

/** MSE and SQNR (dB) of an approximation against a reference. */
export function errorStats(ref: ArrayLike<number>, approx: ArrayLike<number>): { mse: number; sqnrDb: number } {
  let se = 0;
  let sig = 0;
  for (let i = 0; i < ref.length; i++) {
    se += (ref[i] - approx[i]) ** 2;
    sig += ref[i] * ref[i];
  }
  const mse = ref.length ? se / ref.length : 0;
  const sqnrDb = se === 0 ? Infinity : 10 * Math.log10(sig / se);
  return { mse, sqnrDb };
}
