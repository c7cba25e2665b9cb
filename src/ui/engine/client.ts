/**
 * The UI's one boundary to the engine: obtains the EngineClient (src/engine/client.ts, a Web
 * Worker) and serializes score requests so that live scoring, the full-set button and the
 * study never abort each other inside the client ("newest request of a kind wins").
 */
import { createEngineClient, type EngineClient } from '../../engine/client';
import type { BackendChoice } from '../../engine/types';
import type { Progress, ScoreRequest, ScoreResult } from '../../engine/types';

let clientPromise: Promise<EngineClient> | null = null;

export class EngineUnavailableError extends Error {
  fix: string;
  constructor(message: string, fix: string) {
    super(message);
    this.name = 'EngineUnavailableError';
    this.fix = fix;
  }
}

export function getClient(backend: BackendChoice = 'auto'): Promise<EngineClient> {
  if (!clientPromise) {
    clientPromise = (async () => {
      try {
        return createEngineClient({ backend });
      } catch (e) {
        throw new EngineUnavailableError(`The engine worker could not start: ${e instanceof Error ? e.message : String(e)}`, 'Use a browser with module Web Workers (a current Chrome, Edge, Firefox or Safari) and reload.');
      }
    })();
  }
  return clientPromise;
}

let chain: Promise<unknown> = Promise.resolve();

/** Run score requests one after another (the client aborts a score when a new one starts). */
export function queuedScore(client: EngineClient, req: ScoreRequest, onProgress?: (p: Progress) => void, signal?: AbortSignal): Promise<ScoreResult> {
  const run = async () => {
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    return client.score(req, onProgress, signal);
  };
  const p = chain.then(run, run);
  chain = p.catch(() => undefined);
  return p;
}
