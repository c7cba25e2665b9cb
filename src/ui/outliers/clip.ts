/**
 * Clip-range analysis on a stats sample, in the UI with src/quant arithmetic (no engine call):
 * the scale/zero a clip range gives, and the MSE / SQNR of the sample quantized under it.
 */
import { fakeQuantValue, intRange, scaleZero, type Bits } from '../../quant/scaleZero';

export interface ClipResult {
  scale: number;
  zero: number;
  qmin: number;
  qmax: number;
  mse: number;
  sqnrDb: number;
  /** share of sample values outside the clip range */
  clipped: number;
}

export function clipError(sample: number[], lo: number, hi: number, bits: Bits, symmetric: boolean): ClipResult {
  const range = intRange(bits, symmetric);
  const sz = symmetric
    ? scaleZero(-Math.max(Math.abs(lo), Math.abs(hi)), Math.max(Math.abs(lo), Math.abs(hi)), bits, true)
    : scaleZero(lo, hi, bits, false);
  let se = 0;
  let sig = 0;
  let clipped = 0;
  for (const x of sample) {
    const xh = fakeQuantValue(x, sz, range);
    se += (x - xh) ** 2;
    sig += x * x;
    if (x < lo || x > hi) clipped++;
  }
  const n = Math.max(1, sample.length);
  const mse = se / n;
  return { scale: sz.scale, zero: sz.zero, ...range, mse, sqnrDb: se === 0 ? Infinity : 10 * Math.log10(sig / se), clipped: clipped / n };
}

/** SQNR vs clip fraction of the full range (for the sweep chart); fractions of max|x| (sym) or of [min,max]. */
export function clipSweep(sample: number[], min: number, max: number, bits: Bits, symmetric: boolean, steps = 40) {
  const out: SweepPoint[] = [];
  for (let i = 1; i <= steps; i++) out.push(clipSweepPoint(sample, min, max, bits, symmetric, i, steps));
  return out;
}

export type SweepPoint = {
  fraction: number;
  lo: number;
  hi: number;
  sqnrDb: number;
  mse: number;
};

/** Point i (1..steps) of clipSweep: the sweep can be computed a few points at a time. */
export function clipSweepPoint(
  sample: number[],
  min: number,
  max: number,
  bits: Bits,
  symmetric: boolean,
  i: number,
  steps = 40,
): SweepPoint {
  const f = 0.02 + (0.98 * i) / steps;
  const lo = Math.min(0, min) * f;
  const hi = Math.max(0, max) * f;
  const r = clipError(sample, lo, hi, bits, symmetric);
  return { fraction: +f.toFixed(3), lo, hi, sqnrDb: Number.isFinite(r.sqnrDb) ? +r.sqnrDb.toFixed(2) : 99, mse: r.mse };
}

/**
 * clipSweep in slices of `per` points between macrotasks (a 40-point sweep over a 4096-value
 * sample is ~70 ms of main thread): `done` receives the whole sweep; the returned function cancels.
 */
export function clipSweepChunked(
  sample: number[],
  min: number,
  max: number,
  bits: Bits,
  symmetric: boolean,
  done: (s: SweepPoint[]) => void,
  steps = 40,
  per = 8,
): () => void {
  const out: SweepPoint[] = [];
  let cancelled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const slice = () => {
    if (cancelled) return;
    const end = Math.min(steps, out.length + per);
    for (let i = out.length + 1; i <= end; i++) out.push(clipSweepPoint(sample, min, max, bits, symmetric, i, steps));
    if (out.length < steps) timer = setTimeout(slice, 0);
    else done(out);
  };
  timer = setTimeout(slice, 0);
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
