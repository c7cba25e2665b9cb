/**
 * How sure is a number (science.md §8): every accuracy with a 95% Wilson interval and its n;
 * every difference between two plans as a *paired* estimate on the same images with an exact
 * McNemar (conditional binomial) interval; rank stability as Spearman ρ with a Fisher-z interval.
 * Pure functions on counts and per-image correctness: the UI, the CLI tables and study.json use
 * these, so a figure and its interval are computed once.
 */

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

export interface Proportion {
  /** k / n */
  p: number;
  lo: number;
  hi: number;
  k: number;
  n: number;
}

/** Wilson score interval for k successes in n trials (n = 0 → the whole [0, 1]). */
export function wilson(k: number, n: number, z = Z95): Proportion {
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && n >= 0 && k <= n)) throw new RangeError(`wilson: k = ${k}, n = ${n}`);
  if (n === 0) return { p: 0, lo: 0, hi: 1, k, n };
  const p = k / n;
  const z2 = z * z;
  const den = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / den;
  const half = (z / den) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // at k = 0 or k = n the closed form gives the exact end (0 or 1) up to rounding
  return { p, lo: k === 0 ? 0 : Math.max(0, centre - half), hi: k === n ? 1 : Math.min(1, centre + half), k, n };
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X ≤ k) for X ~ Binomial(n, p), summed in log space (exact to float rounding for n ≤ 10⁵). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const lc = logGamma(n + 1);
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let s = 0;
  for (let i = 0; i <= k; i++) s += Math.exp(lc - logGamma(i + 1) - logGamma(n - i + 1) + i * lp + (n - i) * lq);
  return Math.min(1, s);
}

/** Clopper–Pearson (exact) 95% interval for k successes in n trials, by bisection on the binomial CDF. */
export function clopperPearson(k: number, n: number, alpha = 0.05): { lo: number; hi: number } {
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && n >= 0 && k <= n))
    throw new RangeError(`clopperPearson: k = ${k}, n = ${n}`);
  if (n === 0) return { lo: 0, hi: 1 };
  const solve = (f: (p: number) => number) => {
    // f is decreasing in p; find f(p) = 0
    let a = 0;
    let b = 1;
    for (let i = 0; i < 60; i++) {
      const m = (a + b) / 2;
      if (f(m) > 0) a = m;
      else b = m;
    }
    return (a + b) / 2;
  };
  // lo: P(X ≥ k | lo) = α/2  ⇔  1 − CDF(k−1) = α/2;  hi: P(X ≤ k | hi) = α/2
  const lo = k === 0 ? 0 : solve((p) => alpha / 2 - (1 - binomialCdf(k - 1, n, p)));
  const hi = k === n ? 1 : solve((p) => binomialCdf(k, n, p) - alpha / 2);
  return { lo, hi };
}

export interface PairedDelta {
  /** accuracy(B) − accuracy(A) on the same n images, as a fraction */
  delta: number;
  lo: number;
  hi: number;
  n: number;
  /** images A gets right and B wrong */
  aOnly: number;
  /** images B gets right and A wrong */
  bOnly: number;
  /** exact two-sided McNemar p-value (binomial test of bOnly among the discordant images) */
  p: number;
  /** the interval holds 0: show as "within noise", never as a gain or a loss */
  withinNoise: boolean;
  method: 'exact McNemar (Clopper–Pearson on the discordant images)';
}

/**
 * Paired difference of two plans' accuracies from per-image correctness on the same images.
 * Only the discordant images carry information: given d = aOnly + bOnly of them, bOnly ~
 * Binomial(d, π) and Δ = (d/n)(2π − 1); the exact (Clopper–Pearson) interval for π maps to Δ.
 * With no discordant image the plans agree everywhere: Δ = 0, interval [0, 0].
 */
export function pairedDelta(correctA: ArrayLike<boolean | number>, correctB: ArrayLike<boolean | number>): PairedDelta {
  if (correctA.length !== correctB.length)
    throw new RangeError(`pairedDelta: ${correctA.length} vs ${correctB.length} images — a paired estimate needs the same images`);
  let aOnly = 0;
  let bOnly = 0;
  for (let i = 0; i < correctA.length; i++) {
    const a = !!correctA[i];
    const b = !!correctB[i];
    if (a && !b) aOnly++;
    else if (b && !a) bOnly++;
  }
  return pairedDeltaFromCounts(aOnly, bOnly, correctA.length);
}

