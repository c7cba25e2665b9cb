/**
 * The UI's one door to the engine. Views never call kernels: they call this client, which runs
 * the engine in a Web Worker (the page stays responsive) and answers with plain data. A typed RPC:
 * every call may take an AbortSignal and a cancelled call rejects with AbortError (latest.ts).
 * The worker runs score requests one at a time in order of arrival; which request is the newest
 * is the caller's business (a Latest slot), not the client's.
 */
import type { Plan } from '../plan/plan';
import type {
  BackendChoice,
  BackendInfo,
  DatasetInfo,
  EngineStatus,
  EvalSetName,
  ModelIdentity,
  ModelInfo,
  Progress,
  ScoreRequest,
  ScoreResult,
  SiteStats,
} from '../plan/types';

export type { DatasetInfo, EngineStatus, ModelInfo } from '../plan/types';

export interface EngineClient {
  /** resolves once model, data and a backend are ready; rejects with a message saying how to fix */
  ready(): Promise<{ backend: BackendInfo; model: ModelInfo; dataset: DatasetInfo }>;
  status(): EngineStatus;
  onStatus(cb: (s: EngineStatus) => void): () => void;
  setBackend(choice: BackendChoice): Promise<BackendInfo>;
  score(req: ScoreRequest, onProgress?: (p: Progress) => void, signal?: AbortSignal): Promise<ScoreResult>;
  siteStats(plan: Plan, site: number, set: EvalSetName, image: number, signal?: AbortSignal): Promise<SiteStats>;
  /** RGB 32×32 images, 3072 bytes each in CHW planes (CIFAR layout), and their labels */
  images(set: EvalSetName, indices: number[]): Promise<{ pixels: Uint8Array[]; labels: number[] }>;
  /** make trained parameters the engine's model (rejects, keeping the old model, when they do not fit it) */
  setWeights(params: Record<string, Float32Array>, step: number): Promise<ModelIdentity>;
  /** back to the shipped weights */
  restoreWeights(): Promise<ModelIdentity>;
  dispose(): void;
}

// ---------------------------------------------------------------------------------------------
// The real client: a Web Worker (src/runtime/worker.ts) runs the engine off the main thread.

import type { WorkerRequest, WorkerResponse } from './protocol';
import { AbortError } from '../util/latest';

type Pending = { resolve: (v: any) => void; reject: (e: Error) => void; onProgress?: (p: Progress) => void };

export class EngineRequestError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
    name = 'EngineError',
  ) {
    super(message);
    this.name = name;
  }
}

export function createEngineClient(opts: { backend?: BackendChoice; base?: string; worker?: Worker } = {}): EngineClient {
  const worker = opts.worker ?? new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let status: EngineStatus = { state: 'loading', message: 'starting the engine…' };
  const listeners = new Set<(s: EngineStatus) => void>();

  worker.onmessage = (ev: MessageEvent<WorkerResponse>) => {
    const m = ev.data;
    if (m.type === 'status') {
      status = m.status;
      listeners.forEach((l) => l(status));
      return;
    }
    const p = pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') {
      p.onProgress?.({ done: m.done, total: m.total, phase: m.phase });
      return;
    }
    pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.result);
    else p.reject(m.name === 'AbortError' ? new AbortError(m.message) : new EngineRequestError(m.message, m.fix, m.name));
  };
  worker.onerror = (ev) => {
    status = { state: 'error', message: `engine worker failed: ${ev.message}`, fix: 'Reload the page.' };
    listeners.forEach((l) => l(status));
    pending.forEach((p) => p.reject(new EngineRequestError(status.state === 'error' ? status.message : 'worker failed')));
    pending.clear();
  };

  type Body = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
  function call<T>(body: Body, onProgress?: (p: Progress) => void, signal?: AbortSignal): Promise<T> {
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortError());
      pending.set(id, { resolve, reject, onProgress });
      signal?.addEventListener(
        'abort',
        () => {
          if (!pending.has(id)) return;
          pending.delete(id);
          worker.postMessage({ id: nextId++, type: 'cancel', target: id } satisfies WorkerRequest);
          reject(new AbortError());
        },
        { once: true },
      );
      worker.postMessage({ id, ...body } as WorkerRequest);
    });
  }

  const readyPromise = call<{ backend: BackendInfo; model: ModelInfo; dataset: DatasetInfo }>({
    type: 'init',
    backend: opts.backend ?? 'auto',
    base: opts.base ?? import.meta.env?.BASE_URL ?? '/',
  });

  return {
    ready: () => readyPromise,
    status: () => status,
    onStatus(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    setBackend: (choice) => call<BackendInfo>({ type: 'setBackend', backend: choice }),
    score: (req, onProgress, signal) => call<ScoreResult>({ type: 'score', req }, onProgress, signal),
    siteStats: (plan, site, set, image, signal) => call<SiteStats>({ type: 'siteStats', plan, site, set, image }, undefined, signal),
    images: (set, indices) => call<{ pixels: Uint8Array[]; labels: number[] }>({ type: 'images', set, indices }),
    setWeights: (params, step) => call<ModelIdentity>({ type: 'setWeights', params, step }),
    restoreWeights: () => call<ModelIdentity>({ type: 'restoreWeights' }),
    dispose() {
      worker.terminate();
      pending.forEach((p) => p.reject(new EngineRequestError('engine disposed')));
      pending.clear();
    },
  };
}
