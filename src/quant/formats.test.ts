import { describe, expect, it } from 'vitest';
import {
  codeCount,
  decodeMiniFloat,
  encodeMiniFloat,
  encodeNf4,
  fakeQuantFormat,
  floorLog2,
  formatBlockScale,
  formatGrid,
  MINIFLOATS,
  NF4_CODEBOOK,
  quantizeFormat,
  roundMiniFloat,
} from './formats';

const { e4m3, e5m2, e2m1 } = MINIFLOATS;

/** every code, its value by the spec's formula written out independently of decodeMiniFloat */
function specValue(code: number, ebits: number, mbits: number, bias: number): number {
  const s = code >> (ebits + mbits) ? -1 : 1;
  const e = (code >> mbits) & ((1 << ebits) - 1);
  const m = code & ((1 << mbits) - 1);
  return e === 0 ? s * m * 2 ** (1 - bias - mbits) : s * (2 ** mbits + m) * 2 ** (e - bias - mbits);
}

describe('mini-float codecs: all codes (OCP FP8 spec, MX spec E2M1)', () => {
  it('E4M3: 256 codes; S.1111.111 is the only NaN, no infinities; max 448, min normal 2^-6, min subnormal 2^-9', () => {
    let nan = 0;
    for (let c = 0; c < 256; c++) {
      const v = decodeMiniFloat(c, e4m3);
      if ((c & 0x7f) === 0x7f) {
        expect(v).toBeNaN();
        nan++;
        continue;
      }
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBe(specValue(c, 4, 3, 7));
    }
    expect(nan).toBe(2);
    expect(decodeMiniFloat(0x7e, e4m3)).toBe(448);
    expect(decodeMiniFloat(0xfe, e4m3)).toBe(-448);
    expect(decodeMiniFloat(0x08, e4m3)).toBe(2 ** -6);
    expect(decodeMiniFloat(0x07, e4m3)).toBe(0.875 * 2 ** -6);
    expect(decodeMiniFloat(0x01, e4m3)).toBe(2 ** -9);
    expect(Object.is(decodeMiniFloat(0x80, e4m3), -0)).toBe(true);
  });
  it('E5M2: 256 codes; ±∞ at S.11111.00, NaN at S.11111.{01,10,11}; max 57344, min subnormal 2^-16', () => {
    for (let c = 0; c < 256; c++) {
      const v = decodeMiniFloat(c, e5m2);
      const e = (c >> 2) & 31;
      if (e === 31) {
        if ((c & 3) === 0) expect(v).toBe(c & 0x80 ? -Infinity : Infinity);
        else expect(v).toBeNaN();
      } else expect(v).toBe(specValue(c, 5, 2, 15));
    }
    expect(decodeMiniFloat(0x7b, e5m2)).toBe(57344);
    expect(decodeMiniFloat(0x01, e5m2)).toBe(2 ** -16);
    expect(decodeMiniFloat(0x04, e5m2)).toBe(2 ** -14);
  });
  it('E2M1: the 16 codes are ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}', () => {
    const vals = Array.from({ length: 16 }, (_, c) => decodeMiniFloat(c, e2m1));
    expect(vals.slice(0, 8)).toEqual([0, 0.5, 1, 1.5, 2, 3, 4, 6]);
    expect(vals.slice(8).map((v) => -v)).toEqual([0, 0.5, 1, 1.5, 2, 3, 4, 6]);
    expect(codeCount(e2m1)).toBe(16);
  });

  for (const fmt of [e4m3, e5m2, e2m1]) {
    it(`${fmt.name}: encode(decode(c)) = c for every finite code; between neighbours: below/above the midpoint and the tie (to the even code)`, () => {
      let checks = 0;
      const n = codeCount(fmt);
      for (let c = 0; c < n; c++) {
        const v = decodeMiniFloat(c, fmt);
        if (!Number.isFinite(v)) continue;
        expect(encodeMiniFloat(v, fmt)).toBe(c);
        checks++;
      }
      const half = n / 2;
      for (let c = 0; c + 1 < half; c++) {
        const lo = decodeMiniFloat(c, fmt);
        const hi = decodeMiniFloat(c + 1, fmt);
        if (!Number.isFinite(hi)) break;
        const mid = (lo + hi) / 2;
        const eps = (hi - lo) / 64;
        for (const sgn of [1, -1]) {
          const sb = sgn < 0 ? half : 0;
          expect(encodeMiniFloat(sgn * (mid - eps), fmt)).toBe(sb | c);
          expect(encodeMiniFloat(sgn * (mid + eps), fmt)).toBe(sb | (c + 1));
          expect(encodeMiniFloat(sgn * mid, fmt)).toBe(sb | (c % 2 === 0 ? c : c + 1));
          checks += 3;
        }
      }
      // 254 / 248 / 16 finite codes round-trip; 126 / 123 / 7 neighbour pairs × 2 signs × 3 points
      expect(checks).toBe({ e4m3: 254 + 756, e5m2: 248 + 738, e2m1: 16 + 42 }[fmt.name]);
    });
  }

  it('ties to even, saturation, subnormals, zero signs (edge values)', () => {
    expect(roundMiniFloat(1.0625, e4m3)).toBe(1); // between 1 (m=000) and 1.125 (m=001)
    expect(roundMiniFloat(1.1875, e4m3)).toBe(1.25); // between 1.125 (001) and 1.25 (010)
    expect(roundMiniFloat(2.5, e2m1)).toBe(2);
    expect(roundMiniFloat(3.5, e2m1)).toBe(4);
    expect(roundMiniFloat(5, e2m1)).toBe(4);
    expect(roundMiniFloat(0.25, e2m1)).toBe(0);
    expect(roundMiniFloat(0.75, e2m1)).toBe(1);
    expect(roundMiniFloat(-1.25, e2m1)).toBe(-1);
    // saturating: no overflow to NaN/∞
    expect(roundMiniFloat(449, e4m3)).toBe(448);
    expect(roundMiniFloat(464, e4m3)).toBe(448); // the RNE midpoint to the (absent) 480
    expect(roundMiniFloat(1e30, e4m3)).toBe(448);
    expect(roundMiniFloat(-1e9, e5m2)).toBe(-57344);
    expect(roundMiniFloat(61440, e5m2)).toBe(57344);
    expect(roundMiniFloat(7.5, e2m1)).toBe(6);
    // subnormals and underflow
    expect(roundMiniFloat(2 ** -10, e4m3)).toBe(0); // half the smallest subnormal: tie to 0
    expect(roundMiniFloat(2 ** -10 * 1.01, e4m3)).toBe(2 ** -9);
    expect(roundMiniFloat(3 * 2 ** -10, e4m3)).toBe(2 ** -8); // 1.5 × 2^-9: tie between codes 1 and 2 → 2
    expect(roundMiniFloat(3 * 2 ** -17, e5m2)).toBe(2 ** -15);
    expect(Object.is(roundMiniFloat(-0, e4m3), -0)).toBe(true);
    expect(encodeMiniFloat(-1e-20, e4m3)).toBe(0x80);
  });

  it('NaN and ±Inf inputs are clear errors', () => {
    expect(() => encodeMiniFloat(NaN, e4m3)).toThrow(/NaN\/Inf input/);
    expect(() => encodeMiniFloat(Infinity, e5m2)).toThrow(/NaN\/Inf input/);
    expect(() => encodeNf4(NaN)).toThrow(/NaN/);
    const x = new Float32Array(64).fill(1);
    x[37] = NaN;
    for (const fmt of ['fp8_e4m3', 'fp8_e5m2', 'mxfp8', 'mxfp4', 'nvfp4', 'nf4'] as const) {
      expect(() => quantizeFormat(x, 2, 32, fmt)).toThrow(/element 37 is NaN/);
    }
  });

  it('floorLog2 is exact at and around powers of two', () => {
    for (let e = -140; e <= 127; e++) {
      const p = 2 ** e;
      expect(floorLog2(p)).toBe(e);
      expect(floorLog2(-p)).toBe(e);
      if (e > -126) expect(floorLog2(Math.fround(p * (1 - 2 ** -24)))).toBe(e - 1);
    }
  });
});

