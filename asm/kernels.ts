// Fast CPU kernels of the engine (issue 7): WebAssembly SIMD128, compiled by tools/cli/buildWasm.mjs
// (asc -O3 --enable simd --runtime stub) into src/cpu/generated/kernels.wasm.
//
// No managed objects: every kernel takes raw byte addresses into linear memory. The TypeScript side
// (src/cpu/cpuKernels.ts) owns all memory above heapBase() with a bump allocator, so the module has no
// allocator, no GC and no imports. Semantics mirror the TypeScript references bit for bit where the
// reference is integer or float32-emulated (src/kernels/*.ref.ts, src/quant/*), and use float64 where
// the reference computes in JS doubles (LayerNorm, softmax, statistics) so that they match too.

// ------------------------------------------------------------------------------------------------
// Memory

export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

// 128 bytes of scratch for spilling a register tile before a scalar epilogue.
const SCRATCH: usize = memory.data(256, 16);

@inline function minI(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** A 4-row × 8-channel register tile to memory: row r, half h (channels 4h..4h+3) at p + (2r + h)·16. */
@inline function storeTile(p: usize, c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128): void {
  v128.store(p, c00);
  v128.store(p, c01, 16);
  v128.store(p, c10, 32);
  v128.store(p, c11, 48);
  v128.store(p, c20, 64);
  v128.store(p, c21, 80);
  v128.store(p, c30, 96);
  v128.store(p, c31, 112);
}

// ------------------------------------------------------------------------------------------------
// Epilogues

const FLAG_GELU: i32 = 1;
const FLAG_RESIDUAL: i32 = 2;
const FLAG_RAW: i32 = 4;
/** gemm_w4a8_i8: the int8 dot straight into int32 lanes (w4a8Tiles' dot32); ignored in the SIMD128 build */
const FLAG_DOT32: i32 = 8;

const GELU_C: f32 = 0.7978845608028654; // sqrt(2/π)

/**
 * e^x for 4 float32 lanes (Cephes expf: Cody–Waite reduction, degree-6 polynomial, ~1 ulp);
 * x clamped to [−87.34, 88.72] so that the result saturates to +∞ / 2^−126 instead of wrapping.
 */
@inline function exp4(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.33654)), f32x4.splat(88.72283));
  const fx = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375)));
  r = f32x4.add(r, f32x4.mul(fx, f32x4.splat(2.12194440e-4)));
  const r2 = f32x4.mul(r, r);
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(y, r2), r), f32x4.splat(1));
  const pow2 = i32x4.shl(i32x4.add(toInt4(fx), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2);
}

/** tanh-GELU, 4 lanes: 0.5·x·(1 + tanh(u)) = x·σ(2u) = x / (1 + e^{−2u}); saturates cleanly at ±∞. */
@inline function gelu4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const u = f32x4.mul(f32x4.splat(GELU_C), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), x3)));
  return f32x4.div(x, f32x4.add(f32x4.splat(1), exp4(f32x4.mul(u, f32x4.splat(-2)))));
}

/** Scalar GELU through the vector code, so a value's GELU never depends on its tile position. */
@inline function geluF32(x: f32): f32 {
  return f32x4.extract_lane(gelu4(f32x4.splat(x)), 0);
}

export function gelu(x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, gelu4(v128.load(p)));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, geluF32(load<f32>(p)));
  }
}

// ------------------------------------------------------------------------------------------------
// FP32 GEMM: Y[m×n] = X[m×k]·W[n×k]ᵀ + b, W packed into panels of 8 output channels
// (panel p, step kk: 8 consecutive floats W[8p..8p+7, kk]; channels ≥ n are zero).
// Register tile: 4 rows × 8 channels = 8 f32x4 accumulators; X is broadcast one scalar at a time.

/** Floats needed by pack_b_f32's output. */
export function packedF32Size(n: i32, k: i32): i32 {
  return ((n + 7) >> 3) * k * 8;
}

export function pack_b_f32(w: usize, n: i32, k: i32, dst: usize): void {
  const panels = (n + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const base = dst + (<usize>(p * k * 8) << 2);
    for (let j = 0; j < 8; j++) {
      const col = p * 8 + j;
      if (col < n) {
        const src = w + (<usize>(col * k) << 2);
        for (let kk = 0; kk < k; kk++) store<f32>(base + (<usize>(kk * 8 + j) << 2), load<f32>(src + (<usize>kk << 2)));
      } else {
        for (let kk = 0; kk < k; kk++) store<f32>(base + (<usize>(kk * 8 + j) << 2), 0);
      }
    }
  }
}

/** pack_b_f32 from W stored transposed, [k×n]: a panel's step kk is 8 consecutive floats of row kk. */
export function pack_b_f32_kn(w: usize, n: i32, k: i32, dst: usize): void {
  const panels = (n + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const base = dst + (<usize>(p * k * 8) << 2);
    const c0 = p * 8;
    if (c0 + 8 <= n) {
      for (let kk = 0; kk < k; kk++) {
        const s = w + (<usize>(kk * n + c0) << 2);
        const d = base + (<usize>(kk * 8) << 2);
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
      }
    } else {
      for (let kk = 0; kk < k; kk++)
        for (let j = 0; j < 8; j++) store<f32>(base + (<usize>(kk * 8 + j) << 2), c0 + j < n ? load<f32>(w + (<usize>(kk * n + c0 + j) << 2)) : 0);
    }
  }
}

const M_BLOCK: i32 = 64;

// QP_FMA (asc --use QP_FMA=0|1, tools/cli/buildWasm.mjs): 0 in kernels-relaxed-dot.wasm, the build
// Node's command-line tools load — relaxed int8 dot, no FMA, so their FP32 figures stay those of the
// SIMD128 build (committed study results) while the integer GEMMs run at the relaxed build's speed.

/** c + a·b: one fused multiply-add in the relaxed-SIMD build (kernels-relaxed.wasm), else mul then add. */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && QP_FMA) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * flags: 1 = tanh-GELU after the bias, 2 = add residual res[m×n] last (y = res + (acc + b)).
 * bias and res may be 0 (absent).
 */
