/**
 * CPU reference of shaders/gemm_w4a8.wgsl: int4 weights (symmetric, [-8,7] storage; [-7,7] from
 * the symmetric quantizer) with per-output-channel (groupSize = K) or per-group scales along K,
 * int8 activations with per-row/per-tensor scale and storage zero point.
 *   acc_g[m,n] = Σ_{c∈g} (X[m,c] − zx[m])·W[n,c]                   (exact int32)
 *   Y[m,n]     = sx[m] · Σ_g sw[n,g]·f32(acc_g) + b[n]                (float32, g ascending)
 */
export interface W4A8Operands {
  m: number;
  n: number;
  k: number;
  xq: Int32Array | Int8Array;
  /** int4 values, N×K */
  wq: Int32Array | Int8Array;
  sx: Float32Array;
  zx?: Int32Array;
  /** N × ceil(K/groupSize) scales, row-major */
  sw: Float32Array;
  groupSize: number;
  bias?: Float32Array | null;
}

const at = (a: ArrayLike<number> | undefined, i: number) => (a ? (a.length === 1 ? a[0] : a[i]) : 0);

/** Per-group corrected accumulators, [M × N × groups] (bit-exact target). */
export function gemmW4A8AccRef(o: W4A8Operands): Int32Array {
  const groups = Math.ceil(o.k / o.groupSize);
  const acc = new Int32Array(o.m * o.n * groups);
  for (let i = 0; i < o.m; i++) {
    const zx = at(o.zx, i);
    for (let j = 0; j < o.n; j++)
      for (let g = 0; g < groups; g++) {
        let s = 0;
        const c1 = Math.min(o.k, (g + 1) * o.groupSize);
        for (let c = g * o.groupSize; c < c1; c++) s += (o.xq[i * o.k + c] - zx) * o.wq[j * o.k + c];
        acc[(i * o.n + j) * groups + g] = s;
      }
  }
  return acc;
}

export function gemmW4A8Ref(o: W4A8Operands): Float32Array {
  const f = Math.fround;
  const groups = Math.ceil(o.k / o.groupSize);
  const acc = gemmW4A8AccRef(o);
  const y = new Float32Array(o.m * o.n);
  for (let i = 0; i < o.m; i++)
    for (let j = 0; j < o.n; j++) {
      let s = 0;
      for (let g = 0; g < groups; g++) s = f(s + f(o.sw[j * groups + g] * acc[(i * o.n + j) * groups + g]));
      y[i * o.n + j] = f(f(at(o.sx, i) * s) + (o.bias ? o.bias[j] : 0));
    }
  return y;
}
