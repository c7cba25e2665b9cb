/**
 * GPTQ (science.md §4): quantize W[n×k] column by column, minimising ‖W·X − Ŵ·X‖² for the
 * calibration inputs summarised by H = 2/N Σ x xᵀ (k×k), following the reference implementation
 * (IST-DASLab gptq.py, `fasterquant`):
 *  1. dead inputs (H_cc = 0): H_cc = 1 and W[:, c] = 0 (that input is always 0, its weight is free);
 *  2. act-order (optional): process columns by diag(H) descending;
 *  3. damping λ = damp·mean(diag H) on the diagonal; U = upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU);
 *  4. for each column j (in processing order): q_j = quant(w_j); err = (w_j − q̂_j)/U_jj;
 *     w_l −= err·U_jl for every later column l (the unblocked form of the lazy-batch update —
 *     same arithmetic up to float64 rounding order).
 * Scales: 'tensor'/'row' from the original weights (before dead-column zeroing, as the reference's
 * find_params); 'group' from the group's error-updated columns when its first column is reached,
 * as the reference sees them: updates inside the current 128-column block are not yet applied to
 * W there (lazy batch), so the scales use W as of the start of the block. With act-order and groups the groups are still runs of consecutive *original* columns
 * (so the result keeps QuantizedMatrix's layout); their scales are then fixed up front from the
 * weights after dead-column zeroing — the reference's `static_groups` option.
 * Arithmetic in float64; the quantization grid itself is scaleZero/quantizeValue (float32).
 */
import { type Bits, dequantizeValue, intRange, quantizeValue, scaleZero } from './scaleZero';
import { validateFinite } from './quantizeMatrix';

/** The reference's lazy-batch block size (columns). */
export const GPTQ_BLOCK = 128;

export interface GptqSpec {
  bits: Bits;
  symmetric: boolean;
  granularity: 'tensor' | 'row' | 'group';
  groupSize?: number;
}

export interface GptqOptions {
  actOrder: boolean;
  /** damping as a fraction of mean(diag H), e.g. 0.01 */
  damp: number;
}

export interface GptqResult {
  /** n×k integers in [qmin, qmax] (unsigned for asymmetric), original column order */
  q: Int32Array;
  scales: Float32Array;
  zeros: Int32Array;
  groupsPerRow: number;
  groupSize: number;
}

/** In-place lower Cholesky factor of a k×k SPD matrix (row-major); false if not positive definite. */
export function choleskyLower(a: Float64Array, k: number): boolean {
  for (let j = 0; j < k; j++) {
    let d = a[j * k + j];
    for (let t = 0; t < j; t++) d -= a[j * k + t] * a[j * k + t];
    if (!(d > 0) || !Number.isFinite(d)) return false;
    const ljj = Math.sqrt(d);
    a[j * k + j] = ljj;
    for (let i = j + 1; i < k; i++) {
      let s = a[i * k + j];
      for (let t = 0; t < j; t++) s -= a[i * k + t] * a[j * k + t];
      a[i * k + j] = s / ljj;
    }
    for (let t = j + 1; t < k; t++) a[j * k + t] = 0;
  }
  return true;
}

/**
 * Upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU), as the reference computes it: H = LLᵀ,
 * H⁻¹ = L⁻ᵀL⁻¹ formed explicitly (cholesky_inverse), then factored again (upper=True).
 */
export function upperCholeskyOfInverse(h: Float64Array, k: number): Float64Array | null {
  const l = Float64Array.from(h);
  if (!choleskyLower(l, k)) return null;
  // Linv = L⁻¹ (lower triangular), by forward substitution on the identity.
  const linv = new Float64Array(k * k);
  for (let c = 0; c < k; c++) {
    linv[c * k + c] = 1 / l[c * k + c];
    for (let i = c + 1; i < k; i++) {
      let s = 0;
      for (let t = c; t < i; t++) s -= l[i * k + t] * linv[t * k + c];
      linv[i * k + c] = s / l[i * k + i];
    }
  }
  // Hinv = Linvᵀ·Linv
  const hinv = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let t = i; t < k; t++) s += linv[t * k + i] * linv[t * k + j];
      hinv[i * k + j] = s;
      hinv[j * k + i] = s;
    }
  // Upper Cholesky of Hinv (torch.linalg.cholesky(Hinv, upper=True)): Hinv = LLᵀ = UᵀU with U = Lᵀ.
  if (!choleskyLower(hinv, k)) return null;
  const u = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = i; j < k; j++) u[i * k + j] = hinv[j * k + i];
  return u;
}

function minMax(w: ArrayLike<number>, k: number, rows: [number, number], cols: [number, number], colIndex?: Int32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let r = rows[0]; r < rows[1]; r++)
    for (let c = cols[0]; c < cols[1]; c++) {
      const v = w[r * k + (colIndex ? colIndex[c] : c)];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  return lo === Infinity ? [0, 0] : [lo, hi];
}

