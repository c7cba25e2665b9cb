/**
 * Scores the pinned plan A beside the live plan B: on the same live subset (and on the full set
 * once B has been scored there), always with per-image predictions so every Δ(B − A) is paired,
 * and A's statistics for the selected site. A subscription, like the engine controller; results
 * go to their own small store. A is cached per (plan, set, size, backend): editing B never
 * re-scores A.
 */
import { create } from 'zustand';
import type { Plan } from '../../engine/plan';
import type { EvalSetName, Progress, ScoreResult, SiteStats } from '../../engine/types';
import { useStore } from '../../state/store';
import { queuedScore } from '../engine/client';
import { baseline, currentClient, isFp32Plan } from '../engine/controller';
import { errorText, isAbort, useResults } from '../engine/results';

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
  stats: { key: string; loading: boolean; data: SiteStats | null; error: string | null };
}

const idle = (): PlanScore => ({ key: '', running: false, progress: null, result: null, error: null });

export const useCompare = create<CompareState>()(() => ({ live: idle(), full: null, stats: { key: '', loading: false, data: null, error: null } }));

const cache = new Map<string, ScoreResult>();

function scoreKey(plan: Plan, set: EvalSetName, limit: number): string {
  return JSON.stringify([plan.sites, set, limit, useResults.getState().backend?.kind ?? '?']);
}

async function scorePlan(plan: Plan, set: EvalSetName, limit: number, onProgress: (p: Progress) => void, signal: AbortSignal): Promise<ScoreResult> {
  const key = scoreKey(plan, set, limit);
  const hit = cache.get(key);
  if (hit) return hit;
  // FP32 as A is the FP32 baseline B's Δ vs FP32 uses: one score, one cache
  const client = currentClient();
  if (!client) throw new Error('engine not ready');
  const r = isFp32Plan(plan) ? await baseline(set, limit, onProgress, signal) : await queuedScore(client, { plan, set, offset: 0, limit, keepPredictions: true }, onProgress, signal);
  cache.set(key, r);
  return r;
}

function makeRunner(slot: 'live' | 'full') {
  let ac: AbortController | null = null;
  const patch = (p: Partial<PlanScore>) => useCompare.setState((s) => ({ [slot]: { ...(s[slot] ?? idle()), ...p } }) as Partial<CompareState>);
  return {
    cancel() {
      ac?.abort();
      ac = null;
    },
    async run(limit: number) {
      const pinned = useStore.getState().pinned;
      const set = useStore.getState().evalSet;
      ac?.abort();
      if (!pinned) {
        useCompare.setState({ [slot]: slot === 'live' ? idle() : null } as Partial<CompareState>);
        return;
      }
      const mine = new AbortController();
      ac = mine;
      patch({ key: scoreKey(pinned, set, limit), running: true, progress: { done: 0, total: limit, phase: 'plan A' }, error: null, result: null });
      try {
        const result = await scorePlan(pinned, set, limit, (p) => mine.signal.aborted || patch({ progress: { ...p, phase: `plan A · ${p.phase}` } }), mine.signal);
        if (ac !== mine) return;
        patch({ running: false, progress: null, result });
      } catch (e) {
        if (ac !== mine) return;
        patch({ running: false, progress: null, error: isAbort(e) ? null : errorText(e) });
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

let statsAbort: AbortController | null = null;
async function fetchStatsA() {
  const st = useStore.getState();
  const client = currentClient();
  statsAbort?.abort();
  if (!st.pinned || !client || useResults.getState().status.state !== 'ready') {
    useCompare.setState({ stats: { key: '', loading: false, data: null, error: null } });
    return;
  }
  const ac = new AbortController();
  statsAbort = ac;
  const key = JSON.stringify([st.pinned.sites[st.selectedSite], st.selectedSite, st.evalSet, st.image]);
  useCompare.setState((s) => ({ stats: { ...s.stats, key, loading: true, error: null } }));
  try {
    const data = await client.siteStats(st.pinned, st.selectedSite, st.evalSet, st.image, ac.signal);
    if (statsAbort !== ac) return;
    useCompare.setState({ stats: { key, loading: false, data, error: null } });
  } catch (e) {
    if (statsAbort !== ac || isAbort(e)) return;
    useCompare.setState((s) => ({ stats: { ...s.stats, key, loading: false, error: errorText(e) } }));
  }
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
    if (s.pinned !== prev.pinned || s.evalSet !== prev.evalSet || s.liveSize !== prev.liveSize) scheduleLive(s.pinned !== prev.pinned ? 0 : 300);
    if (s.pinned !== prev.pinned || s.evalSet !== prev.evalSet) {
      fullRunner.cancel();
      useCompare.setState({ full: null });
    }
    if (s.pinned !== prev.pinned || s.selectedSite !== prev.selectedSite || s.evalSet !== prev.evalSet || s.image !== prev.image) scheduleStats();
  });
  useResults.subscribe((r, prev) => {
    const ready = r.status.state === 'ready';
    if (ready && (prev.status.state !== 'ready' || r.backend?.kind !== prev.backend?.kind)) {
      scheduleLive(0);
      scheduleStats(0);
    }
    // B scored on the full set: score A on the same images
    const fb = r.full?.result;
    if (fb && fb !== prev.full?.result && useStore.getState().pinned) void fullRunner.run(fb.count);
  });
}
