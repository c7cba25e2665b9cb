/**
 * What the format and rotation views need beyond OperandStats, measured on the full operands of
 * one image (not the 4096-value sample): per-block absmax along K for blocks of 16, 32 and 64 (the
 * views turn them into MX E8M0, NVFP4 E4M3 and NF4 scales with formats.ts), the per-tensor amax,
 * and at to_qkv / fc1 / fc2 the A operand before and after the Hadamard rotation (histogram,
 * kurtosis, max/σ), whether or not the plan rotates (so the view can show what it would do).
 */
import type { BlockAbsMax, FormatSiteStats, Histogram, OperandFormatStats } from './types';
import { histogram, HISTOGRAM_BINS } from './operandStats';
import { hadamardSigns, isPowerOfTwo, outlierStats, rotateRows } from '../quant/hadamard';
import { fakeQuantFormat, type NumberFormat } from '../quant/formats';

/** blocks kept per operand and block size (the view draws at most this many) */
export const MAX_BLOCKS = 2048;

export type { BlockAbsMax, FormatSiteStats, OperandFormatStats, RotationStats } from './types';

function blockAbsMax(x: Float32Array, rows: number, cols: number, block: number): BlockAbsMax {
  const bpr = Math.ceil(cols / block);
  const n = Math.min(MAX_BLOCKS, rows * bpr);
  const absmax = new Array<number>(n);
  for (let j = 0; j < n; j++) {
    const r = Math.floor(j / bpr);
    const c0 = (j % bpr) * block;
    let m = 0;
    for (let c = c0; c < Math.min(cols, c0 + block); c++) m = Math.max(m, Math.abs(x[r * cols + c]));
    absmax[j] = m;
  }
  return { block, blocksPerRow: bpr, absmax };
}

function sqnr(x: Float32Array, y: Float32Array): number {
  let s = 0;
  let e = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i] * x[i];
    e += (x[i] - y[i]) ** 2;
  }
  return e === 0 ? Infinity : 10 * Math.log10(s / e);
}

const FORMATS_A: Exclude<NumberFormat, 'int'>[] = ['fp8_e4m3', 'fp8_e5m2', 'mxfp8', 'mxfp4', 'nvfp4'];

function operandFormatStats(x: Float32Array, rows: number, cols: number, weight: boolean): OperandFormatStats {
  let amax = 0;
  for (let i = 0; i < x.length; i++) amax = Math.max(amax, Math.abs(x[i]));
  const sqnrDb: OperandFormatStats['sqnrDb'] = {};
  for (const f of weight ? [...FORMATS_A, 'nf4' as const] : FORMATS_A) sqnrDb[f] = sqnr(x, fakeQuantFormat(x, rows, cols, f));
  return { rows, cols, amax, blocks: [16, 32, 64].map((b) => blockAbsMax(x, rows, cols, b)), sqnrDb };
}

function int4TensorSqnr(x: Float32Array): number {
  let amax = 0;
  for (let i = 0; i < x.length; i++) amax = Math.max(amax, Math.abs(x[i]));
  const s = Math.fround(amax / 7) || 1;
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = Math.fround(s * Math.max(-7, Math.min(7, Math.round(x[i] / s))));
  return sqnr(x, y);
}

function hist(x: Float32Array, lo: number, hi: number): Histogram {
  return histogram(x, lo, hi, HISTOGRAM_BINS);
}

/**
 * a: the site's A as the forward hands it over (for a rotated site: before the rotation — the
 * γ-free LayerNorm output at to_qkv/fc1); rotation: the plan's seed, or undefined (seed 1 is shown).
 */
export function formatSiteStats(
  site: number,
  kind: string,
  a: Float32Array,
  aRows: number,
  b: Float32Array,
  bRows: number,
  k: number,
  weight: boolean,
  planSeed?: number,
): FormatSiteStats {
  const out: FormatSiteStats = { a: operandFormatStats(a, aRows, k, false), b: operandFormatStats(b, bRows, k, weight) };
  if ((kind === 'to_qkv' || kind === 'fc1' || kind === 'fc2') && isPowerOfTwo(k)) {
    const seed = planSeed ?? 1;
    const r = rotateRows(a, aRows, k, hadamardSigns(k, seed, site));
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of [a, r]) for (let i = 0; i < v.length; i++) (lo = Math.min(lo, v[i])), (hi = Math.max(hi, v[i]));
    const sb = outlierStats(a);
    const sa = outlierStats(r);
    out.rotation = {
      seed,
      planned: planSeed !== undefined,
      before: { kurtosis: sb.kurtosis, maxOverSigma: sb.maxOverSigma, histogram: hist(a, lo, hi) },
      after: { kurtosis: sa.kurtosis, maxOverSigma: sa.maxOverSigma, histogram: hist(r, lo, hi) },
      int4TensorSqnrDb: { before: int4TensorSqnr(a), after: int4TensorSqnr(r) },
    };
  }
  return out;
}
