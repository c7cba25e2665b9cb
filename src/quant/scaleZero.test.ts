import { describe, expect, it } from 'vitest';
import { intRange, quantizeValue, roundHalfEven, scaleZero, storageOffset } from './scaleZero';

describe('roundHalfEven', () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [-1.5, -2],
    [-2.5, -2],
    [2.4999, 2],
    [2.5001, 3],
    [-3.5, -4],
    [7, 7],
  ])('round(%f) = %f', (x, want) => expect(roundHalfEven(x)).toBe(want));
});

describe('scaleZero (science.md §1)', () => {
  it.each([
    // rmin, rmax, bits, symmetric → scale, zero
    { r: [-1, 1], bits: 8, sym: true, s: Math.fround(1 / 127), z: 0 },
    { r: [-0.5, 2], bits: 8, sym: true, s: Math.fround(2 / 127), z: 0 },
    { r: [0, 0], bits: 8, sym: true, s: 1, z: 0 }, // zero-scale rule
    { r: [0, 0], bits: 4, sym: false, s: 1, z: 0 },
    { r: [2, 3], bits: 8, sym: false, s: Math.fround(3 / 255), z: 0 }, // widened to hold 0
    { r: [-3, -2], bits: 8, sym: false, s: Math.fround(3 / 255), z: 255 },
    { r: [-1, 3], bits: 4, sym: false, s: Math.fround(4 / 15), z: 4 }, // round(0 − (−1)/(4/15)) = round(3.75) = 4
    { r: [-1, 1], bits: 2, sym: true, s: 1, z: 0 },
  ])('$r at $bits bits sym=$sym', ({ r, bits, sym, s, z }) => {
    const got = scaleZero(r[0], r[1], bits as 2 | 4 | 8, sym);
    expect(got.scale).toBe(s);
    expect(got.zero).toBe(z);
  });
  it('zero lies on the grid and in range for random ranges', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 20 - 10;
    for (let i = 0; i < 500; i++) {
      const a = rnd();
      const b = rnd();
      for (const bits of [8, 4, 2] as const) {
        const { scale, zero } = scaleZero(Math.min(a, b), Math.max(a, b), bits, false);
        const { qmin, qmax } = intRange(bits, false);
        expect(zero).toBeGreaterThanOrEqual(qmin);
        expect(zero).toBeLessThanOrEqual(qmax);
        expect(quantizeValue(0, scale, zero, qmin, qmax)).toBe(zero); // 0 is exact
      }
    }
  });
  it('rejects non-finite ranges', () => {
    expect(() => scaleZero(NaN, 1, 8, true)).toThrow(/non-finite/);
    expect(() => scaleZero(-Infinity, 1, 8, false)).toThrow(/non-finite/);
    expect(() => scaleZero(-3e38, 3e38, 8, false)).toThrow(/overflows/);
  });
  it('ranges and storage offsets', () => {
    expect(intRange(8, true)).toEqual({ qmin: -127, qmax: 127 });
    expect(intRange(4, false)).toEqual({ qmin: 0, qmax: 15 });
    expect(intRange(2, true)).toEqual({ qmin: -1, qmax: 1 });
    expect(storageOffset(8, false)).toBe(128);
    expect(storageOffset(4, true)).toBe(0);
  });
  it('rounds r/s first, then adds z (ties with odd z)', () => {
    // r/s = 0.5 exactly, z = 3: round(0.5) + 3 = 3, whereas round(0.5 + 3) = 4
    expect(quantizeValue(0.5, 1, 3, 0, 15)).toBe(3);
    expect(quantizeValue(100, 1, 0, -7, 7)).toBe(7);
    expect(quantizeValue(-100, 1, 0, -7, 7)).toBe(-7);
  });
});
