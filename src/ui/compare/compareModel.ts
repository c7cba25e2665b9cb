/**
 * The A/B compare as pure functions on two score results: accuracy with its Wilson interval,
 * the PAIRED Δ(B − A) on the same images (src/quant/intervals.ts, exact McNemar), per-class
 * intervals and the images on which the two plans disagree. A Δ is only ever computed from
 * two results on the very same images; anything else is refused with the reason.
 */
import { correctness, formatDelta, pairedDelta, wilson, type PairedDelta, type Proportion } from '../../quant/intervals';
import type { ScoreResult } from '../../plan/types';

export function accuracyOf(r: Pick<ScoreResult, 'correct' | 'count'>): Proportion {
  return wilson(r.correct, r.count);
}

export type Pairing = { ok: true; delta: PairedDelta } | { ok: false; reason: string };

/**
 * Δ(B − A) paired on per-image correctness. Both results must cover the same set, the same
 * number of images with the same labels in the same order, and carry their predictions.
 */
export function pairResults(a: ScoreResult | null | undefined, b: ScoreResult | null | undefined): Pairing {
  if (!a || !b) return { ok: false, reason: 'waiting for both scores' };
  if (a.set !== b.set) return { ok: false, reason: `different image sets (${a.set} vs ${b.set})` };
  if (a.count !== b.count) return { ok: false, reason: `different images (n = ${a.count} vs ${b.count})` };
  if (!a.predictions || !b.predictions || !a.labels || !b.labels) return { ok: false, reason: 'per-image predictions missing' };
  for (let i = 0; i < a.labels.length; i++)
    if (a.labels[i] !== b.labels[i]) return { ok: false, reason: `different images (labels differ at image ${i})` };
  return { ok: true, delta: pairedDelta(correctness(a.predictions, a.labels), correctness(b.predictions, b.labels)) };
}

/** How a Δ is drawn: neutral when its interval holds 0, a gain or a loss only when it excludes 0. */
export type Tone = 'neutral' | 'pos' | 'neg';
export function deltaTone(d: Pick<PairedDelta, 'withinNoise' | 'delta'>): Tone {
  if (d.withinNoise) return 'neutral';
  return d.delta > 0 ? 'pos' : 'neg';
}

/** "−1.2 pp [−2.0, −0.4]" or "+1.0 pp [−3.9, 5.9], within noise" */
export function deltaText(d: PairedDelta, digits = 1): string {
  return formatDelta(d, digits);
}

/** Per-class accuracy with a Wilson interval, from the confusion matrix (row = true class). */
export function perClassIntervals(r: Pick<ScoreResult, 'confusion'>): Proportion[] {
  return r.confusion.map((row, i) =>
    wilson(
      row[i] ?? 0,
      row.reduce((s, v) => s + v, 0),
    ),
  );
}

export interface Disagreement {
  index: number;
  label: number;
  a: number;
  b: number;
}

/** Images on which the two plans predict different classes (same images required, see pairResults). */
export function disagreements(a: ScoreResult, b: ScoreResult): Disagreement[] {
  if (!a.predictions || !b.predictions || a.predictions.length !== b.predictions.length) return [];
  const labels = b.labels ?? a.labels ?? [];
  const out: Disagreement[] = [];
  for (let i = 0; i < a.predictions.length; i++)
    if (a.predictions[i] !== b.predictions[i]) out.push({ index: i, label: labels[i] ?? -1, a: a.predictions[i], b: b.predictions[i] });
  return out;
}

/** A short name for a plan in the compare (its name, else "custom"). */
export function planLabel(p: { name?: string } | null | undefined): string {
  return p?.name?.trim() || 'custom';
}
