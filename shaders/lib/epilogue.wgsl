// The epilogue every GEMM shares: y (+ bias[n]) → tanh-GELU → (+ residual | + the output's current value).
// Reads the including shader's P.hasBias, P.act, P.resid and bindings B (bias) and R (residual), and
// calls its `y_prev(yi)` (the output's current value as f32) only for resid = 2. Flagging a non-finite
// result and the store stay with the caller (its Y layout). Include `gelu` before it.
fn epilogue(v: f32, n: u32, yi: u32) -> f32 {
  var y = v;
  if (P.hasBias != 0u) { y = y + B[n]; }
  if (P.act == 1u) { y = gelu(y); }
  if (P.resid == 1u) { y = y + R[yi]; } else if (P.resid == 2u) { y = y + y_prev(yi); }
  return y;
}
