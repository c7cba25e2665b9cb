/// <reference lib="webworker" />
/**
 * The engine worker: owns the model, the data, the backend and every GPU object, so the page
 * stays responsive and React never holds engine state. Score requests run one at a time in order
 * of arrival (one backend, one set of buffers); a 'cancel' drops a waiting request or aborts a
 * running one at its next checkpoint.
 */
import { DataError, fetchReader, IMAGE_BYTES, loadEvalSet, loadManifest, CLASS_NAMES } from '../data/cifar';
import { loadVit, type VitWeights } from '../model/vitWeights';
import { ModelError } from '../model/safetensors';
import { Engine } from '../engine/engine';
import { isAbortError, SerialQueue } from '../util/latest';
import { createBackend, type BackendFactories } from './backends';
import { ModelHost } from './modelHost';
import type { WorkerRequest, WorkerResponse } from './protocol';
import { checkWorkerRequest, messageId } from './protocolCheck';
import type { BackendChoice, EngineStatus, EvalSetName, ModelInfo } from '../plan/types';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: WorkerResponse) => scope.postMessage(m);
const setStatus = (status: EngineStatus) => post({ id: -1, type: 'status', status });

let engine: Engine | undefined;
let weights: VitWeights | undefined;
let modelInfo: ModelInfo | undefined;
/** the current model (shipped or applied trained weights); `engine` and `weights` follow it */
let host: ModelHost | undefined;
const controllers = new Map<number, AbortController>();
const scores = new SerialQueue();
let backendChoice: BackendChoice = 'auto';

const factories: BackendFactories = {
  cpu: async (w, reason) => (await import('./cpuBackendFactory')).createCpuBackend(w, reason),
  webgpu: async (w, reason) => (await import('./webgpuBackendFactory')).createWebGpuBackend(w, reason, () => onDeviceLost()),
};

async function onDeviceLost() {
  // device lost → recreate the backend and carry on (the next request runs on the new device)
  if (!engine || !weights) return;
  setStatus({ state: 'loading', message: 'GPU device lost — recreating it…' });
  try {
    engine.backend = await createBackend(backendChoice, weights, navigator.gpu, factories);
    setStatus({ state: 'ready', backend: engine.backend.info, model: host?.identity });
  } catch (e) {
    setStatus({ state: 'error', message: `could not recover from device loss: ${(e as Error).message}`, fix: 'Reload the page.' });
  }
}

async function init(base: string, choice: BackendChoice) {
  setStatus({ state: 'loading', message: 'loading model weights…' });
  const modelRead = fetchReader(`${base}models/vit-cifar10/`);
  weights = await loadVit(modelRead);
  let metrics: ModelInfo['metrics'] = {};
  try {
    metrics = JSON.parse(new TextDecoder().decode(await modelRead('metrics.json')));
  } catch {
    /* metrics are informative only */
  }
  modelInfo = { name: 'vit-cifar10', config: { ...weights.config }, metrics };
  setStatus({ state: 'loading', message: 'loading CIFAR-10 test images…' });
  const dataRead = fetchReader(`${base}data/cifar10/`);
  const manifest = await loadManifest(dataRead);
  const [test, calib] = await Promise.all([
    loadEvalSet(dataRead, 'test', manifest),
    loadEvalSet(dataRead, 'calib', manifest).catch(() => undefined),
  ]);
  setStatus({ state: 'loading', message: 'starting the backend…' });
  backendChoice = choice;
  const backend = await createBackend(choice, weights, navigator.gpu, factories);
  const kernels = await (await import('../cpu/cpuKernels')).loadCpuKernels().catch(() => undefined);
  const ops = kernels?.impl === 'wasm-simd' ? kernels : undefined;
  engine = new Engine(weights, { test, calib }, backend, ops);
  host = new ModelHost(weights, engine, (w) => createBackend(backendChoice, w, navigator.gpu, factories), ops);
  // the validation set (30 MB) loads in the background; requests for it wait on this promise
  valPromise = loadEvalSet(dataRead, 'val', manifest).then((val) => {
    engine!.data.val = val;
  });
  valPromise.catch(() => undefined);
  setStatus({ state: 'ready', backend: backend.info, model: host.identity });
  return {
    backend: backend.info,
    model: modelInfo,
    dataset: { sets: { test: test.count, val: manifest.val.count }, classNames: manifest.classes ?? CLASS_NAMES },
  };
}
let valPromise: Promise<void> | undefined;

