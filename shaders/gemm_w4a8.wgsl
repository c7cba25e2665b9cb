// W4A8 GEMM: int4 weights × int8 activations, per-output-channel or per-group weight scales.
// Layouts:
//   X: M×K int8, packed 4 per u32 (lane i = element 4w+i in bits 8i..8i+7), Kx = ceil(K/4) words a row.
//   W: N×K int4, packed 8 per u32 (lane j = element 8w+j in bits 4j..4j+3, two's complement),
//      Kw = ceil(K/8) words a row; padding lanes 0.
//   SW: N × groups scales (row-major), groups = ceil(K/groupSize); groupSize % 8 == 0 or groupSize ≥ K.
// Per group g:  acc_g = Σ_{c∈g} X·W − zx[m]·Σ_{c∈g} W   (exact i32)
//   mode 1: Y[(m·N+n)·groups+g] = acc_g (i32 bits, bit-exact target)
//   mode 0: s = Σ_g sw[n,g]·f32(acc_g) (g ascending), Y = sx[m]·s (+ b[n]) → GELU → (+ residual | + Y)
// An int4 word is widened to two int8 words (nibbles spread to bytes, sign bit extended) so the
// products use `dot4` (dot4I8Packed or its unpacked fallback: PACKED_DOT4).
// VEC4 (a parameter, not a copy): W loaded as vec4<u32> (32 int4 lanes) and X as vec4<u32> (16 int8
// lanes); requires K % 32 == 0 and a group size that is a multiple of 32 (or per channel) — the
// wrapper picks it when that holds.
// Params: declared once, in gemmW4A8.ts (GEMM_W4A8_PARAMS).
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
@group(0) @binding(6) var<storage, read> B: array<f32>;
@group(0) @binding(7) var<storage, read> R: array<f32>;
@group(0) @binding(8) var<storage, read_write> Y: array<u32>;

#if PACKED_DOT4
//#include dot4_packed
#else
//#include dot4_unpacked
#endif

//#include gelu
fn y_prev(yi: u32) -> f32 { return bitcast<f32>(Y[yi]); }
//#include epilogue

// Four nibbles (bits 0..15 of v) → four sign-extended int8 lanes.
fn widen4(v: u32) -> u32 {
  var x = v & 0xFFFFu;
  x = (x | (x << 8u)) & 0x00FF00FFu;
  x = (x | (x << 4u)) & 0x0F0F0F0Fu;
  let s = x & 0x08080808u;
  return x | (s * 0x1Eu); // 0x08·0x1E = 0xF0 per byte, no carry between bytes
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wg.y * 32u + lid.y * 4u;
  let n0 = wg.x * 32u + lid.x * 4u;
  if (m0 >= P.M || n0 >= P.N) { return; }
  var xr: array<u32, 4>;
  var wr: array<u32, 4>;
  var zx: array<i32, 4>;
  for (var i = 0u; i < 4u; i++) {
    let mi = min(m0 + i, P.M - 1u);
#if VEC4
    xr[i] = mi * (P.Kx / 4u);
    wr[i] = min(n0 + i, P.N - 1u) * (P.Kw / 4u);
#else
    xr[i] = mi * P.Kx;
    wr[i] = min(n0 + i, P.N - 1u) * P.Kw;
#endif
    zx[i] = 0;
    if (P.zxDiv != 0u) { zx[i] = ZX[mi / P.zxDiv]; }
  }
  var s: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { s[i][j] = 0.0; } }
  let ones = 0x01010101u;
  for (var g = 0u; g < P.groups; g++) {
    var acc: array<array<i32, 4>, 4>;
    var cs: array<i32, 4>;
    for (var i = 0u; i < 4u; i++) { cs[i] = 0; for (var j = 0u; j < 4u; j++) { acc[i][j] = 0; } }
#if VEC4
    let w0 = g * (P.groupWords / 4u);
    let w1 = min(P.Kw / 4u, w0 + P.groupWords / 4u);
#else
    let w0 = g * P.groupWords;
    let w1 = min(P.Kw, w0 + P.groupWords);
#endif
    for (var ww = w0; ww < w1; ww++) {
#if VEC4
      // 4 int4 words → 8 int8 words per output column
      var we: array<array<u32, 8>, 4>;
#else
      var wl: array<u32, 4>;
      var wh: array<u32, 4>;
#endif
      for (var j = 0u; j < 4u; j++) {
        let wv = W[wr[j] + ww];
#if VEC4
        we[j][0] = widen4(wv.x); we[j][1] = widen4(wv.x >> 16u);
        we[j][2] = widen4(wv.y); we[j][3] = widen4(wv.y >> 16u);
        we[j][4] = widen4(wv.z); we[j][5] = widen4(wv.z >> 16u);
        we[j][6] = widen4(wv.w); we[j][7] = widen4(wv.w >> 16u);
        var c = 0;
        for (var l = 0u; l < 8u; l++) { c += dot4(we[j][l], ones); }
        cs[j] += c;
#else
        wl[j] = widen4(wv);
        wh[j] = widen4(wv >> 16u);
        cs[j] += dot4(wl[j], ones) + dot4(wh[j], ones);
#endif
      }
#if !VEC4
      let hiOk = 2u * ww + 1u < P.Kx;
#endif
      for (var i = 0u; i < 4u; i++) {
#if VEC4
        let xa = X[xr[i] + 2u * ww];
        let xb = X[xr[i] + 2u * ww + 1u];
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] += dot4(xa.x, we[j][0]) + dot4(xa.y, we[j][1]) + dot4(xa.z, we[j][2]) + dot4(xa.w, we[j][3])
                     + dot4(xb.x, we[j][4]) + dot4(xb.y, we[j][5]) + dot4(xb.z, we[j][6]) + dot4(xb.w, we[j][7]);
        }
#else
        let xl = X[xr[i] + 2u * ww];
        var xh = 0u;
        if (hiOk) { xh = X[xr[i] + 2u * ww + 1u]; }
        for (var j = 0u; j < 4u; j++) { acc[i][j] += dot4(xl, wl[j]) + dot4(xh, wh[j]); }
#endif
      }
    }
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + i;
      if (m >= P.M) { break; }
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + j;
        if (n >= P.N) { break; }
        let a = acc[i][j] - zx[i] * cs[j];
        if (P.mode == 1u) {
          Y[(m * P.N + n) * P.groups + g] = bitcast<u32>(a);
        } else {
          let t = SW[n * P.groups + g] * f32(a);
          s[i][j] = s[i][j] + t;
        }
      }
    }
  }
  if (P.mode == 1u) { return; }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= P.M) { break; }
    let sx = SX[m / P.sxDiv];
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= P.N) { break; }
      let yi = m * P.N + n;
      Y[yi] = bitcast<u32>(epilogue(sx * s[i][j], n, yi));
    }
  }
}
