/**
 * Static range calibration (science.md §5, PTQ): statistics of one operand gathered over the
 * calibration images, then a clip range [min, max] chosen by one of four calibrators.
 *
 * Two passes over the same data (the histogram needs the range first):
 *   h.observeRange(x) … ; h.freeze(2048); h.observe(x) … ; calibrateRange(h, 'kl', …)
 * Besides the signed histogram over [min, max] we keep a histogram of |x| over [0, absmax]
 * (same bin count): the symmetric percentile and the KL calibrator work on |x|, and folding the
 * signed histogram would re-bin it and lose resolution.
 */
import { type Bits, dequantizeValue, intRange, quantizeValue, scaleZero } from './scaleZero';

export type Calibrator = 'minmax' | 'percentile' | 'mse' | 'kl';

export interface RangeHistogramJSON {
  min: number;
  max: number;
  absmax: number;
  count: number;
  bins: number;
  total: number;
  counts: number[];
  absCounts: number[];
}

export class RangeHistogram {
  /** observed extremes (pass 1); +Inf/−Inf before any value, 0/0 after freeze of empty data */
  min = Infinity;
  max = -Infinity;
  absmax = 0;
  /** number of values seen in pass 1 */
  count = 0;
  /** 0 until frozen */
  bins = 0;
  /** histogram over [min, max], `bins` equal bins (pass 2) */
  counts = new Float64Array(0);
  /** histogram of |x| over [0, absmax], `bins` equal bins (pass 2) */
  absCounts = new Float64Array(0);
  /** number of values seen in pass 2 */
  total = 0;

  get frozen(): boolean {
    return this.bins > 0;
  }

  /** Pass 1: extremes. NaN/Inf are reported, never folded into a range. */
  observeRange(x: ArrayLike<number>): void {
    if (this.frozen) throw new Error('RangeHistogram.observeRange after freeze()');
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) throw new RangeError(`RangeHistogram.observeRange: element ${i} is ${v} (NaN/Inf input)`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = lo;
    this.max = hi;
    this.absmax = Math.max(this.absmax, Math.abs(lo), Math.abs(hi));
    this.count += x.length;
  }

  /** Ends pass 1: fixes the histogram ranges. */
  freeze(bins = 2048): void {
    if (this.frozen) throw new Error('RangeHistogram.freeze called twice');
    if (!(Number.isInteger(bins) && bins > 0)) throw new RangeError(`RangeHistogram.freeze: bins = ${bins}`);
    if (this.count === 0) {
      this.min = 0;
      this.max = 0;
      this.absmax = 0;
    }
    this.bins = bins;
    this.counts = new Float64Array(bins);
    this.absCounts = new Float64Array(bins);
  }

  /** Pass 2: fills both histograms; values outside the frozen range go to the end bins. */
  observe(x: ArrayLike<number>): void {
    if (!this.frozen) throw new Error('RangeHistogram.observe before freeze()');
    const { bins, min } = this;
    const inv = this.max > min ? bins / (this.max - min) : 0;
    const invAbs = this.absmax > 0 ? bins / this.absmax : 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) throw new RangeError(`RangeHistogram.observe: element ${i} is ${v} (NaN/Inf input)`);
      let b = Math.floor((v - min) * inv);
      b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
      this.counts[b]++;
      let a = Math.floor(Math.abs(v) * invAbs);
      a = a >= bins ? bins - 1 : a;
      this.absCounts[a]++;
    }
    this.total += x.length;
  }

  /** Width of one signed bin (0 for a constant tensor). */
  get binWidth(): number {
    return this.bins ? (this.max - this.min) / this.bins : 0;
  }

  /** Centre of signed bin i. */
  centre(i: number): number {
    return this.min + (i + 0.5) * this.binWidth;
  }

  toJSON(): RangeHistogramJSON {
    return {
      min: this.min,
      max: this.max,
      absmax: this.absmax,
      count: this.count,
      bins: this.bins,
      total: this.total,
      counts: Array.from(this.counts),
      absCounts: Array.from(this.absCounts),
    };
  }

  static fromJSON(j: RangeHistogramJSON): RangeHistogram {
    const h = new RangeHistogram();
    // JSON has no Infinity: an unfrozen, empty histogram serialises its ±Inf extremes as null.
    h.min = j.min ?? Infinity;
    h.max = j.max ?? -Infinity;
    h.absmax = j.absmax;
    h.count = j.count;
    h.bins = j.bins;
    h.total = j.total;
    h.counts = Float64Array.from(j.counts);
    h.absCounts = Float64Array.from(j.absCounts ?? new Array(j.bins).fill(0));
    if (h.counts.length !== h.bins || h.absCounts.length !== h.bins) throw new RangeError('RangeHistogram.fromJSON: counts length ≠ bins');
    return h;
  }
}

