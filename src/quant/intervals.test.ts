import { describe, expect, it } from 'vitest';
import { binomialCdf, clopperPearson, correctness, formatDelta, pairedDelta, pairedDeltaFromCounts, spearman, wilson } from './intervals';

describe('wilson', () => {
  it('matches the textbook values', () => {
    // 80/100: Wilson 95% [0.7112, 0.8666] (Newcombe 1998, Table I method 3 style check)
    const a = wilson(80, 100);
    expect(a.lo).toBeCloseTo(0.7112, 4);
    expect(a.hi).toBeCloseTo(0.8666, 4);
    // the half-width near 80% shrinks as 1/√n: ±7.8 at 100, ±2.5 at 1000, ±1.1 at 5000 (science.md §8)
    expect((wilson(800, 1000).hi - wilson(800, 1000).lo) / 2).toBeCloseTo(0.0248, 3);
    expect((wilson(4000, 5000).hi - wilson(4000, 5000).lo) / 2).toBeCloseTo(0.0111, 3);
  });
  it('ends at 0 and 1 exactly and rejects impossible counts', () => {
    expect(wilson(0, 10).lo).toBe(0);
    expect(wilson(10, 10).hi).toBe(1);
    expect(wilson(0, 0)).toMatchObject({ lo: 0, hi: 1 });
    expect(() => wilson(11, 10)).toThrow(RangeError);
    expect(() => wilson(2.5, 10)).toThrow(RangeError);
  });
});

describe('exact binomial pieces', () => {
  it('binomial CDF by hand', () => {
    expect(binomialCdf(0, 10, 0.5)).toBeCloseTo(1 / 1024, 12);
    expect(binomialCdf(5, 10, 0.5)).toBeCloseTo(638 / 1024, 12);
    expect(binomialCdf(1, 3, 0.2)).toBeCloseTo(0.8 ** 3 + 3 * 0.2 * 0.8 ** 2, 12);
  });
  it('Clopper–Pearson matches published values', () => {
    // 5/10: [0.1871, 0.8129]; 0/10: [0, 0.3085]; 10/10: [0.6915, 1]
    const a = clopperPearson(5, 10);
    expect(a.lo).toBeCloseTo(0.1871, 4);
    expect(a.hi).toBeCloseTo(0.8129, 4);
    expect(clopperPearson(0, 10).hi).toBeCloseTo(0.3085, 4);
    expect(clopperPearson(10, 10).lo).toBeCloseTo(0.6915, 4);
  });
});

describe('pairedDelta', () => {
  it('uses only the discordant images', () => {
    // 10 images B fixes, none it breaks, n = 100: Δ = +10 pp, interval (0.1·(2·0.6915−1), 0.1)
    const d = pairedDeltaFromCounts(0, 10, 100);
    expect(d.delta).toBeCloseTo(0.1, 12);
    expect(d.lo).toBeCloseTo(0.1 * (2 * 0.6915 - 1), 4);
    expect(d.hi).toBeCloseTo(0.1, 12);
    expect(d.p).toBeCloseTo(2 / 1024, 12);
    expect(d.withinNoise).toBe(false);
  });
  it('calls a one-image difference on 100 images noise', () => {
    // the stage's "+1.0 pp in green" — 1 discordant image
    const d = pairedDeltaFromCounts(0, 1, 100);
    expect(d.delta).toBeCloseTo(0.01, 12);
    expect(d.withinNoise).toBe(true);
    expect(formatDelta(d)).toContain('within noise');
  });
  it('is paired: concordant errors do not widen the interval', () => {
    const labels = Array.from({ length: 200 }, (_, i) => i % 10);
    const a = labels.map((l, i) => (i < 60 ? (l + 1) % 10 : l)); // A wrong on 60
    const b = labels.map((l, i) => (i < 70 ? (l + 1) % 10 : l)); // B wrong on the same 60 and 10 more
    const d = pairedDelta(correctness(a, labels), correctness(b, labels));
    expect(d.aOnly).toBe(10);
    expect(d.bOnly).toBe(0);
    expect(d.delta).toBeCloseTo(-0.05, 12);
    expect(d.hi).toBeLessThan(0); // 10 of 10 discordant the same way: a real loss
    expect(() => pairedDelta([true], [true, false])).toThrow(/same images/);
  });
  it('no discordant image: exactly 0', () => {
    expect(pairedDeltaFromCounts(0, 0, 50)).toMatchObject({ delta: 0, lo: 0, hi: 0, withinNoise: true });
  });
});

describe('spearman', () => {
  it('ranks with ties and gives a Fisher-z interval', () => {
    expect(spearman([1, 2, 3, 4, 5], [10, 20, 30, 40, 50]).rho).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]).rho).toBeCloseTo(-1, 12);
    // hand: x = 1..6, y = [2, 1, 4, 3, 6, 5] → d² = 6·1 → ρ = 1 − 6·6/(6·35) = 0.8286
    const r = spearman([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5]);
    expect(r.rho).toBeCloseTo(1 - 36 / 210, 10);
    expect(r.lo).toBeLessThan(r.rho);
    expect(r.hi).toBeGreaterThan(r.rho);
    // ties share the average rank: [1, 1, 2, 3] vs [1, 2, 3, 4]
    expect(spearman([1, 1, 2, 3], [1, 2, 3, 4]).rho).toBeCloseTo(0.9486833, 6);
  });
});