describe('operand formats', () => {
  it('FP8 per-tensor: amax maps to the format max; a zero tensor stays zero', () => {
    const x = Float32Array.from([0.5, -2, 0.001, 1.7]);
    const q = quantizeFormat(x, 1, 4, 'fp8_e4m3');
    expect(q.tensorScale).toBe(Math.fround(2 / 448));
    expect(q.values[1]).toBe(-2);
    expect(decodeMiniFloat(q.codes[1], e4m3)).toBe(-448);
    for (let i = 0; i < 4; i++) expect(Math.abs(q.values[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) / 16 + 2 ** -9 * q.tensorScale);
    const z = quantizeFormat(new Float32Array(8), 2, 4, 'fp8_e5m2');
    expect(z.tensorScale).toBe(1);
    expect([...z.values]).toEqual(new Array(8).fill(0));
  });

  it('MX: E8M0 scale 2^(floor(log2 amax) − emax_elem) per 32 along K; a zero block; a short last block', () => {
    const cols = 48;
    const x = new Float32Array(2 * cols);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 1.3) * 0.1;
    x[5] = 1.0; // row 0 block 0: amax 1 → MXFP4 X = 2^(0−2), MXFP8 X = 2^(0−8)
    x[40] = 7; // row 0 block 1 (16 columns): amax 7 → MXFP4 X = 2^0, 7 saturates to 6
    for (let i = cols; i < cols + 32; i++) x[i] = 0; // row 1 block 0: all zero
    const q4 = quantizeFormat(x, 2, cols, 'mxfp4');
    expect(q4.blocksPerRow).toBe(2);
    expect([...q4.blockScales]).toEqual([2 ** -2, 1, 2 ** -127, q4.blockScales[3]]);
    expect(q4.values[5]).toBe(1);
    expect(q4.values[40]).toBe(6);
    for (let i = cols; i < cols + 32; i++) expect(q4.values[i]).toBe(0);
    const grid = new Set(formatGrid('mxfp4'));
    for (let i = 0; i < 32; i++) expect(grid.has(q4.values[i] / 2 ** -2)).toBe(true);
    const q8 = quantizeFormat(x, 2, cols, 'mxfp8');
    expect(q8.blockScales[0]).toBe(2 ** -8);
    expect(q8.values[40]).toBe(7); // 7 / 2^(2−8) = 448: exactly E4M3's max
  });

  it('NVFP4: FP32 tensor scale amax/(448·6), E4M3 block scale per 16', () => {
    const x = new Float32Array(32);
    for (let i = 0; i < 32; i++) x[i] = (i - 10) * 0.37;
    const q = quantizeFormat(x, 1, 32, 'nvfp4');
    const amax = Math.fround(21 * 0.37);
    expect(q.tensorScale).toBe(Math.fround(amax / 2688));
    expect(q.blocksPerRow).toBe(2);
    for (const sb of q.blockScales) expect(roundMiniFloat(sb, e4m3)).toBe(sb);
    expect(q.blockScales[1]).toBe(448); // the tensor's amax block: amax/6/s_t = 448
    expect(q.values[31]).toBeCloseTo(amax, 5);
  });

  it('NF4: QLoRA code book, absmax per 64; zero at code 7; ties to the lower level', () => {
    expect(NF4_CODEBOOK.length).toBe(16);
    expect(NF4_CODEBOOK[7]).toBe(0);
    expect(NF4_CODEBOOK[0]).toBe(-1);
    expect(NF4_CODEBOOK[15]).toBe(1);
    for (let c = 0; c < 16; c++) expect(encodeNf4(NF4_CODEBOOK[c])).toBe(c);
    for (let c = 1; c < 16; c++) expect(encodeNf4((NF4_CODEBOOK[c - 1] + NF4_CODEBOOK[c]) / 2)).toBe(c - 1);
    const x = new Float32Array(128);
    for (let i = 0; i < 64; i++) x[i] = (i - 32) / 8;
    const q = quantizeFormat(x, 1, 128, 'nf4');
    expect([...q.blockScales]).toEqual([4, 1]);
    expect(q.values[0]).toBe(-4);
    for (let i = 64; i < 128; i++) expect(q.codes[i]).toBe(7);
    expect(q.values[32]).toBe(0);
  });

  it('fake quant never increases the error beyond half a grid step at the block scale (MXFP8, random data)', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const x = Float32Array.from({ length: 4 * 64 }, () => rnd() * 3);
    const y = fakeQuantFormat(x, 4, 64, 'mxfp8');
    for (let i = 0; i < x.length; i++) expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -4 + 2 ** -9);
  });
});

