// FP32 GEMM, direct variant with vec4 loads along K (see gemm_f32.wgsl for the parameters and the
// epilogue): requires transB = 0, K % 4 == 0 and every X/W offset and stride a multiple of 4
// (all are passed in elements; the kernel divides by 4). 4×4 outputs per thread, no barriers.
struct Params {
  M: u32, N: u32, K: u32, batchInner: u32,
  xOuter: u32, xInner: u32, xRow: u32, xOff: u32,
  wOuter: u32, wInner: u32, wRow: u32, wOff: u32,
  yOuter: u32, yInner: u32, yRow: u32, yOff: u32,
  transB: u32, hasBias: u32, act: u32, resid: u32,
  alpha: f32, _p0: u32, _p1: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> R: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read_write> FLAGS: array<atomic<u32>>; // see nonfinite_flag.wgsl

fn gelu(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  let e = exp(2.0 * u);
  return 0.5 * x * (1.0 + (e - 1.0) / (e + 1.0));
}

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
