import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validatePlan } from '../../plan/plan';
import { parseStudy, shortLabel, StudyFormatError } from './studyFile';

const v2 = JSON.parse(readFileSync(new URL('./fixtures/study-v2.json', import.meta.url), 'utf8'));
const committed = JSON.parse(readFileSync(new URL('../../../public/models/vit-cifar10/study.json', import.meta.url), 'utf8'));

describe('study.json reader', () => {
  // mutation caught: "Study view plots only FP32" (rows dropped) / "test cell shown as val-report"
  it('reads every row of the new shape with val-report first, test second', () => {
    const m = parseStudy(v2);
    expect(m.format).toBe('v2');
    expect(m.rows.map((r) => r.key)).toEqual(['fp32', 'w8a8_per_token', 'int4_all', 'int2_all']);
    expect(m.cellNames).toEqual(['val-report', 'test']);
    expect(m.defaultCell).toBe('val-report');
    const w8 = m.rows[1].cells['val-report'];
    expect(w8.acc).toMatchObject({ k: 1860, n: 2500 });
    expect(w8.acc.lo).toBeLessThan(0.744);
    expect(w8.acc.hi).toBeGreaterThan(0.744);
  });

  // mutations caught: "Δ drawn without interval", "a within-noise Δ drawn as a loss"
  it('every Δ is the paired estimate from the discordant counts, within noise when it holds 0', () => {
    const m = parseStudy(v2);
    const w8 = m.rows[1].cells['val-report'].delta!;
    expect(w8.delta).toBeCloseTo(-3 / 2500);
    expect(w8.withinNoise).toBe(true);
    const i2 = m.rows[3].cells['val-report'].delta!;
    expect(i2.hi).toBeLessThan(0);
    expect(i2.withinNoise).toBe(false);
    expect(m.rows[2].chaotic).toBe(true);
    expect(m.rows[2].cells['val-report'].band).toMatchObject({ min_pct: 68.9, max_pct: 70.3, seeds: 3 });
  });

  it('reads the scan on both halves with the Spearman ρ, the greedy curve and the INT4 share', () => {
    const m = parseStudy(v2);
    expect(m.scan!.sites).toHaveLength(6);
    expect(Object.keys(m.scan!.sites[0].cells).sort()).toEqual(['test', 'val-report', 'val-sel']);
    expect(m.scan!.selVsReport).toMatchObject({ rho: 0.83, lo: 0.1, hi: 0.98, n: 6 });
    expect(m.greedy!.order).toEqual([4, 1, 2, 5, 0, 3]);
    expect(m.greedy!.curve['val-report']).toHaveLength(6);
    expect(m.int4Share.map((s) => [s.threshold, s.k, s.chosenOn])).toEqual([
      ['2pp', 3, 'val-sel'],
      ['5pp', 6, 'val-sel'],
    ]);
  });

  it('every row plan of the fixture is a valid Plan (so any row can be pinned as A)', () => {
    for (const r of parseStudy(v2).rows) expect(() => validatePlan(r.plan)).not.toThrow();
  });

  // mutation caught: "an old-format Δ shown as if paired"
  it('reads the committed study.json (held-out study): every row with Wilson intervals and a paired Δ', () => {
    const m = parseStudy(committed);
    expect(m.format).toBe('v2');
    expect(m.rows.length).toBeGreaterThanOrEqual(40);
    const cells = m.rows.filter((r) => r.key !== 'fp32').flatMap((r) => Object.values(r.cells));
    expect(cells.length).toBeGreaterThanOrEqual(80);
    expect(
      cells.every(
        (c) =>
          c.acc.n > 0 &&
          c.acc.lo <= c.acc.p &&
          c.acc.p <= c.acc.hi &&
          c.delta !== null &&
          c.delta.lo <= c.delta.delta &&
          c.delta.delta <= c.delta.hi,
      ),
    ).toBe(true);
  });

  it.each([
    [[], /object/],
    [{ version: 3 }, /version 3/],
    [{ version: 2, rows: [{ key: 'x', cells: { 'val-report': { n: 10, correct: 11 } } }] }, /not a count/],
    [{ version: 2, rows: 'no' }, /rows must be a list/],
    [{ foo: 1 }, /neither the current format/],
  ])('rejects %j with a readable error', (j, re) => {
    expect(() => parseStudy(j)).toThrow(StudyFormatError);
    expect(() => parseStudy(j)).toThrow(re);
  });

  it('abbreviates long labels for the axis (full label kept for the tooltip)', () => {
    expect(shortLabel('all 38 sites INT4 per-tensor dynamic asymmetric').length).toBeLessThanOrEqual(28);
    expect(shortLabel('FP32')).toBe('FP32');
  });
});
