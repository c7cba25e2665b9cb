// Y = epilogue(alpha · X·Wᵀ) — FP32 GEMM, tiled in workgroup memory, 4×4 outputs per thread.
//   X: M×K (row stride xRow), W: N×K (row stride wRow) or, with transB = 1, K×N (W[n,k] at k·wRow + n)
//   Y: M×N (row stride yRow). Batched over z = outer·batchInner + inner (attention heads): each
//   operand's base offset = off + outer·strideOuter + inner·strideInner (elements).
//   epilogue: y = alpha·acc (+ bias[n]) → GELU (tanh form) → (+ residual[same layout as Y] | + Y itself)
// Entry points: `main` tiled 64×64×16 in workgroup memory (workgroup 16×16), `main_direct` the same
// 4×4 outputs per thread straight from global memory; any M, N, K (edges zero-filled). VEC4 (a
// parameter, not a copy): `main` loads X and W as vec4 along K — requires transB = 0, K % 4 == 0
// and every X/W offset and stride a multiple of 4 (passed in elements; the kernel divides by 4).
// The Params struct is declared once, in gemmF32.ts (GEMM_F32_PARAMS).
//#uniforms
@group(0) @binding(0) var<uniform> P: Params;
#if VEC4
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
#endif
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> R: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read_write> FLAGS: array<atomic<u32>>; // see lib/nonfinite_flag.wgsl

//#include gelu
//#include nonfinite_flag
//#include batch_bases
fn y_prev(yi: u32) -> f32 { return Y[yi]; }
//#include epilogue

// the end of every entry point: y = epilogue(alpha·acc), flagged if not finite
fn store_y(acc: f32, gn: u32, yi: u32) {
  let y = epilogue(P.alpha * acc, gn, yi);
  flag_nonfinite(y);
  Y[yi] = y;
}

#if !VEC4
const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> As: array<f32, 1024>; // [TK][TM]
var<workgroup> Bs: array<f32, 1024>; // [TK][TN]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let base = batch_bases(wg.z);
  let xb = base.x;
  let wb = base.y;
  let yb = base.z;
  let m0 = wg.y * TM;
  let n0 = wg.x * TN;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = 0.0; } }

  for (var k0 = 0u; k0 < P.K; k0 += TK) {
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * 256u;
      // A: e → (row mm, k kk), consecutive threads along k
      let mm = e / TK;
      let kk = e % TK;
      let gm = m0 + mm;
      let gk = k0 + kk;
      var a = 0.0;
      if (gm < P.M && gk < P.K) { a = X[xb + gm * P.xRow + gk]; }
      As[kk * TM + mm] = a;
      var b = 0.0;
      if (P.transB == 0u) {
        let gn = n0 + mm;
        if (gn < P.N && gk < P.K) { b = W[wb + gn * P.wRow + gk]; }
        Bs[kk * TN + mm] = b;
      } else {
        let kk2 = e / TN;
        let nn = e % TN;
        let gn = n0 + nn;
        let gk2 = k0 + kk2;
        if (gn < P.N && gk2 < P.K) { b = W[wb + gk2 * P.wRow + gn]; }
        Bs[kk2 * TN + nn] = b;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = As[kk * TM + lid.y * 4u + i]; bv[i] = Bs[kk * TN + lid.x * 4u + i]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); } }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + lid.y * 4u + i;
    if (gm >= P.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + lid.x * 4u + j;
      if (gn >= P.N) { continue; }
      store_y(acc[i][j], gn, yb + gm * P.yRow + gn);
    }
  }
}

// Direct variant: the same 4×4 outputs per thread read straight from global memory, no workgroup
// memory and no barriers (8×8 threads → 32×32 outputs a workgroup). Faster on CPU-emulated
// adapters (SwiftShader), where barriers are expensive and "global memory" is cached RAM.
@compute @workgroup_size(8, 8, 1)
fn main_direct(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let base = batch_bases(wg.z);
  let xb = base.x;
  let wb = base.y;
  let yb = base.z;
  let m0 = wg.y * 32u + lid.y * 4u;
  let n0 = wg.x * 32u + lid.x * 4u;
  if (m0 >= P.M || n0 >= P.N) { return; }
  var xr: array<u32, 4>;
  var wn: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    xr[i] = xb + min(m0 + i, P.M - 1u) * P.xRow;
    wn[i] = min(n0 + i, P.N - 1u);
  }
  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = 0.0; } }
  for (var k = 0u; k < P.K; k++) {
    var av: array<f32, 4>;
    var bv: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) { av[i] = X[xr[i] + k]; }
    if (P.transB == 0u) {
      for (var j = 0u; j < 4u; j++) { bv[j] = W[wb + wn[j] * P.wRow + k]; }
    } else {
      for (var j = 0u; j < 4u; j++) { bv[j] = W[wb + k * P.wRow + wn[j]]; }
    }
    for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); } }
  }
  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + i;
    if (gm >= P.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + j;
      if (gn >= P.N) { break; }
      store_y(acc[i][j], gn, yb + gm * P.yRow + gn);
    }
  }
}
#else
// VEC4: 4×4 outputs per thread, X and W read 4 along K at a time, no barriers.
@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let base = batch_bases(wg.z);
  let xb = base.x / 4u;
  let wb = base.y / 4u;
  let yb = base.z;
  let m0 = wg.y * 32u + lid.y * 4u;
  let n0 = wg.x * 32u + lid.x * 4u;
  if (m0 >= P.M || n0 >= P.N) { return; }
  var xr: array<u32, 4>;
  var wr: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    xr[i] = xb + min(m0 + i, P.M - 1u) * (P.xRow / 4u);
    wr[i] = wb + min(n0 + i, P.N - 1u) * (P.wRow / 4u);
  }
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  let K4 = P.K / 4u;
  for (var k = 0u; k < K4; k++) {
    let w0 = W[wr[0] + k];
    let w1 = W[wr[1] + k];
    let w2 = W[wr[2] + k];
    let w3 = W[wr[3] + k];
    for (var i = 0u; i < 4u; i++) {
      let a = X[xr[i] + k];
      acc[i] = acc[i] + vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + i;
    if (gm >= P.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + j;
      if (gn >= P.N) { break; }
      store_y(acc[i][j], gn, yb + gm * P.yRow + gn);
    }
  }
}
#endif
