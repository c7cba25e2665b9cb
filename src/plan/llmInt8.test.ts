import { describe, expect, it } from 'vitest';
import { llmInt8Matmul, outlierColumns } from './llmInt8';
import { gemmW8A8Ref } from '../kernels/gemmW8A8.ref';
import { quantizeMatrix } from '../quant/quantizeMatrix';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}
function fp32(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, m: number, n: number, k: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += x[i * k + c] * w[j * k + c];
      y[i * n + j] = s + (b ? b[j] : 0);
    }
  return y;
}
function plainInt(x: Float32Array, w: Float32Array, b: Float32Array, m: number, n: number, k: number, aBits: 8 | 4 | 2, bBits: 8 | 4 | 2) {
  const qx = quantizeMatrix(x, m, k, { bits: aBits, symmetric: true, granularity: 'row' });
  const qw = quantizeMatrix(w, n, k, { bits: bBits, symmetric: true, granularity: 'row' });
  return gemmW8A8Ref({ m, n, k, xq: qx.q, wq: qw.q, sx: qx.scales, sw: qw.scales, bias: b });
}
const sqErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let e = 0;
  for (let i = 0; i < a.length; i++) e += (a[i] - b[i]) ** 2;
  return e;
};

describe('LLM.int8', () => {
  const rnd = lcg(4);
  const m = 10,
    n = 7,
    k = 33;
  const x = Float32Array.from({ length: m * k }, () => rnd() * 4 - 2);
  const w = Float32Array.from({ length: n * k }, () => rnd() - 0.5);
  const b = Float32Array.from({ length: n }, () => rnd());

  it('outlierColumns marks columns with any |x| > threshold', () => {
    const xx = new Float32Array([1, -7, 0, 2, 6, 0]); // 2×3
    expect(Array.from(outlierColumns(xx, 2, 3, 6))).toEqual([0, 1, 0]);
    expect(Array.from(outlierColumns(xx, 2, 3, 0))).toEqual([1, 1, 0]);
    expect(Array.from(outlierColumns(xx, 2, 3, Infinity))).toEqual([0, 0, 0]);
  });

  it('threshold = ∞ is exactly the plain per-token × per-channel integer GEMM', () => {
    for (const [aBits, bBits] of [
      [8, 8],
      [4, 4],
      [8, 4],
      [2, 2],
    ] as const) {
      const y = llmInt8Matmul(x, w, b, m, n, k, Infinity, { aBits, bBits });
      expect(Array.from(y)).toEqual(Array.from(plainInt(x, w, b, m, n, k, aBits, bBits)));
    }
  });

  it('threshold = 0 is FP32 (every non-zero column stays float)', () => {
    const xz = Float32Array.from(x);
    for (let r = 0; r < m; r++) xz[r * k + 5] = 0; // an all-zero column is not an outlier; it adds 0 either way
    const y = llmInt8Matmul(xz, w, b, m, n, k, 0, { aBits: 2, bBits: 2 });
    const y0 = fp32(xz, w, b, m, n, k);
    for (let i = 0; i < y.length; i++) expect(Math.abs(y[i] - y0[i])).toBeLessThan(1e-5 * (1 + Math.abs(y0[i])));
    const yNoBias = llmInt8Matmul(xz, w, null, m, n, k, 0, { aBits: 8, bBits: 8 });
    const y1 = fp32(xz, w, null, m, n, k);
    for (let i = 0; i < y.length; i++) expect(Math.abs(yNoBias[i] - y1[i])).toBeLessThan(1e-5 * (1 + Math.abs(y1[i])));
  });

  it('an injected outlier column is recovered far better than by plain INT8', () => {
    const xo = Float32Array.from(x);
    for (let r = 0; r < m; r++) xo[r * k + 9] = (rnd() * 2 - 1) * 300; // huge channel
    const y0 = fp32(xo, w, b, m, n, k);
    const eMixed = sqErr(llmInt8Matmul(xo, w, b, m, n, k, 6, { aBits: 8, bBits: 8 }), y0);
    const ePlain = sqErr(plainInt(xo, w, b, m, n, k, 8, 8), y0);
    expect(eMixed).toBeLessThan(ePlain / 20);
    const eMixed4 = sqErr(llmInt8Matmul(xo, w, b, m, n, k, 6, { aBits: 4, bBits: 8 }), y0);
    const ePlain4 = sqErr(plainInt(xo, w, b, m, n, k, 4, 8), y0);
    expect(eMixed4).toBeLessThan(ePlain4 / 20);
  });

  it('uses the integer GEMM it is given for the regular part', () => {
    let calls = 0;
    const gemm = (o: Parameters<typeof gemmW8A8Ref>[0]) => {
      calls++;
      return gemmW8A8Ref(o);
    };
    const y = llmInt8Matmul(x, w, b, m, n, k, 1.5, { aBits: 8, bBits: 8, gemm });
    expect(calls).toBe(1);
    expect(Array.from(y)).toEqual(Array.from(llmInt8Matmul(x, w, b, m, n, k, 1.5, { aBits: 8, bBits: 8 })));
  });

  it('validates shapes and NaN/Inf', () => {
    expect(() => llmInt8Matmul(x, w, b, m, n, k + 1, 6, { aBits: 8, bBits: 8 })).toThrow(/X has/);
    expect(() => llmInt8Matmul(x, w, b.subarray(1), m, n, k, 6, { aBits: 8, bBits: 8 })).toThrow(/bias/);
    const xn = Float32Array.from(x);
    xn[0] = NaN;
    expect(() => llmInt8Matmul(xn, w, b, m, n, k, 6, { aBits: 8, bBits: 8 })).toThrow(/NaN/);
    // an Inf is an "outlier" (> threshold) and would run through the FP32 part unnoticed
    xn[0] = Infinity;
    expect(() => llmInt8Matmul(xn, w, b, m, n, k, 6, { aBits: 8, bBits: 8 })).toThrow(/Infinity \(NaN\/Inf input\)/);
    // a caller's mask must fit X
    expect(() => llmInt8Matmul(x, w, b, m, n, k, 6, { aBits: 8, bBits: 8, mask: new Uint8Array(k + 1) })).toThrow(/mask has/);
  });
});
