/**
 * The CPU backend's kernels (issue 7): one typed API, `CpuKernels`, with two implementations —
 * WebAssembly SIMD128 compiled from asm/kernels.ts (`npm run build:wasm`), and plain TypeScript
 * (the references) when the .wasm is missing or does not compile. Which one runs, and why, is
 * reported in `impl` / `fallbackReason`; nothing falls back silently.
 *
 * Semantics are the references' (src/kernels/*.ref.ts, src/quant/*): integer results and
 * quantizers bit-exact; float GEMMs within float32 summation-order error (the reference sums in
 * float64); LayerNorm/softmax/statistics in float64 like the reference.
 *
 * Memory: the wasm module has no allocator. `WasmArena` is a bump allocator over its exported
 * memory; every API call allocates above the current top and releases on return, so calls never
 * leak. Long-lived data (packed weights, vitCpu.ts) is allocated below a call's mark and stays.
 */
import type { MatOps } from '../plan/siteQuant';
import { gemmF32Ref } from '../kernels/gemmF32.ref';
import { gemmW8A8AccRef, gemmW8A8Ref, type W8A8Operands } from '../kernels/gemmW8A8.ref';
import { gemmW4A8AccRef, gemmW4A8Ref, type W4A8Operands } from '../kernels/gemmW4A8.ref';
import { unpackInt4Rows } from '../quant/pack';
import { geluTanh, layerNormRows, softmaxRows } from '../kernels/rowOps.ref';
import { dequantizeMatrix, type MatrixQuantSpec, type QuantizedMatrix, quantizeMatrix } from '../quant/quantizeMatrix';
import { intRange, scaleZero, storageOffset } from '../quant/scaleZero';

export type CpuImpl = 'wasm-simd' | 'typescript';
/**
 * 'simd128+relaxed': FMA in the FP32 GEMM and the relaxed int8 dot (browsers);
 * 'simd128+relaxed-dot': the relaxed int8 dot only (Node's tools: FP32 figures as SIMD128's);
 * 'simd128': neither. Integer results are the same in all three.
 */
export type WasmFeatures = 'simd128' | 'simd128+relaxed' | 'simd128+relaxed-dot';

/** ' (relaxed: FMA, int8 dot)', ' (relaxed int8 dot)' or '' — for backend labels. */
export function featuresLabel(f?: WasmFeatures): string {
  return f === 'simd128+relaxed' ? ' (relaxed: FMA, int8 dot)' : f === 'simd128+relaxed-dot' ? ' (relaxed int8 dot)' : '';
}

/** Fused GEMM epilogue: y = residual + gelu(acc + b) (each part optional). */
export interface GemmEpilogue {
  gelu?: boolean;
  residual?: Float32Array;
}

export interface CpuKernels extends MatOps {
  readonly impl: CpuImpl;
  /** wasm only: 'simd128', or 'simd128+relaxed' (fused multiply-add in the FP32 GEMM, relaxed int8 dot in the integer GEMMs) */
  readonly wasmFeatures?: WasmFeatures;
  /** wasm on SIMD128 only: why the relaxed-SIMD build is not running */
  readonly relaxedUnavailable?: string;
  /** why the TypeScript kernels run instead of WebAssembly (undefined when wasm runs) */
  readonly fallbackReason?: string;
  gemmF32(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, n: number, k: number, epi?: GemmEpilogue): Float32Array;
  gemmW8A8(o: W8A8Operands, epi?: GemmEpilogue): Float32Array;
  /** corrected int32 accumulators (gemmW8A8AccRef) */
  gemmW8A8Acc(o: W8A8Operands): Int32Array;
  gemmW4A8(o: W4A8Operands, epi?: GemmEpilogue): Float32Array;
  /** per-group corrected accumulators [M × N × groups] (gemmW4A8AccRef) */
  gemmW4A8Acc(o: W4A8Operands): Int32Array;
  /** pack.ts unpackInt4Rows */
  unpackInt4(p: Uint32Array, rows: number, k: number): Int32Array;
  quantize(x: Float32Array, rows: number, cols: number, spec: MatrixQuantSpec): QuantizedMatrix;
  /** dequantize(quantize(x)) in one pass */
  fakeQuant(x: Float32Array, rows: number, cols: number, spec: MatrixQuantSpec): Float32Array;
  dequantize(q: QuantizedMatrix): Float32Array;
  layerNorm(x: Float32Array, rows: number, d: number, g: Float32Array, b: Float32Array, eps: number): Float32Array;
  /** tanh-GELU of every element (new array) */
  gelu(x: Float32Array): Float32Array;
  /** in place: x ← f32(x·scale), then softmax of each row */
  softmaxRows(x: Float32Array, rows: number, n: number, scale?: number): void;
}

export class KernelShapeError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'KernelShapeError';
  }
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new KernelShapeError(msg);
}
function checkDims(what: string, ...d: number[]): void {
  for (const v of d) check(Number.isInteger(v) && v >= 0, `${what}: dimensions must be non-negative integers, got ${d.join('×')}`);
}
function checkLen(what: string, a: ArrayLike<number> | null | undefined, len: number, allowOne = false): void {
  if (!a) return;
  check(a.length === len || (allowOne && a.length === 1), `${what}: length ${a.length}, expected ${len}${allowOne ? ' or 1' : ''}`);
}
function checkW8A8(o: W8A8Operands): void {
  checkDims('gemmW8A8', o.m, o.n, o.k);
  checkLen('gemmW8A8 xq', o.xq, o.m * o.k);
  checkLen('gemmW8A8 wq', o.wq, o.n * o.k);
  checkLen('gemmW8A8 sx', o.sx, o.m, true);
  checkLen('gemmW8A8 sw', o.sw, o.n, true);
  checkLen('gemmW8A8 zx', o.zx, o.m, true);
  checkLen('gemmW8A8 zw', o.zw, o.n, true);
  checkLen('gemmW8A8 bias', o.bias, o.n);
}
function checkW4A8(o: W4A8Operands): void {
  checkDims('gemmW4A8', o.m, o.n, o.k);
  check(Number.isInteger(o.groupSize) && o.groupSize > 0, `gemmW4A8: groupSize ${o.groupSize} must be a positive integer`);
  checkLen('gemmW4A8 xq', o.xq, o.m * o.k);
  checkLen('gemmW4A8 wq', o.wq, o.n * o.k);
  checkLen('gemmW4A8 sx', o.sx, o.m, true);
  checkLen('gemmW4A8 zx', o.zx, o.m, true);
  checkLen('gemmW4A8 sw', o.sw, o.n * Math.ceil(o.k / o.groupSize));
  checkLen('gemmW4A8 bias', o.bias, o.n);
}

