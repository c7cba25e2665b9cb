import { describe, expect, it } from 'vitest';
import { calibrateRange, entropyCalibration, histogramMse, RangeHistogram } from './calibrate';
import klCases from './fixtures/kl-entropy.json';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}
function gaussian(rnd: () => number) {
  return () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}
/** Two-pass fill, data split into chunks as calibration images would be. */
function hist(x: Float32Array, bins = 2048, chunks = 4): RangeHistogram {
  const h = new RangeHistogram();
  const step = Math.ceil(x.length / chunks);
  for (let i = 0; i < x.length; i += step) h.observeRange(x.subarray(i, i + step));
  h.freeze(bins);
  for (let i = 0; i < x.length; i += step) h.observe(x.subarray(i, i + step));
  return h;
}

describe('RangeHistogram', () => {
  it('tracks range, absmax, counts; clamps out-of-range values to the end bins', () => {
    const h = new RangeHistogram();
    h.observeRange([-1, 3, 0.5]);
    h.observeRange([2]);
    expect([h.min, h.max, h.absmax, h.count]).toEqual([-1, 3, 3, 4]);
    h.freeze(4);
    h.observe([-1, 3, 0.5, 2, -100, 100]);
    expect(h.total).toBe(6);
    expect(Array.from(h.counts)).toEqual([2, 1, 0, 3]); // bins [−1,0) [0,1) [1,2) [2,3]
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(6);
    expect(h.absCounts.reduce((a, b) => a + b, 0)).toBe(6);
    expect(h.absCounts[3]).toBe(3); // |3|, |−100|, |100|
  });
  it('enforces the two-pass order and reports NaN/Inf', () => {
    const h = new RangeHistogram();
    expect(() => h.observe([1])).toThrow(/before freeze/);
    expect(() => h.observeRange([1, NaN])).toThrow(/NaN/);
    h.observeRange([1]);
    h.freeze();
    expect(() => h.observeRange([1])).toThrow(/after freeze/);
    expect(() => h.observe([Infinity])).toThrow(/NaN\/Inf/);
  });
  it('round-trips through JSON', () => {
    const rnd = gaussian(lcg(1));
    const h = hist(Float32Array.from({ length: 1000 }, rnd), 64);
    const j = JSON.parse(JSON.stringify(h.toJSON()));
    const g = RangeHistogram.fromJSON(j);
    expect(g.toJSON()).toEqual(h.toJSON());
    for (const c of ['minmax', 'percentile', 'mse', 'kl'] as const)
      expect(calibrateRange(g, c, { bits: 8, symmetric: false })).toEqual(calibrateRange(h, c, { bits: 8, symmetric: false }));
  });
});

