// tanh-GELU, 0.5x(1+tanh(√(2/π)(x+0.044715x³))); tanh through exp with a clamped argument (no Inf/NaN).
// The same function as the CPU reference (src/kernels/rowOps.ref.ts geluTanh) and the WASM kernels.
fn gelu(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  let e = exp(2.0 * u);
  return 0.5 * x * (1.0 + (e - 1.0) / (e + 1.0));
}
