/**
 * CPU reference of shaders/gemm_w8a8.wgsl.
 *
 * Operands are signed int8 *storage* integers (asymmetric values already shifted by −128, see
 * quant/scaleZero.ts storageOffset), row-major X[M×K] and W[N×K], with storage zero points
 * zx[m] (per row, or one for the tensor) and zw[n]. The corrected integer
 *   acc'[m,n] = Σ_c (X[m,c] − zx[m])·(W[n,c] − zw[n])
 *             = Σ X·W − zw[n]·rowsumX[m] − zx[m]·colsumW[n] + K·zx[m]·zw[n]     (science.md §2)
 * is computed exactly in int32, then the dequant epilogue Y = f32(acc')·sx[m]·sw[n] + b[n].
 */
export interface W8A8Operands {
  m: number;
  n: number;
  k: number;
  /** int8 values, M×K */
  xq: Int32Array | Int8Array;
  /** int8 values, N×K */
  wq: Int32Array | Int8Array;
  /** per-row (length M) or per-tensor (length 1) activation scales */
  sx: Float32Array;
  /** per-channel (length N) or per-tensor (length 1) weight scales */
  sw: Float32Array;
  /** storage zero points; omitted = symmetric (0). Length M or 1 / N or 1. */
  zx?: Int32Array;
  zw?: Int32Array;
  bias?: Float32Array | null;
}

const at = (a: ArrayLike<number> | undefined, i: number) => (a ? (a.length === 1 ? a[0] : a[i]) : 0);

/** The corrected int32 accumulators acc'[m,n] (bit-exact target of the kernel's integer stage). */
export function gemmW8A8AccRef(o: W8A8Operands): Int32Array {
  const { m, n, k, xq, wq } = o;
  const acc = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    const zx = at(o.zx, i);
    for (let j = 0; j < n; j++) {
      const zw = at(o.zw, j);
      let s = 0;
      for (let c = 0; c < k; c++) s += (xq[i * k + c] - zx) * (wq[j * k + c] - zw);
      acc[i * n + j] = s;
    }
  }
  return acc;
}

/** Y = f32(acc')·sx[m]·sw[n] + b[n], each step rounded to float32 (the kernel's order). */
export function gemmW8A8Ref(o: W8A8Operands): Float32Array {
  const acc = gemmW8A8AccRef(o);
  const f = Math.fround;
  const y = new Float32Array(o.m * o.n);
  for (let i = 0; i < o.m; i++)
    for (let j = 0; j < o.n; j++) y[i * o.n + j] = f(f(f(acc[i * o.n + j] * at(o.sx, i)) * at(o.sw, j)) + (o.bias ? o.bias[j] : 0));
  return y;
}
