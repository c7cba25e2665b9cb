/**
 * LLM.int8() mixed-precision decomposition (science.md §3): the input channels (columns of X) in
 * which any |x| exceeds a threshold (6.0 in the paper) stay in FP32, together with the matching
 * columns of W; the remaining columns run as an integer GEMM with per-token symmetric X and
 * per-output-channel symmetric W (ranges taken over the non-outlier columns only); the two partial
 * products are summed, then the bias is added.
 */
import { gemmW8A8Ref, type W8A8Operands } from '../kernels/gemmW8A8.ref';
import { type MatrixQuantSpec, type QuantizedMatrix, quantizeMatrix, validateFinite } from '../quant/quantizeMatrix';

/**
 * 1 where any |x[:, c]| > threshold (strict), X [rows×k] — refusing NaN/Inf in the same pass (an Inf
 * would be an "outlier" and run through the FP32 part unnoticed). What llmInt8Matmul computes first;
 * a caller that has it already (the CPU backend groups images by it) passes it back as `opts.mask`.
 */
export function outlierColumns(x: ArrayLike<number>, rows: number, k: number, threshold: number, what = 'llmInt8Matmul X'): Uint8Array {
  if (x.length !== rows * k) throw new RangeError(`outlierColumns: ${x.length} values for ${rows}×${k}`);
  if (Number.isNaN(threshold)) throw new RangeError('outlierColumns: threshold is NaN');
  const out = new Uint8Array(k);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < k; c++) {
      const v = x[r * k + c];
      if (!Number.isFinite(v)) throw new RangeError(`${what}: element ${r * k + c} is ${v} (NaN/Inf input)`);
      if (Math.abs(v) > threshold) out[c] = 1;
    }
  return out;
}

/** Columns whose mask entry is `keep`, gathered into a new [rows × count] matrix. */
function gatherColumns(x: ArrayLike<number>, rows: number, k: number, idx: Int32Array): Float32Array {
  const kk = idx.length;
  const out = new Float32Array(rows * kk);
  for (let r = 0; r < rows; r++) for (let j = 0; j < kk; j++) out[r * kk + j] = x[r * k + idx[j]];
  return out;
}

export interface LlmInt8Options {
  aBits: 8 | 4 | 2;
  bBits: 8 | 4 | 2;
  /** integer GEMM for the regular part (e.g. a faster MatOps.gemmW8A8); default gemmW8A8Ref */
  gemm?: (o: W8A8Operands) => Float32Array;
  /** quantizer for X's regular columns (e.g. MatOps.quantize on the WASM kernels); default quantizeMatrix */
  quantize?: (x: Float32Array, rows: number, cols: number, spec: MatrixQuantSpec) => QuantizedMatrix;
  /** X's outlier columns from outlierColumns (X already checked finite), when the caller has them */
  mask?: Uint8Array;
}

