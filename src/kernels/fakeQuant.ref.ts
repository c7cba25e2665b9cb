/** CPU references of shaders/fake_quant.wgsl. */
import { unpackInt8Rows } from '../quant/pack';

/** out[r,c] = s[g]·(q[r,c] − z[g]), g = ⌊r / rowsPerGroup⌋, float32 (= dequantizeMatrix on storage values). */
export function dequantizeRowsRef(
  packed: Uint32Array,
  scales: Float32Array,
  zeros: Int32Array,
  rows: number,
  cols: number,
  rowsPerGroup: number,
): Float32Array {
  const q = unpackInt8Rows(packed, rows, cols);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const g = Math.floor(r / rowsPerGroup);
    for (let c = 0; c < cols; c++) out[r * cols + c] = Math.fround(scales[g] * (q[r * cols + c] - zeros[g]));
  }
  return out;
}

/** out[r,c] = a[r,c] / d[c] (SmoothQuant's activation side). */
export function scaleColumnsRef(a: Float32Array, d: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(a[i] / d[i % cols]);
  return out;
}
