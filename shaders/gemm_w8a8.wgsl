// W8A8 integer GEMM with fused zero-point correction and dequant epilogue (store_tile, at the end).
// VEC4 (a parameter, not a copy): X and W
// loaded as vec4<u32> (16 int8 lanes a load); requires Kw % 4 == 0 (K % 16 == 0) and every X/W
// offset and stride (in words) a multiple of 4 — the wrapper picks it when that holds.
//   X: M×K int8, packed 4 per u32 (lane i = element 4w+i, bits 8i..; rows of Kw = ceil(K/4) words,
//      padding lanes 0), W: N×K int8 packed the same way (rows = output channels).
//   acc'[m,n] = Σ X·W − zw[n]·rowsum(X)[m] − zx[m]·colsum(W)[n] + K·zx[m]·zw[n]    (exact i32)
//   mode 0: Y = f32(acc')·sx·sw (·alpha) (+ b[n]) → GELU → (+ residual | + Y), stored as f32 bits
//   mode 1: Y = acc' (i32 bits) — the bit-exact target of tests
// Scale / zero index of row m in batch z: (z·M + m) / div (div = 1 per row, rows-per-tensor per
// tensor); of column n: (z·N + n) / div. zxDiv/zwDiv = 0: no zero point (symmetric).
// Batched over z = outer·batchInner + inner with strides in words (X, W) and elements (Y).
// Each thread computes 4×4 outputs straight from global memory (no workgroup barriers:
// SwiftShader punishes them); `dot4` is dot4I8Packed or its unpacked fallback (PACKED_DOT4).
// Params: declared once, in gemmW8A8.ts (GEMM_W8A8_PARAMS).
//#uniforms
@group(0) @binding(0) var<uniform> P: Params;
#if VEC4
@group(0) @binding(1) var<storage, read> X: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;
#else
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read> W: array<u32>;
#endif
@group(0) @binding(3) var<storage, read> SX: array<f32>;
@group(0) @binding(4) var<storage, read> SW: array<f32>;
@group(0) @binding(5) var<storage, read> ZX: array<i32>;
@group(0) @binding(6) var<storage, read> ZW: array<i32>;
@group(0) @binding(7) var<storage, read> B: array<f32>;
@group(0) @binding(8) var<storage, read> R: array<f32>;
@group(0) @binding(9) var<storage, read_write> Y: array<u32>;
@group(0) @binding(10) var<storage, read_write> FLAGS: array<atomic<u32>>; // see lib/nonfinite_flag.wgsl

#if PACKED_DOT4
//#include dot4_packed
#else
//#include dot4_unpacked
#endif
//#include nonfinite_flag
//#include batch_bases

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let base = batch_bases(z);
#if VEC4
  let xb = base.x / 4u;
  let wb = base.y / 4u;
#else
  let xb = base.x;
  let wb = base.y;
#endif
  let yb = base.z;
  let m0 = wg.y * 32u + lid.y * 4u;
  let n0 = wg.x * 32u + lid.x * 4u;
  if (m0 >= P.M || n0 >= P.N) { return; }
  var xr: array<u32, 4>;
  var wr: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
#if VEC4
    xr[i] = xb + min(m0 + i, P.M - 1u) * (P.xRow / 4u);
    wr[i] = wb + min(n0 + i, P.N - 1u) * (P.wRow / 4u);
#else
    xr[i] = xb + min(m0 + i, P.M - 1u) * P.xRow;
    wr[i] = wb + min(n0 + i, P.N - 1u) * P.wRow;
#endif
  }
  var acc: array<array<i32, 4>, 4>;
  var rs: array<i32, 4>;
  var cs: array<i32, 4>;
  for (var i = 0u; i < 4u; i++) {
    rs[i] = 0; cs[i] = 0;
    for (var j = 0u; j < 4u; j++) { acc[i][j] = 0; }
  }
  let ones = 0x01010101u;
#if VEC4
  let Kw4 = P.Kw / 4u;
  for (var kw = 0u; kw < Kw4; kw++) {
    var xv: array<vec4<u32>, 4>;
    var wv: array<vec4<u32>, 4>;
#else
  for (var kw = 0u; kw < P.Kw; kw++) {
    var xv: array<u32, 4>;
    var wv: array<u32, 4>;
#endif
    for (var i = 0u; i < 4u; i++) { xv[i] = X[xr[i] + kw]; wv[i] = W[wr[i] + kw]; }
    for (var i = 0u; i < 4u; i++) {
#if VEC4
      let x = xv[i];
      let w = wv[i];
      rs[i] += dot4(x.x, ones) + dot4(x.y, ones) + dot4(x.z, ones) + dot4(x.w, ones);
      cs[i] += dot4(w.x, ones) + dot4(w.y, ones) + dot4(w.z, ones) + dot4(w.w, ones);
      for (var j = 0u; j < 4u; j++) {
        let b = wv[j];
        acc[i][j] += dot4(x.x, b.x) + dot4(x.y, b.y) + dot4(x.z, b.z) + dot4(x.w, b.w);
      }
#else
      rs[i] += dot4(xv[i], ones);
      cs[i] += dot4(wv[i], ones);
      for (var j = 0u; j < 4u; j++) { acc[i][j] += dot4(xv[i], wv[j]); }
#endif
    }
  }
  store_tile(z, m0, n0, yb, acc, rs, cs);
}

// The dequant epilogue: one thread's 4×4 tile of exact accumulators, with its row sums of X and
// column sums of W, becomes
//   acc' = acc − zw·rowsum − zx·colsum + K·zx·zw                           (science.md §2)
//   Y    = f32(acc')·sx[m]·sw[n]·alpha + bias → GELU → + residual           (or acc' itself, mode 1)
// It reads the including shader's bindings (P, SX, SW, ZX, ZW, B, R, Y, FLAGS); a non-finite Y (a NaN
// or Inf scale, bias or residual) raises the sticky flag of lib/nonfinite_flag.wgsl.
//#include gelu
fn y_prev(yi: u32) -> f32 { return bitcast<f32>(Y[yi]); }
//#include epilogue

fn store_tile(z: u32, m0: u32, n0: u32, yb: u32, acc: array<array<i32, 4>, 4>, rs: array<i32, 4>, cs: array<i32, 4>) {
  let K = i32(P.K);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= P.M) { break; }
    let rowIdx = z * P.M + m;
    var zx = 0;
    if (P.zxDiv != 0u) { zx = ZX[rowIdx / P.zxDiv]; }
    let sx = SX[rowIdx / P.sxDiv];
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= P.N) { break; }
      let colIdx = z * P.N + n;
      var zw = 0;
      if (P.zwDiv != 0u) { zw = ZW[colIdx / P.zwDiv]; }
      let a = acc[i][j] - zw * rs[i] - zx * cs[j] + K * zx * zw;
      let yi = yb + m * P.yRow + n;
      if (P.mode == 1u) { Y[yi] = bitcast<u32>(a); continue; }
      var y = (f32(a) * sx) * SW[colIdx / P.swDiv];
      if (P.alpha != 1.0) { y = y * P.alpha; }
      y = epilogue(y, n, yi);
      flag_nonfinite(y);
      Y[yi] = bitcast<u32>(y);
    }
  }
}
