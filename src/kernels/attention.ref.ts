/**
 * CPU references of the attention products on the qkv layout (see attention.ts): per (image, head)
 * slices, FP32 (float64 sums) or through quantizeMatrix + gemmW8A8Ref with the kernel's scopes.
 */
import { quantizeMatrix, type MatrixQuantSpec } from '../quant/quantizeMatrix';
import { storageOffset } from '../quant/scaleZero';
import type { AttnQuant } from './attention';

export interface AttnShape {
  images: number;
  tokens: number;
  heads: number;
  headDim: number;
}

/** Slice (image i, head h) of q (part 0), k (1) or v (2) as a dense T × hd matrix. */
export function qkvSlice(qkv: ArrayLike<number>, s: AttnShape, i: number, h: number, part: 0 | 1 | 2): Float32Array {
  const { tokens: T, heads, headDim: hd } = s;
  const dim = heads * hd;
  const o = new Float32Array(T * hd);
  for (let t = 0; t < T; t++) for (let c = 0; c < hd; c++) o[t * hd + c] = qkv[(i * T + t) * 3 * dim + part * dim + h * hd + c];
  return o;
}

export function transpose(x: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const o = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) o[c * rows + r] = x[r * cols + c];
  return o;
}

/**
 * Quantize per (image, head) slices with the kernel's scopes: 'token'/'channel' = per row of the
 * slice, 'tensor' = one range over all heads of an image. Returns storage integers, scales and zeros
 * in the kernel's group order.
 */
export function quantizeSlices(
  slices: Float32Array[][],
  rows: number,
  cols: number,
  s: AttnQuant,
): { q: Int32Array[][]; scales: Float32Array; zeros: Int32Array } {
  const off = storageOffset(s.bits, s.symmetric);
  const spec: MatrixQuantSpec = {
    bits: s.bits,
    symmetric: s.symmetric,
    granularity: s.granularity === 'tensor' ? 'tensor' : 'row',
    clip: s.clip,
  };
  const scales: number[] = [],
    zeros: number[] = [];
  const q: Int32Array[][] = [];
  for (const perHead of slices) {
    const heads = perHead.length;
    const all = new Float32Array(heads * rows * cols);
    perHead.forEach((x, h) => all.set(x, h * rows * cols));
    const m = quantizeMatrix(all, heads * rows, cols, spec);
    q.push(perHead.map((_, h) => Int32Array.from(m.q.subarray(h * rows * cols, (h + 1) * rows * cols), (v) => v - off)));
    scales.push(...m.scales);
    zeros.push(...Array.from(m.zeros, (z) => z - off));
  }
  return { q, scales: Float32Array.from(scales), zeros: Int32Array.from(zeros) };
}
