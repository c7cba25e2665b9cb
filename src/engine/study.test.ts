/**
 * The one study (study.ts) on a fake scorer: a plan's "accuracy" on an image is decided by the
 * sites it quantizes, so choices and reports can be checked exactly. What the tests catch: the
 * ranking or greedy order chosen on the report half (held-out selection broken), a Δ not paired
 * with FP32 on the same images, the generator not yielding as it goes, a split option ignored.
 */
import { describe, expect, it } from 'vitest';
import type { Plan } from '../plan/plan';
import { buildSites } from '../plan/sites';
import { type CellSpec, type StudyScorer, type StudyUpdate, SPLIT, studyRows } from './study';

const SITES = buildSites({ dim: 128, depth: 6, heads: 4, mlp: 256, patch: 4, classes: 10, image: 32 });

/**
 * Labels are 0. An image i of a cell is right under a plan unless a quantized site s "breaks" it:
 * on the selection half (offset 0) site s breaks images with i % 40 < s % 7; on the report half
 * (offset ≥ 2500) images with i % 40 < (6 − s % 7) — so the two halves rank the sites in opposite
 * orders, and a study that chooses on the report half picks different sites.
 */
function fakeScorer(log: string[] = []): StudyScorer {
  return {
    backend: 'fake',
    sites: SITES,
    count: (set) => (set === 'val' ? 5000 : 1000),
    labels: async (c) => new Uint8Array(c.limit),
    async score(plan: Plan, c: CellSpec) {
      log.push(`${plan.name}@${c.set}:${c.offset}`);
      const q = plan.sites.map((s, i) => (s.a.bits !== 32 || s.b.bits !== 32 ? i : -1)).filter((i) => i >= 0);
      const report = c.set === 'val' && c.offset >= 2500;
      const predictions = Array.from({ length: c.limit }, (_, i) => (q.some((s) => i % 40 < (report ? 6 - (s % 7) : s % 7)) ? 1 : 0));
      return { predictions, labels: new Uint8Array(c.limit), sites: [] };
    },
  };
}

const SMALL = {
  'val-sel': { set: 'val', offset: 0, limit: 80 },
  'val-report': { set: 'val', offset: 2500, limit: 80 },
  test: { set: 'test', offset: 0, limit: 40 },
} as const;

describe('studyRows', () => {
  it('yields as it goes and returns the whole result', async () => {
    const it = studyRows(fakeScorer(), { split: SMALL, rows: ['fp32', 'int4_all', 'scan'] });
    const seen: StudyUpdate[] = [];
    let r = await it.next();
    while (!r.done) {
      seen.push(r.value);
      r = await it.next();
    }
    // FP32, INT4-all, then 38 scanned sites: one update each at least
    expect(seen.length).toBeGreaterThanOrEqual(40);
    expect(seen.map((u) => u.scores)).toEqual([...seen.map((u) => u.scores)].sort((a, b) => a - b));
    expect(r.value.rows.map((x) => x.key)).toEqual(['fp32', 'int4_all']);
    expect(r.value.scan?.sites).toHaveLength(38);
    expect(r.value.split).toEqual(SMALL); // the split option is the one used and recorded
  });

  it('chooses on val-sel, reports on val-report; Δ paired with FP32 on the same images', async () => {
    const log: string[] = [];
    const res = await (async () => {
      const it = studyRows(fakeScorer(log), { split: SMALL, rows: ['fp32', 'scan', 'greedy', 'int4_share', 'int2_best6'] });
      for (;;) {
        const r = await it.next();
        if (r.done) return r.value;
      }
    })();
    // on val-sel a site breaks s % 7 images of 40: sites with s % 7 == 0 are harmless there
    const best = res.best_sites!;
    expect(best.every((s) => s % 7 === 0)).toBe(true); // mutation caught: ranking on val-report (it would pick s % 7 == 6)
    expect(res.greedy!.chosen_on).toBe('val-sel');
    expect(res.greedy!.order.slice(0, 6)).toEqual(best);
    // the scan's val-report cell of site 6 (s % 7 = 6): breaks 0 of 40 there → Δ 0, within noise
    const s6 = res.scan!.sites[6].cells['val-report']!;
    expect(s6.delta_pp).toBe(0);
    // site 0 on val-report breaks 6 of 40 images: Δ = −15 pp, paired (a_only 12 of 80, b_only 0)
    const s0 = res.scan!.sites[0].cells['val-report']!;
    expect(s0.a_only).toBe(12);
    expect(s0.b_only).toBe(0);
    expect(s0.delta_pp).toBeCloseTo(-15, 10);
    // INT2 on the best 6 (chosen on val-sel) is reported on val-report and test, never scored on val-sel
    expect(log.filter((l) => l.startsWith('INT2 on the best 6')).every((l) => !l.endsWith('val:0'))).toBe(true);
  });

  it('stops with the signal', async () => {
    const ac = new AbortController();
    const scorer = fakeScorer();
    const inner = scorer.score.bind(scorer);
    let n = 0;
    scorer.score = async (p, c, o) => {
      if (++n === 5) ac.abort();
      if (o.signal?.aborted) throw new DOMException('aborted', 'AbortError');
      return inner(p, c, o);
    };
    const it = studyRows(scorer, { split: SMALL, rows: ['fp32', 'scan'], signal: ac.signal });
    await expect(
      (async () => {
        for (;;) if ((await it.next()).done) return;
      })(),
    ).rejects.toThrow(/aborted/);
  });

  it('leaving the loop early stops the study (no scores after the consumer is gone)', async () => {
    let n = 0;
    const scorer = fakeScorer();
    const inner = scorer.score.bind(scorer);
    scorer.score = async (p, c, o) => {
      if (o.signal?.aborted) throw new DOMException('aborted', 'AbortError');
      n++;
      return inner(p, c, o);
    };
    for await (const u of studyRows(scorer, { split: SMALL, rows: ['fp32', 'scan'] })) if (u.scores >= 3) break;
    // mutation caught: the generator's finally awaiting the whole study (3 + 76 scan scores)
    expect(n).toBeLessThanOrEqual(5);
  });

  it('the default split is the documented one', async () => {
    const it = studyRows(fakeScorer(), { rows: ['fp32'], limit: 10 });
    let r = await it.next();
    while (!r.done) r = await it.next();
    expect(r.value.split).toEqual(SPLIT);
  });
});
