/**
 * The CPU backend across threads: images are split into chunks and spread over workers (Node
 * worker_threads, or Web Workers in the browser), each with its own wasm instance and a copy of
 * the weights (1.2 M parameters: copies are cheaper than coordinating one shared memory).
 * In the browser, several workers only when crossOriginIsolated (the page may then use
 * SharedArrayBuffer and the threads it implies); otherwise one worker, off the UI thread.
 */
import type { Backend, RunOptions, StepSupport } from '../plan/backend';
import type { Step } from '../plan/steps';
import { cpuSupportsStep } from './vitCpu';
import { throwIfAborted } from '../util/latest';
import type { PreparedPlan } from '../plan/siteQuant';
import type { BackendInfo } from '../plan/types';
import { IMAGE_BYTES } from '../data/cifar';
import type { VitWeights } from '../model/vitWeights';
import { featuresLabel, loadKernelModule, type WasmFeatures } from './cpuKernels';
import type { FromWorker, ToWorker } from './vitCpuWorker';

interface Port {
  post(m: ToWorker, transfer?: Transferable[]): void;
  onMessage(f: (m: FromWorker) => void): void;
  onError(f: (e: Error) => void): void;
  terminate(): void;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
let nodeBundle: Promise<string> | undefined;

/** Node cannot run the TypeScript worker directly: bundle it once per process with rolldown. */
async function nodeWorkerFile(): Promise<string> {
  nodeBundle ??= (async () => {
    const [{ build }, { tmpdir }, { join }, { fileURLToPath }] = await Promise.all([
      import(/* @vite-ignore */ 'rolldown' as string) as Promise<typeof import('rolldown')>,
      import(/* @vite-ignore */ 'node:os' as string) as Promise<typeof import('node:os')>,
      import(/* @vite-ignore */ 'node:path' as string) as Promise<typeof import('node:path')>,
      import(/* @vite-ignore */ 'node:url' as string) as Promise<typeof import('node:url')>,
    ]);
    const file = join(tmpdir(), `qp-vitcpu-worker-${process.pid}.mjs`);
    await build({
      input: fileURLToPath(new URL('./vitCpuWorker.ts', import.meta.url)),
      platform: 'node',
      logLevel: 'silent',
      output: { file, format: 'esm' },
      write: true,
    });
    return file;
  })();
  return nodeBundle;
}

async function spawn(): Promise<Port> {
  if (isNode) {
    const file = await nodeWorkerFile();
    const { Worker } = (await import(/* @vite-ignore */ 'node:worker_threads' as string)) as typeof import('node:worker_threads');
    const w = new Worker(file);
    w.unref(); // never keep the process alive
    return {
      post: (m, t) => w.postMessage(m, (t ?? []) as never),
      onMessage: (f) => w.on('message', f),
      onError: (f) => w.on('error', f),
      terminate: () => void w.terminate(),
    };
  }
  const w = new Worker(new URL('./vitCpuWorker.ts', import.meta.url), { type: 'module' });
  return {
    post: (m, t) => w.postMessage(m, t ?? []),
    onMessage: (f) => w.addEventListener('message', (e) => f(e.data as FromWorker)),
    onError: (f) => w.addEventListener('error', (e) => f(new Error(e.message))),
    terminate: () => w.terminate(),
  };
}

export function defaultThreads(): number {
  // Node: one thread unless asked (--threads N of eval/study sets QP_CPU_THREADS)
  if (isNode)
    return Math.max(
      1,
      Math.min(16, Number((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.QP_CPU_THREADS) || 1),
    );
  const g = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } };
  return g.crossOriginIsolated ? Math.max(1, Math.min(8, (g.navigator?.hardwareConcurrency ?? 2) - 1)) : 1;
}

export class VitCpuPool implements Backend {
  readonly info: BackendInfo;
  private planIds = new WeakMap<PreparedPlan, number>();
  private sentPlan: number[];
  private nextId = 1;
  private pending = new Map<number, { resolve: (y: Float32Array) => void; reject: (e: Error) => void }>();
  private disposed = false;

  private constructor(
    private readonly ports: Port[],
    readonly weights: VitWeights,
    reason: string,
    readonly chunk: number,
    features: WasmFeatures,
  ) {
    this.sentPlan = ports.map(() => 0);
    this.info = {
      kind: 'cpu',
      label: `CPU · WASM SIMD${featuresLabel(features)}, ${ports.length} worker${ports.length > 1 ? 's' : ''}`,
      reason,
    };
    for (const p of ports) {
      p.onMessage((m) => {
        if (m.type === 'ready') return;
        const job = this.pending.get(m.job);
        if (!job) return;
        this.pending.delete(m.job);
        if (m.type === 'result') job.resolve(m.logits);
        else job.reject(new Error(m.message));
      });
      p.onError((e) => {
        for (const j of this.pending.values()) j.reject(e);
        this.pending.clear();
      });
    }
  }

  /** Starts `threads` workers (default: defaultThreads()); rejects when the wasm is unavailable. */
  static async create(weights: VitWeights, opts: { threads?: number; reason?: string; chunk?: number } = {}): Promise<VitCpuPool> {
    const module = await loadKernelModule();
    const threads = Math.max(1, opts.threads ?? defaultThreads());
    const ports = await Promise.all(Array.from({ length: threads }, () => spawn()));
    await Promise.all(
      ports.map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            p.onMessage((m) => m.type === 'ready' && resolve());
            p.onError(reject);
            p.post({ type: 'init', module, weights });
          }),
      ),
    );
    return new VitCpuPool(ports, weights, opts.reason ?? 'CPU backend', opts.chunk ?? 16, module.features);
  }

  supports(s: Step): StepSupport {
    return cpuSupportsStep(s);
  }
  async run(plan: PreparedPlan, pixels: Uint8Array, count: number, opts: RunOptions = {}): Promise<Float32Array> {
    if (this.disposed) throw new Error('VitCpuPool: used after dispose()');
    let id = this.planIds.get(plan);
    if (!id) {
      id = this.nextId++;
      this.planIds.set(plan, id);
    }
    const classes = this.weights.config.classes;
    const out = new Float32Array(count * classes);
    // chunks small enough to spread over the workers and report progress, large enough to batch
    const per = Math.max(1, Math.min(this.chunk * 2, Math.ceil(count / this.ports.length)));
    let next = 0;
    let done = 0;
    const worker = async (w: number) => {
      const port = this.ports[w];
      while (next < count) {
        throwIfAborted(opts.signal);
        const i0 = next;
        const b = Math.min(per, count - i0);
        next += b;
        if (this.sentPlan[w] !== id) {
          port.post({ type: 'plan', id: id!, plan });
          this.sentPlan[w] = id!;
        }
        const job = this.nextId++;
        const px = pixels.slice(i0 * IMAGE_BYTES, (i0 + b) * IMAGE_BYTES);
        const y = await new Promise<Float32Array>((resolve, reject) => {
          this.pending.set(job, { resolve, reject });
          port.post(
            {
              type: 'run',
              job,
              planId: id!,
              pixels: px,
              count: b,
              chunk: this.chunk,
              jitter: opts.jitter ? { ...opts.jitter, offset: i0 } : undefined,
            },
            [px.buffer],
          );
        });
        out.set(y, i0 * classes);
        done += b;
        opts.onProgress?.(done, count);
      }
    };
    await Promise.all(this.ports.map((_, w) => worker(w)));
    return out;
  }

  dispose(): void {
    this.disposed = true;
    for (const p of this.ports) p.terminate();
    for (const j of this.pending.values()) j.reject(new Error('VitCpuPool disposed'));
    this.pending.clear();
  }
}
