/**
 * The study run live in the page: the same study as `npm run study` (src/engine/study.ts,
 * studyRows) through the engine worker, on a smaller split of the same kind — choices on val
 * images [0, n), reports on val [2500, 2500 + n) and test [0, n) — so live results read exactly
 * like study.json (held-out selection, Wilson intervals, paired Δs) and use the same view. Results
 * live in a small store so they survive tab switches; a new run or Cancel stops the old one.
 */
import { create } from 'zustand';
import type { Plan } from '../../plan/plan';
import type { EngineClient } from '../../runtime/client';
import { isAbortError, Latest } from '../../util/latest';
import { type CellName, type StudyResult, type StudyScorer, type StudySplit, studyRows } from '../../engine/study';
import type { EvalSetName } from '../../plan/types';
import type { SiteInfo } from '../../plan/sites';
import { currentClient } from '../engine/controller';
import { errorText, useResults } from '../engine/results';
import { parseStudy, type StudyModel } from './studyFile';

interface StudyState {
  running: boolean;
  /** scores done of an estimate of the total, and what was measured last */
  progress: { done: number; total: number; phase: string } | null;
  error: string | null;
  live: StudyModel | null;
  show: 'live' | 'file';
}

export const useStudy = create<StudyState>()(() => ({ running: false, progress: null, error: null, live: null, show: 'live' }));

/** bit-ops share vs FP32 and MAC-weighted mean bits of a plan */
export function planCost(plan: Plan, sites: SiteInfo[]): { bitops: number; avgBits: number } {
  let tot = 0;
  let ops = 0;
  let bits = 0;
  sites.forEach((s) => {
    const sc = plan.sites[s.index];
    tot += s.macs;
    ops += s.macs * sc.a.bits * sc.b.bits;
    bits += (s.macs * (sc.a.bits + sc.b.bits)) / 2;
  });
  return { bitops: ops / (tot * 1024), avgBits: bits / tot };
}

/** The live split: n images per cell, at the offsets of the CLI's split (val-report starts at 2500). */
export function liveSplit(n: number): StudySplit {
  return {
    'val-sel': { set: 'val', offset: 0, limit: n },
    'val-report': { set: 'val', offset: 2500, limit: n },
    test: { set: 'test', offset: 0, limit: n },
  };
}

export interface LiveStudyParts {
  /** the single-site INT4 scan (38 sites) */
  scan: boolean;
  /** greedy curve, INT4 share and INT2 on the best 6 (needs the scan) */
  greedy: boolean;
  /** the per-tensor / per-token / per-channel / per-group rows */
  granularity: boolean;
}

/** Row words of the study for the chosen parts (note 004's whole-model rows always). */
export function liveRows(p: LiveStudyParts): string[] {
  return [
    'fp32',
    'int4_all',
    'int8_all',
    'int2_all',
    ...(p.scan || p.greedy ? ['scan'] : []),
    ...(p.greedy ? ['greedy', 'int4_share', 'int2_best6'] : []),
    ...(p.granularity ? ['granularity'] : []),
  ];
}

/**
 * Scores the study will run, for the progress bar: each row on every report cell, FP32 also on
 * val-sel, each scanned site on val-sel and the scan cells, the greedy curve on val-sel, the three
 * INT4-share budgets on the report cells (a row that repeats another plan costs none, so this is
 * an upper bound).
 */
export function estimateScores(p: LiveStudyParts, report: CellName[], scanCells: CellName[], granularityRows: number): number {
  const rows = 4 + (p.greedy ? 1 : 0) + (p.granularity ? granularityRows : 0);
  const scan = p.scan || p.greedy;
  return rows * report.length + (scan ? 1 + 38 * (1 + scanCells.length) : 0) + (p.greedy ? 38 + 3 * report.length : 0);
}

export const LIVE_REPORT: CellName[] = ['val-report', 'test'];
export const LIVE_SCAN_CELLS: CellName[] = ['val-report'];

function clientScorer(client: EngineClient, sites: SiteInfo[], counts: Record<EvalSetName, number>, backend: string): StudyScorer {
  return {
    backend,
    sites,
    count: (set) => counts[set],
    labels: async (c) =>
      (
        await client.images(
          c.set,
          Array.from({ length: c.limit }, (_, i) => c.offset + i),
        )
      ).labels,
    async score(plan, c, opts) {
      if (opts.jitter) throw new Error('the live study runs no jitter bands (npm run study -- --bands 3 does)');
      const r = await client.score({ plan, set: c.set, offset: c.offset, limit: c.limit, keepPredictions: true }, undefined, opts.signal);
      return { predictions: r.predictions!, labels: r.labels!, sites: r.sites };
    },
  };
}

const studyRun = new Latest();

export function cancelStudy() {
  studyRun.cancel();
}

// another model (trained weights applied / shipped restored): a live study of the old one is dropped
useResults.subscribe((r, prev) => {
  if (r.current === prev.current) return;
  studyRun.drop();
  useStudy.setState({ running: false, progress: null, error: null, live: null });
});

export async function runLiveStudy(opts: { images: number; sites: SiteInfo[]; parts: LiveStudyParts; granularityRows: number }) {
  const client = currentClient();
  const r = useResults.getState();
  if (!client || !r.dataset) {
    useStudy.setState({ error: 'engine not ready' });
    return;
  }
  const signal = studyRun.begin();
  const report = LIVE_REPORT;
  const total = estimateScores(opts.parts, report, LIVE_SCAN_CELLS, opts.granularityRows);
  const source = `live · ${opts.images} images a cell`;
  const scorer = clientScorer(client, opts.sites, r.dataset.sets, r.backend?.label ?? 'unknown backend');
  useStudy.setState({ running: true, error: null, show: 'live', progress: { done: 0, total, phase: 'FP32' } });
  const show = (res: StudyResult, phase: string, done: number) => {
    // the study mutates its result as it grows: a fresh model (and object) for every update
    const model = parseStudy(
      JSON.parse(
        JSON.stringify({ ...res, command: `live study in the page: ${opts.images} images a cell`, date: new Date().toISOString() }),
      ),
      source,
    );
    useStudy.setState({ live: model, progress: { done: Math.min(done, total), total: Math.max(total, done), phase } });
  };
  try {
    const it = studyRows(scorer, { split: liveSplit(opts.images), report, scanCells: LIVE_SCAN_CELLS, rows: liveRows(opts.parts), signal });
    let last: StudyResult | null = null;
    for (;;) {
      const step = await it.next();
      if (!studyRun.isCurrent(signal)) return; // a newer study owns the panel
      if (step.done) {
        last = step.value;
        break;
      }
      show(step.value.result, step.value.phase, step.value.scores);
    }
    show(last, 'done', total);
    useStudy.setState({ running: false, progress: null });
  } catch (e) {
    if (!studyRun.isCurrent(signal)) return;
    useStudy.setState({ running: false, progress: null, error: isAbortError(e) ? 'cancelled — partial results shown' : errorText(e) });
  }
}
