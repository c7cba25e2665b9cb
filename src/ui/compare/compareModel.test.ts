import { describe, expect, it } from 'vitest';
import type { ScoreResult } from '../../plan/types';
import { accuracyOf, deltaText, deltaTone, disagreements, pairResults, perClassIntervals } from './compareModel';

function result(pred: number[], labels: number[], set: 'test' | 'val' = 'test'): ScoreResult {
  const confusion = Array.from({ length: 10 }, () => new Array(10).fill(0));
  pred.forEach((p, i) => confusion[labels[i]][p]++);
  const correct = pred.filter((p, i) => p === labels[i]).length;
  return {
    set,
    count: pred.length,
    correct,
    accuracy: correct / pred.length,
    predictions: pred,
    labels,
    confusion,
    perClassAccuracy: confusion.map(
      (r, i) =>
        r[i] /
        Math.max(
          1,
          r.reduce((a, b) => a + b, 0),
        ),
    ),
    sites: [],
    steps: [],
    backend: { kind: 'cpu', label: 'cpu', reason: '' },
    wallMs: 1,
    imagesPerSecond: 1,
  };
}
const labels100 = Array.from({ length: 100 }, (_, i) => i % 10);

describe('compare model', () => {
  // mutation caught: "interval dropped" / "neutral drawn as a gain": a 1-image difference on 100 is noise
  it('a 1-image difference on 100 images reads "within noise" and is drawn neutral', () => {
    const a = labels100.slice();
    a[0] = 1; // A wrong on image 0
    const b = labels100.slice(); // B right everywhere → B gains 1 image
    const r = pairResults(result(a, labels100), result(b, labels100));
    expect(r.ok).toBe(true);
    if (!r.ok) throw new Error('expected ok (asserted above)'); // narrows the type
    expect(r.delta.delta).toBeCloseTo(0.01);
    expect(r.delta.lo).toBeLessThan(0);
    expect(r.delta.hi).toBeGreaterThan(0);
    expect(deltaTone(r.delta)).toBe('neutral');
    expect(deltaText(r.delta)).toMatch(/^\+1\.0 pp \[−\d+\.\d, \d+\.\d\], within noise$/);
  });

  // mutation caught: "Δ computed unpaired" — 30 images all lost by B is a sure loss when paired
  it('30 images lost out of 100 (no gains) is a loss whose interval excludes 0', () => {
    const b = labels100.map((l, i) => (i < 30 ? (l + 1) % 10 : l));
    const r = pairResults(result(labels100, labels100), result(b, labels100));
    expect(r.ok && r.delta.hi).toBeLessThan(0);
    expect(r.ok && deltaTone(r.delta)).toBe('neg');
    expect(r.ok && deltaText(r.delta)).toMatch(/^−30\.0 pp \[−\d+\.\d, −\d+\.\d\]$/);
  });

  // mutation caught: "Δ computed unpaired": the paired interval uses only discordant images, so two
  // plans that differ in 3 images out of 1000 all in the same direction give a narrow interval
  // (an unpaired difference of two Wilson intervals would span about ±4 pp)
  it('the paired interval is far narrower than two overlapping accuracy intervals', () => {
    const L = Array.from({ length: 1000 }, (_, i) => i % 10);
    const a = L.map((l, i) => (i % 4 === 0 ? (l + 1) % 10 : l)); // 75% right
    const b = a.map((p, i) => (i < 40 && i % 4 === 1 ? (L[i] + 1) % 10 : p)); // B loses 10 more
    const r = pairResults(result(a, L), result(b, L));
    expect(r.ok).toBe(true);
    if (!r.ok) throw new Error('expected ok (asserted above)'); // narrows the type
    expect(r.delta.aOnly).toBe(10);
    expect(r.delta.bOnly).toBe(0);
    expect(r.delta.hi - r.delta.lo).toBeLessThan(0.015);
    expect(deltaTone(r.delta)).toBe('neg');
    const A = accuracyOf(result(a, L));
    const B = accuracyOf(result(b, L));
    expect(B.hi).toBeGreaterThan(A.lo); // the accuracy intervals overlap although the loss is sure
  });

  // mutation caught: "Δ against a baseline on different images"
  it.each([
    ['different n', () => [result(labels100, labels100), result(labels100.slice(0, 50), labels100.slice(0, 50))], /n = 100 vs 50/],
    ['different set', () => [result(labels100, labels100, 'test'), result(labels100, labels100, 'val')], /sets/],
    [
      'different labels',
      () => [
        result(labels100, labels100),
        result(
          labels100,
          labels100.map((l) => (l + 3) % 10),
        ),
      ],
      /labels differ/,
    ],
    ['no predictions', () => [{ ...result(labels100, labels100), predictions: undefined }, result(labels100, labels100)], /predictions/],
  ])('refuses to pair results on %s', (_n, make, re) => {
    const [a, b] = (make as () => ScoreResult[])();
    const r = pairResults(a, b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(re);
  });

  it('accuracy carries its Wilson interval and n; per-class intervals come from the confusion rows', () => {
    const b = labels100.map((l, i) => (i < 10 ? (l + 1) % 10 : l)); // class c wrong on image c
    const acc = accuracyOf(result(b, labels100));
    expect(acc.n).toBe(100);
    expect(acc.p).toBeCloseTo(0.9);
    expect(acc.lo).toBeCloseTo(0.8256, 3);
    expect(acc.hi).toBeCloseTo(0.9448, 3);
    const pc = perClassIntervals(result(b, labels100));
    expect(pc).toHaveLength(10);
    expect(pc[3]).toMatchObject({ k: 9, n: 10 });
    expect(pc[3].lo).toBeGreaterThan(0.5);
    expect(pc[3].hi).toBeLessThan(1);
  });

  // mutation caught: "disagreements lists FP32 flips instead of A vs B" / off-by-one
  it('lists exactly the images on which A and B predict differently, with both predictions', () => {
    const a = labels100.slice();
    const b = labels100.slice();
    a[7] = 2;
    b[7] = 5;
    b[42] = 0;
    const d = disagreements(result(a, labels100), result(b, labels100));
    expect(d).toEqual([
      { index: 7, label: 7, a: 2, b: 5 },
      { index: 42, label: 2, a: 2, b: 0 },
    ]);
  });
});
