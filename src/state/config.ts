/**
 * The serializable configuration of the playground: everything a link must reproduce.
 * Pure data; the URL codec (urlCodec.ts) encodes exactly this shape.
 */
import type { Plan } from '../plan/plan';
import { fp32Plan } from '../plan/plan';
import type { BackendChoice, EvalSetName } from '../plan/types';

export type ViewId = 'accuracy' | 'outliers' | 'explorer' | 'study' | 'kernels' | 'train' | 'stage';
export const VIEWS: { id: ViewId; label: string }[] = [
  { id: 'accuracy', label: 'Accuracy' },
  { id: 'outliers', label: 'Outliers' },
  { id: 'explorer', label: 'Scale / zero' },
  { id: 'study', label: 'Study' },
  { id: 'kernels', label: 'Kernels' },
  { id: 'train', label: 'Train' },
  { id: 'stage', label: 'Stage' },
];

export interface Config {
  plan: Plan;
  selectedSite: number;
  view: ViewId;
  evalSet: EvalSetName;
  /** images scored live after each change (first N of the set) */
  liveSize: number;
  /** image the per-site statistics are taken on */
  image: number;
  /** which operand the outliers/explorer views show */
  operand: 'a' | 'b';
  stageStep: number;
  backend: BackendChoice;
  /** plan A of the A/B compare (the live plan is B); null when nothing is pinned */
  pinned: Plan | null;
}

export const LIVE_SIZES = [8, 32, 100, 250, 500, 1000];

export function defaultConfig(): Config {
  return {
    plan: fp32Plan(),
    selectedSite: 1,
    view: 'accuracy',
    evalSet: 'test',
    liveSize: 100,
    image: 0,
    operand: 'a',
    stageStep: 0,
    backend: 'auto',
    pinned: null,
  };
}