export function gemm_f32(x: usize, wp: usize, bias: usize, y: usize, m: i32, n: i32, k: i32, flags: i32, res: usize): void {
  const panels = (n + 7) >> 3;
  const rowBytes = <usize>k << 2;
  for (let mb = 0; mb < m; mb += M_BLOCK) {
    const me = minI(m, mb + M_BLOCK);
    for (let p = 0; p < panels; p++) {
      const bp0 = wp + (<usize>(p * k * 8) << 2);
      const j0 = p * 8;
      for (let i0 = mb; i0 < me; i0 += 4) {
        // rows past m repeat the last row: computed, never stored (no padding of X needed)
        const x0 = x + <usize>i0 * rowBytes;
        const x1 = x + <usize>minI(i0 + 1, m - 1) * rowBytes;
        const x2 = x + <usize>minI(i0 + 2, m - 1) * rowBytes;
        const x3 = x + <usize>minI(i0 + 3, m - 1) * rowBytes;
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
        let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
        let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let bp = bp0;
        for (let kk = 0; kk < k; kk++) {
          const off = <usize>kk << 2;
          const b0 = v128.load(bp);
          const b1 = v128.load(bp, 16);
          bp += 32;
          let a = v128.load32_splat(x0 + off);
          c00 = madd(a, b0, c00);
          c01 = madd(a, b1, c01);
          a = v128.load32_splat(x1 + off);
          c10 = madd(a, b0, c10);
          c11 = madd(a, b1, c11);
          a = v128.load32_splat(x2 + off);
          c20 = madd(a, b0, c20);
          c21 = madd(a, b1, c21);
          a = v128.load32_splat(x3 + off);
          c30 = madd(a, b0, c30);
          c31 = madd(a, b1, c31);
        }
        const rows = minI(4, m - i0);
        const cols = minI(8, n - j0);
        if (rows == 4 && cols == 8) {
          // vector epilogue: bias as two vectors
          let bv0 = f32x4.splat(0), bv1 = f32x4.splat(0);
          if (bias) {
            bv0 = v128.load(bias + (<usize>j0 << 2));
            bv1 = v128.load(bias + (<usize>j0 << 2), 16);
          }
          const ob = <usize>(i0 * n + j0) << 2;
          const ys = <usize>n << 2;
          if (flags == 0) {
            const yr = y + ob;
            v128.store(yr, f32x4.add(c00, bv0));
            v128.store(yr, f32x4.add(c01, bv1), 16);
            v128.store(yr + ys, f32x4.add(c10, bv0));
            v128.store(yr + ys, f32x4.add(c11, bv1), 16);
            v128.store(yr + 2 * ys, f32x4.add(c20, bv0));
            v128.store(yr + 2 * ys, f32x4.add(c21, bv1), 16);
            v128.store(yr + 3 * ys, f32x4.add(c30, bv0));
            v128.store(yr + 3 * ys, f32x4.add(c31, bv1), 16);
          } else {
            storeRow(y + ob, f32x4.add(c00, bv0), 4, flags, res + ob);
            storeRow(y + ob + 16, f32x4.add(c01, bv1), 4, flags, res + ob + 16);
            storeRow(y + ob + ys, f32x4.add(c10, bv0), 4, flags, res + ob + ys);
            storeRow(y + ob + ys + 16, f32x4.add(c11, bv1), 4, flags, res + ob + ys + 16);
            storeRow(y + ob + 2 * ys, f32x4.add(c20, bv0), 4, flags, res + ob + 2 * ys);
            storeRow(y + ob + 2 * ys + 16, f32x4.add(c21, bv1), 4, flags, res + ob + 2 * ys + 16);
            storeRow(y + ob + 3 * ys, f32x4.add(c30, bv0), 4, flags, res + ob + 3 * ys);
            storeRow(y + ob + 3 * ys + 16, f32x4.add(c31, bv1), 4, flags, res + ob + 3 * ys + 16);
          }
          continue;
        }
        storeTile(SCRATCH, c00, c01, c10, c11, c20, c21, c30, c31);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            let v = load<f32>(SCRATCH + (<usize>(r * 8 + c) << 2));
            if (bias) v += load<f32>(bias + (<usize>(j0 + c) << 2));
            if (flags & FLAG_GELU) v = geluF32(v);
            const o = <usize>((i0 + r) * n + j0 + c) << 2;
            if (flags & FLAG_RESIDUAL) v = load<f32>(res + o) + v;
            store<f32>(y + o, v);
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Integer operands: int16 rows, each group of `groupSize` columns padded to gp (a multiple of 8)
// with zeros, rows padded with zero rows up to rowsP. A whole-K operand is one group (gp ≥ k).
// The products are exact in int32 (|q| ≤ 255 after the storage offset, so |q·q'| < 2^16 and a
// dot_i16x8 pair sum stays < 2^17).

/**
 * src: int32 storage values rows×k (already q − offset); dst: int16 rowsP × groups·gp;
 * sums: int32 per row and group (Σ of the row's values in the group), rows×groups; may be 0.
 */
export function pack_i16(src: usize, rows: i32, k: i32, groupSize: i32, gp: i32, groups: i32, rowsP: i32, offset: i32, dst: usize, sums: usize): void {
  const kp = groups * gp;
  for (let r = 0; r < rowsP; r++) {
    const d = dst + (<usize>(r * kp) << 1);
    for (let g = 0; g < groups; g++) {
      let s: i32 = 0;
      const c0 = g * groupSize;
      const len = r < rows ? minI(groupSize, k - c0) : 0;
      const dg = d + (<usize>(g * gp) << 1);
      for (let c = 0; c < len; c++) {
        const v = load<i32>(src + (<usize>(r * k + c0 + c) << 2)) - offset;
        s += v;
        store<i16>(dg + (<usize>c << 1), <i16>v);
      }
      for (let c = len; c < gp; c++) store<i16>(dg + (<usize>c << 1), 0);
      if (sums && r < rows) store<i32>(sums + (<usize>(r * groups + g) << 2), s);
    }
  }
}

/** Same as unpack_int4 to plain int32 values rows×k (the pack.ts reference's output). */
export function unpack_int4_i32(words: usize, rows: i32, k: i32, dst: usize): void {
  const wpr = (k + 7) >> 3;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < k; c++) {
      const w = load<u32>(words + (<usize>(r * wpr + (c >> 3)) << 2));
      store<i32>(dst + (<usize>(r * k + c) << 2), (<i32>(w >>> (<u32>(c & 7) * 4)) << 28) >> 28);
    }
}

/**
 * f32(f64(a)·f64(b)) lane-wise for int32 a and float32 b (the reference's JS-double product).
 * When every |a| < 2^24, f32(a) is exact and one float32 multiply rounds the same product once.
 */
@inline function mulI32F32(a: v128, b: v128): v128 {
  if (i32x4.all_true(i32x4.lt_u(i32x4.add(a, i32x4.splat(0x1000000)), i32x4.splat(0x2000000)))) return f32x4.mul(f32x4.convert_i32x4_s(a), b);
  const lo = f64x2.mul(f64x2.convert_low_i32x4_s(a), f64x2.promote_low_f32x4(b));
  const hi = f64x2.mul(f64x2.convert_low_i32x4_s(i32x4.shuffle(a, a, 2, 3, 0, 1)), f64x2.promote_low_f32x4(i32x4.shuffle(b, b, 2, 3, 0, 1)));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** Writes the 4 lanes of one output row segment: vector store when whole, else lane by lane. */
@inline function storeRow(y: usize, v: v128, cols: i32, flags: i32, res: usize): void {
  if (flags & FLAG_GELU) v = gelu4(v);
  if (cols == 4) {
    if (flags & FLAG_RESIDUAL) v = f32x4.add(v128.load(res), v);
    v128.store(y, v);
    return;
  }
  v128.store(SCRATCH, v, 64);
  for (let c = 0; c < cols; c++) {
    let s = load<f32>(SCRATCH + 64 + (<usize>c << 2));
    if (flags & FLAG_RESIDUAL) s = load<f32>(res + (<usize>c << 2)) + s;
    store<f32>(y + (<usize>c << 2), s);
  }
}

/**
 * Weight operand of gemm_w8a8: int16 rows [n × kp] (pack_i16 / quantize_i16 layout) into panels of
 * 8 channels, each k pair's 8 channels side by side: dst[p][t] = (w[8p+c][2t], w[8p+c][2t+1]) for
 * c = 0..7 — two int16x8 vectors per pair, so one dot_i16x8 gives 4 channels' sums in their own
 * lanes (no horizontal sums). Channels past n are zero. kp even (a multiple of 8 here).
 */
export function panel_i16(src: usize, n: i32, kp: i32, dst: usize): void {
  const pairs = kp >> 1;
  const panels = (n + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const d = dst + (<usize>(p * pairs) << 5);
    for (let c = 0; c < 8; c++) {
      const ch = p * 8 + c;
      const dc = d + (<usize>c << 2);
      if (ch >= n) {
        for (let t = 0; t < pairs; t++) store<u32>(dc + (<usize>t << 5), 0);
        continue;
      }
      const s = src + (<usize>(ch * kp) << 1);
      for (let t = 0; t < pairs; t++) store<u32>(dc + (<usize>t << 5), load<u32>(s + (<usize>t << 2)));
    }
  }
}

/** Bytes of panel_i16's output for n channels of kp values. */
export function panelI16Size(n: i32, kp: i32): i32 {
  return ((n + 7) >> 3) * kp * 16;
}

/**
 * W8A8: xp [m × kp] int16 rows, centred (x − zx: quantize_i16, or pack_i16 of centred values) and
 * wp the same for W [n × kp] (w − zw) through panel_i16, every element in [−255, 255] (8-bit
 * storage values less their zero point), so acc = Σ(x − zx)(w − zw) is the
 * zero-point-corrected accumulator itself (int32, wrapping like the reference's Int32Array store);
 * scales with stride 0 (per tensor) or 1 (per row / channel). flags: 4 = raw mode (y receives acc as
 * int32), else y = f32(f64(acc)·sx)·sw + b, then GELU (1) and residual (2).
 * A 4-row × 8-channel tile: per k pair, two weight vectors and one 32-bit splat of each row's pair
 * feed 8 dot_i16x8 (the FP32 kernel's shape, 2 products per lane). Rows past m repeat the last row
 * (computed, never stored). Per-channel arrays (sw, bias) are read 4 at a time.
 */
export function gemm_w8a8(
  xp: usize, wp: usize, m: i32, n: i32, kp: i32, sx: usize, sxStride: i32, sw: usize, swStride: i32,
  bias: usize, y: usize, flags: i32, res: usize,
): void {
  const pairs = kp >> 1;
  const rb = <usize>kp << 1;
  const panels = (n + 7) >> 3;
  const T: usize = SCRATCH + 128; // the tile's sums: row r, half h at (2r + h)·16
  // |acc| ≤ 255²·kp < 2^24: every accumulator is exact in float32, and one float32 multiply rounds
  // f64(acc)·sx once, as the reference does (else mulI32F32 checks each vector)
  const exactF32 = kp <= 258;
  for (let mb = 0; mb < m; mb += M_BLOCK) {
    const me = minI(m, mb + M_BLOCK);
    for (let p = 0; p < panels; p++) {
      const bp0 = wp + (<usize>(p * pairs) << 5);
      const j0 = p * 8;
      // the second half of the panel exists unless n ends in its first half
      const halves = j0 + 4 < n ? 2 : 1;
      const jo = <usize>j0 << 2;
      const swv0 = swStride ? v128.load(sw + jo) : v128.load32_splat(sw);
      const swv1 = swStride && halves == 2 ? v128.load(sw + jo, 16) : swv0;
      const bv0 = bias ? v128.load(bias + jo) : f32x4.splat(0);
      const bv1 = bias && halves == 2 ? v128.load(bias + jo, 16) : f32x4.splat(0);
      for (let i0 = mb; i0 < me; i0 += 4) {
        const x0 = xp + <usize>i0 * rb;
        const x1 = xp + <usize>minI(i0 + 1, m - 1) * rb;
        const x2 = xp + <usize>minI(i0 + 2, m - 1) * rb;
        const x3 = xp + <usize>minI(i0 + 3, m - 1) * rb;
        let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
        let c10 = i32x4.splat(0), c11 = i32x4.splat(0);
        let c20 = i32x4.splat(0), c21 = i32x4.splat(0);
        let c30 = i32x4.splat(0), c31 = i32x4.splat(0);
        let bp = bp0;
        for (let t = 0; t < pairs; t++) {
          const off = <usize>t << 2;
          const b0 = v128.load(bp);
          const b1 = v128.load(bp, 16);
          bp += 32;
          let a = v128.load32_splat(x0 + off);
          c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a, b0));
          c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a, b1));
          a = v128.load32_splat(x1 + off);
          c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a, b0));
          c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a, b1));
          a = v128.load32_splat(x2 + off);
          c20 = i32x4.add(c20, i32x4.dot_i16x8_s(a, b0));
          c21 = i32x4.add(c21, i32x4.dot_i16x8_s(a, b1));
          a = v128.load32_splat(x3 + off);
          c30 = i32x4.add(c30, i32x4.dot_i16x8_s(a, b0));
          c31 = i32x4.add(c31, i32x4.dot_i16x8_s(a, b1));
        }
        storeTile(T, c00, c01, c10, c11, c20, c21, c30, c31);
        w8a8Store(T, i0, m, n, j0, halves, sx, sxStride, swv0, swv1, bv0, bv1, exactF32, y, flags, res);
      }
    }
  }
}

/**
 * The W8A8 kernels' epilogue for one 4-row × 8-channel tile whose corrected sums are at T (row r,
 * half h at (2r + h)·16): raw int32, or y = f32(f64(acc)·sx)·sw + b (one float32 multiply when
 * `exactF32`: |acc| < 2^24), then GELU / residual.
 */
@inline function w8a8Store(
  T: usize, i0: i32, m: i32, n: i32, j0: i32, halves: i32, sx: usize, sxStride: i32,
  swv0: v128, swv1: v128, bv0: v128, bv1: v128, exactF32: bool, y: usize, flags: i32, res: usize,
): void {
  const cols0 = minI(4, n - j0);
  const cols1 = minI(4, n - j0 - 4);
  const rows = minI(4, m - i0);
  for (let r = 0; r < rows; r++) {
    const i = i0 + r;
    const o = <usize>(i * n + j0) << 2;
    const acc0 = v128.load(T + (<usize>r << 5));
    const acc1 = v128.load(T + (<usize>r << 5), 16);
    if (flags & FLAG_RAW) {
      storeRowI32(y + o, acc0, cols0);
      if (halves == 2) storeRowI32(y + o + 16, acc1, cols1);
      continue;
    }
    const sxv = v128.load32_splat(sx + (<usize>(i * sxStride) << 2));
    let v0: v128, v1: v128;
    if (exactF32) {
      v0 = f32x4.mul(f32x4.convert_i32x4_s(acc0), sxv);
      v1 = f32x4.mul(f32x4.convert_i32x4_s(acc1), sxv);
    } else {
      v0 = mulI32F32(acc0, sxv);
      v1 = mulI32F32(acc1, sxv);
    }
    storeRow(y + o, f32x4.add(f32x4.mul(v0, swv0), bv0), cols0, flags, res + o);
    if (halves == 2) storeRow(y + o + 16, f32x4.add(f32x4.mul(v1, swv1), bv1), cols1, flags, res + o + 16);
  }
}

/**
 * W8A8 on the int32 dot (the route of W4A8's dot32, for 8-bit weights): the relaxed dot is exact
 * only for a 7-bit operand, so an 8-bit storage weight w ∈ [−128, 127] is split, w + 128 = 16·h + l
 * with h, l ∈ [0, 15], and each product takes two dots: Σx·w = 16·Σx·h + Σx·l − 128·Σx. Worth it
 * only where the dot is one instruction (8 products an instruction against FMA's 4); the caller
 * measures (cpuKernels.ts probeW8A8Dot).
 * xp: int8 storage rows [rowsP × kp] (quantize_i16 with i8out, one group of kp; rowsP ≥
 * roundUp(m, 4): the tile reads rows four at a time), xsum[m] = Σ x, zx storage zero points
 * (stride 0 or 1). wh, wl: the h and l planes (pack_w4_nib's layout, one group of kp, values
 * h − 8, l − 8). wc [roundUp(n, 8) × 2] int32: 128 + zw per channel, then Σw − k·zw per channel
 * (second half). acc' = 16·A + B − (128 + zw)·Σx − zx·(Σw − k·zw) = Σ(x − zx)(w − zw) in wrapping
 * int32 (every step is ring arithmetic: the reference's Int32Array store), then gemm_w8a8's epilogue.
 */
