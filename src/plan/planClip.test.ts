/**
 * Explicit static ranges in a plan (issue 13 item 3: a QAT run's learned ranges applied as a plan):
 * schema and validation, preparePlan using the clip instead of calibrating (activations) or the
 * weights' min/max (weights), and the LSQ (s, z) → clip → scaleZero round trip.
 */
import { describe, expect, it } from 'vitest';
import { buildSites } from './sites';
import type { Linear } from '../model/vitWeights';
import { fp32Plan, PlanError, validatePlan, type OperandScheme, type Plan } from './plan';
import { CalibrationNeeded, planNeedsCalibration, preparePlan } from './siteQuant';
import type { Calibration } from './calibration';
import { RangeHistogram } from '../quant/calibrate';
import { clipFromScaleZero, intRange, scaleZero, type Bits } from '../quant/scaleZero';
import { fitOperand, fitSite, withoutClips } from '../state/schemes';
import { decodeConfig, encodeConfig } from '../state/urlCodec';
import { defaultConfig } from '../state/config';

const sites = buildSites({ dim: 16, depth: 6, heads: 2, mlp: 32, patch: 4, classes: 10, image: 32 });
const WSITE = 4; // a weight site of block 0
const ASITE = 2; // an attention site (q·kᵀ of block 0)

const stat = (bits: OperandScheme['bits'], clip?: { min: number; max: number }, symmetric = false): OperandScheme => ({
  bits,
  granularity: 'tensor',
  symmetric,
  range: 'static',
  ...(clip ? { clip } : {}),
});

function planWith(site: number, a: OperandScheme, b: OperandScheme): Plan {
  const p = fp32Plan();
  p.sites[site] = { a, b };
  return p;
}

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** a calibration whose A histogram of `site` spans [lo, hi] (what the calibrator would pick) */
function calibrationFor(site: number, lo: number, hi: number): Calibration {
  const h = new RangeHistogram();
  const xs = Float32Array.from({ length: 1000 }, (_, i) => lo + ((hi - lo) * i) / 999);
  h.observeRange(xs);
  h.freeze(256);
  h.observe(xs);
  const k = 16;
  const oc = {
    hist: h,
    colAbsMax: new Float32Array(k).fill(Math.max(-lo, hi)),
    colMin: new Float32Array(k).fill(lo),
    colMax: new Float32Array(k).fill(hi),
  };
  const s: Calibration['sites'] = sites.map(() => undefined);
  s[site] = { a: oc, b: oc, hessianRows: 0 };
  return { images: 1, source: 'test', sites: s };
}

