/** The score results a view pairs: B (the live plan), FP32 on the same images, and pinned A. */
import { useStore } from '../../state/store';
import type { ScoreResult } from '../../plan/types';
import { useResults } from '../engine/results';
import { useCompare } from './compareController';

/** FP32 scored on the same set and the same first `count` images as `res` (same backend). */
export function useBaselineFor(res: ScoreResult | null | undefined): ScoreResult | undefined {
  const backend = useResults((r) => r.backend?.kind);
  const evalSet = useStore((s) => s.evalSet);
  return useResults((r) => (res ? r.baselines[`${res.set ?? evalSet}:${res.count}:${backend}`] : undefined));
}

export function useLiveTrio(): {
  b: ScoreResult | null;
  fp32: ScoreResult | undefined;
  a: ScoreResult | null;
  aRunning: boolean;
  aError: string | null;
} {
  const b = useResults((r) => r.live.result);
  const fp32 = useBaselineFor(b);
  const pinned = useStore((s) => s.pinned);
  const live = useCompare((c) => c.live);
  return { b, fp32, a: pinned ? live.result : null, aRunning: !!pinned && live.running, aError: pinned ? live.error : null };
}