export interface CalibrateOptions {
  bits: Bits;
  symmetric: boolean;
  /** for 'percentile', in (0, 100]; default 99.99 */
  percentile?: number;
}

/**
 * The value below which `frac` of the histogram's mass lies, interpolating linearly inside the
 * bin where the cumulative count crosses (values are assumed uniform within a bin).
 */
function quantileOf(counts: Float64Array, lo: number, width: number, frac: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return lo;
  const target = frac * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c > 0 && cum + c >= target) return lo + (i + Math.max(0, Math.min(1, (target - cum) / c))) * width;
    cum += c;
  }
  return lo + counts.length * width;
}

/** Expected squared error of fake quantization over the signed histogram, for one range. */
export function histogramMse(h: RangeHistogram, lo: number, hi: number, bits: Bits, symmetric: boolean): number {
  const sz = scaleZero(lo, hi, bits, symmetric);
  const { qmin, qmax } = intRange(bits, symmetric);
  let err = 0;
  for (let i = 0; i < h.bins; i++) {
    const c = h.counts[i];
    if (c === 0) continue;
    const x = Math.fround(h.centre(i));
    const d = dequantizeValue(quantizeValue(x, sz.scale, sz.zero, qmin, qmax), sz.scale, sz.zero) - x;
    err += c * d * d;
  }
  return h.total ? err / h.total : 0;
}

/** Number of |x| bins the entropy search starts from (pytorch-quantization `start_bin`). */
export const KL_START_BIN = 128;

export interface EntropyResult {
  /** the chosen threshold (an upper bin edge) */
  amax: number;
  /** cut index (bins kept) */
  bin: number;
  /** KL at the chosen cut (Infinity when no cut had a defined KL) */
  kl: number;
  /** cuts whose KL was finite */
  defined: number;
  /** no cut had a finite KL: amax is the whole range, and the caller must say so */
  fallback: boolean;
}

/**
 * Entropy (KL) calibration as TensorRT defines it and NVIDIA pytorch-quantization implements it
 * (`calib/histogram.py`, `_compute_amax_entropy`, method 'entropy'), on the histogram of |x|
 * (2048 bins over [0, absmax]):
 *  - bins[0] is set to bins[1] (the source's treatment of the spike of exact zeros);
 *  - nbins = 2^(bits−1) quantization bins for a signed grid: 128 at 8 bits, 8 at 4 bits, 2 at 2 bits;
 *  - candidate cuts i = start_bin (128) … 2048: P = bins[0..i) with the clipped mass bins[i..] added
 *    to its last bin; Q merges bins[0..i) into nbins groups (group of bin t = ⌊t·nbins/i⌋, as the
 *    source's np.digitize over linspace(0, i, nbins+1)) and spreads each group's mass evenly over
 *    its non-empty bins (empty bins of P stay 0 in Q); both normalised;
 *  - KL(P‖Q) = Σ P log(P/Q), +∞ where Q = 0 < P (scipy.stats.entropy); the threshold is the upper
 *    edge of the LAST cut with the smallest KL (the source's reversed argmin).
 * At 4 and 2 bits the search is the same (from bin 128) with 8 and 2 groups: the source defines it
 * for any bit width, and the result there is a coarse choice, not a validated one.
 * When no cut has a finite KL (e.g. a discrete input whose histogram has gaps at every cut) the
 * source silently returns absmax; here `fallback` says so.
 */
export function entropyCalibration(absCounts: Float64Array, absmax: number, bits: number, startBin = KL_START_BIN): EntropyResult {
  const n = absCounts.length;
  if (!(absmax > 0) || n < 2) return { amax: Math.max(0, absmax), bin: n, kl: 0, defined: 0, fallback: false };
  const nbins = 2 ** (bits - 1);
  const width = absmax / n;
  const bins = Float64Array.from(absCounts);
  bins[0] = bins[1];
  const tail = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) tail[i] = tail[i + 1] + bins[i];
  const groupSum = new Float64Array(nbins);
  const groupNonEmpty = new Float64Array(nbins);
  let best = n;
  let bestKl = Infinity;
  let defined = 0;
  for (let i = Math.min(startBin, n); i <= n; i++) {
    groupSum.fill(0);
    groupNonEmpty.fill(0);
    for (let t = 0; t < i; t++) {
      if (bins[t] === 0) continue;
      const g = Math.floor((t * nbins) / i);
      groupSum[g] += bins[t];
      groupNonEmpty[g]++;
    }
    // normalisers: Q sums to the kept mass; P to the kept mass plus the clipped tail
    let qTotal = 0;
    for (let g = 0; g < nbins; g++) qTotal += groupSum[g];
    const pTotal = tail[0];
    if (qTotal === 0 || pTotal === 0) continue;
    let kl = 0;
    for (let t = 0; t < i && kl !== Infinity; t++) {
      const pv = (t === i - 1 ? bins[t] + tail[i] : bins[t]) / pTotal;
      if (pv === 0) continue;
      if (bins[t] === 0) {
        kl = Infinity; // Q = 0 where P > 0 (the tail folded into an empty last bin)
        break;
      }
      const g = Math.floor((t * nbins) / i);
      const qv = groupSum[g] / groupNonEmpty[g] / qTotal;
      kl += pv * Math.log(pv / qv);
    }
    if (kl !== Infinity) defined++;
    // <= : the last cut among equal minima, as the source's reversed argmin
    if (kl <= bestKl && kl !== Infinity) {
      bestKl = kl;
      best = i;
    }
  }
  if (defined === 0) return { amax: absmax, bin: n, kl: Infinity, defined: 0, fallback: true };
  return { amax: best * width, bin: best, kl: bestKl, defined, fallback: false };
}