describe('calibrateRange', () => {
  const rnd = gaussian(lcg(7));
  // N(0,1) data plus a handful of large outliers (the case for clipping).
  const x = Float32Array.from({ length: 20000 }, rnd);
  x[100] = 40;
  x[200] = -25;
  const h = hist(x);

  it('minmax returns the observed range', () => {
    expect(calibrateRange(h, 'minmax', { bits: 8, symmetric: true })).toEqual({ min: h.min, max: h.max });
  });

  it('percentile: symmetric uses |x|, asymmetric is two-sided', () => {
    // uniform [−1, 3]: |x| ≤ t for fraction p → known closed forms
    const r = lcg(3);
    const u = Float32Array.from({ length: 100000 }, () => r() * 4 - 1);
    const hu = hist(u);
    const s = calibrateRange(hu, 'percentile', { bits: 8, symmetric: true, percentile: 90 });
    // P(|x| ≤ t) = (t + min(t,1))/4 = 0.9 → t = 2.6
    expect(s.max).toBeCloseTo(2.6, 1);
    expect(s.min).toBe(-s.max);
    const a = calibrateRange(hu, 'percentile', { bits: 8, symmetric: false, percentile: 90 });
    expect(a.min).toBeCloseTo(-0.8, 1);
    expect(a.max).toBeCloseTo(2.8, 1);
    const full = calibrateRange(hu, 'percentile', { bits: 8, symmetric: false, percentile: 100 });
    expect(full.min).toBeCloseTo(hu.min, 2);
    expect(full.max).toBeCloseTo(hu.max, 2);
    // default 99.99 clips the two outliers here
    const d = calibrateRange(h, 'percentile', { bits: 8, symmetric: true });
    expect(d.max).toBeLessThan(10);
    expect(d.max).toBeGreaterThan(3);
  });

  it('mse clips outliers at low bits and never loses to min/max on its own objective', () => {
    for (const bits of [8, 4, 2] as const)
      for (const symmetric of [true, false]) {
        const r = calibrateRange(h, 'mse', { bits, symmetric });
        expect(Number.isFinite(r.min) && Number.isFinite(r.max)).toBe(true);
        const eMse = histogramMse(h, r.min, r.max, bits, symmetric);
        const eMinMax = histogramMse(h, h.min, h.max, bits, symmetric);
        expect(eMse).toBeLessThanOrEqual(eMinMax);
        if (bits <= 4) {
          expect(r.max).toBeLessThan(h.max / 2);
          expect(eMse).toBeLessThan(eMinMax * 0.5);
        }
      }
    // lower bits clip harder
    const t8 = calibrateRange(h, 'mse', { bits: 8, symmetric: true }).max;
    const t2 = calibrateRange(h, 'mse', { bits: 2, symmetric: true }).max;
    expect(t2).toBeLessThan(t8);
  });

  it('kl: pytorch-quantization entropy calibration on fixed histograms', () => {
    // expected cuts from a literal transcription of _compute_amax_entropy (tools/ref/make_kl_fixture.py)
    for (const c of klCases.cases) {
      const e = entropyCalibration(Float64Array.from(c.counts), c.absmax, c.bits, c.start);
      expect(e.bin, c.name).toBe(c.bin);
      expect(e.amax, c.name).toBeCloseTo(c.amax, 9);
      expect(e.fallback).toBe(false);
    }
    // the hand case: 8 bins, 2 groups, cut at 6 — P = [4,4,2,2,0,2]/14, Q = [10/3,10/3,10/3,1.5,0,1.5]/13
    const tiny = entropyCalibration(Float64Array.from([4, 4, 2, 2, 0, 1, 0, 1]), 8, 2, 2);
    const P = [4, 4, 2, 2, 0, 2].map((v) => v / 14);
    const Q = [10 / 3, 10 / 3, 10 / 3, 1.5, 0, 1.5].map((v) => v / 13);
    expect(tiny.kl).toBeCloseTo(
      P.reduce((a, p, i) => (p ? a + p * Math.log(p / Q[i]) : a), 0),
      12,
    );
    // bit widths differ: 8-bit keeps more of the tail than 4-bit, 4-bit more than 2-bit
    const [n8, n4, n2] = klCases.cases.slice(1).map((c) => c.amax);
    expect(n8).toBeGreaterThan(n4);
    expect(n4).toBeGreaterThan(n2);
  });

  it('kl: the plan range, and a fallback that says so', () => {
    const t = calibrateRange(h, 'kl', { bits: 8, symmetric: true });
    expect(t.min).toBe(-t.max);
    expect(t.max).toBeGreaterThan(2.5);
    expect(t.max).toBeLessThan(h.absmax);
    const a = calibrateRange(h, 'kl', { bits: 8, symmetric: false });
    expect(a.min).toBeGreaterThanOrEqual(h.min);
    expect(a.max).toBeLessThanOrEqual(h.max);
    // 8-bit symmetric, asymmetric and 4-bit no longer collapse onto one threshold (issue 10 (a))
    expect(calibrateRange(h, 'kl', { bits: 4, symmetric: true }).max).toBeLessThan(t.max);
    // discrete data with gaps: cuts whose last kept bin is empty but clip mass are undefined (+∞),
    // the rest are compared — no smoothing, no silent absmax
    const gaps = new Float64Array(2048);
    for (let i = 0; i < 2048; i += 16) gaps[i] = 5;
    gaps[2047] = 1;
    const g = entropyCalibration(gaps, 2, 8);
    expect(g.fallback).toBe(false);
    expect(g.defined).toBeLessThan(2048 - 128 + 1);
    expect(g.defined).toBeGreaterThan(0);
    // an empty histogram has no defined cut: absmax, flagged
    const empty = entropyCalibration(new Float64Array(2048), 2, 8);
    expect(empty).toMatchObject({ fallback: true, amax: 2 });
    // 2 bits: the search still starts at bin 128, never at bin 1 (issue 10 (b): absmax/2048)
    const e2 = entropyCalibration(h.absCounts, h.absmax, 2);
    expect(e2.bin).toBeGreaterThanOrEqual(128);
  });

  it('degenerate data: all-zero, constant, one-sided, empty', () => {
    const cases = [
      new Float32Array(100),
      new Float32Array(50).fill(3),
      Float32Array.from({ length: 200 }, (_, i) => i / 10),
      new Float32Array(0),
    ];
    for (const d of cases) {
      const hd = hist(d, 128, 2);
      for (const c of ['minmax', 'percentile', 'mse', 'kl'] as const)
        for (const bits of [8, 4, 2] as const)
          for (const symmetric of [true, false]) {
            const r = calibrateRange(hd, c, { bits, symmetric });
            expect(Number.isFinite(r.min) && Number.isFinite(r.max), `${c} ${bits} ${symmetric}`).toBe(true);
            expect(r.min).toBeLessThanOrEqual(r.max);
          }
    }
    const z = calibrateRange(hist(new Float32Array(10), 16, 1), 'kl', { bits: 8, symmetric: true });
    expect(Math.abs(z.min) + Math.abs(z.max)).toBe(0);
  });
});
