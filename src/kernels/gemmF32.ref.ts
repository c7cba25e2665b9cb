/** CPU reference of shaders/gemm_f32.wgsl: Y[M×N] = X[M×K] · W[N×K]ᵀ + b[N] (float32 result). */
export function gemmF32Ref(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, n: number, k: number): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const xo = i * k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let acc = 0;
      for (let c = 0; c < k; c++) acc += x[xo + c] * w[wo + c];
      y[i * n + j] = acc + (bias ? bias[j] : 0);
    }
  }
  return y;
}
