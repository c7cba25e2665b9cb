/**
 * Calibration statistics for static ranges, SmoothQuant and GPTQ, gathered from the FP32 model
 * on calibration images taken from the training set (never from an eval set).
 * Two passes: ranges first, then histograms over those ranges.
 */
import { RangeHistogram } from '../quant/calibrate';
import type { SiteInfo } from './sites';

/** Observes the operands and output of every site (calibration, statistics), and may perturb outputs. */
export interface ForwardHooks {
  /** A and B in the stacked layout of siteQuant.ts; B is null for weight sites (the weight is known) */
  operands?(site: number, a: Float32Array, aRows: number, b: Float32Array | null, bRows: number, k: number): void;
  /** may return a replacement output (e.g. the seeded jitter of science.md §7) */
  output?(site: number, y: Float32Array): Float32Array | void;
}

export interface OperandCalibration {
  hist: RangeHistogram;
  /** per column (input channel for A): absmax, min, max over all calibration rows */
  colAbsMax: Float32Array;
  colMin: Float32Array;
  colMax: Float32Array;
}

export interface SiteCalibration {
  a: OperandCalibration;
  /** attention sites: the B operand (k or vᵀ) */
  b?: OperandCalibration;
  /** Σ x xᵀ over calibration rows of the input (weight sites), k×k */
  hessian?: Float64Array;
  hessianRows: number;
}

export interface Calibration {
  images: number;
  source: string;
  sites: (SiteCalibration | undefined)[];
}

function newOperand(k: number): OperandCalibration {
  return {
    hist: new RangeHistogram(),
    colAbsMax: new Float32Array(k),
    colMin: new Float32Array(k).fill(Infinity),
    colMax: new Float32Array(k).fill(-Infinity),
  };
}

function observeColumns(o: OperandCalibration, x: Float32Array, rows: number, k: number) {
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < k; c++) {
      const v = x[r * k + c];
      if (v < o.colMin[c]) o.colMin[c] = v;
      if (v > o.colMax[c]) o.colMax[c] = v;
      const a = Math.abs(v);
      if (a > o.colAbsMax[c]) o.colAbsMax[c] = a;
    }
}

/** h += Σ_rows x xᵀ for x = rows of a [rows × k] (GPTQ's Hessian, up to 2/N). */
export function accumulateOuter(h: Float64Array, a: Float32Array, rows: number, k: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * k;
    for (let i = 0; i < k; i++) {
      const xi = a[o + i];
      if (xi === 0) continue;
      for (let j = 0; j < k; j++) h[i * k + j] += xi * a[o + j];
    }
  }
}

/**
 * Hooks for the two calibration passes over the same images. `run(hooks)` must run the FP32
 * forward over every calibration image with the given hooks.
 */
export function calibrate(
  sites: SiteInfo[],
  images: number,
  source: string,
  run: (hooks: ForwardHooks) => void,
  withHessian = true,
): Calibration {
  const cal: Calibration = { images, source, sites: sites.map(() => undefined) };
  const get = (site: number, k: number, hasB: boolean): SiteCalibration => {
    let c = cal.sites[site];
    if (!c) {
      c = { a: newOperand(k), b: hasB ? newOperand(k) : undefined, hessianRows: 0 };
      if (withHessian && sites[site].hasWeight) c.hessian = new Float64Array(k * k);
      cal.sites[site] = c;
    }
    return c;
  };
  // pass 1: ranges, per-column extrema, Hessians
  run({
    operands(site, a, aRows, b, bRows, k) {
      const c = get(site, k, b !== null);
      c.a.hist.observeRange(a);
      observeColumns(c.a, a, aRows, k);
      if (b && c.b) {
        c.b.hist.observeRange(b);
        observeColumns(c.b, b, bRows, k);
      }
      if (c.hessian) {
        accumulateOuter(c.hessian, a, aRows, k);
        c.hessianRows += aRows;
      }
    },
  });
  for (const c of cal.sites) {
    c?.a.hist.freeze();
    c?.b?.hist.freeze();
  }
  // pass 2: histograms over the frozen ranges
  run({
    operands(site, a, _aRows, b) {
      const c = cal.sites[site]!;
      c.a.hist.observe(a);
      if (b && c.b) c.b.hist.observe(b);
    },
  });
  return cal;
}