/** Y[m×n] = X[m×k]·W[n×k]ᵀ + b with the LLM.int8 decomposition. */
export function llmInt8Matmul(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  m: number,
  n: number,
  k: number,
  threshold: number,
  opts: LlmInt8Options,
): Float32Array {
  if (x.length !== m * k) throw new RangeError(`llmInt8Matmul: X has ${x.length} values for ${m}×${k}`);
  if (w.length !== n * k) throw new RangeError(`llmInt8Matmul: W has ${w.length} values for ${n}×${k}`);
  if (bias && bias.length !== n) throw new RangeError(`llmInt8Matmul: bias has ${bias.length} values for n = ${n}`);
  // X is checked finite while its outlier columns are found (or was, by the caller that found them)
  // W is the same array image after image: checked once (it is never written after preparation)
  if (!checkedWeights.has(w as object)) {
    validateFinite(w, 'llmInt8Matmul W');
    checkedWeights.add(w as object);
  }
  if (opts.mask && opts.mask.length !== k) throw new RangeError(`llmInt8Matmul: mask has ${opts.mask.length} columns for k = ${k}`);
  const mask = opts.mask ?? outlierColumns(x, m, k, threshold);
  const outIdx: number[] = [];
  const regIdx: number[] = [];
  for (let c = 0; c < k; c++) (mask[c] ? outIdx : regIdx).push(c);
  const f = Math.fround;

  // integer part over the regular columns
  let yInt: Float32Array | null = null;
  if (regIdx.length > 0) {
    const idx = Int32Array.from(regIdx);
    const kr = idx.length;
    // no outlier column: X itself (a copy only when it is not already a Float32Array)
    const xr = kr === k && x instanceof Float32Array ? x : gatherColumns(x, m, k, idx);
    const qx = (opts.quantize ?? quantizeMatrix)(xr, m, kr, { bits: opts.aBits, symmetric: true, granularity: 'row' });
    const qw = quantizedWeightColumns(w, n, k, idx, mask, opts.bBits);
    yInt = (opts.gemm ?? gemmW8A8Ref)({ m, n, k: kr, xq: qx.q, wq: qw.q, sx: qx.scales, sw: qw.scales, bias: null });
  }

  // FP32 part over the outlier columns (float64 accumulation in column order, rounded once)
  const y = new Float32Array(m * n);
  const oi = Int32Array.from(outIdx);
  const no = oi.length;
  const xo = gatherColumns(x, m, k, oi);
  // W's outlier columns transposed [no × n]: the sum below runs over j innermost (fast in JS) and
  // still adds the terms of each y[i, j] in column order, in float64, as the definition says
  const woT = new Float64Array(no * n);
  for (let j = 0; j < n; j++) for (let c = 0; c < no; c++) woT[c * n + j] = w[j * k + oi[c]];
  if (no === 0 && yInt) {
    // no outlier column (most images at most sites): y = (yInt + 0) + b, rounded once by the store,
    // the same numbers as the general loop below with a zero sum
    if (!bias) for (let i = 0; i < m * n; i++) y[i] = yInt[i] + 0;
    else for (let i = 0, j = 0; i < m * n; i++, j = j + 1 === n ? 0 : j + 1) y[i] = yInt[i] + 0 + bias[j];
    return y;
  }
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let c = 0; c < no; c++) {
      const xv = xo[i * no + c];
      for (let j = 0, o = c * n; j < n; j++) acc[j] += xv * woT[o + j];
    }
    for (let j = 0; j < n; j++) {
      const part = yInt ? f(yInt[i * n + j] + f(acc[j])) : f(acc[j]);
      y[i * n + j] = bias ? f(part + bias[j]) : part;
    }
  }
  return y;
}

/**
 * W's regular columns quantized per output channel. They depend only on W and on which columns
 * are outliers, and the same few outlier channels recur image after image, so the quantized
 * weights are kept per (W, mask): re-scoring a plan no longer re-quantizes n×k weights per image
 * and site (the bulk of LLM.int8's time on the CPU backend). Same numbers as quantizing afresh.
 */
const weightCache = new WeakMap<object, Map<string, QuantizedMatrix>>();
const checkedWeights = new WeakSet<object>();
function quantizedWeightColumns(
  w: ArrayLike<number>,
  n: number,
  k: number,
  idx: Int32Array,
  mask: Uint8Array,
  bits: 8 | 4 | 2,
): QuantizedMatrix {
  let perMask = weightCache.get(w as object);
  if (!perMask) weightCache.set(w as object, (perMask = new Map()));
  const key = `${bits}:${n}:${k}:${mask.join('')}`;
  let q = perMask.get(key);
  if (!q) {
    q = quantizeMatrix(gatherColumns(w, n, k, idx), n, idx.length, { bits, symmetric: true, granularity: 'row' });
    if (perMask.size >= 64) perMask.clear(); // a bounded cache: masks seen recently
    perMask.set(key, q);
  }
  return q;
}
