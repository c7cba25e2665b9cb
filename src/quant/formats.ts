/**
 * Number formats beside INT (science.md §9): FP8 E4M3 / E5M2 (OCP 8-bit floating point spec),
 * FP4 E2M1 and the E8M0 scale of the OCP Microscaling (MX) v1.0 spec, MXFP8 / MXFP4 blocks,
 * NVFP4 (blocks of 16, E4M3 block scale × FP32 tensor scale) and NF4 (QLoRA's normal-float code
 * book, blocks of 64 with absmax).
 *
 * The element codecs are defined from the bit layout (sign · exponent · mantissa, bias) and encode
 * by searching the sorted table of finite values: round to nearest, ties to the even code
 * (= even mantissa), saturating at the largest finite value (OCP "saturating" conversion).
 * NaN or ±Inf input is an error (a non-finite activation must be reported, never quantized).
 *
 * Blocks run along the reduction dimension: the columns of a row-major [rows × cols] operand
 * (A = activations [tokens × K], B = weights [N × K]). A row whose length is not a multiple of the
 * block keeps a shorter last block with its own scale (as if zero-padded).
 * All arithmetic is float32 (Math.fround after each operation), like scaleZero.ts.
 */
const f = Math.fround;

export type ElementFormat = 'e4m3' | 'e5m2' | 'e2m1';

export interface MiniFloat {
  name: ElementFormat;
  ebits: number;
  mbits: number;
  bias: number;
  /** largest finite magnitude */
  max: number;
  /** largest exponent of a normal value (emax_elem of the MX spec) */
  emax: number;
  /** how the all-ones exponent is used: E4M3 only S.1111.111 = NaN; E5M2 IEEE ∞/NaN; E2M1 finite */
  special: 'fn' | 'ieee' | 'none';
}

export const MINIFLOATS: Record<ElementFormat, MiniFloat> = {
  e4m3: { name: 'e4m3', ebits: 4, mbits: 3, bias: 7, max: 448, emax: 8, special: 'fn' },
  e5m2: { name: 'e5m2', ebits: 5, mbits: 2, bias: 15, max: 57344, emax: 15, special: 'ieee' },
  e2m1: { name: 'e2m1', ebits: 2, mbits: 1, bias: 1, max: 6, emax: 2, special: 'none' },
};

export function codeCount(fmt: MiniFloat): number {
  return 1 << (1 + fmt.ebits + fmt.mbits);
}

/** The value of a code (NaN / ±Infinity for the special encodings). */
export function decodeMiniFloat(code: number, fmt: MiniFloat): number {
  const nb = fmt.ebits + fmt.mbits;
  if (!Number.isInteger(code) || code < 0 || code >= 1 << (nb + 1)) throw new RangeError(`decode ${fmt.name}: code ${code} out of range`);
  const sign = code >> nb ? -1 : 1;
  const e = (code >> fmt.mbits) & ((1 << fmt.ebits) - 1);
  const m = code & ((1 << fmt.mbits) - 1);
  const eAll = (1 << fmt.ebits) - 1;
  if (fmt.special === 'fn' && e === eAll && m === (1 << fmt.mbits) - 1) return NaN;
  if (fmt.special === 'ieee' && e === eAll) return m === 0 ? sign * Infinity : NaN;
  const frac = m / (1 << fmt.mbits);
  const v = e === 0 ? frac * 2 ** (1 - fmt.bias) : (1 + frac) * 2 ** (e - fmt.bias);
  return sign * v;
}

interface Table {
  /** finite non-negative values, ascending, index = code (codes 0..n-1 are monotone) */
  values: Float64Array;
}
const tables = new Map<ElementFormat, Table>();
function table(fmt: MiniFloat): Table {
  let t = tables.get(fmt.name);
  if (!t) {
    const vals: number[] = [];
    const half = codeCount(fmt) / 2;
    for (let c = 0; c < half; c++) {
      const v = decodeMiniFloat(c, fmt);
      if (!Number.isFinite(v)) break;
      vals.push(v);
    }
    t = { values: Float64Array.from(vals) };
    tables.set(fmt.name, t);
  }
  return t;
}