async function needSet(set: EvalSetName) {
  if (set === 'val' && !engine?.data.val) await valPromise;
}

async function handle(m: WorkerRequest): Promise<unknown> {
  if (m.type === 'init') return init(m.base, m.backend);
  if (!engine) throw new Error('engine not initialised');
  switch (m.type) {
    case 'setBackend': {
      setStatus({ state: 'loading', message: `switching backend (${m.backend})…` });
      const old = engine.backend;
      try {
        engine.backend = await createBackend(m.backend, weights!, navigator.gpu, factories);
      } finally {
        // a failed switch keeps the old backend, and the UI returns to scoring on it
        setStatus({ state: 'ready', backend: engine.backend.info, model: host?.identity });
      }
      backendChoice = m.backend;
      if (old !== engine.backend) old.dispose();
      return engine.backend.info;
    }
    case 'score': {
      const ctl = new AbortController();
      controllers.set(m.id, ctl);
      try {
        return await scores.run(async () => {
          await needSet(m.req.set);
          const model = host!.identity;
          const r = await engine!.score(m.req, (p) => post({ id: m.id, type: 'progress', ...p }), ctl.signal);
          return { ...r, model };
        }, ctl.signal);
      } finally {
        controllers.delete(m.id);
      }
    }
    case 'setWeights':
    case 'restoreWeights':
      // between scores (the queue), so no score runs half on the old model
      return scores.run(async () => {
        const h = host!;
        setStatus({
          state: 'loading',
          message: m.type === 'setWeights' ? 'applying the trained weights…' : 'restoring the shipped weights…',
        });
        try {
          if (m.type === 'setWeights') await h.apply(m.params, { step: m.step });
          else await h.restore();
        } finally {
          // refused or failed: the previous model (and engine) stay, and the UI returns to scoring on it
          engine = h.engine;
          weights = h.engine.weights;
          setStatus({ state: 'ready', backend: engine.backend.info, model: h.identity });
        }
        return h.identity;
      });
    case 'siteStats':
      await needSet(m.set);
      return engine.siteStats(m.plan, m.site, m.set, m.image);
    case 'images': {
      await needSet(m.set);
      const s = engine.evalSet(m.set);
      const outside = m.indices.find((i) => i >= s.count);
      if (outside !== undefined) throw new RangeError(`image ${outside} is outside the ${m.set} set (0..${s.count - 1})`);
      return {
        pixels: m.indices.map((i) => s.pixels.slice(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES)),
        labels: m.indices.map((i) => s.labels[i]),
      };
    }
  }
  throw new Error(`unknown request ${(m as { type: string }).type}`);
}

scope.onmessage = (ev: MessageEvent<unknown>) => {
  let m: WorkerRequest;
  try {
    m = checkWorkerRequest(ev.data);
  } catch (e) {
    // a malformed message: answered with the reason when it names a request, else logged
    const id = messageId(ev.data);
    if (id !== undefined) post({ id, type: 'error', message: (e as Error).message, name: 'MessageError' });
    else console.error((e as Error).message);
    return;
  }
  if (m.type === 'cancel') {
    controllers.get(m.target)?.abort();
    return;
  }
  handle(m).then(
    (result) => post({ id: m.id, type: 'result', result }),
    (e: Error) => {
      const fix = e instanceof DataError || e instanceof ModelError ? e.fix : undefined;
      if (m.type === 'init') setStatus({ state: 'error', message: e.message, fix });
      post({ id: m.id, type: 'error', message: e.message, fix, name: isAbortError(e) ? 'AbortError' : e.name });
    },
  );
};