function applyEpilogue(y: Float32Array, epi?: GemmEpilogue): Float32Array {
  if (!epi) return y;
  if (epi.residual) check(epi.residual.length === y.length, `epilogue residual: length ${epi.residual.length}, expected ${y.length}`);
  for (let i = 0; i < y.length; i++) {
    let v = y[i];
    if (epi.gelu) v = geluTanh(v);
    if (epi.residual) v = epi.residual[i] + v;
    y[i] = v;
  }
  return y;
}

export { geluTanh };

// ---------------------------------------------------------------------------------------------
// TypeScript implementation (the references)

function makeTs(fallbackReason?: string): CpuKernels {
  return {
    impl: 'typescript',
    fallbackReason,
    gemmF32(x, w, bias, m, n, k, epi) {
      checkDims('gemmF32', m, n, k);
      checkLen('gemmF32 x', x, m * k);
      checkLen('gemmF32 w', w, n * k);
      checkLen('gemmF32 bias', bias, n);
      return applyEpilogue(gemmF32Ref(x, w, bias, m, n, k), epi);
    },
    gemmW8A8(o, epi) {
      checkW8A8(o);
      return applyEpilogue(gemmW8A8Ref(o), epi);
    },
    gemmW8A8Acc(o) {
      checkW8A8(o);
      return gemmW8A8AccRef(o);
    },
    gemmW4A8(o, epi) {
      checkW4A8(o);
      return applyEpilogue(gemmW4A8Ref(o), epi);
    },
    gemmW4A8Acc(o) {
      checkW4A8(o);
      return gemmW4A8AccRef(o);
    },
    unpackInt4: unpackInt4Rows,
    quantize: quantizeMatrix,
    fakeQuant: (x, rows, cols, spec) => dequantizeMatrix(quantizeMatrix(x, rows, cols, spec)),
    dequantize: dequantizeMatrix,
    layerNorm(x, rows, d, g, b, eps) {
      checkLen('layerNorm x', x, rows * d);
      return layerNormRows(x, rows, d, g, b, eps);
    },
    gelu(x) {
      const y = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) y[i] = geluTanh(x[i]);
      return y;
    },
    softmaxRows(x, rows, n, scale = 1) {
      checkLen('softmaxRows x', x, rows * n);
      if (scale !== 1) for (let i = 0; i < x.length; i++) x[i] *= scale;
      softmaxRows(x, rows, n);
    },
  };
}

/** The TypeScript kernels (no wasm). */
export const tsCpuKernels: CpuKernels = makeTs();

// ---------------------------------------------------------------------------------------------
// WebAssembly implementation

/** The exports of src/cpu/generated/kernels.wasm (asm/kernels.ts). Pointers are byte addresses. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  gelu(x: number, n: number): void;
  pack_b_f32(w: number, n: number, k: number, dst: number): void;
  pack_b_f32_kn(w: number, n: number, k: number, dst: number): void;
  gemm_f32(x: number, wp: number, bias: number, y: number, m: number, n: number, k: number, flags: number, res: number): void;
  pack_i16(
    src: number,
    rows: number,
    k: number,
    groupSize: number,
    gp: number,
    groups: number,
    rowsP: number,
    offset: number,
    dst: number,
    sums: number,
  ): void;
  unpack_int4_i32(words: number, rows: number, k: number, dst: number): void;
  panel_i16(src: number, n: number, kp: number, dst: number): void;
  panelI16Size(n: number, kp: number): number;
  gemm_w8a8(
    xp: number,
    wp: number,
    m: number,
    n: number,
    kp: number,
    sx: number,
    sxStride: number,
    sw: number,
    swStride: number,
    bias: number,
    y: number,
    flags: number,
    res: number,
  ): void;
  transpose32(src: number, rows: number, cols: number, dst: number, rowsP: number): void;
  pack_w4_nib(
    src: number,
    rows: number,
    k: number,
    gs: number,
    gp: number,
    groups: number,
    sw: number,
    dst: number,
    wsum: number,
    consts: number,
  ): void;
  packedW4Size(rows: number, gp: number, groups: number): number;
  w4ConstsSize(rows: number, groups: number): number;
  gemm_w4a8_i8(
    xp: number,
    xsum: number,
    wp: number,
    m: number,
    n: number,
    groups: number,
    gp: number,
    consts: number,
    zx: number,
    zxStride: number,
    sx: number,
    sxStride: number,
    bias: number,
    y: number,
    flags: number,
    res: number,
  ): void;
  gemm_w8a8_dot(
    xp: number,
    xsum: number,
    wh: number,
    wl: number,
    wc: number,
    m: number,
    n: number,
    kp: number,
    zx: number,
    zxStride: number,
    sx: number,
    sxStride: number,
    sw: number,
    swStride: number,
    bias: number,
    y: number,
    flags: number,
    res: number,
  ): void;
  split_heads(qkv: number, t: number, dim: number, heads: number, q: number, k: number, vT: number): void;
  merge_heads(o: number, t: number, dim: number, heads: number, cat: number): void;
  quantErrorIndex(): number;
  quantize(
    x: number,
    rows: number,
    cols: number,
    gran: number,
    groupSize: number,
    bits: number,
    symmetric: number,
    fixed: number,
    fixScale: number,
    fixZero: number,
    q: number,
    scales: number,
    zeros: number,
    deq: number,
  ): number;
  quantize_i16(
    x: number,
    rows: number,
    k: number,
    perImage: number,
    mode: number,
    bits: number,
    symmetric: number,
    fixScale: number,
    fixZero: number,
    gs: number,
    gp: number,
    groups: number,
    rowsP: number,
    off: number,
    dst: number,
    sums: number,
    sx: number,
    zx: number,
    i8out: number,
  ): number;
  layernorm_quant_i16(
    x: number,
    rows: number,
    d: number,
    g: number,
    b: number,
    eps: number,
    y: number,
    bits: number,
    symmetric: number,
    gs: number,
    gp: number,
    groups: number,
    rowsP: number,
    off: number,
    dst: number,
    sums: number,
    sx: number,
    zx: number,
    i8out: number,
  ): number;
  dequantize(
    q: number,
    rows: number,
    cols: number,
    gran: number,
    groupSize: number,
    groupsPerRow: number,
    scales: number,
    zeros: number,
    out: number,
  ): void;
  layernorm(x: number, rows: number, d: number, g: number, b: number, eps: number, y: number): void;
  softmax_rows(x: number, rows: number, n: number, scale: number): void;
  fq_forward(x: number, y: number, keep: number, runs: number, nRuns: number, s: number, zr: number, qmin: number, qmax: number): void;
  fq_backward(
    keep: number,
    dy: number,
    dx: number,
    runs: number,
    nRuns: number,
    s: number,
    zr: number,
    qmin: number,
    qmax: number,
    gs: number,
    gz: number,
  ): void;
  gelu_train(x: number, y: number, th: number, n: number): void;
  gelu_backward(x: number, th: number, dy: number, dx: number, n: number): void;
  layernorm_train(x: number, rows: number, d: number, g: number, b: number, eps: number, y: number, xhat: number, inv: number): void;
  layernorm_backward(xhat: number, inv: number, g: number, dy: number, rows: number, d: number, dx: number, dg: number, db: number): void;
  softmax_backward(y: number, dy: number, dx: number, rows: number, n: number): void;
}

export const FLAG_GELU = 1;
export const FLAG_RESIDUAL = 2;
export const FLAG_RAW = 4;
/** gemm_w4a8_i8: the int32 dot route (asm/kernels.ts w4a8Tiles' dot32); same results */
export const FLAG_DOT32 = 8;

