/**
 * The one scale/zero rule of the project (science.md §1). Every CPU reference, the WGSL kernels
 * (shaders/quant_common.wgsl mirrors this file) and tools/ref/quant_ref.py follow it.
 *
 * All arithmetic is emulated in float32 (Math.fround after every operation) so that the CPU
 * reference produces the very same scales, zeros and integers as a WGSL kernel.
 */
const f = Math.fround;

/** 3 bits: weights only (the study's W3 rows); activations and kernels take 8, 4, 2 */
export type Bits = 2 | 3 | 4 | 8;
export const BIT_WIDTHS: readonly Bits[] = [8, 4, 2];

/** Round half to even (WGSL round(), torch.round). Math.round rounds half up: never use it here. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round(x) rounds .5 up; at an exact tie with an odd result step back to the even one.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface IntRange {
  qmin: number;
  qmax: number;
}

/**
 * Integer range of a scheme. Symmetric: restricted signed range ±(2^(n-1)-1).
 * Asymmetric: unsigned [0, 2^n-1] as in the notes; kernels store q - 2^(n-1) so that the
 * value fits a signed lane (see `storageOffset`).
 */
export function intRange(bits: Bits, symmetric: boolean): IntRange {
  if (symmetric) {
    const m = (1 << (bits - 1)) - 1;
    return { qmin: -m, qmax: m };
  }
  return { qmin: 0, qmax: (1 << bits) - 1 };
}

/** Offset subtracted from unsigned asymmetric integers to store them as signed lanes. */
export function storageOffset(bits: Bits, symmetric: boolean): number {
  return symmetric ? 0 : 1 << (bits - 1);
}

export interface ScaleZero {
  scale: number;
  zero: number;
}

/**
 * Scale and zero point for a range [rmin, rmax] (float32 arithmetic).
 * - asymmetric: range widened to hold 0; s = (rmax - rmin)/(qmax - qmin); z = round(qmin - rmin/s)
 * - symmetric:  s = max(|rmin|, |rmax|)/qmax; z = 0
 * - s = 0 (all-zero data) → s = 1, so the group stays exact and free of NaN/Inf.
 * Non-finite bounds throw: a NaN/Inf must be reported, never propagated silently.
 */
export function scaleZero(rmin: number, rmax: number, bits: Bits, symmetric: boolean): ScaleZero {
  if (!Number.isFinite(rmin) || !Number.isFinite(rmax)) {
    throw new RangeError(`scaleZero: non-finite range [${rmin}, ${rmax}]`);
  }
  const { qmin, qmax } = intRange(bits, symmetric);
  if (symmetric) {
    const absmax = f(Math.max(Math.abs(rmin), Math.abs(rmax)));
    const s = f(absmax / qmax);
    return { scale: s === 0 ? 1 : s, zero: 0 };
  }
  const lo = f(Math.min(rmin, 0));
  const hi = f(Math.max(rmax, 0));
  let s = f(f(hi - lo) / (qmax - qmin));
  if (!Number.isFinite(s)) throw new RangeError(`scaleZero: range [${rmin}, ${rmax}] overflows float32`);
  if (s === 0) s = 1;
  const z = Math.min(qmax, Math.max(qmin, roundHalfEven(f(qmin - f(lo / s)))));
  return { scale: s, zero: z };
}

/** q = clamp(round(r/s) + z, qmin, qmax) — round first, then add z (science.md §1, order). */
export function quantizeValue(r: number, s: number, z: number, qmin: number, qmax: number): number {
  const q = roundHalfEven(f(r / s)) + z;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

/** r̂ = s·(q − z), in float32. */
export function dequantizeValue(q: number, s: number, z: number): number {
  return f(s * (q - z));
}

/** Fake quantization of one value: quantize then dequantize. */
export function fakeQuantValue(r: number, sz: ScaleZero, range: IntRange): number {
  return dequantizeValue(quantizeValue(r, sz.scale, sz.zero, range.qmin, range.qmax), sz.scale, sz.zero);
}

/**
 * The real range a (scale, zero) covers — [s·(qmin − z), s·(qmax − z)], float32 — as an explicit
 * static clip (e.g. a QAT run's learned LSQ (s, z) put into a plan): scaleZero(min, max) gives back
 * s (within float32 rounding) and z. z is rounded half to even and kept on the grid [qmin, qmax]
 * (zero on the grid, science.md §1), so min ≤ 0 ≤ max. s must be finite and > 0.
 */
export function clipFromScaleZero(scale: number, zero: number, bits: Bits, symmetric: boolean): { min: number; max: number } {
  if (!Number.isFinite(scale) || !(scale > 0) || !Number.isFinite(zero))
    throw new RangeError(`clipFromScaleZero: (s, z) = (${scale}, ${zero}) is not a finite positive scale and a finite zero`);
  const { qmin, qmax } = intRange(bits, symmetric);
  const z = symmetric ? 0 : Math.min(qmax, Math.max(qmin, roundHalfEven(zero)));
  return { min: f(scale * (qmin - z)), max: f(scale * (qmax - z)) };
}
