// Dequant epilogue shared by gemm_w8a8.wgsl and gemm_w8a8_vec4.wgsl (appended to their source by
// src/kernels/gemmW8A8.ts): one thread's 4×4 tile of exact accumulators, with its row sums of X and
// column sums of W, becomes
//   acc' = acc − zw·rowsum − zx·colsum + K·zx·zw                           (science.md §2)
//   Y    = f32(acc')·sx[m]·sw[n]·alpha + bias → GELU → + residual           (or acc' itself, mode 1)
// It reads the including shader's bindings (P, SX, SW, ZX, ZW, B, R, Y, FLAGS); a non-finite Y (a NaN
// or Inf scale, bias or residual) raises the sticky flag of nonfinite_flag.wgsl.
fn gelu(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  let e = exp(2.0 * u);
  return 0.5 * x * (1.0 + (e - 1.0) / (e + 1.0));
}

fn store_tile(z: u32, m0: u32, n0: u32, yb: u32, acc: array<array<i32, 4>, 4>, rs: array<i32, 4>, cs: array<i32, 4>) {
  let K = i32(P.K);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= P.M) { break; }
    let rowIdx = z * P.M + m;
    var zx = 0;
    if (P.zxDiv != 0u) { zx = ZX[rowIdx / P.zxDiv]; }
    let sx = SX[rowIdx / P.sxDiv];
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= P.N) { break; }
      let colIdx = z * P.N + n;
      var zw = 0;
      if (P.zwDiv != 0u) { zw = ZW[colIdx / P.zwDiv]; }
      let a = acc[i][j] - zw * rs[i] - zx * cs[j] + K * zx * zw;
      let yi = yb + m * P.yRow + n;
      if (P.mode == 1u) { Y[yi] = bitcast<u32>(a); continue; }
      var y = (f32(a) * sx) * SW[colIdx / P.swDiv];
      if (P.alpha != 1.0) { y = y * P.alpha; }
      if (P.hasBias != 0u) { y = y + B[n]; }
      if (P.act == 1u) { y = gelu(y); }
      if (P.resid == 1u) { y = y + R[yi]; } else if (P.resid == 2u) { y = y + bitcast<f32>(Y[yi]); }
      flag_nonfinite(y);
      Y[yi] = bitcast<u32>(y);
    }
  }
}
