/** CPU references of shaders/stats.wgsl (float64 mean/σ; histogram bins with the kernel's f32 formula). */
import { histInvWidth } from './stats';

export interface RowStats {
  min: number;
  max: number;
  absmax: number;
  mean: number;
  std: number;
}

export function rowStatsRef(x: ArrayLike<number>, rows: number, cols: number, at = (r: number, c: number) => x[r * cols + c]): RowStats[] {
  const out: RowStats[] = [];
  for (let r = 0; r < rows; r++) {
    let lo = Infinity,
      hi = -Infinity,
      s = 0;
    for (let c = 0; c < cols; c++) {
      const v = at(r, c);
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      s += v;
    }
    const mean = s / cols;
    let v2 = 0;
    for (let c = 0; c < cols; c++) v2 += (at(r, c) - mean) ** 2;
    out.push({ min: lo, max: hi, absmax: Math.max(Math.abs(lo), Math.abs(hi)), mean, std: Math.sqrt(v2 / cols) });
  }
  return out;
}

export function histogramRef(x: ArrayLike<number>, bins: number, lo: number, hi: number): Uint32Array {
  const h = new Uint32Array(bins + 3);
  const inv = histInvWidth(bins, lo, hi);
  const f = Math.fround;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) h[bins + 2]++;
    else if (v < lo) h[bins]++;
    else if (v > hi) h[bins + 1]++;
    else h[Math.min(Math.floor(f(f(v - f(lo)) * inv)), bins - 1)]++;
  }
  return h;
}

/** #{|x − mean| > k·σ} with the kernel's f32 operations, given the kernel's mean and σ. */
export function countBeyondRef(x: ArrayLike<number>, mean: number, std: number, k: number): number {
  const f = Math.fround;
  const t = f(f(k) * std);
  let n = 0;
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]) && Math.abs(f(x[i] - mean)) > t) n++;
  return n;
}