/**
 * How the integer GEMMs make their products. W4A8: 'int16' (i16x8.relaxed_dot_i8x16_i7x16_s into
 * int16 lanes, widened every 8 dots) or 'int32' (i32x4.relaxed_dot_i8x16_i7x16_add_s: one
 * instruction per 16 products where the engine has a dot instruction — x64 with AVX-VNNI, arm64
 * with the dot-product extension — and three where it has not). W8A8: 'int16' (gemm_w8a8,
 * dot_i16x8 on centred int16 operands) or 'int32' (gemm_w8a8_dot: each 8-bit weight split into two
 * 4-bit planes, two int32 dots per 16 products). Same numbers either way; which is faster depends on
 * the CPU, so it is measured (probeW4A8Dot, probeW8A8Dot), not guessed.
 */
export type DotRoute = 'int16' | 'int32';

/** What a route probe measured: best µs per call of each route on the probe's shape, and the choice. */
export interface DotProbe {
  chosen: DotRoute;
  /** why: the measured ratio, or why nothing was measured */
  reason: string;
  int16Us?: number;
  int32Us?: number;
  /** m × n × k, group size */
  shape?: string;
}

/** The int32 route is taken only when it measured this much faster: a noisy tie keeps the int16 route. */
export const DOT32_MARGIN = 0.85;

export const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/** Bump allocator over the module's memory. Views are created fresh: memory.grow detaches old ones. */
export class WasmArena {
  top: number;
  readonly base: number;
  /** the VitCpu whose packed weights live at the bottom of this memory (one per instance) */
  owner?: object;
  constructor(readonly ex: KernelExports) {
    this.base = ex.heapBase();
    this.top = this.base;
  }
  get memory(): WebAssembly.Memory {
    return this.ex.memory;
  }
  /** bumped whenever the memory grows: every view made before is detached then */
  generation = 0;
  /** the highest top reached since it was last reset (callers measure their peak with it) */
  highWater = 0;
  /** 16-byte aligned block of `bytes`, zero-filled only if fresh memory */
  alloc(bytes: number): number {
    const p = this.top;
    const top = roundUp(p + Math.max(bytes, 0), 16);
    // 64 bytes of slack: kernels read per-channel vectors 4 lanes at a time past a row's end
    const have = this.ex.memory.buffer.byteLength;
    if (top + 64 > have) {
      this.ex.memory.grow(Math.ceil((top + 64 - have) / 65536));
      this.generation++;
    }
    this.top = top;
    if (top > this.highWater) this.highWater = top;
    return p;
  }
  f32(ptr: number, len: number): Float32Array {
    return new Float32Array(this.ex.memory.buffer, ptr, len);
  }
  i32(ptr: number, len: number): Int32Array {
    return new Int32Array(this.ex.memory.buffer, ptr, len);
  }
  putF32(a: ArrayLike<number>): number {
    const p = this.alloc(a.length * 4);
    this.f32(p, a.length).set(a);
    return p;
  }
  f64(ptr: number, len: number): Float64Array {
    return new Float64Array(this.ex.memory.buffer, ptr, len);
  }
  putF64(a: ArrayLike<number>): number {
    const p = this.alloc(a.length * 8);
    this.f64(p, a.length).set(a);
    return p;
  }
  putI32(a: ArrayLike<number>): number {
    const p = this.alloc(a.length * 4);
    this.i32(p, a.length).set(a);
    return p;
  }
  /** run f and release everything it allocated */
  scoped<T>(f: () => T): T {
    const mark = this.top;
    try {
      return f();
    } finally {
      this.top = mark;
    }
  }
}

const GRAN = { tensor: 0, row: 1, group: 2 } as const;

/** int16 group layout of an integer operand (see asm/kernels.ts pack_i16). */
export interface PackedInt {
  ptr: number;
  /** per row-group sums of the storage values (rows × groups) */
  sums: number;
  rows: number;
  rowsP: number;
  k: number;
  groups: number;
  groupSize: number;
  gp: number;
}

export function packIntOperand(
  ar: WasmArena,
  values: ArrayLike<number>,
  rows: number,
  k: number,
  groupSize: number,
  offset = 0,
): PackedInt {
  const gs = Math.max(1, Math.min(groupSize, Math.max(k, 1)));
  const groups = k === 0 ? 0 : Math.ceil(k / gs);
  const gp = roundUp(gs, 8);
  const rowsP = Math.max(rows, 1);
  const ptr = ar.alloc(rowsP * groups * gp * 2);
  const sums = ar.alloc(Math.max(1, rows * groups) * 4);
  // the int32 copy is temporary; the packed operand stays in the caller's scope
  ar.scoped(() => ar.ex.pack_i16(ar.putI32(values), rows, k, gs, gp, groups, rowsP, offset, ptr, sums));
  return { ptr, sums, rows, rowsP, k, groups, groupSize: gs, gp };
}