export function gptqQuantize(w: Float32Array, n: number, k: number, hessian: Float64Array, spec: GptqSpec, opts: GptqOptions): GptqResult {
  if (w.length !== n * k) throw new RangeError(`gptqQuantize: ${w.length} weights for ${n}×${k}`);
  if (hessian.length !== k * k) throw new RangeError(`gptqQuantize: Hessian has ${hessian.length} entries, expected ${k}×${k}`);
  validateFinite(w, 'gptqQuantize weights');
  validateFinite(hessian, 'gptqQuantize Hessian');
  if (!(opts.damp >= 0)) throw new RangeError(`gptqQuantize: damp = ${opts.damp}`);
  const { bits, symmetric, granularity } = spec;
  const { qmin, qmax } = intRange(bits, symmetric);
  const groupSize = granularity === 'group' ? (spec.groupSize ?? 0) : k;
  if (granularity === 'group' && !(Number.isInteger(groupSize) && groupSize > 0))
    throw new RangeError('gptqQuantize: group granularity needs groupSize > 0');
  const groupsPerRow = granularity === 'tensor' ? 1 : Math.ceil(k / groupSize);
  const nGroups = granularity === 'tensor' ? 1 : n * groupsPerRow;
  const scales = new Float32Array(nGroups);
  const zeros = new Int32Array(nGroups);
  const setGroup = (g: number, lo: number, hi: number) => {
    const sz = scaleZero(lo, hi, bits, symmetric);
    scales[g] = sz.scale;
    zeros[g] = sz.zero;
  };

  // Scales of the original weights (reference: find_params before the dead-column step).
  if (granularity === 'tensor') {
    const [lo, hi] = minMax(w, k, [0, n], [0, k]);
    setGroup(0, lo, hi);
  } else if (granularity === 'row') {
    for (let r = 0; r < n; r++) {
      const [lo, hi] = minMax(w, k, [r, r + 1], [0, k]);
      setGroup(r, lo, hi);
    }
  }

  // 1. dead columns
  const H = Float64Array.from(hessian);
  const W = Float64Array.from(w);
  for (let c = 0; c < k; c++) {
    if (H[c * k + c] === 0) {
      H[c * k + c] = 1;
      for (let r = 0; r < n; r++) W[r * k + c] = 0;
    }
  }

  // 2. act-order permutation (stable sort: ties keep the original order)
  const perm = new Int32Array(k);
  for (let c = 0; c < k; c++) perm[c] = c;
  if (opts.actOrder) {
    const order = Array.from(perm).sort((a, b) => H[b * k + b] - H[a * k + a] || a - b);
    perm.set(order);
  }
  const staticGroups = granularity === 'group' && opts.actOrder;
  if (staticGroups) {
    for (let r = 0; r < n; r++)
      for (let g = 0; g < groupsPerRow; g++) {
        const [lo, hi] = minMax(W, k, [r, r + 1], [g * groupSize, Math.min(k, (g + 1) * groupSize)]);
        setGroup(r * groupsPerRow + g, lo, hi);
      }
  }
  // Permuted copies: Wp[r, j] = W[r, perm[j]], Hp[i, j] = H[perm[i], perm[j]].
  const Wp = new Float64Array(n * k);
  for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) Wp[r * k + j] = W[r * k + perm[j]];
  const Hp = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) Hp[i * k + j] = H[perm[i] * k + perm[j]];

  // 3. damping and the Cholesky factor of H⁻¹. If H is numerically singular even after damping
  // (e.g. damp = 0 on rank-deficient data), raise the damping tenfold until it factors.
  let mean = 0;
  for (let i = 0; i < k; i++) mean += Hp[i * k + i];
  mean /= k;
  let damp = opts.damp * mean;
  let U: Float64Array | null = null;
  for (let attempt = 0; attempt < 12 && !U; attempt++) {
    const Hd = Float64Array.from(Hp);
    for (let i = 0; i < k; i++) Hd[i * k + i] += damp;
    U = upperCholeskyOfInverse(Hd, k);
    damp = damp > 0 ? damp * 10 : Math.max(1e-8 * mean, 1e-12);
  }
  if (!U) throw new Error('gptqQuantize: Hessian is not positive definite even with heavy damping');

  // 4. column-by-column quantization with error feedback
  const qp = new Int32Array(n * k);
  const err = new Float64Array(n);
  // The reference updates columns inside a block of 128 lazily (in a copy), so its group scales
  // see the weights as of the start of the current block: keep that snapshot for them.
  const dynamicGroups = granularity === 'group' && !staticGroups;
  const snapshot = dynamicGroups ? new Float64Array(n * k) : Wp;
  for (let j = 0; j < k; j++) {
    const col = perm[j];
    const gIdx = granularity === 'group' ? Math.floor(col / groupSize) : 0;
    if (dynamicGroups && j % GPTQ_BLOCK === 0) snapshot.set(Wp);
    if (dynamicGroups && col % groupSize === 0) {
      // without act-order perm is the identity: the group's columns are j..j+groupSize
      for (let r = 0; r < n; r++) {
        const [lo, hi] = minMax(snapshot, k, [r, r + 1], [j, Math.min(k, j + groupSize)]);
        setGroup(r * groupsPerRow + gIdx, lo, hi);
      }
    }
    const d = U[j * k + j];
    for (let r = 0; r < n; r++) {
      const g = granularity === 'tensor' ? 0 : granularity === 'row' ? r : r * groupsPerRow + gIdx;
      const wv = Wp[r * k + j];
      const q = quantizeValue(wv, scales[g], zeros[g], qmin, qmax);
      qp[r * k + j] = q;
      err[r] = (wv - dequantizeValue(q, scales[g], zeros[g])) / d;
    }
    for (let r = 0; r < n; r++) {
      const e = err[r];
      if (e === 0) continue;
      const row = r * k;
      const urow = j * k;
      for (let l = j + 1; l < k; l++) Wp[row + l] -= e * U[urow + l];
    }
  }

  // back to the original column order
  const q = new Int32Array(n * k);
  for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) q[r * k + perm[j]] = qp[r * k + j];
  return { q, scales, zeros, groupsPerRow, groupSize };
}