/** Magnitude code of a ≥ 0 (finite) in the ascending table of finite values: RNE, ties to the even code, saturating. */
function magnitudeCode(a: number, v: Float64Array): number {
  const n = v.length;
  if (a >= v[n - 1]) return n - 1;
  // largest lo with v[lo] <= a
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v[mid] <= a) lo = mid;
    else hi = mid;
  }
  // v[lo] <= a < v[hi]; the midpoint of two values of ≤ 4 significant bits is exact in float64
  const midpoint = (v[lo] + v[hi]) / 2;
  return a < midpoint ? lo : a > midpoint ? hi : lo % 2 === 0 ? lo : hi;
}

/**
 * Code of x: round to nearest, ties to even code, saturating to ±max. −0 keeps its sign bit.
 * Throws on NaN or ±Infinity.
 */
export function encodeMiniFloat(x: number, fmt: MiniFloat): number {
  if (!Number.isFinite(x)) throw new RangeError(`encode ${fmt.name}: input is ${x} (NaN/Inf input)`);
  const signBit = x < 0 || Object.is(x, -0) ? 1 << (fmt.ebits + fmt.mbits) : 0;
  return signBit | magnitudeCode(Math.abs(x), table(fmt).values);
}

/** Value of every code (decodeMiniFloat's, as a lookup table for the hot loops). */
const decodeTables = new Map<ElementFormat, Float64Array>();
function decodeTable(fmt: MiniFloat): Float64Array {
  let t = decodeTables.get(fmt.name);
  if (!t) {
    t = Float64Array.from({ length: codeCount(fmt) }, (_, c) => decodeMiniFloat(c, fmt));
    decodeTables.set(fmt.name, t);
  }
  return t;
}

/** codes[i] and values[i] = decode(code)·scale for x[i0..i1) / scale (the inner loop of quantizeFormat). */
function encodeRun(
  x: ArrayLike<number>,
  i0: number,
  i1: number,
  scale: number,
  el: MiniFloat,
  codes: Uint8Array,
  values: Float32Array,
): void {
  const vals = table(el).values;
  const dec = decodeTable(el);
  const sb = 1 << (el.ebits + el.mbits);
  for (let i = i0; i < i1; i++) {
    const v = f(x[i] / scale);
    const c = (v < 0 || (v === 0 && 1 / v < 0) ? sb : 0) | magnitudeCode(Math.abs(v), vals);
    codes[i] = c;
    values[i] = f(dec[c] * scale);
  }
}

/** Round x to the nearest value of the format (encode then decode). */
export function roundMiniFloat(x: number, fmt: MiniFloat): number {
  return decodeMiniFloat(encodeMiniFloat(x, fmt), fmt);
}

/** floor(log2 |x|) exactly, for finite x ≠ 0 (from the float64 exponent field; float32 subnormals are float64 normals). */
export function floorLog2(x: number): number {
  const a = Math.abs(x);
  if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`floorLog2: ${x}`);
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, a);
  const e = (dv.getUint16(0) >> 4) & 0x7ff;
  if (e === 0) return Math.floor(Math.log2(a)); // float64 subnormal: not a float32 value
  return e - 1023;
}

/** E8M0: 2^(code − 127), code 0..254; 255 = NaN. */
export const E8M0_MIN_EXP = -127;
export const E8M0_MAX_EXP = 127;

// ---------------------------------------------------------------------------------------------
// NF4 (QLoRA, Dettmers et al. 2023, Appendix E / bitsandbytes create_normal_map): the 16 values,
// code 0..15 ascending; 7 = exact zero.
export const NF4_CODEBOOK: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495,
  0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
].map(f);