/**
 * q − z per row (zeros of length rows, or 1 for the whole matrix; absent = 0): the centred int16
 * operand of gemm_w8a8, in which the zero-point corrections are already made.
 */
export function centredRows(q: ArrayLike<number>, rows: number, k: number, zeros?: ArrayLike<number>): Int32Array {
  const out = Int32Array.from(q);
  if (!zeros) return out;
  for (let r = 0; r < rows; r++) {
    const z = zeros.length === 1 ? zeros[0] : zeros[r];
    for (let c = 0; c < k; c++) out[r * k + c] -= z;
  }
  return out;
}

function checkIntRange(what: string, a: ArrayLike<number>, lo: number, hi: number): void {
  for (let i = 0; i < a.length; i++)
    if (!(a[i] >= lo && a[i] <= hi))
      throw new KernelShapeError(`${what}[${i}] = ${a[i]}: the int8 kernels take storage values in [${lo}, ${hi}]`);
}

/**
 * The int8 activation layout of the i8 GEMMs (asm/kernels.ts quantize_i16 with i8out): rows of
 * groups × gp bytes, each group's values then zeros, rows padded with zero rows to a multiple of 4;
 * per row-group sums of the values.
 */
export function packI8Rows(
  ar: WasmArena,
  values: ArrayLike<number>,
  rows: number,
  k: number,
  gs: number,
  gp: number,
  what: string,
  lo: number,
  hi: number,
): { ptr: number; sums: number } {
  checkIntRange(what, values, lo, hi);
  const groups = k === 0 ? 0 : Math.ceil(k / gs);
  // gemm_w4a8_i8 reads rows four at a time (zero rows past the last)
  const rowsP = Math.max(roundUp(rows, 4), 4);
  const kp = groups * gp;
  const ptr = ar.alloc(rowsP * kp);
  const sums = ar.alloc(Math.max(1, rows * groups) * 4);
  const d = new Int8Array(ar.memory.buffer, ptr, rowsP * kp).fill(0);
  const sv = ar.i32(sums, Math.max(1, rows * groups));
  for (let r = 0; r < rows; r++)
    for (let g = 0; g < groups; g++) {
      let s = 0;
      const c1 = Math.min(k, (g + 1) * gs);
      for (let c = g * gs; c < c1; c++) {
        const v = values[r * k + c];
        d[r * kp + g * gp + (c - g * gs)] = v;
        s += v;
      }
      sv[r * groups + g] = s;
    }
  return { ptr, sums };
}

class WasmCpuKernels implements CpuKernels {
  readonly impl = 'wasm-simd' as const;
  readonly fallbackReason = undefined;
  readonly arena: WasmArena;
  constructor(
    readonly ex: KernelExports,
    readonly wasmFeatures: WasmFeatures = 'simd128',
    readonly relaxedUnavailable?: string,
  ) {
    this.arena = new WasmArena(ex);
  }

  private dotProbe?: DotProbe;
  private dot8Probe?: DotProbe;
  /**
   * gemm_w4a8_i8's dot route on this machine: probed once (a few ms), or set by `forceDot`.
   * The SIMD128 build has no relaxed dot: always 'int16' there.
   */
  w4a8Dot(): DotProbe {
    this.dotProbe ??= probeW4A8Dot(this);
    return this.dotProbe;
  }
  /** The W8A8 GEMM's route on this machine (gemm_w8a8 or gemm_w8a8_dot): probed once, or set by `forceDot`. */
  w8a8Dot(): DotProbe {
    this.dot8Probe ??= probeW8A8Dot(this);
    return this.dot8Probe;
  }
  /** The routes probed (or pinned) so far, without probing: what a plan has paid for. */
  knownDotRoutes(): { w4a8?: DotProbe; w8a8?: DotProbe } {
    return { w4a8: this.dotProbe, w8a8: this.dot8Probe };
  }
  /** Pins the route of one kernel or both (tests, benchmarks): every route gives the same numbers. */
  forceDot(route: DotRoute, which: 'w4a8' | 'w8a8' | 'both' = 'both'): void {
    if (route === 'int32' && this.wasmFeatures === 'simd128') throw new Error('the int32 dot route needs the relaxed-SIMD build');
    if (which !== 'w8a8') this.dotProbe = { chosen: route, reason: 'set by the caller' };
    if (which !== 'w4a8') this.dot8Probe = { chosen: route, reason: 'set by the caller' };
  }
  /** FLAG_DOT32 when the int32 route is chosen, else 0 */
  w4a8DotFlag(): number {
    return this.w4a8Dot().chosen === 'int32' ? FLAG_DOT32 : 0;
  }

  gemmF32(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, n: number, k: number, epi?: GemmEpilogue): Float32Array {
    checkDims('gemmF32', m, n, k);
    checkLen('gemmF32 x', x, m * k);
    checkLen('gemmF32 w', w, n * k);
    checkLen('gemmF32 bias', bias, n);
    if (epi?.residual) checkLen('gemmF32 residual', epi.residual, m * n);
    const ar = this.arena;
    return ar.scoped(() => {
      const px = ar.putF32(x);
      const pw = ar.putF32(w);
      const wp = ar.alloc(roundUp(n, 8) * k * 4);
      this.ex.pack_b_f32(pw, n, k, wp);
      const pb = bias ? ar.putF32(bias) : 0;
      const pr = epi?.residual ? ar.putF32(epi.residual) : 0;
      const py = ar.alloc(m * n * 4);
      if (m * n > 0) this.ex.gemm_f32(px, wp, pb, py, m, n, k, (epi?.gelu ? FLAG_GELU : 0) | (pr ? FLAG_RESIDUAL : 0), pr);
      return ar.f32(py, m * n).slice();
    });
  }

