import { describe, expect, it } from 'vitest';
import * as P from '../../plan/presets';
import { pairedDeltaFromCounts, wilson } from '../../quant/intervals';
import { canonicalJson, figuresFromStudy, planKey } from './stageFigures';

/** the plan with every object's keys in reverse order: the same plan, written differently */
function reordered(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(reordered);
  if (x && typeof x === 'object')
    return Object.fromEntries(
      Object.keys(x)
        .reverse()
        .map((k) => [k, reordered((x as Record<string, unknown>)[k])]),
    );
  return x;
}

const study = (rows: unknown[]) => ({ version: 2, split: { 'val-report': { set: 'val', offset: 2500, limit: 2500 } }, rows });

describe('stage figures from study.json', () => {
  it('matches a row to a preset by the canonical JSON of its validated sites, whatever the key order and name', () => {
    const plan = P.w8a8PerToken();
    const row = {
      key: 'w8a8',
      plan: { ...(reordered(plan) as object), name: 'another name' },
      cells: { 'val-report': { n: 2500, correct: 1860, a_only: 12, b_only: 9 } },
    };
    expect(JSON.stringify(reordered(plan))).not.toBe(JSON.stringify(plan));
    const figs = figuresFromStudy(study([row]));
    const f = figs.get(planKey(plan));
    expect(f, 'row found under the preset plan key').toBeTruthy();
    expect(f!.acc).toEqual(wilson(1860, 2500));
    // paired vs FP32 from the cell's discordant counts: B (this row) − A (FP32)
    expect(f!.delta).toEqual(pairedDeltaFromCounts(12, 9, 2500));
    expect(f!.delta!.withinNoise).toBe(true);
    expect(f!.images).toBe('validation images 2500–4999');
  });

  it('uses only the val-report cell, gives FP32 no Δ, and skips unreadable rows', () => {
    const figs = figuresFromStudy(
      study([
        { plan: P.fp32(), cells: { 'val-report': { n: 2500, correct: 1862, a_only: 0, b_only: 0 }, test: { n: 1000, correct: 755 } } },
        { plan: P.allNote004(4), cells: { test: { n: 1000, correct: 300 } } },
        { plan: { version: 1, sites: [] }, cells: { 'val-report': { n: 2500, correct: 1 } } },
        { plan: P.llmInt8(6), cells: { 'val-report': { n: 2500, correct: 2600 } } },
      ]),
    );
    expect([...figs.keys()]).toEqual([planKey(P.fp32())]);
    expect(figs.get(planKey(P.fp32()))!.delta).toBeNull();
    expect(figs.get(planKey(P.fp32()))!.acc.n).toBe(2500);
  });

  it('reads nothing from the old format', () => {
    expect(figuresFromStudy({ val: { rows: {} } }).size).toBe(0);
  });

  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: undefined, c: 3 }] } })).toBe('{"a":{"d":[1,{"c":3,"f":2}]},"b":1}');
  });
});
