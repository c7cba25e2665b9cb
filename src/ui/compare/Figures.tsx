/**
 * How an accuracy and a Δ appear on screen (science.md §8): an accuracy always with its 95%
 * Wilson interval and n; a Δ always paired, with its interval, neutral and "within noise" when
 * the interval holds 0 — green or red only when it excludes 0.
 */
import type { PairedDelta, Proportion } from '../../quant/intervals';
import { deltaText, deltaTone, type Pairing } from './compareModel';

const f1 = (x: number, d = 1) => (100 * x).toFixed(d);

/** "74.0% [64.6, 81.6]" with n; `big` puts the interval on its own line under the value. */
export function AccuracyFigure({
  p,
  digits = 1,
  showN = true,
  testid,
}: {
  p: Proportion;
  digits?: number;
  showN?: boolean;
  testid?: string;
}) {
  return (
    <span className="acc-fig" data-testid={testid} title={`95% Wilson interval on n = ${p.n} images`}>
      <span className="acc-val">{f1(p.p, digits)}%</span>{' '}
      <span className="acc-ci">
        [{f1(p.lo, digits)}, {f1(p.hi, digits)}]{showN ? ` · n = ${p.n}` : ''}
      </span>
    </span>
  );
}

export const toneClass = (d: PairedDelta) => `delta-${deltaTone(d)}`;

/** A paired Δ, or why there is none (never a Δ against different images). */
export function DeltaFigure({ pairing, testid, digits = 1 }: { pairing: Pairing; testid?: string; digits?: number }) {
  if (!pairing.ok)
    return (
      <span className="delta-fig delta-none" data-testid={testid}>
        — <span className="muted">({pairing.reason})</span>
      </span>
    );
  const d = pairing.delta;
  return (
    <span
      className={`delta-fig ${toneClass(d)}`}
      data-testid={testid}
      data-tone={deltaTone(d)}
      title={`paired on the same ${d.n} images: ${d.aOnly} right only before, ${d.bOnly} right only after; exact McNemar p = ${d.p.toPrecision(2)}`}
    >
      {deltaText(d, digits)}
    </span>
  );
}
