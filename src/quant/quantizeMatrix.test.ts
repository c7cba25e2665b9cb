import { describe, expect, it } from 'vitest';
import { dequantizeMatrix, quantizeMatrix } from './quantizeMatrix';

describe('quantizeMatrix', () => {
  it('per-row symmetric int8: each row uses its own absmax', () => {
    const q = quantizeMatrix(new Float32Array([1, -2, 0.5, 10, 0, -5]), 2, 3, { bits: 8, symmetric: true, granularity: 'row' });
    expect(Array.from(q.scales)).toEqual([Math.fround(2 / 127), Math.fround(10 / 127)]);
    expect(Array.from(q.q)).toEqual([64, -127, 32, 127, 0, -64]);
  });
  it('all-zero rows give scale 1 and exact zeros (no NaN)', () => {
    const q = quantizeMatrix(new Float32Array(8), 2, 4, { bits: 4, symmetric: false, granularity: 'row' });
    expect(Array.from(q.scales)).toEqual([1, 1]);
    expect(Array.from(dequantizeMatrix(q))).toEqual(new Array(8).fill(0));
  });
  it('constant rows are exact (zero on the grid)', () => {
    const x = new Float32Array([3, 3, 3, -2, -2, -2]);
    const d = dequantizeMatrix(quantizeMatrix(x, 2, 3, { bits: 8, symmetric: false, granularity: 'row' }));
    expect(Array.from(d)).toEqual(Array.from(x));
  });
  it('per-group covers a ragged last group', () => {
    const q = quantizeMatrix(new Float32Array([1, 2, 3, 4, 100]), 1, 5, { bits: 8, symmetric: true, granularity: 'group', groupSize: 2 });
    expect(q.groupsPerRow).toBe(3);
    expect(Array.from(q.scales)).toEqual([2, 4, 100].map((v) => Math.fround(v / 127)));
  });
  it('static clip saturates outliers', () => {
    const q = quantizeMatrix(new Float32Array([-1, 0, 1, 50]), 1, 4, {
      bits: 8,
      symmetric: true,
      granularity: 'tensor',
      clip: { min: -1, max: 1 },
    });
    expect(q.q[3]).toBe(127);
  });
  it('reports NaN/Inf inputs', () => {
    expect(() => quantizeMatrix(new Float32Array([1, NaN]), 1, 2, { bits: 8, symmetric: true, granularity: 'tensor' })).toThrow(/NaN/);
  });
  it('error is within half a step per element (random data, every scheme)', () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 4 - 1;
    const x = Float32Array.from({ length: 7 * 13 }, rnd);
    for (const bits of [8, 4, 2] as const)
      for (const symmetric of [true, false])
        for (const granularity of ['tensor', 'row', 'group'] as const) {
          const q = quantizeMatrix(x, 7, 13, { bits, symmetric, granularity, groupSize: 4 });
          const d = dequantizeMatrix(q);
          for (let i = 0; i < x.length; i++) {
            const g = granularity === 'tensor' ? 0 : Math.floor(i / 13) * q.groupsPerRow + Math.floor((i % 13) / q.groupSize);
            expect(Math.abs(d[i] - x[i])).toBeLessThanOrEqual(q.scales[g] * 0.5 + 1e-6);
          }
        }
  });
});