/**
 * Clip range for a static per-tensor range.
 *  - minmax: the observed [min, max].
 *  - percentile p: symmetric → t = p-th percentile of |x|, range [−t, t]; asymmetric → two-sided,
 *    lo = the (100−p)/2-th and hi = the (100+p)/2-th percentile of x (p = 99.99 drops 0.005 % at
 *    each end). Interpolated within a bin.
 *  - mse: 200 candidate ranges, the observed range (symmetric: ±absmax; asymmetric: [min, max]
 *    widened to hold 0) shrunk toward 0 by f = i/200, i = 1..200; pick the one minimising the
 *    expected squared fake-quant error over the signed histogram's bin centres with the exact grid
 *    of scaleZero/quantizeValue (clipping error included).
 *  - kl: entropy calibration of pytorch-quantization (see entropyCalibration) on |x| at the plan's
 *    bits; symmetric → [−t, t]; asymmetric (the source is symmetric only) → [max(min, −t), min(max, t)].
 *    When no cut has a defined KL the result is absmax and carries `note`.
 * Results are finite; an empty or all-zero operand gives [0, 0] (scaleZero turns s = 0 into 1).
 * Ranges need not contain 0: scaleZero widens an asymmetric range to hold it.
 */
export function calibrateRange(
  h: RangeHistogram,
  calibrator: Calibrator,
  opts: CalibrateOptions,
): { min: number; max: number; note?: string } {
  if (h.count === 0 || !Number.isFinite(h.min) || !Number.isFinite(h.max)) return { min: 0, max: 0 };
  if (calibrator === 'minmax') return { min: h.min, max: h.max };
  if (!h.frozen || h.total === 0) throw new Error(`calibrateRange(${calibrator}): histogram is empty (run freeze() and observe() first)`);
  const { bits, symmetric } = opts;
  switch (calibrator) {
    case 'percentile': {
      const p = opts.percentile ?? 99.99;
      if (!(p > 0 && p <= 100)) throw new RangeError(`calibrateRange: percentile ${p} outside (0, 100]`);
      if (symmetric) {
        const t = Math.min(h.absmax, quantileOf(h.absCounts, 0, h.absmax / h.bins, p / 100));
        return { min: -t, max: t };
      }
      const w = h.binWidth;
      const lo = Math.max(h.min, quantileOf(h.counts, h.min, w, (100 - p) / 200));
      const hi = Math.min(h.max, quantileOf(h.counts, h.min, w, (100 + p) / 200));
      return { min: lo, max: Math.max(lo, hi) };
    }
    case 'mse': {
      const lo0 = symmetric ? -h.absmax : Math.min(h.min, 0);
      const hi0 = symmetric ? h.absmax : Math.max(h.max, 0);
      let best = { min: lo0, max: hi0 };
      let bestErr = Infinity;
      const steps = 200;
      for (let i = steps; i >= 1; i--) {
        const f = i / steps;
        const lo = lo0 * f;
        const hi = hi0 * f;
        const e = histogramMse(h, lo, hi, bits, symmetric);
        // strict < keeps the widest range among ties (less clipping on unseen data)
        if (e < bestErr) {
          bestErr = e;
          best = { min: lo, max: hi };
        }
      }
      return best;
    }
    case 'kl': {
      const e = entropyCalibration(h.absCounts, h.absmax, bits);
      const t = e.amax;
      const note = e.fallback ? 'KL: no cut has a defined divergence (gaps in the histogram): the full range (absmax) is used' : undefined;
      const r = symmetric ? { min: -t, max: t } : { min: Math.max(h.min, -t), max: Math.min(h.max, t) };
      return note ? { ...r, note } : r;
    }
  }
  throw new RangeError(`calibrateRange: unknown calibrator ${calibrator as string}`);
}