  // W8A8 on the route this machine's probe chose (w8a8Dot): gemm_w8a8 takes both operands centred
  // (q − z fits int16), as the plans' quantizer writes them; gemm_w8a8_dot takes int8 storage rows
  // and the weights split into two 4-bit planes, and applies the zero points itself.
  private w8a8(o: W8A8Operands, flags: number, epi?: GemmEpilogue): Float32Array | Int32Array {
    checkW8A8(o);
    if (epi?.residual) checkLen('gemmW8A8 residual', epi.residual, o.m * o.n);
    const { m, n, k } = o;
    const ar = this.arena;
    const dot32 = this.w8a8Dot().chosen === 'int32';
    return ar.scoped(() => {
      const sx = ar.putF32(o.sx);
      const sw = ar.putF32(o.sw);
      const sxStride = o.sx.length > 1 ? 1 : 0;
      const swStride = o.sw.length > 1 ? 1 : 0;
      const pb = o.bias ? ar.putF32(o.bias) : 0;
      const pr = epi?.residual ? ar.putF32(epi.residual) : 0;
      const py = ar.alloc(m * n * 4);
      const f = flags | (epi?.gelu ? FLAG_GELU : 0) | (pr ? FLAG_RESIDUAL : 0);
      if (dot32) {
        const kp = roundUp(k, 8);
        const X = packI8Rows(ar, o.xq, m, k, k, kp, 'gemmW8A8 xq', -128, 127);
        checkIntRange('gemmW8A8 wq', o.wq, -128, 127);
        const W = packW8Planes(ar, this.ex, o.wq, o.zw, n, k);
        const zx = o.zx ? ar.putI32(o.zx) : 0;
        const zxStride = o.zx && o.zx.length > 1 ? 1 : 0;
        if (m * n > 0)
          this.ex.gemm_w8a8_dot(X.ptr, X.sums, W.wh, W.wl, W.wc, m, n, kp, zx, zxStride, sx, sxStride, sw, swStride, pb, py, f, pr);
      } else {
        const X = packIntOperand(ar, centredRows(o.xq, m, k, o.zx), m, k, Math.max(k, 1));
        const W = packIntOperand(ar, centredRows(o.wq, n, k, o.zw), n, k, Math.max(k, 1));
        const kp = X.groups * X.gp;
        const wp = ar.alloc(this.ex.panelI16Size(n, kp));
        this.ex.panel_i16(W.ptr, n, kp, wp);
        if (m * n > 0) this.ex.gemm_w8a8(X.ptr, wp, m, n, kp, sx, sxStride, sw, swStride, pb, py, f, pr);
      }
      return flags & FLAG_RAW ? ar.i32(py, m * n).slice() : ar.f32(py, m * n).slice();
    });
  }
  gemmW8A8(o: W8A8Operands, epi?: GemmEpilogue): Float32Array {
    if (o.k === 0) return applyEpilogue(gemmW8A8Ref(o), epi);
    return this.w8a8(o, 0, epi) as Float32Array;
  }
  gemmW8A8Acc(o: W8A8Operands): Int32Array {
    if (o.k === 0) return new Int32Array(o.m * o.n);
    return this.w8a8(o, FLAG_RAW) as Int32Array;
  }

  private w4a8(o: W4A8Operands, flags: number, epi?: GemmEpilogue): Float32Array | Int32Array {
    checkW4A8(o);
    if (epi?.residual) checkLen('gemmW4A8 residual', epi.residual, o.m * o.n);
    const { m, n, k } = o;
    const ar = this.arena;
    return ar.scoped(() => {
      const gs = Math.min(o.groupSize, k);
      const groups = Math.ceil(k / gs);
      const gp = roundUp(gs, 8);
      const X = packI8Rows(ar, o.xq, m, k, gs, gp, 'gemmW4A8 xq', -128, 127);
      checkIntRange('gemmW4A8 wq', o.wq, -8, 7);
      const wp = ar.alloc(this.ex.packedW4Size(n, gp, groups));
      const wsum = ar.alloc(n * groups * 4);
      const consts = ar.alloc(this.ex.w4ConstsSize(n, groups));
      ar.scoped(() => this.ex.pack_w4_nib(ar.putI32(o.wq), n, k, gs, gp, groups, ar.putF32(o.sw), wp, wsum, consts));
      const zx = o.zx ? ar.putI32(o.zx) : 0;
      const sx = ar.putF32(o.sx);
      const pb = o.bias ? ar.putF32(o.bias) : 0;
      const pr = epi?.residual ? ar.putF32(epi.residual) : 0;
      const outLen = flags & FLAG_RAW ? m * n * groups : m * n;
      const py = ar.alloc(outLen * 4);
      const f = flags | (epi?.gelu ? FLAG_GELU : 0) | (pr ? FLAG_RESIDUAL : 0) | this.w4a8DotFlag();
      if (m * n > 0)
        this.ex.gemm_w4a8_i8(
          X.ptr,
          X.sums,
          wp,
          m,
          n,
          groups,
          gp,
          consts,
          zx,
          o.zx && o.zx.length > 1 ? 1 : 0,
          sx,
          o.sx.length > 1 ? 1 : 0,
          pb,
          py,
          f,
          pr,
        );
      return flags & FLAG_RAW ? ar.i32(py, outLen).slice() : ar.f32(py, outLen).slice();
    });
  }
  gemmW4A8(o: W4A8Operands, epi?: GemmEpilogue): Float32Array {
    if (o.k === 0) return applyEpilogue(gemmW4A8Ref(o), epi);
    return this.w4a8(o, 0, epi) as Float32Array;
  }
  gemmW4A8Acc(o: W4A8Operands): Int32Array {
    if (o.k === 0) return new Int32Array(0);
    return this.w4a8(o, FLAG_RAW) as Int32Array;
  }

  unpackInt4(p: Uint32Array, rows: number, k: number): Int32Array {
    checkDims('unpackInt4', rows, k);
    checkLen('unpackInt4 words', p, rows * Math.ceil(k / 8));
    const ar = this.arena;
    return ar.scoped(() => {
      const pw = ar.putI32(new Int32Array(p.buffer, p.byteOffset, p.length));
      const out = ar.alloc(rows * k * 4);
      this.ex.unpack_int4_i32(pw, rows, k, out);
      return ar.i32(out, rows * k).slice();
    });
  }