export function gemm_w8a8_dot(
  xp: usize, xsum: usize, wh: usize, wl: usize, wc: usize, m: i32, n: i32, kp: i32,
  zx: usize, zxStride: i32, sx: usize, sxStride: i32, sw: usize, swStride: i32,
  bias: usize, y: usize, flags: i32, res: usize,
): void {
  const chunks = kp >> 3;
  const rb = <usize>kp;
  const panels = (n + 7) >> 3;
  const np = <usize>(panels * 8) << 2;
  const nib = i8x16.splat(15);
  const T: usize = SCRATCH + 128;
  const exactF32 = kp <= 258;
  for (let mb = 0; mb < m; mb += M_BLOCK) {
    const me = minI(m, mb + M_BLOCK);
    for (let p = 0; p < panels; p++) {
      const j0 = p * 8;
      const halves = j0 + 4 < n ? 2 : 1;
      const jo = <usize>j0 << 2;
      const swv0 = swStride ? v128.load(sw + jo) : v128.load32_splat(sw);
      const swv1 = swStride && halves == 2 ? v128.load(sw + jo, 16) : swv0;
      const bv0 = bias ? v128.load(bias + jo) : f32x4.splat(0);
      const bv1 = bias && halves == 2 ? v128.load(bias + jo, 16) : f32x4.splat(0);
      const q0 = v128.load(wc + jo);
      const q1 = v128.load(wc + jo, 16);
      const s0 = v128.load(wc + np + jo);
      const s1 = v128.load(wc + np + jo, 16);
      const panelOff = <usize>(p * chunks) << 5;
      for (let i0 = mb; i0 < me; i0 += 4) {
        const x0 = xp + <usize>i0 * rb;
        const x1 = x0 + rb;
        const x2 = x1 + rb;
        const x3 = x2 + rb;
        let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
        let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
        // the h plane, then ×16, then the l plane into the same sums
        for (let plane = 0; plane < 2; plane++) {
          let wq = (plane == 0 ? wh : wl) + panelOff;
          if (plane == 1) {
            c00 = i32x4.shl(c00, 4);
            c01 = i32x4.shl(c01, 4);
            c10 = i32x4.shl(c10, 4);
            c11 = i32x4.shl(c11, 4);
            c20 = i32x4.shl(c20, 4);
            c21 = i32x4.shl(c21, 4);
            c30 = i32x4.shl(c30, 4);
            c31 = i32x4.shl(c31, 4);
          }
          for (let u = 0; u < chunks; u++) {
            const xo = <usize>u << 3;
            const p0 = v128.load(wq);
            const p1 = v128.load(wq, 16);
            wq += 32;
            for (let half = 0; half < 2; half++) {
              const w0 = half == 0 ? v128.and(p0, nib) : v128.and(i16x8.shr_u(p0, 4), nib);
              const w1 = half == 0 ? v128.and(p1, nib) : v128.and(i16x8.shr_u(p1, 4), nib);
              const xh = xo + (<usize>half << 2);
              let xa = v128.load32_splat(x0 + xh);
              c00 = dot32add(xa, w0, c00);
              c01 = dot32add(xa, w1, c01);
              xa = v128.load32_splat(x1 + xh);
              c10 = dot32add(xa, w0, c10);
              c11 = dot32add(xa, w1, c11);
              xa = v128.load32_splat(x2 + xh);
              c20 = dot32add(xa, w0, c20);
              c21 = dot32add(xa, w1, c21);
              xa = v128.load32_splat(x3 + xh);
              c30 = dot32add(xa, w0, c30);
              c31 = dot32add(xa, w1, c31);
            }
          }
        }
        // rows past m read the zero padding rows: their sums are never stored
        const iL = minI(i0 + 3, m - 1);
        let xs = v128.load32_splat(xsum + (<usize>i0 << 2));
        let z = i32x4.splat(zx ? load<i32>(zx + (<usize>(i0 * zxStride) << 2)) : 0);
        c00 = i32x4.sub(i32x4.sub(c00, i32x4.mul(q0, xs)), i32x4.mul(z, s0));
        c01 = i32x4.sub(i32x4.sub(c01, i32x4.mul(q1, xs)), i32x4.mul(z, s1));
        const i1 = minI(i0 + 1, iL);
        xs = v128.load32_splat(xsum + (<usize>i1 << 2));
        z = i32x4.splat(zx ? load<i32>(zx + (<usize>(i1 * zxStride) << 2)) : 0);
        c10 = i32x4.sub(i32x4.sub(c10, i32x4.mul(q0, xs)), i32x4.mul(z, s0));
        c11 = i32x4.sub(i32x4.sub(c11, i32x4.mul(q1, xs)), i32x4.mul(z, s1));
        const i2 = minI(i0 + 2, iL);
        xs = v128.load32_splat(xsum + (<usize>i2 << 2));
        z = i32x4.splat(zx ? load<i32>(zx + (<usize>(i2 * zxStride) << 2)) : 0);
        c20 = i32x4.sub(i32x4.sub(c20, i32x4.mul(q0, xs)), i32x4.mul(z, s0));
        c21 = i32x4.sub(i32x4.sub(c21, i32x4.mul(q1, xs)), i32x4.mul(z, s1));
        xs = v128.load32_splat(xsum + (<usize>iL << 2));
        z = i32x4.splat(zx ? load<i32>(zx + (<usize>(iL * zxStride) << 2)) : 0);
        c30 = i32x4.sub(i32x4.sub(c30, i32x4.mul(q0, xs)), i32x4.mul(z, s0));
        c31 = i32x4.sub(i32x4.sub(c31, i32x4.mul(q1, xs)), i32x4.mul(z, s1));
        storeTile(T, c00, c01, c10, c11, c20, c21, c30, c31);
        w8a8Store(T, i0, m, n, j0, halves, sx, sxStride, swv0, swv1, bv0, bv1, exactF32, y, flags, res);
      }
    }
  }
}

/** Writes the 4 int32 lanes of one raw output row segment: vector store when whole, else lane by lane. */
@inline function storeRowI32(y: usize, v: v128, cols: i32): void {
  if (cols == 4) {
    v128.store(y, v);
    return;
  }
  v128.store(SCRATCH, v, 64);
  for (let c = 0; c < cols; c++) store<i32>(y + (<usize>c << 2), load<i32>(SCRATCH + 64 + (<usize>c << 2)));
}

