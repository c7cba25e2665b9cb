// Y = epilogue(alpha · X·Wᵀ) — FP32 GEMM, tiled in workgroup memory, 4×4 outputs per thread.
//   X: M×K (row stride xRow), W: N×K (row stride wRow) or, with transB = 1, K×N (W[n,k] at k·wRow + n)
//   Y: M×N (row stride yRow). Batched over z = outer·batchInner + inner (attention heads): each
//   operand's base offset = off + outer·strideOuter + inner·strideInner (elements).
//   epilogue: y = alpha·acc (+ bias[n]) → GELU (tanh form) → (+ residual[same layout as Y] | + Y itself)
// Tile 64×64×16, workgroup 16×16. Any M, N, K (edges zero-filled).
struct Params {
  M: u32, N: u32, K: u32, batchInner: u32,
  xOuter: u32, xInner: u32, xRow: u32, xOff: u32,
  wOuter: u32, wInner: u32, wRow: u32, wOff: u32,
  yOuter: u32, yInner: u32, yRow: u32, yOff: u32,
  transB: u32, hasBias: u32, act: u32, resid: u32,
  alpha: f32, _p0: u32, _p1: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> R: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read_write> FLAGS: array<atomic<u32>>; // see nonfinite_flag.wgsl

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> As: array<f32, 1024>; // [TK][TM]
var<workgroup> Bs: array<f32, 1024>; // [TK][TN]

fn gelu(x: f32) -> f32 {
  // 0.5x(1+tanh(√(2/π)(x+0.044715x³))); tanh through exp with a clamped argument (no Inf/NaN).
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  let e = exp(2.0 * u);
  return 0.5 * x * (1.0 + (e - 1.0) / (e + 1.0));
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let outer = z / P.batchInner;
  let inner = z % P.batchInner;
  let xb = P.xOff + outer * P.xOuter + inner * P.xInner;
  let wb = P.wOff + outer * P.wOuter + inner * P.wInner;
  let yb = P.yOff + outer * P.yOuter + inner * P.yInner;
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
      var y = P.alpha * acc[i][j];
      if (P.hasBias != 0u) { y = y + B[gn]; }
      if (P.act == 1u) { y = gelu(y); }
      let yi = yb + gm * P.yRow + gn;
      if (P.resid == 1u) { y = y + R[yi]; } else if (P.resid == 2u) { y = y + Y[yi]; }
      flag_nonfinite(y);
      Y[yi] = y;
    }
  }
}

// Direct variant: the same 4×4 outputs per thread read straight from global memory, no workgroup
// memory and no barriers (8×8 threads → 32×32 outputs a workgroup). Faster on CPU-emulated
// adapters (SwiftShader), where barriers are expensive and "global memory" is cached RAM.
@compute @workgroup_size(8, 8, 1)
fn main_direct(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let outer = z / P.batchInner;
  let inner = z % P.batchInner;
  let xb = P.xOff + outer * P.xOuter + inner * P.xInner;
  let wb = P.wOff + outer * P.wOuter + inner * P.wInner;
  let yb = P.yOff + outer * P.yOuter + inner * P.yInner;
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
      var y = P.alpha * acc[i][j];
      if (P.hasBias != 0u) { y = y + B[gn]; }
      if (P.act == 1u) { y = gelu(y); }
      let yi = yb + gm * P.yRow + gn;
      if (P.resid == 1u) { y = y + R[yi]; } else if (P.resid == 2u) { y = y + Y[yi]; }
      flag_nonfinite(y);
      Y[yi] = y;
    }
  }
}