  private quant(
    x: Float32Array,
    rows: number,
    cols: number,
    spec: MatrixQuantSpec,
    wantDeq: boolean,
  ): { q: QuantizedMatrix; deq?: Float32Array } {
    if (x.length !== rows * cols) throw new RangeError(`quantizeMatrix: ${x.length} values for ${rows}×${cols}`);
    const groupSize = spec.granularity === 'group' ? (spec.groupSize ?? 0) : cols;
    if (spec.granularity === 'group' && !(groupSize > 0)) throw new RangeError('quantizeMatrix: group granularity needs groupSize > 0');
    const groupsPerRow = spec.granularity === 'tensor' ? 1 : Math.ceil(cols / groupSize);
    const nGroups = spec.granularity === 'tensor' ? 1 : rows * groupsPerRow;
    let fixScale = 1;
    let fixZero = 0;
    const ar = this.arena;
    return ar.scoped(() => {
      const px = ar.putF32(x);
      const pq = ar.alloc(rows * cols * 4);
      const ps = ar.alloc(Math.max(nGroups, 1) * 4);
      const pz = ar.alloc(Math.max(nGroups, 1) * 4);
      const pd = wantDeq ? ar.alloc(rows * cols * 4) : 0;
      if (spec.clip) {
        // validate the input first, as the reference does, then the clip's own scale (may throw)
        for (let i = 0; i < x.length; i++)
          if (!Number.isFinite(x[i])) throw new RangeError(`quantizeMatrix: element ${i} is ${x[i]} (NaN/Inf input)`);
        const sz = scaleZero(spec.clip.min, spec.clip.max, spec.bits, spec.symmetric);
        fixScale = sz.scale;
        fixZero = sz.zero;
      }
      const rc = this.ex.quantize(
        px,
        rows,
        cols,
        GRAN[spec.granularity],
        groupSize,
        spec.bits,
        spec.symmetric ? 1 : 0,
        spec.clip ? 1 : 0,
        fixScale,
        fixZero,
        pq,
        ps,
        pz,
        pd,
      );
      if (rc === 1) {
        const i = this.ex.quantErrorIndex();
        throw new RangeError(`quantizeMatrix: element ${i} is ${x[i]} (NaN/Inf input)`);
      }
      if (rc === 2) throw new RangeError('scaleZero: range overflows float32');
      const q: QuantizedMatrix = {
        rows,
        cols,
        q: ar.i32(pq, rows * cols).slice(),
        scales: ar.f32(ps, nGroups).slice(),
        zeros: ar.i32(pz, nGroups).slice(),
        groupsPerRow,
        groupSize,
        spec,
      };
      return { q, deq: wantDeq ? ar.f32(pd, rows * cols).slice() : undefined };
    });
  }
  quantize(x: Float32Array, rows: number, cols: number, spec: MatrixQuantSpec): QuantizedMatrix {
    return this.quant(x, rows, cols, spec, false).q;
  }
  fakeQuant(x: Float32Array, rows: number, cols: number, spec: MatrixQuantSpec): Float32Array {
    return this.quant(x, rows, cols, spec, true).deq!;
  }
  dequantize(m: QuantizedMatrix): Float32Array {
    const ar = this.arena;
    return ar.scoped(() => {
      const pq = ar.putI32(m.q);
      const ps = ar.putF32(m.scales);
      const pz = ar.putI32(m.zeros);
      const out = ar.alloc(m.rows * m.cols * 4);
      this.ex.dequantize(pq, m.rows, m.cols, GRAN[m.spec.granularity], m.groupSize, m.groupsPerRow, ps, pz, out);
      return ar.f32(out, m.rows * m.cols).slice();
    });
  }
  layerNorm(x: Float32Array, rows: number, d: number, g: Float32Array, b: Float32Array, eps: number): Float32Array {
    checkLen('layerNorm x', x, rows * d);
    checkLen('layerNorm g', g, d);
    checkLen('layerNorm b', b, d);
    const ar = this.arena;
    return ar.scoped(() => {
      const px = ar.putF32(x);
      const py = ar.alloc(rows * d * 4);
      this.ex.layernorm(px, rows, d, ar.putF32(g), ar.putF32(b), eps, py);
      return ar.f32(py, rows * d).slice();
    });
  }
  gelu(x: Float32Array): Float32Array {
    const ar = this.arena;
    return ar.scoped(() => {
      const p = ar.putF32(x);
      this.ex.gelu(p, x.length);
      return ar.f32(p, x.length).slice();
    });
  }
  softmaxRows(x: Float32Array, rows: number, n: number, scale = 1): void {
    checkLen('softmaxRows x', x, rows * n);
    const ar = this.arena;
    ar.scoped(() => {
      const p = ar.putF32(x);
      this.ex.softmax_rows(p, rows, n, scale);
      x.set(ar.f32(p, x.length));
    });
  }
}

export type WasmCpuKernelsT = WasmCpuKernels;

/**
 * Alternating rounds of the two routes (a change of machine load hits both), the best round of
 * each, the int32 route only when at least 1/DOT32_MARGIN faster. `run(route, raw)` writes the
 * route's output (raw: its int32 sums); `same()` compares the two raw outputs bit for bit, after
 * the first call of each route (the engine's least optimized code: Node 20's V8 baseline compiler,
 * Liftoff, gets i32x4.relaxed_dot_i8x16_i7x16_add_s wrong) and after the timed rounds: a route that
 * disagrees is never used, whatever its speed.
 */
export function timeRoutes(
  run: (route: 0 | 1, raw: boolean) => void,
  same: () => boolean,
  rounds: number,
  callsPerRound: number,
  shape: string,
): DotProbe {
  run(0, true);
  run(1, true);
  const firstSame = same();
  const best = [Infinity, Infinity];
  for (let r = 0; r < rounds; r++)
    for (const route of [0, 1] as const) {
      const t = performance.now();
      for (let c = 0; c < callsPerRound; c++) run(route, false);
      best[route] = Math.min(best[route], ((performance.now() - t) * 1000) / callsPerRound);
    }
  const [int16Us, int32Us] = best;
  const ratio = int16Us / int32Us;
  run(0, true);
  run(1, true);
  if (!firstSame || !same())
    return {
      chosen: 'int16',
      int16Us,
      int32Us,
      shape,
      reason: `the int32 dot gave different results from the int16 route on this engine (${firstSame ? 'optimized' : 'first, unoptimized'} code): never used here, whatever its speed (${ratio.toFixed(2)}×)`,
    };
  const chosen: DotRoute = int32Us < DOT32_MARGIN * int16Us ? 'int32' : 'int16';
  return {
    chosen,
    int16Us,
    int32Us,
    shape,
    reason:
      chosen === 'int32'
        ? `the int32 dot measured ${ratio.toFixed(2)}× the int16 route here: this engine maps it to a dot instruction`
        : `the int32 dot measured ${ratio.toFixed(2)}× the int16 route here, below the ${(1 / DOT32_MARGIN).toFixed(2)}× it needs`,
  };
}

