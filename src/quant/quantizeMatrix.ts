/**
 * Quantization of a row-major matrix [rows × cols] at a granularity — the CPU reference the
 * quantize kernels (shaders/quantize_rows.wgsl) and the fake-quant path are compared against.
 *
 * Granularity, in the matrix's own terms:
 *  - 'tensor': one (s, z) for the whole matrix
 *  - 'row':    one (s, z) per row (per token for activations X[N×C], per output channel for W[D×C])
 *  - 'group':  one (s, z) per row and per run of `groupSize` consecutive columns (along K)
 * A static range (`clip`) replaces the data's min/max for every group (calibrated activations).
 */
import { type Bits, intRange, quantizeValue, roundHalfEven, scaleZero } from './scaleZero';

export type MatrixGranularity = 'tensor' | 'row' | 'group';

export interface MatrixQuantSpec {
  bits: Bits;
  symmetric: boolean;
  granularity: MatrixGranularity;
  /** Columns per group, for 'group'. */
  groupSize?: number;
  /** Static range: used instead of the observed min/max. */
  clip?: { min: number; max: number };
}

export interface QuantizedMatrix {
  rows: number;
  cols: number;
  /** Integers in [qmin, qmax] (unsigned for asymmetric), row-major. */
  q: Int32Array;
  /** One scale per group: groupsPerRow per row for 'row'/'group'; a single entry for 'tensor'. */
  scales: Float32Array;
  zeros: Int32Array;
  groupsPerRow: number;
  groupSize: number;
  spec: MatrixQuantSpec;
}

export function validateFinite(x: ArrayLike<number>, what: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`${what}: element ${i} is ${x[i]} (NaN/Inf input)`);
  }
}

/** min and max of x[start..end) with stride 1 (float32 values, exact). */
function minMax(x: ArrayLike<number>, start: number, end: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = start; i < end; i++) {
    const v = x[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

export function quantizeMatrix(x: ArrayLike<number>, rows: number, cols: number, spec: MatrixQuantSpec): QuantizedMatrix {
  if (x.length !== rows * cols) throw new RangeError(`quantizeMatrix: ${x.length} values for ${rows}×${cols}`);
  validateFinite(x, 'quantizeMatrix');
  const { qmin, qmax } = intRange(spec.bits, spec.symmetric);
  const groupSize = spec.granularity === 'group' ? (spec.groupSize ?? 0) : cols;
  if (spec.granularity === 'group' && !(groupSize > 0)) throw new RangeError('quantizeMatrix: group granularity needs groupSize > 0');
  const groupsPerRow = spec.granularity === 'tensor' ? 1 : Math.ceil(cols / groupSize);
  const nGroups = spec.granularity === 'tensor' ? 1 : rows * groupsPerRow;
  const scales = new Float32Array(nGroups);
  const zeros = new Int32Array(nGroups);
  const q = new Int32Array(rows * cols);

  const fill = (g: number, lo: number, hi: number) => {
    const sz = spec.clip
      ? scaleZero(spec.clip.min, spec.clip.max, spec.bits, spec.symmetric)
      : scaleZero(lo, hi, spec.bits, spec.symmetric);
    scales[g] = sz.scale;
    zeros[g] = sz.zero;
  };
  if (spec.granularity === 'tensor') {
    const [lo, hi] = rows * cols ? minMax(x, 0, rows * cols) : [0, 0];
    fill(0, lo, hi);
  } else {
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groupsPerRow; g++) {
        const c0 = g * groupSize;
        const c1 = Math.min(cols, c0 + groupSize);
        const [lo, hi] = minMax(x, r * cols + c0, r * cols + c1);
        fill(r * groupsPerRow + g, lo, hi);
      }
    }
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = spec.granularity === 'tensor' ? 0 : r * groupsPerRow + Math.floor(c / groupSize);
      q[r * cols + c] = quantizeValue(x[r * cols + c], scales[g], zeros[g], qmin, qmax);
    }
  }
  return { rows, cols, q, scales, zeros, groupsPerRow, groupSize, spec };
}

/** r̂ = s·(q − z) for every element, float32. */
export function dequantizeMatrix(m: QuantizedMatrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const g = m.spec.granularity === 'tensor' ? 0 : r * m.groupsPerRow + Math.floor(c / m.groupSize);
      out[r * m.cols + c] = Math.fround(m.scales[g] * (m.q[r * m.cols + c] - m.zeros[g]));
    }
  }
  return out;
}

/** Fake quantization: quantize then dequantize (simulates the scheme's error in float). */
export function fakeQuantMatrix(x: ArrayLike<number>, rows: number, cols: number, spec: MatrixQuantSpec): Float32Array {
  return dequantizeMatrix(quantizeMatrix(x, rows, cols, spec));
}

export { roundHalfEven };
