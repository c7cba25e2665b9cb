/** CPU reference of shaders/layernorm.wgsl: y = (x − mean)/√(var + eps)·γ + β per row (float64 inside). */
export function layernormRef(
  x: ArrayLike<number>,
  rows: number,
  c: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps = 1e-5,
): Float32Array {
  const y = new Float32Array(rows * c);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < c; i++) s += x[r * c + i];
    const mean = s / c;
    let v = 0;
    for (let i = 0; i < c; i++) v += (x[r * c + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / c + eps);
    for (let i = 0; i < c; i++) y[r * c + i] = (x[r * c + i] - mean) * inv * gamma[i] + beta[i];
  }
  return y;
}