/** Two output buffers of `n` 32-bit values and their bitwise comparison (the probes' check). */
function routeOutputs(ar: WasmArena, n: number): { y: [number, number]; same: () => boolean } {
  const y: [number, number] = [ar.alloc(n * 4), ar.alloc(n * 4)];
  return {
    y,
    same: () => {
      const a = ar.i32(y[0], n);
      const b = ar.i32(y[1], n);
      for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
      return true;
    },
  };
}

/** Deterministic probe operands: the probes time arithmetic, the values do not matter (every route is exact). */
const probeInt = (n: number, span: number, mul: number) => Int32Array.from({ length: n }, (_, i) => ((i * mul) % span) - (span >> 1));

/**
 * The W8A8 GEMM's routes on one ViT-sized problem (64 × 128 × 128, per token × per channel):
 * gemm_w8a8 (int16 operands) against gemm_w8a8_dot (int8 operands, split weights).
 */
export function probeW8A8Dot(k: WasmCpuKernels, rounds = 8, callsPerRound = 12): DotProbe {
  if (k.wasmFeatures === 'simd128') return { chosen: 'int16', reason: 'the SIMD128 build has no relaxed int8 dot' };
  const [m, n, kk] = [64, 128, 128];
  const ex = k.ex;
  const ar = k.arena;
  return ar.scoped(() => {
    const xq = probeInt(m * kk, 255, 37);
    const wq = probeInt(n * kk, 255, 13);
    const X16 = packIntOperand(ar, xq, m, kk, kk);
    const W16 = packIntOperand(ar, wq, n, kk, kk);
    const wp = ar.alloc(ex.panelI16Size(n, kk));
    ex.panel_i16(W16.ptr, n, kk, wp);
    const X8 = packI8Rows(ar, xq, m, kk, kk, kk, 'probe', -128, 127);
    const W8 = packW8Planes(ar, ex, wq, undefined, n, kk);
    const zx = ar.putI32(new Int32Array(m));
    const sx = ar.putF32(new Float32Array(m).fill(0.02));
    const sw = ar.putF32(new Float32Array(n).fill(0.01));
    const { y, same } = routeOutputs(ar, m * n);
    return timeRoutes(
      (route, raw) =>
        route
          ? ex.gemm_w8a8_dot(X8.ptr, X8.sums, W8.wh, W8.wl, W8.wc, m, n, kk, zx, 1, sx, 1, sw, 1, 0, y[1], raw ? FLAG_RAW : 0, 0)
          : ex.gemm_w8a8(X16.ptr, wp, m, n, kk, sx, 1, sw, 1, 0, y[0], raw ? FLAG_RAW : 0, 0),
      same,
      rounds,
      callsPerRound,
      `${m} × ${n} × ${kk}`,
    );
  });
}

/**
 * The weight operand of gemm_w8a8_dot: storage values w ∈ [−128, 127] [n × k] (zero points zw of
 * length n or 1, absent = 0) as w + 128 = 16·h + l, the h and l planes in pack_w4_nib's layout (one
 * group of kp = roundUp(k, 8)); wc: int32 128 + zw per channel, then Σw − k·zw per channel, each
 * half roundUp(n, 8) long.
 */
export function packW8Planes(
  ar: WasmArena,
  ex: KernelExports,
  wq: ArrayLike<number>,
  zw: ArrayLike<number> | undefined,
  n: number,
  k: number,
): { wh: number; wl: number; wc: number; kp: number } {
  const kp = roundUp(k, 8);
  const np = roundUp(n, 8);
  const wh = ar.alloc(ex.packedW4Size(n, kp, 1));
  const wl = ar.alloc(ex.packedW4Size(n, kp, 1));
  const wc = ar.alloc(np * 2 * 4);
  const hi = new Int32Array(n * k);
  const lo = new Int32Array(n * k);
  const c = new Int32Array(np * 2);
  for (let j = 0; j < n; j++) {
    const z = zw ? (zw.length === 1 ? zw[0] : zw[j]) : 0;
    let sum = 0;
    for (let i = j * k; i < (j + 1) * k; i++) {
      const u = wq[i] + 128;
      hi[i] = (u >> 4) - 8;
      lo[i] = (u & 15) - 8;
      sum += wq[i];
    }
    c[j] = 128 + z;
    c[np + j] = sum - k * z;
  }
  ar.scoped(() => {
    const scratch = ar.alloc(n * 4);
    const consts = ar.alloc(ex.w4ConstsSize(n, 1));
    ex.pack_w4_nib(ar.putI32(hi), n, k, k, kp, 1, 0, wh, scratch, consts);
    ex.pack_w4_nib(ar.putI32(lo), n, k, k, kp, 1, 0, wl, scratch, consts);
  });
  new Int32Array(ar.memory.buffer, wc, np * 2).set(c);
  return { wh, wl, wc, kp };
}

/** gemm_w4a8_i8's two dot routes (one function: FLAG_DOT32) on one ViT-sized problem (64 × 128 × 128, groups of 32). */
export function probeW4A8Dot(k: WasmCpuKernels, rounds = 8, callsPerRound = 12): DotProbe {
  if (k.wasmFeatures === 'simd128') return { chosen: 'int16', reason: 'the SIMD128 build has no relaxed int8 dot' };
  const [m, n, kk, gs] = [64, 128, 128, 32];
  const groups = kk / gs;
  const ex = k.ex;
  const ar = k.arena;
  return ar.scoped(() => {
    const X = packI8Rows(ar, probeInt(m * kk, 255, 37), m, kk, gs, gs, 'probe', -128, 127);
    const sw = ar.putF32(new Float32Array(n * groups).fill(0.01));
    const wp = ar.alloc(ex.packedW4Size(n, gs, groups));
    const consts = ar.alloc(ex.w4ConstsSize(n, groups));
    ex.pack_w4_nib(ar.putI32(probeInt(n * kk, 15, 13)), n, kk, gs, gs, groups, sw, wp, ar.alloc(n * groups * 4), consts);
    const zx = ar.putI32(new Int32Array(m));
    const sx = ar.putF32(new Float32Array(m).fill(0.02));
    const { y, same } = routeOutputs(ar, m * n * groups);
    return timeRoutes(
      (route, raw) =>
        ex.gemm_w4a8_i8(
          X.ptr,
          X.sums,
          wp,
          m,
          n,
          groups,
          gs,
          consts,
          zx,
          1,
          sx,
          1,
          0,
          y[route],
          (raw ? FLAG_RAW : 0) | (route ? FLAG_DOT32 : 0),
          0,
        ),
      same,
      rounds,
      callsPerRound,
      `${m} × ${n} × ${kk}, g = ${gs}`,
    );
  });
}

