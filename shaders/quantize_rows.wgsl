// Row / tensor quantization of a float matrix view into packed int8 lanes (needs quant_common.wgsl).
// View: logical row R (0..batch·rows) = (z = R / rows, r = R % rows), z = outer·batchInner + inner,
//   element (R, c) at off + outer·sOuter + inner·sInner + r·sRow + c·sCol   (sCol ≠ 1: transposed view)
// Output: Q[R·wpr + w] packs elements 4w..4w+3 of row R (lane i in bits 8i..), storage integers
//   (asymmetric values minus 2^(bits−1), see storageOffset); bits 8/4/2 all use int8 lanes.
//   SC[G] / ZP[G]: scale and storage zero of group G = R / rowsPerGroup (1 = per row).
// Passes: row_minmax (one workgroup a row) → params (one thread a group; static range: clip) → quantize.
// FLAGS: bit 0 = NaN/Inf in the input, bit 1 = range overflows float32 (sticky until the host resets).
struct Params {
  rows: u32, cols: u32, batch: u32, batchInner: u32,
  off: u32, sOuter: u32, sInner: u32, sRow: u32,
  sCol: u32, totalRows: u32, wpr: u32, bits: u32,
  symmetric: u32, rowsPerGroup: u32, nGroups: u32, clip: u32,
  clipMin: f32, clipMax: f32, nx: u32, _p0: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> IN: array<f32>;
@group(0) @binding(2) var<storage, read_write> MM: array<f32>;
@group(0) @binding(3) var<storage, read_write> SC: array<f32>;
@group(0) @binding(4) var<storage, read_write> ZP: array<i32>;
@group(0) @binding(5) var<storage, read_write> Q: array<u32>;
@group(0) @binding(6) var<storage, read_write> FLAGS: array<atomic<u32>>;

fn elem_index(R: u32, c: u32) -> u32 {
  let z = R / P.rows;
  let r = R % P.rows;
  return P.off + (z / P.batchInner) * P.sOuter + (z % P.batchInner) * P.sInner + r * P.sRow + c * P.sCol;
}

fn qrange() -> vec2<i32> {
  if (P.symmetric != 0u) {
    let m = (1 << (P.bits - 1u)) - 1;
    return vec2<i32>(-m, m);
  }
  return vec2<i32>(0, (1 << P.bits) - 1);
}

var<workgroup> wmin: array<f32, 64>;
var<workgroup> wmax: array<f32, 64>;

@compute @workgroup_size(64)
fn row_minmax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let R = wg.x + wg.y * P.nx;
  let live = R < P.totalRows;
  var lo = F32_MAX;
  var hi = -F32_MAX;
  var bad = false;
  if (live) {
    for (var c = li; c < P.cols; c += 64u) {
      let v = IN[elem_index(R, c)];
      if (!finite(v)) { bad = true; } else { lo = min(lo, v); hi = max(hi, v); }
    }
  }
  if (bad) { atomicOr(&FLAGS[0], 1u); }
  wmin[li] = lo;
  wmax[li] = hi;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (li < s) {
      wmin[li] = min(wmin[li], wmin[li + s]);
      wmax[li] = max(wmax[li], wmax[li + s]);
    }
    workgroupBarrier();
  }
  if (li == 0u && live) {
    MM[2u * R] = wmin[0];
    MM[2u * R + 1u] = wmax[0];
  }
}

@compute @workgroup_size(64)
fn params(@builtin(global_invocation_id) gid: vec3<u32>) {
  let G = gid.x + gid.y * P.nx * 64u;
  if (G >= P.nGroups) { return; }
  var lo = P.clipMin;
  var hi = P.clipMax;
  if (P.clip == 0u) {
    lo = F32_MAX;
    hi = -F32_MAX;
    let r0 = G * P.rowsPerGroup;
    let r1 = min(P.totalRows, r0 + P.rowsPerGroup);
    for (var R = r0; R < r1; R++) { lo = min(lo, MM[2u * R]); hi = max(hi, MM[2u * R + 1u]); }
    if (lo > hi) { lo = 0.0; hi = 0.0; } // only non-finite values: flagged already
  }
  let qr = qrange();
  let sz = scale_zero(lo, hi, qr.x, qr.y, P.symmetric != 0u);
  if (!sz.ok) { atomicOr(&FLAGS[0], 2u); }
  SC[G] = sz.s;
  var off = 0;
  if (P.symmetric == 0u) { off = 1 << (P.bits - 1u); }
  ZP[G] = sz.z - off;
}

@compute @workgroup_size(64)
fn quantize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * P.nx * 64u;
  if (i >= P.totalRows * P.wpr) { return; }
  let R = i / P.wpr;
  let w = i % P.wpr;
  let G = R / P.rowsPerGroup;
  let s = SC[G];
  var off = 0;
  if (P.symmetric == 0u) { off = 1 << (P.bits - 1u); }
  let z = ZP[G] + off;
  let qr = qrange();
  var word = 0u;
  for (var l = 0u; l < 4u; l++) {
    let c = 4u * w + l;
    if (c >= P.cols) { break; }
    let q = quantize_value(IN[elem_index(R, c)], s, z, qr.x, qr.y) - off;
    word = word | ((bitcast<u32>(q) & 0xffu) << (8u * l));
  }
  Q[i] = word;
}

// One thread a row (no barriers): faster on CPU-emulated adapters and for short rows.
@compute @workgroup_size(64)
fn row_minmax_serial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let R = gid.x + gid.y * P.nx * 64u;
  if (R >= P.totalRows) { return; }
  var lo = F32_MAX;
  var hi = -F32_MAX;
  var bad = false;
  for (var c = 0u; c < P.cols; c++) {
    let v = IN[elem_index(R, c)];
    if (!finite(v)) { bad = true; } else { lo = min(lo, v); hi = max(hi, v); }
  }
  if (bad) { atomicOr(&FLAGS[0], 1u); }
  MM[2u * R] = lo;
  MM[2u * R + 1u] = hi;
}
