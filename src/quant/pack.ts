/**
 * Packing layouts shared by the WGSL kernels and their CPU references.
 *
 * INT8: 4 signed lanes per u32, lane i (element k = 4w + i) in bits 8i..8i+7 (two's complement),
 *       the layout `dot4I8Packed` reads. A row of K values takes ceil(K/4) words; padding lanes are 0.
 * INT4: 8 signed lanes per u32, lane j (element k = 8w + j) in bits 4j..4j+3 (two's complement,
 *       range [-8, 7]). A row of K values takes ceil(K/8) words; padding lanes are 0.
 * INT2 values are stored in the INT4 or INT8 layout (they fit both): no kernel needs 2-bit packing.
 * Zero padding is safe for every kernel: a padded lane multiplies to 0 and row/column sums skip it.
 */
export function int8WordsPerRow(k: number): number {
  return Math.ceil(k / 4);
}
export function int4WordsPerRow(k: number): number {
  return Math.ceil(k / 8);
}

/** Pack rows × k signed int8 values (row-major) into rows × ceil(k/4) u32 words. */
export function packInt8Rows(q: ArrayLike<number>, rows: number, k: number): Uint32Array {
  const wpr = int8WordsPerRow(k);
  const out = new Uint32Array(rows * wpr);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      const v = q[r * k + c];
      if (v < -128 || v > 127 || !Number.isInteger(v)) throw new RangeError(`packInt8Rows: ${v} is not an int8`);
      out[r * wpr + (c >> 2)] |= (v & 0xff) << ((c & 3) * 8);
    }
  }
  return out;
}

/** Pack rows × k signed int4 values (row-major) into rows × ceil(k/8) u32 words. */
export function packInt4Rows(q: ArrayLike<number>, rows: number, k: number): Uint32Array {
  const wpr = int4WordsPerRow(k);
  const out = new Uint32Array(rows * wpr);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      const v = q[r * k + c];
      if (v < -8 || v > 7 || !Number.isInteger(v)) throw new RangeError(`packInt4Rows: ${v} is not an int4`);
      out[r * wpr + (c >> 3)] |= (v & 0xf) << ((c & 7) * 4);
    }
  }
  return out;
}

export function unpackInt8Rows(p: Uint32Array, rows: number, k: number): Int32Array {
  const wpr = int8WordsPerRow(k);
  const out = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) out[r * k + c] = ((p[r * wpr + (c >> 2)] >>> ((c & 3) * 8)) << 24) >> 24;
  return out;
}

export function unpackInt4Rows(p: Uint32Array, rows: number, k: number): Int32Array {
  const wpr = int4WordsPerRow(k);
  const out = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) out[r * k + c] = ((p[r * wpr + (c >> 3)] >>> ((c & 7) * 4)) << 28) >> 28;
  return out;
}
