/**
 * The UI's one boundary to the engine: obtains the EngineClient (src/runtime/client.ts, a Web
 * Worker). Score requests from live scoring, the full-set button, the study and the stage queue in
 * the worker; each caller keeps its own newest-wins slot (Latest, src/util/latest.ts).
 */
import { createEngineClient, type EngineClient } from '../../runtime/client';
import type { BackendChoice } from '../../plan/types';

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
        throw new EngineUnavailableError(
          `The engine worker could not start: ${e instanceof Error ? e.message : String(e)}`,
          'Use a browser with module Web Workers (a current Chrome, Edge, Firefox or Safari) and reload.',
        );
      }
    })();
  }
  return clientPromise;
}
