// Statistics of a matrix view: element (R, c) at off + R·sRow + c·sCol (sCol ≠ 1: columns as rows).
//   row_stats:    ST[R·8 + 0..5] = min, max, absmax, mean, σ (population), non-finite count (as f32)
//                 (one workgroup of 64 a row; passes inside: min/max, mean, then Σ(x − mean)², on x/absmax)
//   histogram:    H[b] += 1 for bin b = floor((x − lo)·invWidth) over all elements; x == hi goes to the
//                 last bin; H[bins] = below lo, H[bins+1] = above hi, H[bins+2] = NaN/Inf
//   count_beyond: CNT[R] = #{c : |x − mean_R| > k·σ_R} using ST from row_stats (the two-pass count)
struct Params {
  rows: u32, cols: u32, off: u32, sRow: u32,
  sCol: u32, bins: u32, nx: u32, _p0: u32,
  lo: f32, hi: f32, invWidth: f32, k: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> IN: array<f32>;
@group(0) @binding(2) var<storage, read_write> ST: array<f32>;
@group(0) @binding(3) var<storage, read_write> H: array<atomic<u32>>;

var<workgroup> r0: array<f32, 64>;
var<workgroup> r1: array<f32, 64>;
var<workgroup> r2: array<f32, 64>;
var<workgroup> r3: array<f32, 64>;

const BIG: f32 = 3.40282346638528859812e+38f;
//#include finite
fn at(R: u32, c: u32) -> f32 { return IN[P.off + R * P.sRow + c * P.sCol]; }

@compute @workgroup_size(64)
fn row_stats(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let R = wg.x + wg.y * P.nx;
  let live = R < P.rows;
  var lo = BIG;
  var hi = -BIG;
  var bad = 0.0;
  if (live) {
    for (var c = li; c < P.cols; c += 64u) {
      let v = at(R, c);
      if (finite(v)) { lo = min(lo, v); hi = max(hi, v); } else { bad = bad + 1.0; }
    }
  }
  r0[li] = lo; r1[li] = hi; r3[li] = bad;
  workgroupBarrier();
  for (var st = 32u; st > 0u; st = st >> 1u) {
    if (li < st) {
      r0[li] = min(r0[li], r0[li + st]);
      r1[li] = max(r1[li], r1[li + st]);
      r3[li] = r3[li] + r3[li + st];
    }
    workgroupBarrier();
  }
  let mn = r0[0];
  let mx = r1[0];
  let nbad = r3[0];
  let n = f32(P.cols) - nbad;
  // Sums of x/absmax so that ±1e30 values neither overflow the sum nor the squares.
  var amax = max(abs(mn), abs(mx));
  if (nbad == f32(P.cols)) { amax = 0.0; }
  var inv = 1.0;
  if (amax > 0.0) { inv = 1.0 / amax; }
  var s = 0.0;
  if (live) {
    for (var c = li; c < P.cols; c += 64u) { let v = at(R, c); if (finite(v)) { s = s + v * inv; } }
  }
  workgroupBarrier();
  r2[li] = s;
  workgroupBarrier();
  for (var st = 32u; st > 0u; st = st >> 1u) {
    if (li < st) { r2[li] = r2[li] + r2[li + st]; }
    workgroupBarrier();
  }
  let meanScaled = r2[0] / max(n, 1.0);
  workgroupBarrier();
  var s2 = 0.0;
  if (live) {
    for (var c = li; c < P.cols; c += 64u) {
      let v = at(R, c);
      if (finite(v)) { let d = v * inv - meanScaled; s2 = s2 + d * d; }
    }
  }
  r2[li] = s2;
  workgroupBarrier();
  for (var st = 32u; st > 0u; st = st >> 1u) {
    if (li < st) { r2[li] = r2[li] + r2[li + st]; }
    workgroupBarrier();
  }
  if (li == 0u && live) {
    var scale = amax;
    if (amax == 0.0) { scale = 1.0; }
    ST[R * 8u + 0u] = select(mn, 0.0, nbad == f32(P.cols));
    ST[R * 8u + 1u] = select(mx, 0.0, nbad == f32(P.cols));
    ST[R * 8u + 2u] = amax;
    ST[R * 8u + 3u] = meanScaled * scale;
    ST[R * 8u + 4u] = sqrt(r2[0] / max(n, 1.0)) * scale;
    ST[R * 8u + 5u] = nbad;
  }
}

@compute @workgroup_size(64)
fn histogram(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * P.nx * 64u;
  if (i >= P.rows * P.cols) { return; }
  let v = at(i / P.cols, i % P.cols);
  var b: u32;
  if (!finite(v)) { b = P.bins + 2u; }
  else if (v < P.lo) { b = P.bins; }
  else if (v > P.hi) { b = P.bins + 1u; }
  else { b = min(u32(floor((v - P.lo) * P.invWidth)), P.bins - 1u); }
  atomicAdd(&H[b], 1u);
}

@compute @workgroup_size(64)
fn count_beyond(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * P.nx * 64u;
  if (i >= P.rows * P.cols) { return; }
  let R = i / P.cols;
  let v = at(R, i % P.cols);
  let t = P.k * ST[R * 8u + 4u];
  if (finite(v) && abs(v - ST[R * 8u + 3u]) > t) { atomicAdd(&H[R], 1u); }
}

// One thread a row (no barriers): faster on CPU-emulated adapters and for short rows. Same outputs.
@compute @workgroup_size(64)
fn row_stats_serial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let R = gid.x + gid.y * P.nx * 64u;
  if (R >= P.rows) { return; }
  var lo = BIG;
  var hi = -BIG;
  var bad = 0.0;
  for (var c = 0u; c < P.cols; c++) {
    let v = at(R, c);
    if (finite(v)) { lo = min(lo, v); hi = max(hi, v); } else { bad = bad + 1.0; }
  }
  let n = f32(P.cols) - bad;
  let none = bad == f32(P.cols);
  var amax = max(abs(lo), abs(hi));
  if (none) { amax = 0.0; }
  var inv = 1.0;
  if (amax > 0.0) { inv = 1.0 / amax; }
  var s = 0.0;
  for (var c = 0u; c < P.cols; c++) { let v = at(R, c); if (finite(v)) { s = s + v * inv; } }
  let meanScaled = s / max(n, 1.0);
  var s2 = 0.0;
  for (var c = 0u; c < P.cols; c++) { let v = at(R, c); if (finite(v)) { let d = v * inv - meanScaled; s2 = s2 + d * d; } }
  var scale = amax;
  if (amax == 0.0) { scale = 1.0; }
  ST[R * 8u + 0u] = select(lo, 0.0, none);
  ST[R * 8u + 1u] = select(hi, 0.0, none);
  ST[R * 8u + 2u] = amax;
  ST[R * 8u + 3u] = meanScaled * scale;
  ST[R * 8u + 4u] = sqrt(s2 / max(n, 1.0)) * scale;
  ST[R * 8u + 5u] = bad;
}
