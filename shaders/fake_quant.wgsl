// Fake-quantization helpers of the WebGPU forward, for schemes that do not map to an integer GEMM
// (science.md §2): the activations are quantized by quantize_rows.wgsl, dequantized here, and the
// product runs in FP32 on gemm_f32.wgsl. Also SmoothQuant's runtime per-channel division.
//
//   dequantize_rows: OUT[r·cols + c] = S[r / rowsPerGroup] · f32(lane(Q, r, c) − Z[r / rowsPerGroup])
//                    Q: int8 lanes, 4 per u32, row stride wordsPerRow (quantize_rows' storage values)
//   scale_columns:   OUT[r·cols + c] = A[r·cols + c] / D[c]
struct Params {
  rows: u32, cols: u32, wordsPerRow: u32, rowsPerGroup: u32,
  nx: u32, _p0: u32, _p1: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Q: array<u32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> Z: array<i32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;

@compute @workgroup_size(64)
fn dequantize_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * P.nx * 64u;
  if (i >= P.rows * P.cols) { return; }
  let r = i / P.cols;
  let c = i % P.cols;
  let word = Q[r * P.wordsPerRow + c / 4u];
  // sign-extend lane c%4: shift it to the top byte, then arithmetic shift back
  let lane = bitcast<i32>(word << (24u - 8u * (c % 4u))) >> 24u;
  let g = r / P.rowsPerGroup;
  OUT[i] = S[g] * f32(lane - Z[g]);
}

@group(0) @binding(5) var<storage, read> A: array<f32>;
@group(0) @binding(6) var<storage, read> D: array<f32>;

@compute @workgroup_size(64)
fn scale_columns(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * P.nx * 64u;
  if (i >= P.rows * P.cols) { return; }
  OUT[i] = A[i] / D[i % P.cols];
}
