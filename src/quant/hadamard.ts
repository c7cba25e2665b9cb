/**
 * Randomized Hadamard rotation (QuaRot, Ashkboos et al. 2024; science.md §9). R = D·H/√n with H the
 * Sylvester Hadamard matrix of order n (a power of two) and D a diagonal of random ±1 signs; R is
 * orthogonal, so X·Wᵀ = (X·R)(W·R)ᵀ. Applied to a row x: x·R = FWHT(x ⊙ d)/√n.
 *
 * The signs come from a seeded mulberry32 stream (seed, site), written out in tools/ref/formats_ref.py
 * as well, so both sides rotate with the same R.
 */

import { mulberry32 } from './random';
export { mulberry32 } from './random';

/** n signs ±1 for (seed, site): bit 0 of successive mulberry32 outputs, seeded with seed·1000003 + site. */
export function hadamardSigns(n: number, seed: number, site: number): Float32Array {
  const rnd = mulberry32((Math.imul(seed >>> 0, 1000003) + site) >>> 0);
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) s[i] = rnd() & 1 ? -1 : 1;
  return s;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Rows of x [rows × n] times R = D·H/√n (FWHT in float64, rounded to float32 once per element). */
export function rotateRows(x: ArrayLike<number>, rows: number, n: number, signs: Float32Array): Float32Array {
  if (!isPowerOfTwo(n)) throw new RangeError(`Hadamard rotation: dimension ${n} is not a power of two`);
  if (x.length !== rows * n || signs.length !== n) throw new RangeError(`rotateRows: ${x.length} values for ${rows}×${n}`);
  const out = new Float32Array(rows * n);
  const buf = new Float64Array(n);
  const norm = 1 / Math.sqrt(n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let i = 0; i < n; i++) buf[i] = x[o + i] * signs[i];
    for (let h = 1; h < n; h <<= 1) {
      for (let i = 0; i < n; i += h << 1) {
        for (let j = i; j < i + h; j++) {
          const a = buf[j];
          const b = buf[j + h];
          buf[j] = a + b;
          buf[j + h] = a - b;
        }
      }
    }
    for (let i = 0; i < n; i++) out[o + i] = buf[i] * norm;
  }
  return out;
}

/** Kurtosis E[(x−μ)⁴]/σ⁴ (3 for a Gaussian) and max|x−μ|/σ of a sample — the outlier measures of the rotation view. */
export function outlierStats(x: ArrayLike<number>): { kurtosis: number; maxOverSigma: number; n: number } {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= Math.max(1, n);
  let m2 = 0;
  let m4 = 0;
  let mx = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - mean;
    const d2 = d * d;
    m2 += d2;
    m4 += d2 * d2;
    if (Math.abs(d) > mx) mx = Math.abs(d);
  }
  m2 /= Math.max(1, n);
  m4 /= Math.max(1, n);
  const sd = Math.sqrt(m2);
  return { kurtosis: m2 > 0 ? m4 / (m2 * m2) : 0, maxOverSigma: sd > 0 ? mx / sd : 0, n };
}
