import { describe, expect, it } from 'vitest';
import { quantizeMatrix, dequantizeMatrix } from '../../quant/quantizeMatrix';
import { clipError } from './clip';

describe('clipError', () => {
  const sample = Array.from({ length: 500 }, (_, i) => Math.fround(Math.sin(i * 1.7) * 3 + (i === 7 ? 40 : 0)));
  const min = Math.min(...sample);
  const max = Math.max(...sample);

  it('at the min/max clip equals per-tensor fake quantization of src/quant', () => {
    for (const [bits, sym] of [
      [8, false],
      [4, false],
      [4, true],
      [2, false],
    ] as const) {
      const r = clipError(sample, sym ? -Math.max(-min, max) : Math.min(min, 0), Math.max(max, 0), bits, sym);
      const q = quantizeMatrix(sample, 1, sample.length, { bits, symmetric: sym, granularity: 'tensor' });
      const xh = dequantizeMatrix(q);
      const mse = sample.reduce((a, x, i) => a + (x - xh[i]) ** 2, 0) / sample.length;
      expect(r.mse).toBeCloseTo(mse, 10);
      expect(r.clipped).toBe(0);
    }
  });

  it('clipping the outlier lowers INT4 error and reports the clipped share', () => {
    const x = Array.from({ length: 5000 }, (_, i) => Math.fround(Math.sin(i * 1.7) * 3 + (i === 7 ? 9 : 0)));
    const lo = Math.min(...x);
    const full = clipError(x, lo, Math.max(...x), 4, false);
    const clipped = clipError(x, lo, 4, 4, false);
    expect(clipped.mse).toBeLessThan(full.mse);
    expect(clipped.clipped).toBeCloseTo(1 / 5000, 10);
    expect(clipped.sqnrDb).toBeGreaterThan(full.sqnrDb);
  });
});
