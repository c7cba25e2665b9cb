/** Test helpers shared by the kernel tests (seeded PRNG, comparisons). Not used at run time. */
import { mulberry32 } from '../quant/hadamard';

/** mulberry32 (src/quant/hadamard.ts): small seeded PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

export function randF32(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

export function randInt(r: () => number, n: number, lo: number, hi: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + Math.floor(r() * (hi - lo + 1));
  return a;
}

export function randIntIn(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** First index where two arrays differ bitwise (as 32-bit words), or -1. */
export function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && a[i] !== b[i]) return i;
  return -1;
}

/** Max |a−b| / (tolAbs + tolRel·scale[i]) > 1 → index, else -1. */
export function firstOutOfTol(a: ArrayLike<number>, b: ArrayLike<number>, tol: (i: number) => number): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= tol(i))) return i;
  }
  return -1;
}

/** Σ_c |x[m,c]·w[n,c]| — the scale of a dot product's float rounding error. */
export function absDot(x: ArrayLike<number>, w: ArrayLike<number>, m: number, n: number, k: number): Float64Array {
  const o = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += Math.abs(x[i * k + c] * w[j * k + c]);
      o[i * n + j] = s;
    }
  return o;
}