/** Transposes an [rows × cols] int32/f32 matrix into [cols × colsP] (zero padding), 4-byte elements. */
export function transpose32(src: usize, rows: i32, cols: i32, dst: usize, rowsP: i32): void {
  // 16×16 tiles: both the rows read and the rows written stay in cache within a tile
  for (let r0 = 0; r0 < rowsP; r0 += 16) {
    const r1 = minI(r0 + 16, rowsP);
    for (let c0 = 0; c0 < cols; c0 += 16) {
      const c1 = minI(c0 + 16, cols);
      for (let r = r0; r < r1; r++)
        for (let c = c0; c < c1; c++) store<u32>(dst + (<usize>(c * rowsP + r) << 2), r < rows ? load<u32>(src + (<usize>(r * cols + c) << 2)) : 0);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Quantization (src/quant/scaleZero.ts + quantizeMatrix.ts, float32 arithmetic, bit-exact)

let gScale: f32 = 1;
let gZero: i32 = 0;

/** 0 ok; 2 = the asymmetric scale overflows float32 (reference throws). */
function scaleZero(lo: f32, hi: f32, qmin: i32, qmax: i32, symmetric: bool): i32 {
  if (symmetric) {
    const absmax = Mathf.max(Mathf.abs(lo), Mathf.abs(hi));
    const s = absmax / <f32>qmax;
    gScale = s == 0 ? 1 : s;
    gZero = 0;
    return 0;
  }
  const l = Mathf.min(lo, 0);
  const h = Mathf.max(hi, 0);
  let s: f32 = (h - l) / <f32>(qmax - qmin);
  if (!isFinite<f32>(s)) return 2;
  if (s == 0) s = 1;
  let z = <i32>nearest<f32>(<f32>qmin - l / s);
  if (z < qmin) z = qmin;
  if (z > qmax) z = qmax;
  gScale = s;
  gZero = z;
  return 0;
}

/**
 * gran: 0 tensor, 1 row, 2 group. fixed != 0: use (fixScale, fixZero) for every group (static clip,
 * computed by the caller with the reference scaleZero). Writes q (int32, unsigned for asymmetric),
 * scales, zeros (one per group, or one for the tensor); deq (optional) receives s·(q − z).
 * Returns 0, 1 (NaN/Inf input: index in the global lastIndex) or 2 (scale overflow).
 */
let lastIndex: i32 = -1;
export function quantErrorIndex(): i32 {
  return lastIndex;
}

export function quantize(
  x: usize, rows: i32, cols: i32, gran: i32, groupSize: i32, bits: i32, symmetric: bool,
  fixed: bool, fixScale: f32, fixZero: i32, q: usize, scales: usize, zeros: usize, deq: usize,
): i32 {
  const total = rows * cols;
  // NaN/Inf first (the reference validates everything before any range): min/max passes track it,
  // a fixed range has no min/max pass
  if (fixed || total == 0) {
    if (!finiteRun(x, total)) return firstNonFinite(x, total);
  } else if (gran == 0) {
    minMax(x, 0, total);
    if (gBad) return firstNonFinite(x, total);
  } else if (!finiteRun(x, total)) return firstNonFinite(x, total);
  let qmin: i32, qmax: i32;
  if (symmetric) {
    qmax = (1 << (bits - 1)) - 1;
    qmin = -qmax;
  } else {
    qmin = 0;
    qmax = (1 << bits) - 1;
  }
  const gs = gran == 2 ? groupSize : cols;
  const gpr = gran == 0 ? 1 : (cols + gs - 1) / gs;
  if (gran == 0) {
    let lo: f32 = 0, hi: f32 = 0;
    if (total > 0 && !fixed) {
      lo = gLo; // from the check above
      hi = gHi;
    }
    if (fixed) {
      gScale = fixScale;
      gZero = fixZero;
    } else if (scaleZero(lo, hi, qmin, qmax, symmetric)) return 2;
    store<f32>(scales, gScale);
    store<i32>(zeros, gZero);
    quantRun(x, 0, total, gScale, gZero, qmin, qmax, q, deq);
    return 0;
  }
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < gpr; g++) {
      const c0 = g * gs;
      const c1 = minI(cols, c0 + gs);
      const b = r * cols;
      if (fixed) {
        gScale = fixScale;
        gZero = fixZero;
      } else {
        minMax(x, b + c0, b + c1);
        if (scaleZero(gLo, gHi, qmin, qmax, symmetric)) return 2;
      }
      const gi = <usize>(r * gpr + g) << 2;
      store<f32>(scales + gi, gScale);
      store<i32>(zeros + gi, gZero);
      quantRun(x, b + c0, b + c1, gScale, gZero, qmin, qmax, q, deq);
    }
  }
  return 0;
}

let gLo: f32 = 0;
let gHi: f32 = 0;
let gBad = false;
// min and max of x[i0..i1): pmin/pmax (one minps/maxps each) keep the first of equal values, as the
// reference scan does
@inline function minMax(x: usize, i0: i32, i1: i32): void {
  let lov = f32x4.splat(Infinity);
  let hiv = f32x4.splat(-Infinity);
  let chk = f32x4.splat(0);
  let i = i0;
  if (i + 16 <= i1) {
    // four independent chains: one min / max / add chain waits on its float latency (4 cycles) every
    // 4 values; four of them keep the vector units busy
    let lo1 = lov, lo2 = lov, lo3 = lov;
    let hi1 = hiv, hi2 = hiv, hi3 = hiv;
    let ck1 = chk, ck2 = chk, ck3 = chk;
    for (; i + 16 <= i1; i += 16) {
      const p = x + (<usize>i << 2);
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      const v2 = v128.load(p, 32);
      const v3 = v128.load(p, 48);
      lov = f32x4.pmin(lov, v0);
      lo1 = f32x4.pmin(lo1, v1);
      lo2 = f32x4.pmin(lo2, v2);
      lo3 = f32x4.pmin(lo3, v3);
      hiv = f32x4.pmax(hiv, v0);
      hi1 = f32x4.pmax(hi1, v1);
      hi2 = f32x4.pmax(hi2, v2);
      hi3 = f32x4.pmax(hi3, v3);
      chk = f32x4.add(chk, f32x4.sub(v0, v0));
      ck1 = f32x4.add(ck1, f32x4.sub(v1, v1));
      ck2 = f32x4.add(ck2, f32x4.sub(v2, v2));
      ck3 = f32x4.add(ck3, f32x4.sub(v3, v3));
    }
    lov = f32x4.pmin(f32x4.pmin(lov, lo1), f32x4.pmin(lo2, lo3));
    hiv = f32x4.pmax(f32x4.pmax(hiv, hi1), f32x4.pmax(hi2, hi3));
    chk = f32x4.add(f32x4.add(chk, ck1), f32x4.add(ck2, ck3));
  }
  for (; i + 4 <= i1; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    lov = f32x4.pmin(lov, v);
    hiv = f32x4.pmax(hiv, v);
    chk = f32x4.add(chk, f32x4.sub(v, v));
  }
  // chk: 0 where every value was finite, NaN where one was not (x − x, summed)
  let bad = v128.any_true(f32x4.ne(chk, f32x4.splat(0)));
  // lanes folded with pmin / pmax (wasm's scalar f32.min / max handle NaN and −0 in several
  // instructions each; here no NaN is left to handle, and ±0 give the same scale and zero point)
  lov = f32x4.pmin(lov, v128.shuffle<f32>(lov, lov, 2, 3, 0, 1));
  lov = f32x4.pmin(lov, v128.shuffle<f32>(lov, lov, 1, 0, 3, 2));
  hiv = f32x4.pmax(hiv, v128.shuffle<f32>(hiv, hiv, 2, 3, 0, 1));
  hiv = f32x4.pmax(hiv, v128.shuffle<f32>(hiv, hiv, 1, 0, 3, 2));
  let lo = f32x4.extract_lane(lov, 0);
  let hi = f32x4.extract_lane(hiv, 0);
  for (; i < i1; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (!isFinite<f32>(v)) bad = true;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  gLo = lo;
  gHi = hi;
  gBad = bad;
}

const MAGIC: f32 = 12582912.0; // 1.5·2^23: adding it leaves an integer-valued |v| < 2^22 in the low mantissa bits
/** Integer-valued float32 lanes (|v| < 2^22) to int32, cheaper than trunc_sat (several instructions on x64). */
@inline function toInt4(v: v128): v128 {
  return i32x4.sub(f32x4.add(v, f32x4.splat(MAGIC)), i32x4.splat(0x4b400000));
}

/**
 * Activation operand of the integer GEMMs in one pass: quantizes x [rows × k] and writes the group
 * layout of pack_i16 directly (zero padded to gp per group and to rowsP rows), the per-row-group sums
 * of the values written, and per-row scale sx and zero point zx. int8 elements (i8out, the W4A8
 * kernel) hold q − off and zx = z − off (the storage offset: they must fit 8 bits); int16 elements
 * (gemm_w8a8) are centred, q − z (|q − z| ≤ 255 fits), with zx = 0: the zero point is folded into
 * the values, so the GEMM's epilogue has no zero-point terms.
 * mode 0: one range per `perImage` rows (a per-tensor range covers one image), 1: one per row,
 * 2: fixed (fixScale, fixZero). Returns 0, 1 (NaN/Inf: index in quantErrorIndex) or 2 (overflow);
 * NaN/Inf wins over overflow, as in the reference (which validates all input first).
 */
export function quantize_i16(
  x: usize, rows: i32, k: i32, perImage: i32, mode: i32, bits: i32, symmetric: bool, fixScale: f32, fixZero: i32,
  gs: i32, gp: i32, groups: i32, rowsP: i32, off: i32, dst: usize, sums: usize, sx: usize, zx: usize, i8out: bool,
): i32 {
  const eb: i32 = i8out ? 0 : 1; // log2 of the element size: int8 (the i8 GEMMs) or int16
  let qmin: i32, qmax: i32;
  if (symmetric) {
    qmax = (1 << (bits - 1)) - 1;
    qmin = -qmax;
  } else {
    qmin = 0;
    qmax = (1 << bits) - 1;
  }
  const kp = groups * gp;
  const span = mode == 0 ? perImage : 1;
  let overflow = false;
  if (mode == 2) {
    gScale = fixScale;
    gZero = fixZero;
  }
  for (let r0 = 0; r0 < rows; r0 += span) {
    const r1 = minI(rows, r0 + span);
    const xs = x + (<usize>(r0 * k) << 2);
    const n = (r1 - r0) * k;
    if (mode == 2) {
      if (!finiteRun(xs, n)) return firstNonFinite(x, rows * k);
    } else {
      minMax(xs, 0, n);
      if (gBad) return firstNonFinite(x, rows * k);
      if (n == 0) {
        gLo = 0;
        gHi = 0;
      }
      if (scaleZero(gLo, gHi, qmin, qmax, symmetric)) {
        overflow = true;
        continue;
      }
    }
    const s = gScale;
    const z = gZero;
    const sub = i8out ? off : z;
    const sv = f32x4.splat(s);
    const zfv = f32x4.splat(<f32>z);
    const lov = f32x4.splat(<f32>qmin);
    const hiv = f32x4.splat(<f32>qmax);
    const magicOff = i32x4.splat(0x4b400000 + sub); // toInt4's bias and the offset in one subtraction
    for (let r = r0; r < r1; r++) {
      store<f32>(sx + (<usize>r << 2), s);
      store<i32>(zx + (<usize>r << 2), z - sub);
      const xr = x + (<usize>(r * k) << 2);
      const dr = dst + (<usize>(r * kp) << eb);
      for (let g = 0; g < groups; g++) {
        const c0 = g * gs;
        const len = minI(gs, k - c0);
        const dg = dr + (<usize>(g * gp) << eb);
        let acc = i32x4.splat(0);
        let c = 0;
        // 8 values a step: one narrow and one store for two vectors
        for (; c + 8 <= len; c += 8) {
          const xa = xr + (<usize>(c0 + c) << 2);
          let v = f32x4.add(f32x4.nearest(f32x4.div(v128.load(xa), sv)), zfv);
          let u = f32x4.add(f32x4.nearest(f32x4.div(v128.load(xa, 16), sv)), zfv);
          v = f32x4.pmax(lov, f32x4.pmin(hiv, v));
          u = f32x4.pmax(lov, f32x4.pmin(hiv, u));
          const qv = i32x4.sub(f32x4.add(v, f32x4.splat(MAGIC)), magicOff);
          const qu = i32x4.sub(f32x4.add(u, f32x4.splat(MAGIC)), magicOff);
          acc = i32x4.add(acc, i32x4.add(qv, qu));
          const q16 = i16x8.narrow_i32x4_s(qv, qu);
          if (i8out) v128.store64_lane(dg + <usize>c, i8x16.narrow_i16x8_s(q16, q16), 0);
          else v128.store(dg + (<usize>c << 1), q16);
        }
        for (; c + 4 <= len; c += 4) {
          let v = f32x4.add(f32x4.nearest(f32x4.div(v128.load(xr + (<usize>(c0 + c) << 2)), sv)), zfv);
          v = f32x4.pmax(lov, f32x4.pmin(hiv, v));
          const qs = i32x4.sub(f32x4.add(v, f32x4.splat(MAGIC)), magicOff);
          acc = i32x4.add(acc, qs);
          const q16 = i16x8.narrow_i32x4_s(qs, qs);
          if (i8out) v128.store32_lane(dg + <usize>c, i8x16.narrow_i16x8_s(q16, q16), 0);
          else v128.store64_lane(dg + (<usize>c << 1), q16, 0);
        }
        let sum = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
        for (; c < len; c++) {
          let v = nearest<f32>(load<f32>(xr + (<usize>(c0 + c) << 2)) / s) + <f32>z;
          v = v < <f32>qmin ? <f32>qmin : v > <f32>qmax ? <f32>qmax : v;
          const q = <i32>v - sub;
          sum += q;
          if (i8out) store<i8>(dg + <usize>c, <i8>q);
          else store<i16>(dg + (<usize>c << 1), <i16>q);
        }
        if (c < gp) memory.fill(dg + (<usize>c << eb), 0, <usize>(gp - c) << eb);
        store<i32>(sums + (<usize>(r * groups + g) << 2), sum);
      }
    }
  }
  if (overflow) return 2;
  for (let r = rows; r < rowsP; r++) memory.fill(dst + (<usize>(r * kp) << eb), 0, <usize>kp << eb);
  return 0;
}

/**
 * LayerNorm fused with per-token quantization (the activation operand of the next integer GEMM):
 * each row is normalized into `y` (float32, kept for statistics) and quantized while it is in
 * cache, into the layout of quantize_i16 (mode 1). Same results as layernorm then quantize_i16.
 */
export function layernorm_quant_i16(
  x: usize, rows: i32, d: i32, g: usize, b: usize, eps: f64, y: usize, bits: i32, symmetric: bool,
  gs: i32, gp: i32, groups: i32, rowsP: i32, off: i32, dst: usize, sums: usize, sx: usize, zx: usize, i8out: bool,
): i32 {
  const kp = groups * gp;
  const eb: i32 = i8out ? 0 : 1;
  let overflow = false;
  for (let r = 0; r < rows; r++) {
    const ro = <usize>(r * d) << 2;
    layernorm(x + ro, 1, d, g, b, eps, y + ro);
    const rc = quantize_i16(y + ro, 1, d, 1, 1, bits, symmetric, 1, 0, gs, gp, groups, 1, off,
      dst + (<usize>(r * kp) << eb), sums + (<usize>(r * groups) << 2), sx + (<usize>r << 2), zx + (<usize>r << 2), i8out);
    if (rc == 1) return firstNonFinite(y, rows * d);
    if (rc == 2) overflow = true;
  }
  if (overflow) return 2;
  for (let r = rows; r < rowsP; r++) memory.fill(dst + (<usize>(r * kp) << eb), 0, <usize>kp << eb);
  return 0;
}

function firstNonFinite(x: usize, n: i32): i32 {
  for (let j = 0; j < n; j++) {
    if (!isFinite<f32>(load<f32>(x + (<usize>j << 2)))) {
      lastIndex = j;
      return 1;
    }
  }
  return 0;
}

/** true when all n values are finite (x − x is NaN exactly for NaN and ±∞). */
function finiteRun(x: usize, n: i32): bool {
  let chk = f32x4.splat(0);
  let i = 0;
  // x − x summed: 0 while every value is finite, NaN after one is not; four chains (as in minMax)
  let ck1 = chk, ck2 = chk, ck3 = chk;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const v0 = v128.load(p);
    const v1 = v128.load(p, 16);
    const v2 = v128.load(p, 32);
    const v3 = v128.load(p, 48);
    chk = f32x4.add(chk, f32x4.sub(v0, v0));
    ck1 = f32x4.add(ck1, f32x4.sub(v1, v1));
    ck2 = f32x4.add(ck2, f32x4.sub(v2, v2));
    ck3 = f32x4.add(ck3, f32x4.sub(v3, v3));
  }
  chk = f32x4.add(f32x4.add(chk, ck1), f32x4.add(ck2, ck3));
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    chk = f32x4.add(chk, f32x4.sub(v, v));
  }
  let ok = !v128.any_true(f32x4.ne(chk, f32x4.splat(0)));
  for (; i < n; i++) if (!isFinite<f32>(load<f32>(x + (<usize>i << 2)))) ok = false;
  return ok;
}

