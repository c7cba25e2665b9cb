/** Row operations of the ViT forward in plain TypeScript (LayerNorm, tanh-GELU, softmax): the CPU
 * references of shaders/layernorm.wgsl, elementwise.wgsl and softmax.wgsl, shared by vitRef and the
 * CPU kernels' TypeScript fallback. */
export function layerNormRows(x: Float32Array, rows: number, d: number, g: Float32Array, b: Float32Array, eps: number): Float32Array {
  return layerNormRowsInto(x, rows, d, g, b, eps, new Float32Array(rows * d));
}

/**
 * LayerNorm into `y`; with `keep`, also the normalized rows x̂ and each row's 1/σ (what a backward
 * pass needs — the QAT trainer keeps them). Same arithmetic either way.
 */
export function layerNormRowsInto(
  x: Float32Array,
  rows: number,
  d: number,
  g: Float32Array,
  b: Float32Array,
  eps: number,
  y: Float32Array,
  keep?: { xhat: Float32Array; inv: Float32Array },
): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[o + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) {
      const t = x[o + j] - mean;
      v += t * t;
    }
    const inv = 1 / Math.sqrt(v / d + eps);
    if (keep) keep.inv[r] = inv;
    for (let j = 0; j < d; j++) {
      const h = (x[o + j] - mean) * inv;
      if (keep) keep.xhat[o + j] = h;
      y[o + j] = h * g[j] + b[j];
    }
  }
  return y;
}

/** √(2/π), the tanh-GELU's constant */
export const GELU_C = Math.sqrt(2 / Math.PI);
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}

export function softmaxRows(x: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let mx = -Infinity;
    for (let j = 0; j < n; j++) mx = Math.max(mx, x[o + j]);
    let s = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.exp(x[o + j] - mx);
      x[o + j] = e;
      s += e;
    }
    for (let j = 0; j < n; j++) x[o + j] /= s;
  }
}
