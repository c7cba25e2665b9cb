/** Messages between the engine client (page) and the engine worker. Plain, structured-clone data. */
import type { Plan } from '../plan/plan';
import type { BackendChoice, EngineStatus, EvalSetName, ScoreRequest } from '../plan/types';

export type WorkerRequest =
  | { id: number; type: 'init'; backend: BackendChoice; base: string }
  | { id: number; type: 'setBackend'; backend: BackendChoice }
  | { id: number; type: 'score'; req: ScoreRequest }
  | { id: number; type: 'siteStats'; plan: Plan; site: number; set: EvalSetName; image: number }
  | { id: number; type: 'images'; set: EvalSetName; indices: number[] }
  /** make trained parameters (model.safetensors names → values) the current model; answers its ModelIdentity */
  | { id: number; type: 'setWeights'; params: Record<string, Float32Array>; step: number }
  /** back to the shipped weights; answers the ModelIdentity */
  | { id: number; type: 'restoreWeights' }
  | { id: number; type: 'cancel'; target: number };

export type WorkerResponse =
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; message: string; fix?: string; name?: string }
  | { id: number; type: 'progress'; done: number; total: number; phase: string }
  | { id: -1; type: 'status'; status: EngineStatus };