/** True for the wasm implementation; gives vitCpu.ts the arena and the raw exports. */
export function isWasmKernels(k: CpuKernels): k is WasmCpuKernels {
  return k.impl === 'wasm-simd';
}

/** A compiled kernels module and the wasm features it uses. */
export interface KernelModule {
  module: WebAssembly.Module;
  features: WasmFeatures;
  /** why the relaxed-SIMD build is not the one loaded (SIMD128 then runs: same numbers, slower int8 and FP32 GEMMs) */
  relaxedUnavailable?: string;
}

/** Instantiates the kernels from a compiled module (a worker receives the Module by postMessage). */
export function kernelsFromModule(mod: WebAssembly.Module | KernelModule): CpuKernels {
  const m = mod instanceof WebAssembly.Module ? { module: mod, features: 'simd128' as const } : mod;
  const inst = new WebAssembly.Instance(m.module, {});
  return new WasmCpuKernels(
    inst.exports as unknown as KernelExports,
    m.features,
    'relaxedUnavailable' in m ? m.relaxedUnavailable : undefined,
  );
}

type Bytes = ArrayBuffer | Uint8Array;
let cachedModule: Promise<KernelModule> | undefined;

const isNodeRuntime = () => typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/**
 * Node 20's V8 has relaxed SIMD behind a flag (shipped from Node 22): set it before compiling, so
 * the command-line tools (eval, study, benchmarks, worker threads) run the same build as Chromium.
 * V8 flags are process-wide; a Node that rejects the flag keeps the SIMD128 build, with the reason.
 */
/** Node 20: V8's relaxed SIMD is behind a flag (process-wide); set it when `bytes` do not validate without it. */
export async function enableNodeRelaxedSimd(bytes: Bytes): Promise<void> {
  if (!isNodeRuntime() || WebAssembly.validate(bytes as BufferSource)) return;
  try {
    const v8Name = 'node:v8';
    const v8 = (await import(/* @vite-ignore */ v8Name)) as typeof import('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // not settable here: WebAssembly.compile below reports why the relaxed build does not load
  }
}

async function readWasmBytes(name: 'kernels.wasm' | 'kernels-relaxed.wasm' | 'kernels-relaxed-dot.wasm'): Promise<Bytes> {
  // literal URLs, so that Vite emits the files as assets
  const url =
    name === 'kernels.wasm'
      ? new URL('./generated/kernels.wasm', import.meta.url)
      : name === 'kernels-relaxed.wasm'
        ? new URL('./generated/kernels-relaxed.wasm', import.meta.url)
        : new URL('./generated/kernels-relaxed-dot.wasm', import.meta.url);
  if (isNodeRuntime() && url.protocol === 'file:') {
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    return fs.readFile(url);
  }
  const r = await fetch(url);
  if (!r.ok) throw new Error(`fetch ${url.pathname}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

/**
 * The compiled module (cached), for workers: the relaxed-SIMD build where the engine compiles it,
 * else the SIMD128 build. Rejects with the reason the wasm is unusable. `source` replaces the
 * SIMD128 bytes (tests) and skips the relaxed build.
 */
export function loadKernelModule(source?: () => Promise<Bytes>): Promise<KernelModule> {
  if (!source && cachedModule) return cachedModule;
  const p = (async (): Promise<KernelModule> => {
    let relaxedUnavailable = 'not tried (kernel bytes given by the caller)';
    if (!source) {
      // Node's tools: the relaxed int8 dot without FMA, so that their FP32 figures stay the SIMD128
      // build's (committed study results); browsers: FMA too
      const file = isNodeRuntime() ? 'kernels-relaxed-dot.wasm' : 'kernels-relaxed.wasm';
      let bytes: Bytes | undefined;
      try {
        bytes = await readWasmBytes(file);
      } catch (e) {
        relaxedUnavailable = `${file} not available (${(e as Error).message}); run npm run build:wasm`;
      }
      if (bytes) {
        await enableNodeRelaxedSimd(bytes);
        try {
          return {
            module: await WebAssembly.compile(bytes as BufferSource),
            features: isNodeRuntime() ? 'simd128+relaxed-dot' : 'simd128+relaxed',
          };
        } catch (e) {
          relaxedUnavailable = `this engine does not compile the relaxed-SIMD build (${(e as Error).message})`;
        }
      }
    }
    let bytes: Bytes;
    try {
      bytes = await (source ?? (() => readWasmBytes('kernels.wasm')))();
    } catch (e) {
      throw new Error(`kernels.wasm not available (${(e as Error).message}); run npm run build:wasm`);
    }
    try {
      return { module: await WebAssembly.compile(bytes as BufferSource), features: 'simd128', relaxedUnavailable };
    } catch (e) {
      throw new Error(`kernels.wasm does not compile here (${(e as Error).message}); WebAssembly SIMD128 may be unsupported`);
    }
  })();
  if (!source) {
    cachedModule = p;
    p.catch(() => (cachedModule = undefined));
  }
  return p;
}

/**
 * The CPU kernels: WebAssembly SIMD when src/cpu/generated/kernels.wasm loads and compiles, else
 * the TypeScript kernels with `fallbackReason` set. `source` overrides where the bytes come from
 * (tests use it to simulate a missing or broken file).
 */
export async function loadCpuKernels(opts: { source?: () => Promise<Bytes>; forceTypescript?: boolean } = {}): Promise<CpuKernels> {
  if (opts.forceTypescript) return makeTs('TypeScript kernels requested');
  try {
    const mod = await loadKernelModule(opts.source);
    return kernelsFromModule(mod);
  } catch (e) {
    return makeTs((e as Error).message);
  }
}

/** Integer range helpers re-exported for vitCpu.ts. */
export { intRange, storageOffset };