export function pairedDeltaFromCounts(aOnly: number, bOnly: number, n: number): PairedDelta {
  const d = aOnly + bOnly;
  if (!(n >= d && d >= 0 && Number.isInteger(aOnly) && Number.isInteger(bOnly)))
    throw new RangeError(`pairedDelta: aOnly ${aOnly}, bOnly ${bOnly}, n ${n}`);
  const method = 'exact McNemar (Clopper–Pearson on the discordant images)' as const;
  if (d === 0 || n === 0) return { delta: 0, lo: 0, hi: 0, n, aOnly, bOnly, p: 1, withinNoise: true, method };
  const { lo, hi } = clopperPearson(bOnly, d);
  const scale = d / n;
  const p = Math.min(1, 2 * binomialCdf(Math.min(aOnly, bOnly), d, 0.5));
  const out = {
    delta: (bOnly - aOnly) / n,
    lo: scale * (2 * lo - 1),
    hi: scale * (2 * hi - 1),
    n,
    aOnly,
    bOnly,
    p,
    withinNoise: false,
    method,
  };
  out.withinNoise = out.lo <= 0 && out.hi >= 0;
  return out;
}

/** Per-image correctness from predictions and labels. */
export function correctness(predictions: ArrayLike<number>, labels: ArrayLike<number>): Uint8Array {
  if (predictions.length !== labels.length)
    throw new RangeError(`correctness: ${predictions.length} predictions for ${labels.length} labels`);
  const out = new Uint8Array(predictions.length);
  for (let i = 0; i < out.length; i++) out[i] = predictions[i] === labels[i] ? 1 : 0;
  return out;
}

/** Average ranks (ties share the mean rank), 1-based. */
function ranks(x: ArrayLike<number>): number[] {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Array<number>(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) r[idx[t]] = avg;
    i = j + 1;
  }
  return r;
}

export interface RankCorrelation {
  rho: number;
  lo: number;
  hi: number;
  n: number;
  method: 'Spearman ρ (average ranks), Fisher z with SE √(1.06/(n−3)) (Fieller, Hartley & Pearson 1957)';
}

/** Spearman's rank correlation of two paired lists with a 95% interval. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): RankCorrelation {
  if (x.length !== y.length || x.length < 4)
    throw new RangeError(`spearman: needs two lists of equal length ≥ 4 (got ${x.length}, ${y.length})`);
  const rx = ranks(x);
  const ry = ranks(y);
  const n = x.length;
  const mean = (n + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) ** 2;
    syy += (ry[i] - mean) ** 2;
  }
  const rho = sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
  const zr = Math.atanh(Math.max(-0.999999, Math.min(0.999999, rho)));
  const se = Math.sqrt(1.06 / (n - 3));
  return {
    rho,
    lo: Math.tanh(zr - Z95 * se),
    hi: Math.tanh(zr + Z95 * se),
    n,
    method: 'Spearman ρ (average ranks), Fisher z with SE √(1.06/(n−3)) (Fieller, Hartley & Pearson 1957)',
  };
}

/** "74.5% [73.3, 75.7] (n = 5000)" */
export function formatAccuracy(a: Proportion, digits = 1): string {
  const f = (v: number) => (100 * v).toFixed(digits);
  return `${f(a.p)}% [${f(a.lo)}, ${f(a.hi)}] (n = ${a.n})`;
}

/** "−1.2 pp [−2.0, −0.4]" or "+0.3 pp [−0.4, 1.0], within noise" */
export function formatDelta(d: PairedDelta, digits = 1): string {
  const f = (v: number) => (100 * v).toFixed(digits);
  const sign = d.delta > 0 ? '+' : d.delta < 0 ? '−' : '±';
  const body = `${sign}${Math.abs(100 * d.delta).toFixed(digits)} pp [${f(d.lo).replace('-', '−')}, ${f(d.hi).replace('-', '−')}]`;
  return d.withinNoise ? `${body}, within noise` : body;
}
