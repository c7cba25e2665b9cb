/**
 * What the engine answered: plain data only (scores, statistics, status), kept apart from the
 * serializable config store so the URL never carries results.
 */
import { create } from 'zustand';
import type { DatasetInfo, EngineStatus, ModelInfo } from '../../runtime/client';
import type { BackendInfo, ModelIdentity, Progress, ScoreResult, SiteStats } from '../../plan/types';

export interface LiveScore {
  /** key of the request the result belongs to (plan + set + subset + backend) */
  key: string;
  running: boolean;
  progress: Progress | null;
  result: ScoreResult | null;
  error: string | null;
  /** the plan scored is all FP32 */
  isFp32: boolean;
}

export interface ResultsState {
  status: EngineStatus;
  backend: BackendInfo | null;
  model: ModelInfo | null;
  /** which weights the engine runs now (shipped, or a QAT run applied in the Train view) */
  current: ModelIdentity;
  dataset: DatasetInfo | null;
  webgpuAvailable: boolean | null;
  live: LiveScore;
  /** FP32 scores per subset key (scored once and cached) */
  baselines: Record<string, ScoreResult>;
  /** score of the full eval set under the current plan (button) */
  full: LiveScore | null;
  stats: { key: string; loading: boolean; data: SiteStats | null; error: string | null };
}

export const emptyLive = (): LiveScore => ({ key: '', running: false, progress: null, result: null, error: null, isFp32: true });

export const useResults = create<ResultsState>()(() => ({
  status: { state: 'loading', message: 'starting the engine…' },
  backend: null,
  model: null,
  current: { kind: 'shipped', label: 'shipped' },
  dataset: null,
  webgpuAvailable: null,
  live: emptyLive(),
  baselines: {},
  full: null,
  stats: { key: '', loading: false, data: null, error: null },
}));

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
