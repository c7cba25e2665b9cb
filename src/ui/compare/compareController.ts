/**
 * Scores the pinned plan A beside the live plan B: on the same live subset (and on the full set
 * once B has been scored there), always with per-image predictions so every Δ(B − A) is paired,
 * and A's statistics for the selected site. A subscription, like the engine controller; results
 * go to their own small store. A is cached per (plan, set, size, backend): editing B never
 * re-scores A.
 */
import { create } from 'zustand';
import type { Plan } from '../../plan/plan';
import type { EvalSetName, Progress, ScoreResult } from '../../plan/types';
import { useStore } from '../../state/store';
import { isAbortError, Latest } from '../../util/latest';
import { baseline, currentClient, isFp32Plan } from '../engine/controller';
import { errorText, useResults } from '../engine/results';
import { emptyStats, requestSiteStats, type StatsSlot } from '../engine/siteStatsRequest';

export interface PlanScore {
  key: string;
  running: boolean;
  progress: Progress | null;
  result: ScoreResult | null;
  error: string | null;
}

export interface CompareState {
  /** A on the live subset */
  live: PlanScore;
  /** A on the full set (scored after B's full-set score) */
  full: PlanScore | null;
  stats: StatsSlot;
}

const idle = (): PlanScore => ({ key: '', running: false, progress: null, result: null, error: null });

export const useCompare = create<CompareState>()(() => ({ live: idle(), full: null, stats: emptyStats() }));

const cache = new Map<string, ScoreResult>();

function scoreKey(plan: Plan, set: EvalSetName, limit: number): string {
  return JSON.stringify([plan.sites, set, limit, useResults.getState().backend?.kind ?? '?']);
}

async function scorePlan(
  plan: Plan,
  set: EvalSetName,
  limit: number,
  onProgress: (p: Progress) => void,
  signal: AbortSignal,
): Promise<ScoreResult> {
  const key = scoreKey(plan, set, limit);
  const hit = cache.get(key);
  if (hit) return hit;
  // FP32 as A is the FP32 baseline B's Δ vs FP32 uses: one score, one cache
  const client = currentClient();
  if (!client) throw new Error('engine not ready');
  const r = isFp32Plan(plan)
    ? await baseline(set, limit, onProgress, signal)
    : await client.score({ plan, set, offset: 0, limit, keepPredictions: true }, onProgress, signal);
  cache.set(key, r);
  return r;
}

function makeRunner(slot: 'live' | 'full') {
  const latest = new Latest();
  const patch = (p: Partial<PlanScore>) =>
    useCompare.setState((s) => ({ [slot]: { ...(s[slot] ?? idle()), ...p } }) as Partial<CompareState>);
  return {
    cancel: () => latest.drop(),
    async run(limit: number) {
      const pinned = useStore.getState().pinned;
      const set = useStore.getState().evalSet;
      if (!pinned) {
        latest.drop();
        useCompare.setState({ [slot]: slot === 'live' ? idle() : null } as Partial<CompareState>);
        return;
      }
      const signal = latest.begin();
      patch({
        key: scoreKey(pinned, set, limit),
        running: true,
        progress: { done: 0, total: limit, phase: 'plan A' },
        error: null,
        result: null,
      });
      try {
        const result = await scorePlan(
          pinned,
          set,
          limit,
          (p) => signal.aborted || patch({ progress: { ...p, phase: `plan A · ${p.phase}` } }),
          signal,
        );
        if (!latest.isCurrent(signal)) return;
        patch({ running: false, progress: null, result });
      } catch (e) {
        if (!latest.isCurrent(signal)) return;
        patch({ running: false, progress: null, error: isAbortError(e) ? null : errorText(e) });
      }
    },
  };
}

const liveRunner = makeRunner('live');
const fullRunner = makeRunner('full');

function liveLimit(): number {
  const st = useStore.getState();
  const avail = useResults.getState().dataset?.sets[st.evalSet];
  return avail ? Math.min(st.liveSize, avail) : st.liveSize;
}

const statsRun = new Latest();
async function fetchStatsA() {
  const st = useStore.getState();
  const client = currentClient();
  if (!st.pinned || !client || useResults.getState().status.state !== 'ready') {
    statsRun.drop();
    useCompare.setState({ stats: emptyStats() });
    return;
  }
  await requestSiteStats(client, statsRun, st.pinned, { site: st.selectedSite, set: st.evalSet, image: st.image }, (f) =>
    useCompare.setState((c) => ({ stats: f(c.stats) })),
  );
}

let liveTimer: ReturnType<typeof setTimeout> | undefined;
let statsTimer: ReturnType<typeof setTimeout> | undefined;
const scheduleLive = (ms = 300) => {
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => useResults.getState().status.state === 'ready' && void liveRunner.run(liveLimit()), ms);
};
const scheduleStats = (ms = 250) => {
  clearTimeout(statsTimer);
  statsTimer = setTimeout(() => void fetchStatsA(), ms);
};

let started = false;
export function startCompare(): void {
  if (started) return;
  started = true;
  useStore.subscribe((s, prev) => {
    if (s.pinned !== prev.pinned || s.evalSet !== prev.evalSet || s.liveSize !== prev.liveSize)
      scheduleLive(s.pinned !== prev.pinned ? 0 : 300);
    if (s.pinned !== prev.pinned || s.evalSet !== prev.evalSet) {
      fullRunner.cancel();
      useCompare.setState({ full: null });
    }
    if (s.pinned !== prev.pinned || s.selectedSite !== prev.selectedSite || s.evalSet !== prev.evalSet || s.image !== prev.image)
      scheduleStats();
  });
  useResults.subscribe((r, prev) => {
    const ready = r.status.state === 'ready';
    if (r.current !== prev.current) {
      // another model (trained weights applied / shipped restored): A's scores were of the old one
      cache.clear();
      liveRunner.cancel();
      fullRunner.cancel();
      useCompare.setState({ live: idle(), full: null, stats: emptyStats() });
      if (ready) {
        scheduleLive(0);
        scheduleStats(0);
      }
    }
    if (ready && (prev.status.state !== 'ready' || r.backend?.kind !== prev.backend?.kind)) {
      scheduleLive(0);
      scheduleStats(0);
    }
    // B scored on the full set: score A on the same images
    const fb = r.full?.result;
    if (fb && fb !== prev.full?.result && useStore.getState().pinned) void fullRunner.run(fb.count);
  });
}
