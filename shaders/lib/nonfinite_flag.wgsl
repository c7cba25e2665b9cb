// Sticky NaN/Inf flag of the FP32 GEMM, the softmax and the W8A8 dequant epilogue (appended to their
// source by the kernel wrappers): a non-finite output sets bit 0 of FLAGS[0], and the host's
// op.checkFlags() turns it into NonFiniteInputError instead of passing NaN on silently.
// Uses the including shader's FLAGS binding (array<atomic<u32>>).
fn flag_nonfinite(y: f32) {
  if ((bitcast<u32>(y) & 0x7f800000u) == 0x7f800000u) { atomicOr(&FLAGS[0], 1u); }
}