describe('formatBlockScale (the views rebuild block scales from block absmax)', () => {
  it('equals the scales quantizeFormat uses, for every format, on random data', () => {
    let seed = 11;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    const rows = 3;
    const cols = 200;
    const x = Float32Array.from({ length: rows * cols }, (_, i) => rnd() * (i % 37 === 0 ? 50 : 1));
    let tensorAmax = 0;
    for (const v of x) tensorAmax = Math.max(tensorAmax, Math.abs(v));
    for (const fmt of ['fp8_e4m3', 'fp8_e5m2', 'mxfp8', 'mxfp4', 'nvfp4', 'nf4'] as const) {
      const q = quantizeFormat(x, rows, cols, fmt);
      for (let r = 0; r < rows; r++)
        for (let b = 0; b < q.blocksPerRow; b++) {
          let am = 0;
          for (let c = b * q.block; c < Math.min(cols, (b + 1) * q.block); c++) am = Math.max(am, Math.abs(x[r * cols + c]));
          const want =
            q.block === cols
              ? q.tensorScale
              : fmt === 'nvfp4'
                ? Math.fround(q.blockScales[r * q.blocksPerRow + b] * q.tensorScale)
                : q.blockScales[r * q.blocksPerRow + b];
          expect(formatBlockScale(fmt, am, tensorAmax), `${fmt} row ${r} block ${b}`).toBe(want);
        }
    }
  });
});
