/**
 * Worker side of src/cpu/vitCpuPool.ts: one VitCpu on its own wasm instance (own memory; the
 * compiled module and the weights arrive once by postMessage). Runs in a Web Worker (Vite
 * bundles it) and in a Node worker_thread (vitCpuPool.ts bundles it with rolldown).
 */
import type { PreparedPlan } from '../plan/siteQuant';
import { jitterHooks } from '../plan/backend';
import { IMAGE_BYTES } from '../data/cifar';
import type { VitWeights } from '../model/vitWeights';
import { isWasmKernels, type KernelModule, kernelsFromModule } from './cpuKernels';
import { VitCpu } from './vitCpu';

export type ToWorker =
  | { type: 'init'; module: KernelModule; weights: VitWeights }
  | { type: 'plan'; id: number; plan: PreparedPlan }
  | {
      type: 'run';
      job: number;
      planId: number;
      pixels: Uint8Array;
      count: number;
      chunk: number;
      jitter?: { scale: number; seed: number; offset: number };
    };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; job: number; logits: Float32Array }
  | { type: 'error'; job: number; message: string };

let vit: VitCpu | undefined;
const plans = new Map<number, PreparedPlan>();

function handle(m: ToWorker, post: (m: FromWorker, transfer?: Transferable[]) => void): void {
  if (m.type === 'init') {
    const k = kernelsFromModule(m.module);
    if (!isWasmKernels(k)) throw new Error('worker: wasm kernels expected');
    vit = new VitCpu(m.weights, k);
    post({ type: 'ready' });
    return;
  }
  if (m.type === 'plan') {
    plans.clear(); // one plan at a time: the newest request wins
    plans.set(m.id, m.plan);
    return;
  }
  try {
    const plan = plans.get(m.planId);
    if (!vit || !plan) throw new Error(`worker: ${vit ? `plan ${m.planId} unknown` : 'not initialized'}`);
    let logits: Float32Array;
    if (m.jitter) {
      const classes = vit.weights.config.classes;
      logits = new Float32Array(m.count * classes);
      for (let i = 0; i < m.count; i++)
        logits.set(
          vit.forwardWithHooks(
            plan,
            m.pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES),
            jitterHooks(m.jitter.scale, m.jitter.seed, m.jitter.offset + i),
          ),
          i * classes,
        );
    } else logits = vit.forward(plan, m.pixels, m.count, m.chunk);
    post({ type: 'result', job: m.job, logits }, [logits.buffer]);
  } catch (e) {
    post({ type: 'error', job: m.job, message: (e as Error).message });
  }
}

const isBrowserWorker = typeof self !== 'undefined' && typeof (self as { importScripts?: unknown }).importScripts === 'function';
if (isBrowserWorker) {
  const scope = self as unknown as { onmessage: (e: MessageEvent<ToWorker>) => void; postMessage(m: FromWorker, t?: Transferable[]): void };
  scope.onmessage = (e) => handle(e.data, (m, t) => scope.postMessage(m, t ?? []));
} else {
  const wt = 'node:worker_threads';
  const { parentPort } = (await import(/* @vite-ignore */ wt)) as typeof import('node:worker_threads');
  if (parentPort) parentPort.on('message', (m: ToWorker) => handle(m, (r, t) => parentPort.postMessage(r, (t ?? []) as never)));
}
