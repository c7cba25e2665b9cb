/**
 * Cancellation in one place: the error a cancelled request ends with (recognised by its type,
 * never by its message), the "newest request wins" slot every controller uses, and the serial
 * queue the engine worker answers score requests in.
 */

/** What a cancelled request rejects with. */
export class AbortError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'AbortError';
  }
}

/** A cancellation: our AbortError, or the DOM's (fetch, a signal's default reason). */
export function isAbortError(e: unknown): boolean {
  return e instanceof AbortError || (typeof DOMException !== 'undefined' && e instanceof DOMException && e.name === 'AbortError');
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}

/**
 * A slot where the newest run wins: `begin()` aborts the run before it and hands out the new
 * run's signal; `isCurrent(signal)` tells a finishing run whether its result may still be shown.
 */
export class Latest {
  private current: AbortController | null = null;

  /** A signal for a new run; the previous run's is aborted. `parent` aborting aborts it too. */
  begin(parent?: AbortSignal): AbortSignal {
    this.current?.abort();
    const ac = new AbortController();
    this.current = ac;
    if (parent) {
      if (parent.aborted) ac.abort();
      else parent.addEventListener('abort', () => ac.abort(), { once: true });
    }
    return ac.signal;
  }

  /** true while `signal` belongs to the newest run (no newer begin(); a cancel() keeps it newest, so its own catch reports) */
  isCurrent(signal: AbortSignal): boolean {
    return this.current?.signal === signal;
  }

  /** Aborts the newest run (if any); it stays the newest, so it may report "cancelled". */
  cancel(): void {
    this.current?.abort();
  }

  /** Aborts the newest run and forgets it: its handlers see it superseded and stay silent. */
  drop(): void {
    this.current?.abort();
    this.current = null;
  }
}

/**
 * Runs tasks one at a time in order of arrival. A task whose signal aborts while it waits rejects
 * at once with AbortError and never runs; a running task sees its signal (the caller's promise
 * rejects at once, the queue moves on when the task has actually stopped).
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortError());
      signal?.addEventListener('abort', () => reject(new AbortError()), { once: true });
      this.tail = this.tail.then(async () => {
        if (signal?.aborted) return;
        try {
          resolve(await task());
        } catch (e) {
          reject(e);
        }
      });
    });
  }
}
