/**
 * One site-statistics request for a plan (the live plan B, or the pinned plan A): newest request
 * wins through the caller's Latest slot; the answer (or its error) lands in the caller's store slot.
 */
import type { EngineClient } from '../../runtime/client';
import { isAbortError, type Latest } from '../../util/latest';
import type { Plan } from '../../plan/plan';
import type { EvalSetName, SiteStats } from '../../plan/types';
import { errorText } from './results';

export interface StatsSlot {
  key: string;
  loading: boolean;
  data: SiteStats | null;
  error: string | null;
}

export const emptyStats = (): StatsSlot => ({ key: '', loading: false, data: null, error: null });

export async function requestSiteStats(
  client: EngineClient,
  run: Latest,
  plan: Plan,
  q: { site: number; set: EvalSetName; image: number },
  put: (update: (prev: StatsSlot) => StatsSlot) => void,
): Promise<void> {
  const signal = run.begin();
  const key = JSON.stringify([plan.sites[q.site], q.site, q.set, q.image]);
  put((s) => ({ ...s, key, loading: true, error: null }));
  try {
    const data = await client.siteStats(plan, q.site, q.set, q.image, signal);
    if (run.isCurrent(signal) && !signal.aborted) put(() => ({ key, loading: false, data, error: null }));
  } catch (e) {
    if (!run.isCurrent(signal) || isAbortError(e)) return;
    put((s) => ({ ...s, key, loading: false, error: errorText(e) }));
  }
}