/** Nearest NF4 code of x ∈ [−1, 1] (clamped); a tie between two levels takes the lower (bitsandbytes' `x > midpoint` tree). */
export function encodeNf4(x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`encode nf4: input is ${x} (NaN/Inf input)`);
  const cb = NF4_CODEBOOK;
  let c = 0;
  for (let i = 1; i < 16; i++) {
    const mid = (cb[i - 1] + cb[i]) / 2;
    if (x > mid) c = i;
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Operand formats (what a plan's operand may name beside 'int')

export type NumberFormat = 'int' | 'fp8_e4m3' | 'fp8_e5m2' | 'mxfp8' | 'mxfp4' | 'nvfp4' | 'nf4';
export const NUMBER_FORMATS: readonly NumberFormat[] = ['int', 'fp8_e4m3', 'fp8_e5m2', 'mxfp8', 'mxfp4', 'nvfp4', 'nf4'];

export interface FormatInfo {
  id: NumberFormat;
  label: string;
  /** bits per element (the plan's `bits` field must say this) */
  bits: 8 | 4;
  /** elements sharing a scale along K (0: one per-tensor scale) */
  block: number;
  element?: ElementFormat;
  /** weights only */
  weightOnly?: boolean;
  scale: string;
}

export const FORMAT_INFO: Record<Exclude<NumberFormat, 'int'>, FormatInfo> = {
  fp8_e4m3: { id: 'fp8_e4m3', label: 'FP8 E4M3', bits: 8, block: 0, element: 'e4m3', scale: 'per-tensor FP32 scale amax/448' },
  fp8_e5m2: { id: 'fp8_e5m2', label: 'FP8 E5M2', bits: 8, block: 0, element: 'e5m2', scale: 'per-tensor FP32 scale amax/57344' },
  mxfp8: { id: 'mxfp8', label: 'MXFP8 (E4M3)', bits: 8, block: 32, element: 'e4m3', scale: 'E8M0 power of two per 32 along K' },
  mxfp4: { id: 'mxfp4', label: 'MXFP4 (E2M1)', bits: 4, block: 32, element: 'e2m1', scale: 'E8M0 power of two per 32 along K' },
  nvfp4: { id: 'nvfp4', label: 'NVFP4 (E2M1)', bits: 4, block: 16, element: 'e2m1', scale: 'E4M3 per 16 along K × FP32 per tensor' },
  nf4: { id: 'nf4', label: 'NF4', bits: 4, block: 64, weightOnly: true, scale: 'FP32 absmax per 64 along K' },
};

export function formatLabel(fmt: NumberFormat | undefined, bits?: number): string {
  if (!fmt || fmt === 'int') return bits === 32 || bits === undefined ? 'FP32' : `INT${bits}`;
  return FORMAT_INFO[fmt].label;
}

/** A format-quantized matrix: the decoded values plus what the views show (codes, block scales). */
export interface FormatQuantized {
  rows: number;
  cols: number;
  format: Exclude<NumberFormat, 'int'>;
  /** element codes (mini-float codes, or NF4 indices) */
  codes: Uint8Array;
  /** decoded values r̂ (float32) */
  values: Float32Array;
  /** block scales, row-major [rows × blocksPerRow] (E8M0 as 2^e, E4M3 value, or absmax); per-tensor: one */
  blockScales: Float32Array;
  blocksPerRow: number;
  block: number;
  /** FP8: the per-tensor scale; NVFP4: the FP32 tensor scale; otherwise 1 */
  tensorScale: number;
}

function absMax(x: ArrayLike<number>, start: number, end: number): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(x[i]);
    if (a > m) m = a;
  }
  return m;
}

function checkFinite(x: ArrayLike<number>, what: string): void {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new RangeError(`${what}: element ${i} is ${x[i]} (NaN/Inf input)`);
}

/**
 * Quantize a row-major [rows × cols] matrix to a format; blocks of the format's size along cols.
 * - FP8: s = amax/max (FP32; 1 for an all-zero tensor), code = RNE_sat(x/s), r̂ = s·decode(code).
 * - MX: per block X = 2^(floor(log2 amax) − emax_elem) clamped to E8M0's [−127, 127]; an all-zero
 *   block takes X = 2^−127 and zeros; P = RNE_sat(V/X), r̂ = X·P.
 * - NVFP4: s_t = amax_tensor/(448·6); s_b = E4M3(amax_block/(6·s_t)); code = RNE_sat(x/(s_b·s_t));
 *   s_b = 0 (a block far below the tensor's range) decodes to zeros.
 * - NF4: per block of 64, a = absmax (1 for a zero block), code = nearest(x/a), r̂ = a·NF4[code].
 */