describe('plan schema: clip', () => {
  it('a static INT operand with a clip validates and keeps it (no calibrator)', () => {
    const p = validatePlan(planWith(WSITE, stat(8, { min: -1.5, max: 2 }), stat(4, { min: -0.25, max: 0.2 }, true)));
    expect(p.sites[WSITE].a.clip).toEqual({ min: -1.5, max: 2 });
    expect(p.sites[WSITE].a.calibrator).toBeUndefined();
    expect(p.sites[WSITE].b.clip).toEqual({ min: -0.25, max: 0.2 });
  });
  it.each([
    ['dynamic range', { ...stat(8, { min: -1, max: 1 }), range: 'dynamic' }, /set range to 'static'/],
    ['FP32 operand', stat(32, { min: -1, max: 1 }), /FP32 operand is not quantized/],
    ['min ≥ max', stat(8, { min: 1, max: 1 }), /min \(1\) must be below max \(1\)/],
    ['NaN', stat(8, { min: NaN, max: 1 }), /finite numbers/],
    ['Infinity', stat(8, { min: -1, max: Infinity }), /finite numbers/],
    ['zero not on the grid', stat(8, { min: 0.5, max: 2 }), /does not hold 0/],
    ['not an object', { ...stat(8), clip: [0, 1] }, /must be an object/],
    ['clip and calibrator', { ...stat(8, { min: -1, max: 1 }), calibrator: 'mse' }, /replaces calibration/],
    ['per-token', { ...stat(8, { min: -1, max: 1 }), granularity: 'token' }, /one explicit range per tensor/],
    ['a format', { ...stat(8, { min: -1, max: 1 }), format: 'fp8_e4m3', symmetric: true }, /INT grid only/],
  ])('refuses %s with a PlanError naming the field', (_, a, msg) => {
    const p = planWith(WSITE, a as OperandScheme, { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' });
    expect(() => validatePlan(p)).toThrow(PlanError);
    expect(() => validatePlan(p)).toThrow(msg);
    expect(() => validatePlan(p)).toThrow(`plan.sites[${WSITE}].a`);
  });
  it('a static weight still needs a clip (weights have no calibration)', () => {
    expect(() => validatePlan(planWith(WSITE, stat(8), stat(8)))).toThrow(/weights are constant/);
  });
  it('refuses a clip together with SmoothQuant', () => {
    const p = planWith(WSITE, stat(8, { min: -1, max: 1 }), stat(8, { min: -1, max: 1 }));
    p.sites[WSITE].smoothquant = { alpha: 0.5, placement: 'runtime' };
    expect(() => validatePlan(p)).toThrow(/explicit clip/);
  });
  it('the URL round trip keeps the clips', () => {
    const plan = validatePlan(planWith(WSITE, stat(8, { min: -1.25, max: 3.5 }), stat(4, { min: -0.125, max: 0.25 })));
    const r = decodeConfig(encodeConfig({ ...defaultConfig(), plan }));
    if (!r.ok) throw new Error(r.error);
    expect(r.config.plan.sites[WSITE].a.clip).toEqual({ min: -1.25, max: 3.5 });
    expect(r.config.plan.sites[WSITE].b.clip).toEqual({ min: -0.125, max: 0.25 });
  });
  it('editing an operand away from static drops its clip (the controls never produce an invalid plan)', () => {
    expect(fitOperand({ ...stat(8, { min: -1, max: 1 }), range: 'dynamic' }, 'a', true).clip).toBeUndefined();
    expect(fitOperand(stat(8, { min: -1, max: 1 }), 'b', true)).toMatchObject({ range: 'static', clip: { min: -1, max: 1 } });
    expect(fitOperand(stat(8, { min: -1, max: 1 }), 'a', true).calibrator).toBeUndefined();
  });
  it('a scheme copied to other sites leaves its learned ranges behind (and stays valid)', () => {
    const s = fitSite(withoutClips({ a: stat(8, { min: -1, max: 1 }), b: stat(4, { min: -0.5, max: 0.5 }) }), true);
    expect(s.a).toEqual({ bits: 8, granularity: 'tensor', symmetric: false, range: 'static', calibrator: 'minmax' });
    expect(s.b).toEqual({ bits: 4, granularity: 'tensor', symmetric: false, range: 'dynamic' });
    const p = fp32Plan();
    p.sites[WSITE] = s;
    expect(() => validatePlan(p)).not.toThrow();
  });
});

describe('preparePlan with explicit clips', () => {
  it('planNeedsCalibration skips operands with a clip', () => {
    expect(planNeedsCalibration(planWith(ASITE, stat(8, { min: -1, max: 1 }), stat(8, { min: -2, max: 2 })))).toEqual([]);
    expect(planNeedsCalibration(planWith(ASITE, stat(8, { min: -1, max: 1 }), stat(8)))).toEqual([ASITE]);
  });
  it('uses the clip as clipA / clipB without calibration data', () => {
    const ps = preparePlan(
      planWith(ASITE, stat(8, { min: -1, max: 1.5 }), stat(8, { min: -2, max: 0.5 })),
      sites,
      sites.map(() => null),
    ).sites[ASITE];
    expect(ps.clipA).toEqual({ min: -1, max: 1.5 });
    expect(ps.clipB).toEqual({ min: -2, max: 0.5 });
  });
  it('the clip wins over calibration data when both are there (calibrating instead would give [-7, 9])', () => {
    const cal = calibrationFor(ASITE, -7, 9);
    const ps = preparePlan(
      planWith(ASITE, stat(8, { min: -1, max: 1.5 }), stat(8)),
      sites,
      sites.map(() => null),
      cal,
    ).sites[ASITE];
    expect(ps.clipA).toEqual({ min: -1, max: 1.5 });
    expect(ps.clipB!.min).toBeLessThan(-6); // the operand without a clip is still calibrated
  });
  it('a static operand without a clip and without calibration data still asks for calibration', () => {
    expect(() =>
      preparePlan(
        planWith(ASITE, stat(8), stat(8, { min: -1, max: 1 })),
        sites,
        sites.map(() => null),
      ),
    ).toThrow(CalibrationNeeded);
  });
  it('a weight clip sets the weight grid: (s, z) from the clip, values beyond it clamped', () => {
    const r = rng(3);
    const n = 32;
    const k = 16;
    const lin: Linear = { w: Float32Array.from({ length: n * k }, () => r() * 2), b: new Float32Array(n), out: n, in: k };
    const linears = sites.map((_, i) => (i === WSITE ? lin : null));
    const clip = { min: -0.5, max: 0.75 };
    const withClip = preparePlan(
      planWith(WSITE, { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' }, stat(4, clip)),
      sites,
      linears,
    ).sites[WSITE];
    const sz = scaleZero(clip.min, clip.max, 4, false);
    expect(withClip.weight!.q!.scales[0]).toBe(sz.scale);
    expect(withClip.weight!.q!.zeros[0]).toBe(sz.zero);
    const deq = withClip.weight!.deq!;
    expect(Math.max(...deq)).toBeLessThanOrEqual(clip.max + 1e-6);
    expect(Math.min(...deq)).toBeGreaterThanOrEqual(clip.min - 1e-6);
    // the weights' own min/max (≈ ±2) would give a different scale
    const minmax = preparePlan(
      planWith(WSITE, { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' }, { ...stat(4), range: 'dynamic' }),
      sites,
      linears,
    ).sites[WSITE];
    expect(minmax.weight!.q!.scales[0]).not.toBe(sz.scale);
  });
});

describe('LSQ (s, z) → clip → scaleZero', () => {
  const cases: [Bits, boolean, number, number][] = [
    [8, false, 0.0123, 37],
    [4, false, 0.31, 3],
    [2, false, 0.7, 1],
    [4, false, 0.05, 0],
    [4, false, 0.05, 15],
    [8, true, 0.0071, 0],
    [4, true, 0.2, 0],
    [3, true, 0.11, 0],
  ];
  it.each(cases)('INT%i symmetric=%s s=%f z=%i: same s (float32 rounding) and z', (bits, symmetric, s, z) => {
    const c = clipFromScaleZero(s, z, bits, symmetric);
    const { qmin, qmax } = intRange(bits, symmetric);
    expect(c.min).toBeCloseTo(s * (qmin - z), 6);
    expect(c.max).toBeCloseTo(s * (qmax - z), 6);
    expect(() => validatePlan(planWith(ASITE, stat(8, c, symmetric), stat(8, c, symmetric)))).not.toThrow();
    const back = scaleZero(c.min, c.max, bits, symmetric);
    expect(Math.abs(back.scale - s) / s).toBeLessThan(1e-6);
    expect(back.zero).toBe(z);
  });
  it('a learned z off the grid is brought back onto it (zero on the grid)', () => {
    const c = clipFromScaleZero(0.1, 19.6, 4, false);
    expect(c.max).toBe(0);
    expect(scaleZero(c.min, c.max, 4, false).zero).toBe(15);
  });
  it('refuses a non-positive or non-finite scale', () => {
    expect(() => clipFromScaleZero(0, 0, 8, false)).toThrow(RangeError);
    expect(() => clipFromScaleZero(NaN, 0, 8, false)).toThrow(RangeError);
  });
});
