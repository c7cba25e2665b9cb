/**
 * Which backend runs each step of the forward, decided before running (issue 12): the primary
 * backend answers supports(step) for every step of the inference list; when it declines one, the
 * whole forward runs on its fallback (WebGPU → the CPU backend) — moving the activations between
 * devices in the middle of the forward would cost more than the steps it saves — and the result
 * names every declined step and why.
 */
import type { Backend, RunOptions } from '../plan/backend';
import type { PreparedPlan } from '../plan/siteQuant';
import type { Step } from '../plan/steps';
import type { BackendKind, StepRunInfo } from '../plan/types';

export interface Placement {
  useFallback: boolean;
  /** the declined steps' reasons, deduplicated, in step order */
  reason?: string;
  steps: (on: BackendKind) => StepRunInfo[];
}

export function siteOfStep(s: Step): number | undefined {
  return 'site' in s ? s.site : undefined;
}

export function placeSteps(steps: Step[], plan: PreparedPlan, primary: Backend, opts: RunOptions = {}): Placement {
  const verdicts = steps.map((s) => primary.supports?.(s, plan, opts) ?? true);
  const declined = verdicts.flatMap((v, i) => (v === true ? [] : [{ i, why: v }]));
  const info = (on: BackendKind): StepRunInfo[] =>
    steps.map((s, i) => {
      const site = siteOfStep(s);
      const v = verdicts[i];
      return { step: i, kind: s.kind, ...(site !== undefined ? { site } : {}), on, ...(v !== true ? { unsupported: v } : {}) };
    });
  if (!declined.length) return { useFallback: false, steps: info };
  if (!primary.fallback) {
    const d = declined[0];
    throw new Error(`${primary.info.label} cannot run step ${d.i} (${steps[d.i].kind}): ${d.why}`);
  }
  return { useFallback: true, reason: [...new Set(declined.map((d) => d.why))].join('; '), steps: info };
}
