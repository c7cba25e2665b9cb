import { describe, expect, it } from 'vitest';
import { applySmoothing, smoothScales, smoothWeights } from './smoothquant';
import { fakeQuantMatrix } from './quantizeMatrix';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}
function matmulT(x: ArrayLike<number>, w: ArrayLike<number>, m: number, n: number, k: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += x[i * k + c] * w[j * k + c];
      y[i * n + j] = s;
    }
  return y;
}
function colAbsMax(x: ArrayLike<number>, rows: number, k: number): Float32Array {
  const m = new Float32Array(k);
  for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) m[c] = Math.max(m[c], Math.abs(x[r * k + c]));
  return m;
}

describe('SmoothQuant', () => {
  const rnd = lcg(9);
  const m = 16,
    n = 12,
    k = 20;
  const x = Float32Array.from({ length: m * k }, (_, i) => (rnd() * 2 - 1) * (i % k === 3 ? 60 : i % k === 11 ? 25 : 1));
  const w = Float32Array.from({ length: n * k }, () => (rnd() * 2 - 1) * 0.3);
  const ax = colAbsMax(x, m, k);

  it('(X/s)·(W·s)ᵀ = X·Wᵀ within float tolerance', () => {
    for (const alpha of [0, 0.5, 0.85, 1]) {
      const s = smoothScales(ax, w, n, k, alpha);
      const y0 = matmulT(x, w, m, n, k);
      const y1 = matmulT(applySmoothing(x, m, k, s), smoothWeights(w, n, k, s), m, n, k);
      for (let i = 0; i < y0.length; i++) expect(Math.abs(y1[i] - y0[i])).toBeLessThan(1e-5 * (1 + Math.abs(y0[i])) * 10);
    }
  });

  it('α = 0.5 equalises activation and weight column maxima (√ of the product)', () => {
    const s = smoothScales(ax, w, n, k, 0.5);
    const xs = colAbsMax(applySmoothing(x, m, k, s), m, k);
    const ws = colAbsMax(smoothWeights(w, n, k, s), n, k);
    const aw = colAbsMax(w, n, k);
    for (let c = 0; c < k; c++) {
      expect(xs[c]).toBeCloseTo(ws[c], 5);
      expect(xs[c] / Math.sqrt(ax[c] * aw[c])).toBeCloseTo(1, 5);
    }
  });

  it('reduces per-tensor INT8 error of an outlier-channel product', () => {
    const s = smoothScales(ax, w, n, k, 0.5);
    const y0 = matmulT(x, w, m, n, k);
    const spec = { bits: 8 as const, symmetric: true, granularity: 'tensor' as const };
    const err = (xx: Float32Array, ww: Float32Array) => {
      const y = matmulT(fakeQuantMatrix(xx, m, k, spec), fakeQuantMatrix(ww, n, k, spec), m, n, k);
      return y.reduce((a, v, i) => a + (v - y0[i]) ** 2, 0);
    };
    expect(err(applySmoothing(x, m, k, s), smoothWeights(w, n, k, s))).toBeLessThan(err(x, w) * 0.5);
  });

  it('guards zero maxima and clamps', () => {
    const a = new Float32Array([0, 1, 1e30, 1e-30]);
    const ww = new Float32Array([1, 0, 1e-30, 1e30]); // n = 1
    const s = smoothScales(a, ww, 1, 4, 0.5);
    expect(s[0]).toBe(1);
    expect(s[1]).toBe(1);
    expect(s[2]).toBe(Math.fround(1e5));
    expect(s[3]).toBe(Math.fround(1e-5));
    expect(() => smoothScales(a, ww, 1, 3, 0.5)).toThrow();
    expect(() => smoothScales(a, ww, 1, 4, 1.5)).toThrow(/alpha/);
  });
});
