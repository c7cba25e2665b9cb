/**
 * The stage's recorded QAT run: a row of results/qat.summary.json (written with results/qat.json by
 * `npm run qat`) turned into the figures the stage shows — validation accuracy before training
 * (min/max ranges) and after, each with its Wilson interval and n, the paired Δ vs FP32, and the loss
 * curve. Recorded, not live: a stage step must not wait minutes for training (the Train tab runs it
 * live).
 */
import type { PairedDelta } from '../../quant/intervals';
import type { EvalFigure, QatSummary } from '../../train/report';

export interface QatStageFigures {
  name: string;
  before: EvalFigure;
  after: EvalFigure;
  afterStep: number;
  batch: number;
  /** after − before in pp (same images, not paired: the before predictions are not kept) */
  gainPp: number;
  /** the two Wilson intervals are disjoint: the gain is not noise on these n */
  disjoint: boolean;
  vsFp32: PairedDelta;
  loss: { step: number; loss: number }[];
  engine: string;
}

/** The most loss points the stage's chart draws: recharts lays out every point on the main thread, and a
 * 4000-step curve made that a task over 100 ms (the stage's bound); more points than pixels add nothing. */
export const STAGE_LOSS_POINTS = 500;

/** Every k-th point (k the smallest stride that fits max), the last one always kept: recorded values, not an average. */
export function strided<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points.slice();
  const k = Math.ceil((points.length - 1) / (max - 1));
  const out = points.filter((_, i) => i % k === 0);
  if ((points.length - 1) % k !== 0) out.push(points[points.length - 1]);
  return out;
}

export function qatStageFigures(file: QatSummary, row: string): QatStageFigures {
  const r = file.rows[row];
  if (!r) throw new Error(`results/qat.summary.json has no row '${row}' (run npm run qat for it)`);
  if (!r.start || !r.final)
    throw new Error(
      `results/qat.summary.json '${row}' has no start or final figures (the run ${r.diverged ? 'diverged' : 'did not finish'})`,
    );
  const before = r.start.val;
  const after = r.final.val;
  if (before.n !== after.n)
    throw new Error(`results/qat.json '${row}': before and after were scored on different images (n ${before.n} vs ${after.n})`);
  return {
    name: r.name,
    before,
    after,
    afterStep: r.final.step,
    batch: r.batch,
    gainPp: 100 * (after.accuracy - before.accuracy),
    disjoint: after.lo > before.hi || after.hi < before.lo,
    vsFp32: r.final.valDelta,
    loss: strided(r.curve, STAGE_LOSS_POINTS).map((c) => ({ step: c.step, loss: c.loss })),
    engine: r.engine,
  };
}