export function quantizeFormat(x: ArrayLike<number>, rows: number, cols: number, format: Exclude<NumberFormat, 'int'>): FormatQuantized {
  if (x.length !== rows * cols) throw new RangeError(`quantizeFormat: ${x.length} values for ${rows}×${cols}`);
  checkFinite(x, `quantize ${FORMAT_INFO[format].label}`);
  const info = FORMAT_INFO[format];
  const n = rows * cols;
  const codes = new Uint8Array(n);
  const values = new Float32Array(n);
  if (info.block === 0) {
    const el = MINIFLOATS[info.element!];
    const amax = f(absMax(x, 0, n));
    const s = amax === 0 ? 1 : f(amax / el.max);
    encodeRun(x, 0, n, s, el, codes, values);
    return { rows, cols, format, codes, values, blockScales: Float32Array.of(s), blocksPerRow: 1, block: cols, tensorScale: s };
  }
  const B = info.block;
  const bpr = Math.ceil(cols / B);
  const blockScales = new Float32Array(rows * bpr);
  let tensorScale = 1;
  if (format === 'nvfp4') {
    const amax = f(absMax(x, 0, n));
    tensorScale = amax === 0 ? 1 : f(amax / (448 * 6));
  }
  const e4m3 = MINIFLOATS.e4m3;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < bpr; b++) {
      const i0 = r * cols + b * B;
      const i1 = r * cols + Math.min(cols, (b + 1) * B);
      const amax = f(absMax(x, i0, i1));
      if (format === 'nf4') {
        const a = amax === 0 ? 1 : amax;
        blockScales[r * bpr + b] = a;
        for (let i = i0; i < i1; i++) {
          const c = encodeNf4(f(x[i] / a));
          codes[i] = c;
          values[i] = f(NF4_CODEBOOK[c] * a);
        }
        continue;
      }
      const el = MINIFLOATS[info.element!];
      let scale: number;
      if (format === 'nvfp4') {
        const sb = roundMiniFloat(f(f(amax / 6) / tensorScale), e4m3);
        blockScales[r * bpr + b] = sb;
        scale = f(sb * tensorScale);
      } else {
        const e = amax === 0 ? E8M0_MIN_EXP : Math.min(E8M0_MAX_EXP, Math.max(E8M0_MIN_EXP, floorLog2(amax) - el.emax));
        scale = 2 ** e;
        blockScales[r * bpr + b] = scale;
      }
      if (scale === 0) {
        // NVFP4: a block whose E4M3 scale underflowed to 0 decodes to (signed) zeros
        for (let i = i0; i < i1; i++) {
          codes[i] = x[i] < 0 ? 1 << (el.ebits + el.mbits) : 0;
          values[i] = x[i] < 0 ? -0 : 0;
        }
      } else encodeRun(x, i0, i1, scale, el, codes, values);
    }
  }
  return { rows, cols, format, codes, values, blockScales, blocksPerRow: bpr, block: B, tensorScale };
}

/** Fake quantization (quantize, decode): the values a format-quantized operand multiplies with. */
export function fakeQuantFormat(x: ArrayLike<number>, rows: number, cols: number, format: Exclude<NumberFormat, 'int'>): Float32Array {
  return quantizeFormat(x, rows, cols, format).values;
}

/**
 * The values a format can represent at unit scale (for the views' grids): FP8/FP4 finite values
 * (both signs), NF4 code book. Multiply by the (block) scale for a given block.
 */
export function formatGrid(format: Exclude<NumberFormat, 'int'>): number[] {
  if (format === 'nf4') return [...NF4_CODEBOOK];
  const el = MINIFLOATS[FORMAT_INFO[format].element!];
  const pos = [...table(el).values];
  const out = new Set<number>();
  for (const v of pos) {
    out.add(v);
    out.add(-v);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The scale one block of a format gets from its absmax (the views rebuild per-block scales from
 * block absmax): FP8 per tensor amax/max; MX 2^(floor(log2 amax) − emax_elem) (E8M0); NVFP4
 * E4M3(amax/6/s_t)·s_t with s_t = tensorAmax/(448·6); NF4 the absmax. Same formulas as quantizeFormat.
 */
export function formatBlockScale(format: Exclude<NumberFormat, 'int'>, blockAmax: number, tensorAmax: number): number {
  const info = FORMAT_INFO[format];
  const a = f(blockAmax);
  if (info.block === 0) {
    const t = f(tensorAmax);
    return t === 0 ? 1 : f(t / MINIFLOATS[info.element!].max);
  }
  if (format === 'nf4') return a === 0 ? 1 : a;
  if (format === 'nvfp4') {
    const t = f(tensorAmax);
    const st = t === 0 ? 1 : f(t / (448 * 6));
    return f(roundMiniFloat(f(f(a / 6) / st), MINIFLOATS.e4m3) * st);
  }
  const e = a === 0 ? E8M0_MIN_EXP : Math.min(E8M0_MAX_EXP, Math.max(E8M0_MIN_EXP, floorLog2(a) - MINIFLOATS[info.element!].emax));
  return 2 ** e;
}