// q = clamp(round_half_even(r/s) + z); the float32 quotient of two float32 is what Math.fround(r/s) gives.
@inline function quantRun(x: usize, i0: i32, i1: i32, s: f32, z: i32, qmin: i32, qmax: i32, q: usize, deq: usize): void {
  const zf = <f32>z;
  const lo = <f32>qmin;
  const hi = <f32>qmax;
  const sv = f32x4.splat(s);
  const zfv = f32x4.splat(zf);
  const lov = f32x4.splat(lo);
  const hiv = f32x4.splat(hi);
  const zv = i32x4.splat(z);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i << 2;
    let v = f32x4.add(f32x4.nearest(f32x4.div(v128.load(x + o), sv)), zfv);
    v = f32x4.pmax(lov, f32x4.pmin(hiv, v));
    const qi = toInt4(v);
    v128.store(q + o, qi);
    if (deq) v128.store(deq + o, f32x4.mul(sv, f32x4.convert_i32x4_s(i32x4.sub(qi, zv))));
  }
  for (; i < i1; i++) {
    const o = <usize>i << 2;
    let v = nearest<f32>(load<f32>(x + o) / s) + zf;
    v = v < lo ? lo : v > hi ? hi : v;
    const qi = <i32>v;
    store<i32>(q + o, qi);
    if (deq) store<f32>(deq + o, s * <f32>(qi - z));
  }
}

/** r̂ = s·(q − z) (dequantizeMatrix). gran as in quantize; groupsPerRow/groupSize of the matrix. */
export function dequantize(q: usize, rows: i32, cols: i32, gran: i32, groupSize: i32, groupsPerRow: i32, scales: usize, zeros: usize, out: usize): void {
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const g = gran == 0 ? 0 : r * groupsPerRow + c / groupSize;
      const o = <usize>(r * cols + c) << 2;
      store<f32>(out + o, load<f32>(scales + (<usize>g << 2)) * <f32>(load<i32>(q + o) - load<i32>(zeros + (<usize>g << 2))));
    }
}

// ------------------------------------------------------------------------------------------------
// LayerNorm, softmax (float64 like src/model/vitRef.ts, so results match it)

export function layernorm(x: usize, rows: i32, d: i32, g: usize, b: usize, eps: f64, y: usize): void {
  // float64 like the reference; the sums run in 4 float64 lanes (reordered: the mean and variance
  // may differ from the reference's sequential sums by ~1e-16, invisible after float32 rounding
  // except at rare ties), the per-element formula is the reference's.
  const dv = d & ~3;
  for (let r = 0; r < rows; r++) {
    const o = x + (<usize>(r * d) << 2);
    const yo = y + (<usize>(r * d) << 2);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    for (let j = 0; j < dv; j += 4) {
      const v = v128.load(o + (<usize>j << 2));
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)));
    }
    let mean: f64 = (f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s1, 0)) + (f64x2.extract_lane(s0, 1) + f64x2.extract_lane(s1, 1));
    for (let j = dv; j < d; j++) mean += <f64>load<f32>(o + (<usize>j << 2));
    mean /= <f64>d;
    const mv = f64x2.splat(mean);
    s0 = f64x2.splat(0);
    s1 = f64x2.splat(0);
    for (let j = 0; j < dv; j += 4) {
      const v = v128.load(o + (<usize>j << 2));
      const t0 = f64x2.sub(f64x2.promote_low_f32x4(v), mv);
      const t1 = f64x2.sub(f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)), mv);
      s0 = f64x2.add(s0, f64x2.mul(t0, t0));
      s1 = f64x2.add(s1, f64x2.mul(t1, t1));
    }
    let v: f64 = (f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s1, 0)) + (f64x2.extract_lane(s0, 1) + f64x2.extract_lane(s1, 1));
    for (let j = dv; j < d; j++) {
      const t = <f64>load<f32>(o + (<usize>j << 2)) - mean;
      v += t * t;
    }
    const inv = 1.0 / Math.sqrt(v / <f64>d + eps);
    const iv = f64x2.splat(inv);
    for (let j = 0; j < dv; j += 4) {
      const jo = <usize>j << 2;
      const xv = v128.load(o + jo);
      const gv = v128.load(g + jo);
      const bv = v128.load(b + jo);
      const lo = f64x2.add(f64x2.mul(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(xv), mv), iv), f64x2.promote_low_f32x4(gv)), f64x2.promote_low_f32x4(bv));
      const hi = f64x2.add(
        f64x2.mul(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(i32x4.shuffle(xv, xv, 2, 3, 0, 1)), mv), iv), f64x2.promote_low_f32x4(i32x4.shuffle(gv, gv, 2, 3, 0, 1))),
        f64x2.promote_low_f32x4(i32x4.shuffle(bv, bv, 2, 3, 0, 1)),
      );
      v128.store(yo + jo, i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5));
    }
    for (let j = dv; j < d; j++) {
      const jo = <usize>j << 2;
      store<f32>(yo + jo, <f32>((<f64>load<f32>(o + jo) - mean) * inv * <f64>load<f32>(g + jo) + <f64>load<f32>(b + jo)));
    }
  }
}

/**
 * In place: x ← f32(x·scale) (skipped when scale = 1), then row softmax: float32 SIMD exp (exp4),
 * float32 lane sums; the reference uses float64 (differences ~1e-7 relative).
 */
export function softmax_rows(x: usize, rows: i32, n: i32, scale: f64): void {
  const doScale = scale != 1.0;
  const sc: f32 = <f32>scale;
  const scv = f32x4.splat(sc);
  const nv = n & ~3;
  for (let r = 0; r < rows; r++) {
    const o = x + (<usize>(r * n) << 2);
    let mv = f32x4.splat(-Infinity);
    for (let j = 0; j < nv; j += 4) {
      const p = o + (<usize>j << 2);
      let v = v128.load(p);
      if (doScale) {
        v = f32x4.mul(v, scv);
        v128.store(p, v);
      }
      mv = f32x4.pmax(mv, v);
    }
    let mx = Mathf.max(Mathf.max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), Mathf.max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (let j = nv; j < n; j++) {
      const p = o + (<usize>j << 2);
      let v = load<f32>(p);
      if (doScale) {
        v = v * sc;
        store<f32>(p, v);
      }
      mx = Mathf.max(mx, v);
    }
    const mxv = f32x4.splat(mx);
    let sv = f32x4.splat(0);
    for (let j = 0; j < nv; j += 4) {
      const p = o + (<usize>j << 2);
      const e = exp4(f32x4.sub(v128.load(p), mxv));
      v128.store(p, e);
      sv = f32x4.add(sv, e);
    }
    let s: f32 = (f32x4.extract_lane(sv, 0) + f32x4.extract_lane(sv, 1)) + (f32x4.extract_lane(sv, 2) + f32x4.extract_lane(sv, 3));
    for (let j = nv; j < n; j++) {
      const p = o + (<usize>j << 2);
      const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(p) - mx)), 0);
      store<f32>(p, e);
      s += e;
    }
    const ssv = f32x4.splat(s);
    for (let j = 0; j < nv; j += 4) {
      const p = o + (<usize>j << 2);
      v128.store(p, f32x4.div(v128.load(p), ssv));
    }
    for (let j = nv; j < n; j++) {
      const p = o + (<usize>j << 2);
      store<f32>(p, load<f32>(p) / s);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Attention layout helpers (one image): qkv [T × 3·dim] → q, k [H·T × hd] and vᵀ [H·hd × T];
// o [H·T × hd] → cat [T × dim].

export function split_heads(qkv: usize, t: i32, dim: i32, heads: i32, q: usize, k: usize, vT: usize): void {
  const hd = dim / heads;
  for (let h = 0; h < heads; h++)
    for (let r = 0; r < t; r++) {
      const so = qkv + (<usize>(r * 3 * dim + h * hd) << 2);
      const d = <usize>((h * t + r) * hd) << 2;
      let j = 0;
      for (; j + 4 <= hd; j += 4) {
        const jo = <usize>j << 2;
        v128.store(q + d + jo, v128.load(so + jo));
        v128.store(k + d + jo, v128.load(so + (<usize>dim << 2) + jo));
      }
      for (; j < hd; j++) {
        const jo = <usize>j << 2;
        store<f32>(q + d + jo, load<f32>(so + jo));
        store<f32>(k + d + jo, load<f32>(so + (<usize>dim << 2) + jo));
      }
      for (j = 0; j < hd; j++) store<f32>(vT + (<usize>((h * hd + j) * t + r) << 2), load<f32>(so + (<usize>(2 * dim + j) << 2)));
    }
}

export function merge_heads(o: usize, t: i32, dim: i32, heads: i32, cat: usize): void {
  const hd = dim / heads;
  for (let h = 0; h < heads; h++)
    for (let r = 0; r < t; r++) {
      const s = o + (<usize>((h * t + r) * hd) << 2);
      const d = cat + (<usize>(r * dim + h * hd) << 2);
      for (let j = 0; j < hd; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + (<usize>j << 2)));
    }
}

