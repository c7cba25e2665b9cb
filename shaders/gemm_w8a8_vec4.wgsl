// W8A8 integer GEMM, vec4 variant: the same kernel as gemm_w8a8.wgsl (read its header) with X and W
//   (the epilogue, store_tile and gelu, is shaders/gemm_w8a8_epilogue.wgsl, appended by gemmW8A8.ts)
// loaded as vec4<u32> (16 int8 lanes a load). Requires Kw % 4 == 0 (K % 16 == 0) and every X/W
// offset and stride (in words) a multiple of 4; the wrapper picks it when that holds.
// W8A8 integer GEMM with fused zero-point correction and dequant epilogue.
//   X: M×K int8, packed 4 per u32 (lane i = element 4w+i, bits 8i..; rows of Kw = ceil(K/4) words,
//      padding lanes 0), W: N×K int8 packed the same way (rows = output channels).
//   acc'[m,n] = Σ X·W − zw[n]·rowsum(X)[m] − zx[m]·colsum(W)[n] + K·zx[m]·zw[n]    (exact i32)
//   mode 0: Y = f32(acc')·sx·sw (·alpha) (+ b[n]) → GELU → (+ residual | + Y), stored as f32 bits
//   mode 1: Y = acc' (i32 bits) — the bit-exact target of tests
// Scale / zero index of row m in batch z: (z·M + m) / div (div = 1 per row, rows-per-tensor per
// tensor); of column n: (z·N + n) / div. zxDiv/zwDiv = 0: no zero point (symmetric).
// Batched over z = outer·batchInner + inner with strides in words (X, W) and elements (Y).
// Each thread computes 4×4 outputs straight from global memory (no workgroup barriers:
// SwiftShader punishes them); `dot4` is dot4I8Packed or its unpacked fallback (prepended).
struct Params {
  M: u32, N: u32, K: u32, Kw: u32,
  xOuter: u32, xInner: u32, xRow: u32, xOff: u32,
  wOuter: u32, wInner: u32, wRow: u32, wOff: u32,
  yOuter: u32, yInner: u32, yRow: u32, yOff: u32,
  sxDiv: u32, swDiv: u32, zxDiv: u32, zwDiv: u32,
  mode: u32, hasBias: u32, act: u32, resid: u32,
  alpha: f32, batchInner: u32, _p0: u32, _p1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> SX: array<f32>;
@group(0) @binding(4) var<storage, read> SW: array<f32>;
@group(0) @binding(5) var<storage, read> ZX: array<i32>;
@group(0) @binding(6) var<storage, read> ZW: array<i32>;
@group(0) @binding(7) var<storage, read> B: array<f32>;
@group(0) @binding(8) var<storage, read> R: array<f32>;
@group(0) @binding(9) var<storage, read_write> Y: array<u32>;
@group(0) @binding(10) var<storage, read_write> FLAGS: array<atomic<u32>>; // see nonfinite_flag.wgsl

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let outer = z / P.batchInner;
  let inner = z % P.batchInner;
  let xb = (P.xOff + outer * P.xOuter + inner * P.xInner) / 4u;
  let wb = (P.wOff + outer * P.wOuter + inner * P.wInner) / 4u;
  let yb = P.yOff + outer * P.yOuter + inner * P.yInner;
  let m0 = wg.y * 32u + lid.y * 4u;
  let n0 = wg.x * 32u + lid.x * 4u;
  if (m0 >= P.M || n0 >= P.N) { return; }
  var xr: array<u32, 4>;
  var wr: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    xr[i] = xb + min(m0 + i, P.M - 1u) * (P.xRow / 4u);
    wr[i] = wb + min(n0 + i, P.N - 1u) * (P.wRow / 4u);
  }
  var acc: array<array<i32, 4>, 4>;
  var rs: array<i32, 4>;
  var cs: array<i32, 4>;
  for (var i = 0u; i < 4u; i++) {
    rs[i] = 0; cs[i] = 0;
    for (var j = 0u; j < 4u; j++) { acc[i][j] = 0; }
  }
  let ones = 0x01010101u;
  let Kw4 = P.Kw / 4u;
  for (var kw = 0u; kw < Kw4; kw++) {
    var xv: array<vec4<u32>, 4>;
    var wv: array<vec4<u32>, 4>;
    for (var i = 0u; i < 4u; i++) { xv[i] = X[xr[i] + kw]; wv[i] = W[wr[i] + kw]; }
    for (var i = 0u; i < 4u; i++) {
      let x = xv[i];
      let w = wv[i];
      rs[i] += dot4(x.x, ones) + dot4(x.y, ones) + dot4(x.z, ones) + dot4(x.w, ones);
      cs[i] += dot4(w.x, ones) + dot4(w.y, ones) + dot4(w.z, ones) + dot4(w.w, ones);
      for (var j = 0u; j < 4u; j++) {
        let b = wv[j];
        acc[i][j] += dot4(x.x, b.x) + dot4(x.y, b.y) + dot4(x.z, b.z) + dot4(x.w, b.w);
      }
    }
  }
  store_tile(z, m0, n0, yb, acc, rs, cs);
}
