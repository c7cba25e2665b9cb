import { describe, expect, it } from 'vitest';
import { DEFAULT_SITES } from '../../state/presets';
import { BEYOND_ROWS, studyRows, type StudyScorer } from '../../engine/study';
import { estimateScores, LIVE_REPORT, LIVE_SCAN_CELLS, liveRows, liveSplit, planCost } from './studyRunner';
import * as P from '../../plan/presets';

describe('bit-ops', () => {
  it('planCost: FP32 = 1, INT4×INT4 = 1/64, INT8 = 1/16', () => {
    expect(planCost(P.fp32(), DEFAULT_SITES).bitops).toBeCloseTo(1, 12);
    expect(planCost(P.allNote004(4), DEFAULT_SITES).bitops).toBeCloseTo(1 / 64, 12);
    expect(planCost(P.allNote004(8), DEFAULT_SITES).bitops).toBeCloseTo(1 / 16, 12);
    expect(planCost(P.allNote004(4), DEFAULT_SITES).avgBits).toBeCloseTo(4, 12);
  });
});

describe('the live study is the CLI study on a smaller split', () => {
  it('keeps the split held out: choices on val from 0, reports on val from 2500 and on test', () => {
    const s = liveSplit(50);
    expect(s['val-sel']).toEqual({ set: 'val', offset: 0, limit: 50 });
    expect(s['val-report']).toEqual({ set: 'val', offset: 2500, limit: 50 });
    expect(s.test).toEqual({ set: 'test', offset: 0, limit: 50 });
  });

  it.each([
    { scan: true, greedy: true, granularity: true },
    { scan: true, greedy: false, granularity: false },
    { scan: false, greedy: false, granularity: true },
  ])('the progress estimate is the number of scores the study runs (%o)', async (parts) => {
    let scores = 0;
    const scorer: StudyScorer = {
      backend: 'fake',
      sites: DEFAULT_SITES,
      count: (set) => (set === 'val' ? 5000 : 1000),
      labels: async (c) => new Uint8Array(c.limit),
      score: async (_plan, c) => {
        scores++;
        // every plan gets a different image wrong (no two rows alike by accident)
        return {
          predictions: Array.from({ length: c.limit }, (_, i) => (i === scores % c.limit ? 1 : 0)),
          labels: new Uint8Array(c.limit),
          sites: [],
        };
      },
    };
    const it = studyRows(scorer, { split: liveSplit(8), report: LIVE_REPORT, scanCells: LIVE_SCAN_CELLS, rows: liveRows(parts) });
    while (!(await it.next()).done);
    expect(scores).toBe(estimateScores(parts, LIVE_REPORT, LIVE_SCAN_CELLS, BEYOND_ROWS.filter((r) => r.group === 'granularity').length));
  });
});