// ------------------------------------------------------------------------------------------------
// W4A8 on int8 operands (issue 15): 16 multiply-adds per instruction.
//
// The relaxed build uses i16x8.relaxed_dot_i8x16_i7x16_s (x64: one pmaddubsw): lane i = a[2i]·b[2i] +
// a[2i+1]·b[2i+1], a signed int8, b a 7-bit operand. Its result is deterministic only while every b
// lane is in [0, 127]. A weight w ∈ [−8, 7] is stored as w + 8 ∈ [0, 15], two per byte, unpacked in
// registers (and / shift): Σx·w = Σx·(w + 8) − 8·Σx, one dot per 16 products, exact on every engine.
// With x ∈ [−128, 127] a lane holds at most 2·128·15 = 3840 per dot, so int16 lanes accumulate 8
// dots exactly (30720 < 2^15) before they are widened into int32 (extadd_pairwise).
// The SIMD128 build computes the same int16 lanes with extmul and shuffles (slower, same numbers).
//
// W8A8 runs on gemm_w8a8 (int16 operands, dot_i16x8) unless the int32 dot is one instruction: an
// 8-bit weight is not a 7-bit operand, so gemm_w8a8_dot splits it into two 4-bit halves (two dots
// per 16 products), which measures slower on x64 without AVX-VNNI (where the dot is three
// instructions) than the int16 kernel; the caller's probe picks (cpuKernels.ts probeW8A8Dot).

/**
 * Lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1] in int16 (b in [0, 15] in this file: exact on every engine).
 * Lanes matter: the W4A8 kernel's lanes are output channels.
 */
@inline function dot16(a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.relaxed_dot_i8x16_i7x16_s(a, b);
  const lo = i16x8.extmul_low_i8x16_s(a, b);
  const hi = i16x8.extmul_high_i8x16_s(a, b);
  return i16x8.add(v128.shuffle<i16>(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14), v128.shuffle<i16>(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15));
}

/**
 * c + (lane i: Σ_{j<4} a[4i+j]·b[4i+j]) in int32, b in [0, 15] (exact on every engine). Only the
 * relaxed build calls it (FLAG_DOT32); the SIMD128 build's body keeps the module valid.
 */
@inline function dot32add(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c);
  return i32x4.add(c, widen16(dot16(a, b)));
}

@inline function widen16(a: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(a);
}

/**
 * W4A8 weight panels (broadcast layout: int32 lanes are output channels, so no horizontal sums):
 * w [rows × k] int32 values in [−8, 7], groups of gs along k, each padded to gp = roundUp(gs, 8)
 * with zero weights. Panel p = channels 8p..8p+7 as two quads; group g, chunk u (8 values of k):
 * 16 bytes for quad 0, then 16 for quad 1. In a quad's 16 bytes, byte 2i + t (i = 0..7, t = 0..1)
 * holds channel ch = 4·quad + (i >> 1): low nibble w[ch][u·8 + 2·(i & 1) + t] + 8, high nibble
 * w[ch][u·8 + 4 + 2·(i & 1) + t] + 8. With x splat 4 bytes at a time (x[k..k+3] repeated), pair
 * lane i of relaxed_dot is channel i >> 1, k-pair i & 1.
 * consts per (panel, group), 64 bytes: Σw of quad 0, quad 1 (int32 ×4 each), sw of quad 0, quad 1
 * (float32 ×4 each; sw row-major [rows × groups], may be 0). wsum[rows × groups] = Σ w (row-major).
 */
export function pack_w4_nib(src: usize, rows: i32, k: i32, gs: i32, gp: i32, groups: i32, sw: usize, dst: usize, wsum: usize, consts: usize): void {
  const chunks = gp >> 3;
  const panels = (rows + 7) >> 3;
  for (let p = 0; p < panels; p++)
    for (let g = 0; g < groups; g++) {
      const cst = consts + <usize>((p * groups + g) << 6);
      for (let q = 0; q < 2; q++)
        for (let c4 = 0; c4 < 4; c4++) {
          const row = p * 8 + q * 4 + c4;
          let s: i32 = 0;
          for (let u = 0; u < chunks; u++) {
            const o = dst + <usize>((((p * groups + g) * chunks + u) * 2 + q) << 4);
            for (let j = 0; j < 2; j++)
              for (let t = 0; t < 2; t++) {
                const e0 = u * 8 + 2 * j + t;
                const e1 = e0 + 4;
                let lo: i32 = 0, hi: i32 = 0;
                if (row < rows && e0 < gs && g * gs + e0 < k) lo = load<i32>(src + (<usize>(row * k + g * gs + e0) << 2));
                if (row < rows && e1 < gs && g * gs + e1 < k) hi = load<i32>(src + (<usize>(row * k + g * gs + e1) << 2));
                s += lo + hi;
                store<u8>(o + <usize>(2 * (c4 * 2 + j) + t), <u8>((lo + 8) | ((hi + 8) << 4)));
              }
          }
          if (row < rows) store<i32>(wsum + (<usize>(row * groups + g) << 2), s);
          store<i32>(cst + <usize>(q * 16 + c4 * 4), s);
          store<f32>(cst + 32 + <usize>(q * 16 + c4 * 4), sw && row < rows ? load<f32>(sw + (<usize>(row * groups + g) << 2)) : 0);
        }
    }
}

export function packedW4Size(rows: i32, gp: i32, groups: i32): i32 {
  return ((rows + 7) >> 3) * groups * (gp >> 3) * 32;
}

/** Bytes of pack_w4_nib's per-(panel, group) constants. */
export function w4ConstsSize(rows: i32, groups: i32): i32 {
  return ((rows + 7) >> 3) * groups * 64;
}

/** Writes lanes of one output row segment of `cols` (≤ 4) values: whole vector or lane by lane. */
@inline function storeRowN(y: usize, v: v128, cols: i32, flags: i32, res: usize): void {
  if (cols >= 4) storeRow(y, v, 4, flags, res);
  else if (cols > 0) storeRow(y, v, cols, flags, res);
}

/**
 * gemm_w4a8_i8's tiles. Constants after inlining: `single`, every group fits one block of ≤ 8 dots;
 * `dot32`, the dots go straight into the int32 sums with i32x4.relaxed_dot_i8x16_i7x16_add_s — one
 * instruction per 16 products where the engine maps it to a dot instruction (x64 with AVX-VNNI:
 * vpdpbusd; arm64 with the dot-product extension: sdot), several elsewhere (x64 without AVX-VNNI:
 * pmaddubsw, pmaddwd and an add). Exact on every engine for the same reason as dot16 (b in [0, 15]),
 * with no int16 bound: the int32 lanes hold any group. Same packing as the int16 route: lane c of a
 * quad is channel c with 4 consecutive k (the int16 route's pair lanes 2c, 2c + 1, summed).
 */
