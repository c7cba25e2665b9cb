import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STAGE_STEPS } from '../../state/stage';
import { qatStageFigures, STAGE_LOSS_POINTS, strided } from './qatRecorded';
import { qatSummary } from '../../train/report';

const committed = JSON.parse(readFileSync(new URL('../../../results/qat.json', import.meta.url), 'utf8'));
const summary = JSON.parse(readFileSync(new URL('../../../results/qat.summary.json', import.meta.url), 'utf8'));

describe('stage: the recorded QAT run', () => {
  it('every stage step with a QAT run names a row of results/qat.summary.json', () => {
    const rows = STAGE_STEPS.filter((s) => s.qat).map((s) => s.qat!);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(() => qatStageFigures(summary, r)).not.toThrow();
  });

  it('what the captions say of a recorded run holds for it: ends within noise of FP32', () => {
    for (const s of STAGE_STEPS.filter((x) => x.qat && /within noise/.test(x.caption))) {
      const f = qatStageFigures(summary, s.qat!);
      expect(f.vsFp32.withinNoise, s.qat).toBe(true);
      expect(f.vsFp32.lo).toBeLessThanOrEqual(0);
      expect(f.vsFp32.hi).toBeGreaterThanOrEqual(0);
    }
    expect(STAGE_STEPS.some((x) => x.qat && /within noise/.test(x.caption))).toBe(true);
  });

  it('results/qat.summary.json (what stage mode loads) is the summary of results/qat.json, and small', () => {
    expect(summary).toEqual(qatSummary(committed));
    // parsed on the main thread when stage mode opens: qat.json (~2 MB) took a task over 100 ms
    expect(readFileSync(new URL('../../../results/qat.summary.json', import.meta.url)).length).toBeLessThan(600_000);
    // the same figures either way
    const row = STAGE_STEPS.find((s) => s.qat)!.qat!;
    expect(qatStageFigures(summary, row)).toEqual(qatStageFigures(committed, row));
  });

  it('before = step 0 with min/max ranges, after = the final step, on the same n; gain and its interval test', () => {
    const row = STAGE_STEPS.find((s) => s.qat)!.qat!;
    const f = qatStageFigures(committed, row);
    const r = committed.rows[row];
    expect(f.before).toEqual(r.start.val);
    expect(f.after).toEqual(r.final.val);
    expect(f.before.n).toBe(f.after.n);
    expect(f.gainPp).toBeCloseTo(100 * (r.final.val.accuracy - r.start.val.accuracy), 10);
    expect(f.disjoint).toBe(r.final.val.lo > r.start.val.hi);
    expect(f.vsFp32).toEqual(r.final.valDelta);
    // the chart's points: recorded values, first and last kept, at most STAGE_LOSS_POINTS
    expect(r.curve.length).toBeGreaterThan(STAGE_LOSS_POINTS);
    expect(f.loss.length).toBeLessThanOrEqual(STAGE_LOSS_POINTS);
    expect(f.loss.length).toBeGreaterThan(STAGE_LOSS_POINTS / 2);
    expect(f.loss[0]).toEqual({ step: r.curve[0].step, loss: r.curve[0].loss });
    expect(f.loss.at(-1)).toEqual({ step: r.curve.at(-1).step, loss: r.curve.at(-1).loss });
    const byStep = new Map(r.curve.map((c: { step: number; loss: number }) => [c.step, c.loss]));
    for (const p of f.loss) expect(byStep.get(p.step)).toBe(p.loss);
  });

  it('refuses a missing row and figures on different images', () => {
    expect(() => qatStageFigures(committed, 'no such row')).toThrow(/no row/);
    const row = STAGE_STEPS.find((s) => s.qat)!.qat!;
    const bad = structuredClone(committed);
    bad.rows[row].start.val.n = 500;
    expect(() => qatStageFigures(bad, row)).toThrow(/different images/);
    const unfinished = structuredClone(committed);
    delete unfinished.rows[row].final;
    expect(() => qatStageFigures(unfinished, row)).toThrow(/no start or final figures/);
  });

  it('strided keeps every k-th point and the last, at most max', () => {
    const xs = Array.from({ length: 4001 }, (_, i) => i);
    for (const [n, max] of [
      [4001, 500],
      [4000, 500],
      [10, 500],
      [501, 500],
      [7, 3],
    ] as const) {
      const out = strided(xs.slice(0, n), max);
      expect(out.length, `${n}/${max}`).toBeLessThanOrEqual(max);
      expect(out[0]).toBe(0);
      expect(out.at(-1)).toBe(n - 1);
      if (n <= max) expect(out).toEqual(xs.slice(0, n));
    }
  });
});
