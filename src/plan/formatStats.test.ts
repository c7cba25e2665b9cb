import { describe, expect, it } from 'vitest';
import { formatSiteStats } from './formatStats';
import { formatBlockScale, quantizeFormat } from '../quant/formats';

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

describe('formatSiteStats (Outliers view data)', () => {
  const r = rng(5);
  const rows = 20;
  const k = 64;
  // one outlier channel: the case the rotation spreads out
  const a = Float32Array.from({ length: rows * k }, (_, i) => r() * (i % k === 9 ? 40 : 1));
  const w = Float32Array.from({ length: 32 * k }, () => r() * 0.1);

  it('at fc1: the rotation lowers kurtosis and max/σ and raises per-tensor INT4 SQNR; histograms share bins', () => {
    const s = formatSiteStats(5, 'fc1', a, rows, w, 32, k, true);
    const rot = s.rotation!;
    expect(rot.planned).toBe(false);
    expect(rot.after.kurtosis).toBeLessThan(rot.before.kurtosis / 3);
    expect(rot.after.maxOverSigma).toBeLessThan(rot.before.maxOverSigma);
    expect(rot.int4TensorSqnrDb.after).toBeGreaterThan(rot.int4TensorSqnrDb.before + 3);
    expect(rot.after.histogram.lo).toBe(rot.before.histogram.lo);
    expect(rot.after.histogram.counts.reduce((x, y) => x + y, 0)).toBe(rows * k);
    expect(formatSiteStats(4, 'to_out', a, rows, w, 32, k, true).rotation).toBeUndefined();
  });

  it('block absmax rebuild the scales quantizeFormat uses; NF4 SQNR only for weights', () => {
    const s = formatSiteStats(5, 'fc1', a, rows, w, 32, k, true);
    const b32 = s.a.blocks.find((b) => b.block === 32)!;
    const q = quantizeFormat(a, rows, k, 'mxfp4');
    expect(b32.absmax.map((m) => formatBlockScale('mxfp4', m, s.a.amax))).toEqual([...q.blockScales]);
    expect(s.a.sqnrDb.nf4).toBeUndefined();
    expect(s.b.sqnrDb.nf4).toBeGreaterThan(10);
    expect(s.a.sqnrDb.mxfp8!).toBeGreaterThan(s.a.sqnrDb.mxfp4!);
  });
});
