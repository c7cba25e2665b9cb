// Row softmax, in place or out of place: y = exp(x − max)/Σ exp(x − max). One workgroup of 64 a row.
// A row without a finite result (all −∞, or NaN/+Inf in it) raises the flag of lib/nonfinite_flag.wgsl.
struct Params { rows: u32, cols: u32, nx: u32, _p0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> FLAGS: array<atomic<u32>>;
//#include nonfinite_flag

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let R = wg.x + wg.y * P.nx;
  let live = R < P.rows;
  let base = R * P.cols;
  var m = -3.40282346638528859812e+38f;
  if (live) { for (var c = li; c < P.cols; c += 64u) { m = max(m, X[base + c]); } }
  red[li] = m;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (li < s) { red[li] = max(red[li], red[li + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var sum = 0.0;
  if (live) { for (var c = li; c < P.cols; c += 64u) { sum = sum + exp(X[base + c] - mx); } }
  red[li] = sum;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (li < s) { red[li] = red[li] + red[li + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  if (live) {
    for (var c = li; c < P.cols; c += 64u) {
      let y = exp(X[base + c] - mx) * inv;
      flag_nonfinite(y);
      X[base + c] = y;
    }
  }
}

// One thread a row (no barriers): faster on CPU-emulated adapters and for short rows.
@compute @workgroup_size(64)
fn main_serial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let R = gid.x + gid.y * P.nx * 64u;
  if (R >= P.rows) { return; }
  let base = R * P.cols;
  var m = -3.40282346638528859812e+38f;
  for (var c = 0u; c < P.cols; c++) { m = max(m, X[base + c]); }
  var sum = 0.0;
  for (var c = 0u; c < P.cols; c++) { sum = sum + exp(X[base + c] - m); }
  let inv = 1.0 / sum;
  for (var c = 0u; c < P.cols; c++) {
    let y = exp(X[base + c] - m) * inv;
    flag_nonfinite(y);
    X[base + c] = y;
  }
}
