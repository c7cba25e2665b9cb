// LayerNorm over rows (eps from the uniform, affine γ, β): y = (x − mean)/√(var + eps)·γ + β,
// var biased (PyTorch). One workgroup of 64 a row; row R reads IN[inOff + R·inRow + c] and writes
// Y[R·C + c]. With minmax = 1 it also writes the row's min/max of y to MM[2R], MM[2R+1] — the
// first pass of quantize_rows, so layernorm_quantize goes straight to its params/quantize passes.
// FLAGS bit 0: NaN/Inf in the input.
struct Params {
  rows: u32, C: u32, inRow: u32, inOff: u32,
  eps: f32, minmax: u32, nx: u32, _p0: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> IN: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read_write> MM: array<f32>;
@group(0) @binding(6) var<storage, read_write> FLAGS: array<atomic<u32>>;

const F32_MAX_LN: f32 = 3.40282346638528859812e+38f;
var<workgroup> red: array<f32, 64>;
var<workgroup> red2: array<f32, 64>;

//#include finite

fn reduce_sum(li: u32) -> f32 {
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (li < s) { red[li] = red[li] + red[li + s]; }
    workgroupBarrier();
  }
  let v = red[0];
  workgroupBarrier();
  return v;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let R = wg.x + wg.y * P.nx;
  let live = R < P.rows;
  let base = P.inOff + R * P.inRow;
  var s = 0.0;
  var bad = false;
  if (live) {
    for (var c = li; c < P.C; c += 64u) {
      let v = IN[base + c];
      if (!finite(v)) { bad = true; }
      s = s + v;
    }
  }
  if (bad) { atomicOr(&FLAGS[0], 1u); }
  red[li] = s;
  let mean = reduce_sum(li) / f32(P.C);
  var s2 = 0.0;
  if (live) {
    for (var c = li; c < P.C; c += 64u) { let d = IN[base + c] - mean; s2 = s2 + d * d; }
  }
  red[li] = s2;
  let variance = reduce_sum(li) / f32(P.C);
  let inv = 1.0 / sqrt(variance + P.eps);
  var lo = F32_MAX_LN;
  var hi = -F32_MAX_LN;
  if (live) {
    for (var c = li; c < P.C; c += 64u) {
      let y = (IN[base + c] - mean) * inv * G[c] + B[c];
      Y[R * P.C + c] = y;
      lo = min(lo, y);
      hi = max(hi, y);
    }
  }
  if (P.minmax == 0u) { return; }
  red[li] = lo;
  red2[li] = hi;
  workgroupBarrier();
  for (var st = 32u; st > 0u; st = st >> 1u) {
    if (li < st) { red[li] = min(red[li], red[li + st]); red2[li] = max(red2[li], red2[li + st]); }
    workgroupBarrier();
  }
  if (li == 0u && live) { MM[2u * R] = red[0]; MM[2u * R + 1u] = red2[0]; }
}

// One thread a row (no barriers): faster on CPU-emulated adapters and for short rows.
@compute @workgroup_size(64)
fn main_serial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let R = gid.x + gid.y * P.nx * 64u;
  if (R >= P.rows) { return; }
  let base = P.inOff + R * P.inRow;
  var s = 0.0;
  var bad = false;
  for (var c = 0u; c < P.C; c++) { let v = IN[base + c]; if (!finite(v)) { bad = true; } s = s + v; }
  if (bad) { atomicOr(&FLAGS[0], 1u); }
  let mean = s / f32(P.C);
  var s2 = 0.0;
  for (var c = 0u; c < P.C; c++) { let d = IN[base + c] - mean; s2 = s2 + d * d; }
  let inv = 1.0 / sqrt(s2 / f32(P.C) + P.eps);
  var lo = F32_MAX_LN;
  var hi = -F32_MAX_LN;
  for (var c = 0u; c < P.C; c++) {
    let y = (IN[base + c] - mean) * inv * G[c] + B[c];
    Y[R * P.C + c] = y;
    lo = min(lo, y);
    hi = max(hi, y);
  }
  if (P.minmax != 0u) { MM[2u * R] = lo; MM[2u * R + 1u] = hi; }
}
