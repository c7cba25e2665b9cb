/**
 * SmoothQuant (science.md §3): Y = (X·diag(s)⁻¹)·(W·diag(s))ᵀ = X·Wᵀ, with
 *   s_c = max|X_c|^α / max|W_c|^(1−α)
 * per input channel c (max|W_c| over W's column c, i.e. over output channels). Dividing X by s
 * shrinks its outlier channels and moves that range onto the weights. In a deployed model the
 * division folds into the preceding LayerNorm; here it is applied explicitly (same numbers).
 */

/** The α grid of the per-site search (science.md §3). */
export const SMOOTH_ALPHAS: readonly number[] = Array.from({ length: 21 }, (_, i) => i / 20);

/** Smoothing factors; channels where either maximum is 0 (or not finite) keep s = 1. Clamped to [1e-5, 1e5]. */
export function smoothScales(actAbsMax: Float32Array, w: Float32Array, n: number, k: number, alpha: number): Float32Array {
  if (actAbsMax.length !== k) throw new RangeError(`smoothScales: ${actAbsMax.length} activation maxima for k = ${k}`);
  if (w.length !== n * k) throw new RangeError(`smoothScales: ${w.length} weights for ${n}×${k}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`smoothScales: alpha = ${alpha} outside [0, 1]`);
  const wMax = new Float64Array(k);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < k; c++) {
      const a = Math.abs(w[r * k + c]);
      if (a > wMax[c]) wMax[c] = a;
    }
  const s = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    const xa = Math.abs(actAbsMax[c]);
    const wa = wMax[c];
    if (!(xa > 0 && wa > 0 && Number.isFinite(xa) && Number.isFinite(wa))) {
      s[c] = 1;
      continue;
    }
    const v = Math.pow(xa, alpha) / Math.pow(wa, 1 - alpha);
    s[c] = Number.isFinite(v) ? Math.min(1e5, Math.max(1e-5, v)) : 1;
  }
  return s;
}

/** x / s per column (new array): X[rows×k]. */
export function applySmoothing(x: ArrayLike<number>, rows: number, k: number, s: Float32Array): Float32Array {
  if (x.length !== rows * k || s.length !== k) throw new RangeError(`applySmoothing: shapes ${x.length} vs ${rows}×${k}, s ${s.length}`);
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) out[r * k + c] = x[r * k + c] / s[c];
  return out;
}

/** w · s per column (new array): W[n×k]. */
export function smoothWeights(w: ArrayLike<number>, n: number, k: number, s: Float32Array): Float32Array {
  if (w.length !== n * k || s.length !== k) throw new RangeError(`smoothWeights: shapes ${w.length} vs ${n}×${k}, s ${s.length}`);
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) out[r * k + c] = w[r * k + c] * s[c];
  return out;
}