@inline function w4a8Tiles(
  single: bool,
  dot32: bool,
  xp: usize, xsum: usize, wp: usize, m: i32, n: i32, groups: i32, gp: i32, consts: usize,
  zx: usize, zxStride: i32, sx: usize, sxStride: i32,
  bias: usize, y: usize, flags: i32, res: usize,
): void {
  // |acc_g| ≤ gp·128·8 + 128·gp·8 < 2^24 while gp < 8192: f32(acc_g) is exact and one float32
  // multiply rounds sw·acc_g as the reference's float64 product then fround does
  const exactF32 = gp < 8192;
  const chunks = gp >> 3;
  const rb = <usize>(groups * gp);
  const panels = (n + 7) >> 3;
  const raw = (flags & FLAG_RAW) != 0;
  const nib = i8x16.splat(15);
  const SA: usize = SCRATCH + 128; // float sums of the tile: row r quad q at (2r + q)·16 (raw: int sums at SCRATCH)
  for (let mb = 0; mb < m; mb += M_BLOCK) {
    const me = minI(m, mb + M_BLOCK);
    for (let p = 0; p < panels; p++) {
      const j0 = p * 8;
      const cols = minI(8, n - j0);
      const wpan = wp + <usize>(p * groups * chunks) * 32;
      const cpan = consts + <usize>((p * groups) << 6);
      for (let i0 = mb; i0 < me; i0 += 4) {
        const rows = minI(4, m - i0);
        const iL = i0 + rows - 1;
        const i1 = minI(i0 + 1, iL);
        const i2 = minI(i0 + 2, iL);
        const i3 = iL;
        const x0 = xp + <usize>i0 * rb;
        const x1 = x0 + rb;
        const x2 = x1 + rb;
        const x3 = x2 + rb;
        const zx0 = i32x4.splat(zx ? load<i32>(zx + (<usize>(i0 * zxStride) << 2)) : 0);
        const zx1 = i32x4.splat(zx ? load<i32>(zx + (<usize>(i1 * zxStride) << 2)) : 0);
        const zx2 = i32x4.splat(zx ? load<i32>(zx + (<usize>(i2 * zxStride) << 2)) : 0);
        const zx3 = i32x4.splat(zx ? load<i32>(zx + (<usize>(i3 * zxStride) << 2)) : 0);
        for (let o: usize = 0; o < 128; o += 16) v128.store(SA + o, f32x4.splat(0));
        let wq = wpan;
        for (let g = 0; g < groups; g++) {
          const go = <usize>(g * gp);
          let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
          let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
          let u = 0;
          if (dot32) {
            for (; u < chunks; u++) {
              const xo = go + (<usize>u << 3);
              const p0 = v128.load(wq);
              const p1 = v128.load(wq, 16);
              wq += 32;
              let w0 = v128.and(p0, nib);
              let w1 = v128.and(p1, nib);
              let xa = v128.load32_splat(x0 + xo);
              c00 = dot32add(xa, w0, c00);
              c01 = dot32add(xa, w1, c01);
              xa = v128.load32_splat(x1 + xo);
              c10 = dot32add(xa, w0, c10);
              c11 = dot32add(xa, w1, c11);
              xa = v128.load32_splat(x2 + xo);
              c20 = dot32add(xa, w0, c20);
              c21 = dot32add(xa, w1, c21);
              xa = v128.load32_splat(x3 + xo);
              c30 = dot32add(xa, w0, c30);
              c31 = dot32add(xa, w1, c31);
              w0 = v128.and(i16x8.shr_u(p0, 4), nib);
              w1 = v128.and(i16x8.shr_u(p1, 4), nib);
              xa = v128.load32_splat(x0 + xo + 4);
              c00 = dot32add(xa, w0, c00);
              c01 = dot32add(xa, w1, c01);
              xa = v128.load32_splat(x1 + xo + 4);
              c10 = dot32add(xa, w0, c10);
              c11 = dot32add(xa, w1, c11);
              xa = v128.load32_splat(x2 + xo + 4);
              c20 = dot32add(xa, w0, c20);
              c21 = dot32add(xa, w1, c21);
              xa = v128.load32_splat(x3 + xo + 4);
              c30 = dot32add(xa, w0, c30);
              c31 = dot32add(xa, w1, c31);
            }
          } else do {
            const ue = minI(chunks, u + 4); // 8 dots per int16 lane at most
            let a00 = i16x8.splat(0), a01 = i16x8.splat(0), a10 = i16x8.splat(0), a11 = i16x8.splat(0);
            let a20 = i16x8.splat(0), a21 = i16x8.splat(0), a30 = i16x8.splat(0), a31 = i16x8.splat(0);
            for (; u < ue; u++) {
              const xo = go + (<usize>u << 3);
              const p0 = v128.load(wq);
              const p1 = v128.load(wq, 16);
              wq += 32;
              let w0 = v128.and(p0, nib);
              let w1 = v128.and(p1, nib);
              let xa = v128.load32_splat(x0 + xo);
              a00 = i16x8.add(a00, dot16(xa, w0));
              a01 = i16x8.add(a01, dot16(xa, w1));
              xa = v128.load32_splat(x1 + xo);
              a10 = i16x8.add(a10, dot16(xa, w0));
              a11 = i16x8.add(a11, dot16(xa, w1));
              xa = v128.load32_splat(x2 + xo);
              a20 = i16x8.add(a20, dot16(xa, w0));
              a21 = i16x8.add(a21, dot16(xa, w1));
              xa = v128.load32_splat(x3 + xo);
              a30 = i16x8.add(a30, dot16(xa, w0));
              a31 = i16x8.add(a31, dot16(xa, w1));
              w0 = v128.and(i16x8.shr_u(p0, 4), nib);
              w1 = v128.and(i16x8.shr_u(p1, 4), nib);
              xa = v128.load32_splat(x0 + xo + 4);
              a00 = i16x8.add(a00, dot16(xa, w0));
              a01 = i16x8.add(a01, dot16(xa, w1));
              xa = v128.load32_splat(x1 + xo + 4);
              a10 = i16x8.add(a10, dot16(xa, w0));
              a11 = i16x8.add(a11, dot16(xa, w1));
              xa = v128.load32_splat(x2 + xo + 4);
              a20 = i16x8.add(a20, dot16(xa, w0));
              a21 = i16x8.add(a21, dot16(xa, w1));
              xa = v128.load32_splat(x3 + xo + 4);
              a30 = i16x8.add(a30, dot16(xa, w0));
              a31 = i16x8.add(a31, dot16(xa, w1));
            }
            if (single) {
              // one block holds the whole group: no int32 sums live across the dot loop
              c00 = widen16(a00);
              c01 = widen16(a01);
              c10 = widen16(a10);
              c11 = widen16(a11);
              c20 = widen16(a20);
              c21 = widen16(a21);
              c30 = widen16(a30);
              c31 = widen16(a31);
            } else {
              c00 = i32x4.add(c00, widen16(a00));
              c01 = i32x4.add(c01, widen16(a01));
              c10 = i32x4.add(c10, widen16(a10));
              c11 = i32x4.add(c11, widen16(a11));
              c20 = i32x4.add(c20, widen16(a20));
              c21 = i32x4.add(c21, widen16(a21));
              c30 = i32x4.add(c30, widen16(a30));
              c31 = i32x4.add(c31, widen16(a31));
            }
          } while (!single && u < chunks);
          const cst = cpan + <usize>(g << 6);
          const ws0 = v128.load(cst);
          const ws1 = v128.load(cst, 16);
          let xs = i32x4.shl(v128.load32_splat(xsum + (<usize>(i0 * groups + g) << 2)), 3);
          c00 = i32x4.sub(i32x4.sub(c00, xs), i32x4.mul(zx0, ws0));
          c01 = i32x4.sub(i32x4.sub(c01, xs), i32x4.mul(zx0, ws1));
          xs = i32x4.shl(v128.load32_splat(xsum + (<usize>(i1 * groups + g) << 2)), 3);
          c10 = i32x4.sub(i32x4.sub(c10, xs), i32x4.mul(zx1, ws0));
          c11 = i32x4.sub(i32x4.sub(c11, xs), i32x4.mul(zx1, ws1));
          xs = i32x4.shl(v128.load32_splat(xsum + (<usize>(i2 * groups + g) << 2)), 3);
          c20 = i32x4.sub(i32x4.sub(c20, xs), i32x4.mul(zx2, ws0));
          c21 = i32x4.sub(i32x4.sub(c21, xs), i32x4.mul(zx2, ws1));
          xs = i32x4.shl(v128.load32_splat(xsum + (<usize>(i3 * groups + g) << 2)), 3);
          c30 = i32x4.sub(i32x4.sub(c30, xs), i32x4.mul(zx3, ws0));
          c31 = i32x4.sub(i32x4.sub(c31, xs), i32x4.mul(zx3, ws1));
          if (raw) {
            storeTile(SCRATCH, c00, c01, c10, c11, c20, c21, c30, c31);
            for (let r = 0; r < rows; r++)
              for (let c = 0; c < cols; c++)
                store<i32>(y + (<usize>(((i0 + r) * n + j0 + c) * groups + g) << 2), load<i32>(SCRATCH + (<usize>(r * 8 + c) << 2)));
            continue;
          }
          const sw0 = v128.load(cst, 32);
          const sw1 = v128.load(cst, 48);
          if (exactF32) {
            v128.store(SA, f32x4.add(v128.load(SA), f32x4.mul(f32x4.convert_i32x4_s(c00), sw0)));
            v128.store(SA, f32x4.add(v128.load(SA, 16), f32x4.mul(f32x4.convert_i32x4_s(c01), sw1)), 16);
            v128.store(SA, f32x4.add(v128.load(SA, 32), f32x4.mul(f32x4.convert_i32x4_s(c10), sw0)), 32);
            v128.store(SA, f32x4.add(v128.load(SA, 48), f32x4.mul(f32x4.convert_i32x4_s(c11), sw1)), 48);
            v128.store(SA, f32x4.add(v128.load(SA, 64), f32x4.mul(f32x4.convert_i32x4_s(c20), sw0)), 64);
            v128.store(SA, f32x4.add(v128.load(SA, 80), f32x4.mul(f32x4.convert_i32x4_s(c21), sw1)), 80);
            v128.store(SA, f32x4.add(v128.load(SA, 96), f32x4.mul(f32x4.convert_i32x4_s(c30), sw0)), 96);
            v128.store(SA, f32x4.add(v128.load(SA, 112), f32x4.mul(f32x4.convert_i32x4_s(c31), sw1)), 112);
          } else {
            v128.store(SA, f32x4.add(v128.load(SA), mulI32F32(c00, sw0)));
            v128.store(SA, f32x4.add(v128.load(SA, 16), mulI32F32(c01, sw1)), 16);
            v128.store(SA, f32x4.add(v128.load(SA, 32), mulI32F32(c10, sw0)), 32);
            v128.store(SA, f32x4.add(v128.load(SA, 48), mulI32F32(c11, sw1)), 48);
            v128.store(SA, f32x4.add(v128.load(SA, 64), mulI32F32(c20, sw0)), 64);
            v128.store(SA, f32x4.add(v128.load(SA, 80), mulI32F32(c21, sw1)), 80);
            v128.store(SA, f32x4.add(v128.load(SA, 96), mulI32F32(c30, sw0)), 96);
            v128.store(SA, f32x4.add(v128.load(SA, 112), mulI32F32(c31, sw1)), 112);
          }
        }
        if (raw) continue;
        for (let r = 0; r < rows; r++) {
          const i = i0 + r;
          const sxv = v128.load32_splat(sx + (<usize>(i * sxStride) << 2));
          const o = <usize>(i * n + j0) << 2;
          for (let q = 0; q < 2; q++) {
            const cq = cols - q * 4;
            if (cq <= 0) break;
            const bv = bias ? (cq >= 4 ? v128.load(bias + (<usize>(j0 + q * 4) << 2)) : loadPartial(bias + (<usize>(j0 + q * 4) << 2), cq)) : f32x4.splat(0);
            const v = f32x4.add(f32x4.mul(sxv, v128.load(SA + <usize>((r * 2 + q) << 4))), bv);
            storeRowN(y + o + <usize>(q << 4), v, cq, flags, res + o + <usize>(q << 4));
          }
        }
      }
    }
  }
}

/**
 * W4A8 per group on int8 activations: xp [rowsP × groups·gp] int8 (quantize_i16 with i8out,
 * gp = roundUp(gs, 8), rowsP ≥ roundUp(m, 4): the tile reads rows four at a time), xsum[m × groups]
 * = Σ_{c∈g} X (storage values), wp and consts from pack_w4_nib. acc_g = Σ_{c∈g} X·W − zx·Σ_{c∈g} W;
 * Y = f32(sx · Σ_g f32(f64(sw[n,g])·f64(acc_g))) + b, g ascending. flags: 4 = raw (acc_g as int32,
 * [m × n × groups]), 8 = the int32 dot (w4a8Tiles' dot32; same results). Tile: 4 rows × 8
 * channels — each unpacked weight vector feeds four rows' dots (2 rows: 0.96× the FP32 GEMM at the
 * ViT's shapes, 4 rows: 1.14×, Chromium 156); x broadcast
 * 4 bytes at a time, weights unpacked in registers (and / shift); int16 lanes widened every 32
 * values of k (groups of ≤ 32: one block, widened once — 1.15× → 1.19×); the float sums of the
 * tile in scratch (in locals they measured no faster).
 */
export function gemm_w4a8_i8(
  xp: usize, xsum: usize, wp: usize, m: i32, n: i32, groups: i32, gp: i32, consts: usize,
  zx: usize, zxStride: i32, sx: usize, sxStride: i32,
  bias: usize, y: usize, flags: i32, res: usize,
): void {
  // FLAG_DOT32: the caller measured the one-instruction dot faster on this machine (cpuKernels.ts
  // probeW4A8Dot); groups of ≤ 32 values (the ViT's g = 32) take the int16 variant without int32
  // sums across blocks
  if (ASC_FEATURE_RELAXED_SIMD && (flags & FLAG_DOT32) != 0)
    w4a8Tiles(false, true, xp, xsum, wp, m, n, groups, gp, consts, zx, zxStride, sx, sxStride, bias, y, flags, res);
  else if (gp <= 32) w4a8Tiles(true, false, xp, xsum, wp, m, n, groups, gp, consts, zx, zxStride, sx, sxStride, bias, y, flags, res);
  else w4a8Tiles(false, false, xp, xsum, wp, m, n, groups, gp, consts, zx, zxStride, sx, sxStride, bias, y, flags, res);
}

/** cols (< 4) floats from p into the low lanes, zeros above (no read past p + 4·cols). */
@inline function loadPartial(p: usize, cols: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (cols > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (cols > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

// ------------------------------------------------------------------------------------------------
// Training (src/train/): LSQ fake quantization and its backward, GELU keeping tanh for the backward.
// Semantics of src/train/fakeQuant.ts: v = f32(x/s), ⌊v⌉ half to even (f32x4.nearest), the products
// and clamps in float32 as there; the backward's sums of s and z in float64 (order differs from the
// TypeScript loop: sums agree to rounding, not bit for bit).

// what fq_forward keeps per element: ⌊v⌉ − v ∈ [−½, ½] inside the grid, these markers where clamped
const FQ_BELOW: f32 = 2;
const FQ_ABOVE: f32 = 3;

/**
 * Runs [g, i0, i1] (int32 triples, `runs`): y[i] = s_g·(clamp(⌊x[i]/s_g⌉ + zr_g, qmin, qmax) − zr_g);
 * `keep` (0: none) receives ⌊v⌉ − v or a marker. `s`, `zr`: float32 per group (zr already rounded).
 */
export function fq_forward(x: usize, y: usize, keep: usize, runs: usize, nRuns: i32, s: usize, zr: usize, qmin: f32, qmax: f32): void {
  const lo = f32x4.splat(qmin);
  const hi = f32x4.splat(qmax);
  const below = f32x4.splat(FQ_BELOW);
  const above = f32x4.splat(FQ_ABOVE);
  for (let r = 0; r < nRuns; r++) {
    const rp = runs + (<usize>(3 * r) << 2);
    const g = <usize>load<i32>(rp) << 2;
    const i0 = load<i32>(rp, 4);
    const i1 = load<i32>(rp, 8);
    const sc = load<f32>(s + g);
    const z = load<f32>(zr + g);
    const sv = f32x4.splat(sc);
    const zv = f32x4.splat(z);
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      const v = f32x4.div(v128.load(x + o), sv);
      const rv = f32x4.nearest(v);
      const rr = f32x4.add(rv, zv);
      const cl = f32x4.pmin(f32x4.pmax(rr, lo), hi);
      v128.store(y + o, f32x4.mul(sv, f32x4.sub(cl, zv)));
      if (keep) {
        let k = v128.bitselect(below, f32x4.sub(rv, v), f32x4.lt(rr, lo));
        k = v128.bitselect(above, k, f32x4.gt(rr, hi));
        v128.store(keep + o, k);
      }
    }
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      const v = load<f32>(x + o) / sc;
      const rv = nearest<f32>(v);
      const rr = rv + z;
      const cl = rr < qmin ? qmin : rr > qmax ? qmax : rr;
      store<f32>(y + o, sc * (cl - z));
      if (keep) store<f32>(keep + o, rr < qmin ? FQ_BELOW : rr > qmax ? FQ_ABOVE : rv - v);
    }
  }
}

@inline function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}

/**
 * The backward from fq_forward's `keep`: dx += dy inside the grid; per group, float64 sums
 * Σ dy·∂q̂/∂s into gs[g] and Σ dy·∂q̂/∂z into gz[g] (before LSQ's gradient scale):
 * inside ∂q̂/∂s = ⌊v⌉ − v, ∂q̂/∂z = 0; clamped ∂q̂/∂s = q_end − zr, ∂q̂/∂z = −s.
 */
export function fq_backward(keep: usize, dy: usize, dx: usize, runs: usize, nRuns: i32, s: usize, zr: usize, qmin: f32, qmax: f32, gs: usize, gz: usize): void {
  const half = f32x4.splat(0.5);
  const below = f32x4.splat(FQ_BELOW);
  const zero = f32x4.splat(0);
  for (let r = 0; r < nRuns; r++) {
    const rp = runs + (<usize>(3 * r) << 2);
    const gi = load<i32>(rp);
    const i0 = load<i32>(rp, 4);
    const i1 = load<i32>(rp, 8);
    const z = load<f32>(zr + (<usize>gi << 2));
    const sc = load<f32>(s + (<usize>gi << 2));
    const endLo = f32x4.splat(qmin - z);
    const endHi = f32x4.splat(qmax - z);
    let as = f64x2.splat(0);
    let dc = f64x2.splat(0); // Σ dy over clamped elements: ∂/∂z = −s·dc
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      const e = v128.load(keep + o);
      const d = v128.load(dy + o);
      const inside = f32x4.le(e, half);
      v128.store(dx + o, f32x4.add(v128.load(dx + o), v128.and(d, inside)));
      const ds = v128.bitselect(e, v128.bitselect(endLo, endHi, f32x4.eq(e, below)), inside);
      const dcl = v128.bitselect(zero, d, inside);
      as = f64x2.add(as, f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(d), f64x2.promote_low_f32x4(ds)), f64x2.mul(promoteHigh(d), promoteHigh(ds))));
      dc = f64x2.add(dc, f64x2.add(f64x2.promote_low_f32x4(dcl), promoteHigh(dcl)));
    }
    let a: f64 = f64x2.extract_lane(as, 0) + f64x2.extract_lane(as, 1);
    let c: f64 = f64x2.extract_lane(dc, 0) + f64x2.extract_lane(dc, 1);
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      const e = load<f32>(keep + o);
      const d = load<f32>(dy + o);
      if (e <= 0.5) {
        store<f32>(dx + o, load<f32>(dx + o) + d);
        a += <f64>d * <f64>e;
      } else {
        a += <f64>d * <f64>(e == FQ_BELOW ? qmin - z : qmax - z);
        c += <f64>d;
      }
    }
    const gp = <usize>gi << 3;
    store<f64>(gs + gp, load<f64>(gs + gp) + a);
    store<f64>(gz + gp, load<f64>(gz + gp) - c * <f64>sc);
  }
}

/** y = gelu4(x) (the inference GELU) and th = tanh(u) = 2σ(2u) − 1, kept for gelu_backward. */
export function gelu_train(x: usize, y: usize, th: usize, n: i32): void {
  let i = 0;
  const one = f32x4.splat(1);
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const v3 = f32x4.mul(f32x4.mul(v, v), v);
    const u = f32x4.mul(f32x4.splat(GELU_C), f32x4.add(v, f32x4.mul(f32x4.splat(0.044715), v3)));
    const den = f32x4.add(one, exp4(f32x4.mul(u, f32x4.splat(-2))));
    v128.store(y + o, f32x4.div(v, den));
    v128.store(th + o, f32x4.sub(f32x4.div(f32x4.splat(2), den), one));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    const u: f32 = GELU_C * (v + <f32>0.044715 * v * v * v);
    const den: f32 = 1 + f32x4.extract_lane(exp4(f32x4.splat(-2 * u)), 0);
    store<f32>(y + o, v / den);
    store<f32>(th + o, 2 / den - 1);
  }
}

/** dx += dy · gelu′(x), gelu′ = ½(1 + th) + ½·x·(1 − th²)·C·(1 + 3·0.044715·x²) */
export function gelu_backward(x: usize, th: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const t = v128.load(th + o);
    const poly = f32x4.add(one, f32x4.mul(f32x4.splat(3 * 0.044715), f32x4.mul(v, v)));
    const sech2 = f32x4.sub(one, f32x4.mul(t, t));
    const d = f32x4.add(f32x4.mul(half, f32x4.add(one, t)), f32x4.mul(f32x4.mul(f32x4.mul(half, v), sech2), f32x4.mul(f32x4.splat(GELU_C), poly)));
    v128.store(dx + o, f32x4.add(v128.load(dx + o), f32x4.mul(v128.load(dy + o), d)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    const t = load<f32>(th + o);
    const d: f32 = <f32>0.5 * (1 + t) + <f32>0.5 * v * (1 - t * t) * GELU_C * (1 + <f32>(3 * 0.044715) * v * v);
    store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dy + o) * d);
  }
}

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * Training LayerNorm in float32 (d a multiple of 4): y = x̂·g + b with x̂ = (x − mean)·inv,
 * inv = 1/√(var + eps); keeps x̂ and inv per row for layernorm_backward.
 */
export function layernorm_train(x: usize, rows: i32, d: i32, g: usize, b: usize, eps: f32, y: usize, xhat: usize, inv: usize): void {
  const fd = <f32>d;
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * d) << 2;
    let sv = f32x4.splat(0);
    for (let j = 0; j < d; j += 4) sv = f32x4.add(sv, v128.load(x + o + (<usize>j << 2)));
    const mean = f32x4.splat(hsum(sv) / fd);
    let qv = f32x4.splat(0);
    for (let j = 0; j < d; j += 4) {
      const t = f32x4.sub(v128.load(x + o + (<usize>j << 2)), mean);
      qv = f32x4.add(qv, f32x4.mul(t, t));
    }
    const iv: f32 = 1 / Mathf.sqrt(hsum(qv) / fd + eps);
    store<f32>(inv + (<usize>r << 2), iv);
    const ivv = f32x4.splat(iv);
    for (let j = 0; j < d; j += 4) {
      const jo = <usize>j << 2;
      const h = f32x4.mul(f32x4.sub(v128.load(x + o + jo), mean), ivv);
      v128.store(xhat + o + jo, h);
      v128.store(y + o + jo, f32x4.add(f32x4.mul(h, v128.load(g + jo)), v128.load(b + jo)));
    }
  }
}

/**
 * LayerNorm backward (d a multiple of 4): dx += (inv/d)·(d·dy·g − Σ dy·g − x̂·Σ dy·g·x̂) per row,
 * dg += Σ_rows dy·x̂, db += Σ_rows dy.
 */
export function layernorm_backward(xhat: usize, inv: usize, g: usize, dy: usize, rows: i32, d: i32, dx: usize, dg: usize, db: usize): void {
  const fd = f32x4.splat(<f32>d);
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * d) << 2;
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    for (let j = 0; j < d; j += 4) {
      const jo = <usize>j << 2;
      const e = v128.load(dy + o + jo);
      const h = v128.load(xhat + o + jo);
      const dh = f32x4.mul(e, v128.load(g + jo));
      s1 = f32x4.add(s1, dh);
      s2 = f32x4.add(s2, f32x4.mul(dh, h));
      v128.store(dg + jo, f32x4.add(v128.load(dg + jo), f32x4.mul(e, h)));
      v128.store(db + jo, f32x4.add(v128.load(db + jo), e));
    }
    const a = f32x4.splat(hsum(s1));
    const c = f32x4.splat(hsum(s2));
    const k = f32x4.splat(load<f32>(inv + (<usize>r << 2)) / <f32>d);
    for (let j = 0; j < d; j += 4) {
      const jo = <usize>j << 2;
      const dh = f32x4.mul(f32x4.mul(v128.load(dy + o + jo), v128.load(g + jo)), fd);
      const t = f32x4.sub(f32x4.sub(dh, a), f32x4.mul(v128.load(xhat + o + jo), c));
      v128.store(dx + o + jo, f32x4.add(v128.load(dx + o + jo), f32x4.mul(k, t)));
    }
  }
}

/** Softmax backward per row (n a multiple of 4 or not): dx += y·(dy − Σ dy·y). */
export function softmax_backward(y: usize, dy: usize, dx: usize, rows: i32, n: i32): void {
  const nv = n & ~3;
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * n) << 2;
    let sv = f32x4.splat(0);
    for (let j = 0; j < nv; j += 4) {
      const jo = o + (<usize>j << 2);
      sv = f32x4.add(sv, f32x4.mul(v128.load(dy + jo), v128.load(y + jo)));
    }
    let s = hsum(sv);
    for (let j = nv; j < n; j++) {
      const jo = o + (<usize>j << 2);
      s += load<f32>(dy + jo) * load<f32>(y + jo);
    }
    const ss = f32x4.splat(s);
    for (let j = 0; j < nv; j += 4) {
      const jo = o + (<usize>j << 2);
      v128.store(dx + jo, f32x4.add(v128.load(dx + jo), f32x4.mul(v128.load(y + jo), f32x4.sub(v128.load(dy + jo), ss))));
    }
    for (let j = nv; j < n; j++) {
      const jo = o + (<usize>j << 2);
      store<f32>(dx + jo, load<f32>(dx + jo) + load<f32>(y + jo) * (load<f32>(dy + jo) - s));
    }
  }
}
