/**
 * Training in a Web Worker (issue 13 item 2) on the CPU backend's WASM SIMD kernels, or on WebGPU
 * through TensorFlow.js (src/train/tfTrainer.ts; the host trainer keeps calibration, the progressive
 * schedule, export and apply, and pulls the device's state when it needs it): loads the committed
 * weights and CIFAR-10 (data_batch_1 as training images, the first validation images for the curve),
 * runs QatTrainer step by step — yielding between steps so pause / resume / cancel / inspect arrive —
 * and posts steps, evaluations, the selected site's learned (s, z) over its histogram, a val5000
 * score with its paired Δ vs FP32 (PyTorch's FP32 predictions, predictions.json, which the CPU
 * backend matches on 100% of images), and an export (safetensors + learned ranges JSON).
 */
import { fetchReader, loadEvalSet, loadManifest, type ImageSet } from '../data/cifar';
import { loadVit, type VitWeights } from '../model/vitWeights';
import { loadCpuKernels } from '../cpu/cpuKernels';
import { correctness } from '../quant/intervals';
import { roundHalfEven } from '../quant/scaleZero';
import { loadTrainImages, stepBatch } from './data';
import { trainKernelsFor, type TrainKernels } from './trainKernels';
import type { QuantView, TrainEvent, TrainRequest, TrainSettings } from './protocol';
import { writeSafetensors } from './safetensorsWrite';
import { DEFAULT_QAT, QatTrainer, type StepResult, TrainingDiverged } from './trainer';
import { quantKey } from './ops';
import { learnedPlan } from './learnedPlan';
import { loadTfWebGpu, type Tf, TfQatEngine } from './tfTrainer';

const post = (m: TrainEvent, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let weights: VitWeights | undefined;
let kernels: TrainKernels | undefined;
let train: ImageSet | undefined;
let val: ImageSet | undefined;
let calib: ImageSet | undefined;
let fp32Val: number[] | undefined;
let trainer: QatTrainer | undefined;
/** WebGPU: the device side of the trainer (absent on the CPU backend) */
let engine: TfQatEngine | undefined;
let tf: Tf | undefined;
/** why a WebGPU request runs on the CPU instead */
let gpuUnavailable: string | undefined;
let settings: TrainSettings | undefined;
let paused = false;
let cancelled = false;
let running = false;
let inspect: { site: number; operand: 'a' | 'b' } = { site: 1, operand: 'a' };

async function load(base: string, s: TrainSettings) {
  if (!weights) {
    post({ type: 'status', message: 'loading the weights…' });
    const modelRead = fetchReader(`${base}models/vit-cifar10/`);
    weights = await loadVit(modelRead);
    const preds = JSON.parse(new TextDecoder().decode(await modelRead('predictions.json'))) as { val: number[] };
    fp32Val = preds.val;
  }
  if (!kernels) {
    const k = await loadCpuKernels();
    kernels = trainKernelsFor(k);
  }
  if (s.backend === 'webgpu' && !tf && !gpuUnavailable) {
    post({ type: 'status', message: 'starting TensorFlow.js on WebGPU…' });
    const r = await loadTfWebGpu();
    if ('tf' in r) tf = r.tf;
    else gpuUnavailable = r.reason;
  }
  const read = fetchReader(`${base}data/cifar10/`);
  if (!val || !calib) {
    post({ type: 'status', message: 'loading CIFAR-10 (validation, calibration)…' });
    const manifest = await loadManifest(read);
    [val, calib] = await Promise.all([loadEvalSet(read, 'val', manifest), loadEvalSet(read, 'calib', manifest)]);
  }
  if (!train || train.count < s.trainImages) {
    post({ type: 'status', message: 'loading the training images…' });
    train = await loadTrainImages(read, s.trainImages);
  }
}

async function quantView(step: number): Promise<QuantView | undefined> {
  if (!trainer || !val) return undefined;
  await engine?.pull(); // the histogram runs the host forward: it needs the device's weights and (s, z)
  const q = trainer.quantizers.get(quantKey(inspect.site, inspect.operand));
  if (!q) return undefined;
  const x = trainer.operandSample(val.pixels, [0, 1, 2, 3], inspect.site, inspect.operand);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  const [glo, ghi] = q.clip(0);
  lo = Math.min(lo, glo);
  hi = Math.max(hi, ghi);
  const bins = 80;
  const counts = new Array<number>(bins).fill(0);
  const w = (hi - lo) / bins || 1;
  for (const v of x) counts[Math.min(bins - 1, Math.floor((v - lo) / w))]++;
  const zr = roundHalfEven(q.z[0]);
  const grid: number[] = [];
  for (let c = q.qmin; c <= q.qmax; c++) grid.push(q.s[0] * (c - zr));
  return {
    site: inspect.site,
    operand: inspect.operand,
    bits: q.scheme.bits,
    s: q.s[0],
    z: q.z[0],
    groups: q.groups,
    lo,
    hi,
    counts,
    grid,
    step,
  };
}

/** predictions of the first n validation images, on the device that trains */
const predictVal = (n: number) => (engine ? engine.predict(val!.pixels, n, 50) : Promise.resolve(trainer!.predict(val!.pixels, n, 50)));

async function evaluate(step: number) {
  const s = settings!;
  const n = Math.min(s.evalLimit, val!.count);
  const pred = await predictVal(n);
  const c = correctness(pred, val!.labels.subarray(0, n));
  let k = 0;
  for (const v of c) k += v;
  post({ type: 'eval', step, correct: k, n, perImage: c });
  const qv = await quantView(step);
  if (qv) post({ type: 'quant', view: qv });
}

const tick = () => new Promise((r) => setTimeout(r, 0));

async function run() {
  const s = settings!;
  running = true;
  try {
    while (trainer!.step < s.steps) {
      while (paused && !cancelled) await new Promise((r) => setTimeout(r, 50));
      if (cancelled) {
        post({ type: 'done', step: trainer!.step, reason: 'cancelled' });
        return;
      }
      if (trainer!.needsOrder()) {
        // the progressive schedule's first switch: measuring every site's sensitivity takes a while
        post({ type: 'status', message: 'measuring each site’s sensitivity at 2 bits on 128 calibration images (once)…' });
        await tick();
        await engine?.pull();
        trainer!.measureOrder();
        post({
          type: 'status',
          message: `switching order measured: site ${trainer!.order![0]} first, site ${trainer!.order!.at(-1)} last`,
        });
      }
      const { idx, rnd } = stepBatch(s.seed, trainer!.step + 1, s.batch, train!.count);
      let r: StepResult;
      try {
        r = engine
          ? await engine.trainStep(train!.pixels, train!.labels, idx, rnd)
          : trainer!.trainStep(train!.pixels, train!.labels, idx, rnd);
      } catch (e) {
        if (e instanceof TrainingDiverged) {
          post({ type: 'done', step: trainer!.step, reason: 'diverged', message: e.message });
          return;
        }
        throw e;
      }
      post({ type: 'step', step: r.step, steps: s.steps, loss: r.loss, ms: r.ms, bits: r.bits, switchedSites: r.switchedSites });
      if (r.step % s.evalEvery === 0 || r.step === s.steps) await evaluate(r.step);
      await tick();
    }
    post({ type: 'done', step: trainer!.step, reason: 'finished' });
  } finally {
    running = false;
  }
}

async function start(base: string, s: TrainSettings) {
  if (running) throw new Error('a training run is in progress: cancel it first');
  settings = s;
  paused = false;
  cancelled = false;
  await load(base, s);
  trainer = new QatTrainer(weights!, s.plan, kernels!, { ...DEFAULT_QAT, progressive: s.progressive, seed: s.seed, distill: !!s.distill });
  post({ type: 'status', message: 'calibrating: min/max of 256 training images…' });
  await tick();
  trainer.calibrate(calib!.pixels, calib!.count);
  engine?.dispose();
  engine = undefined;
  let fallback: string | undefined;
  if (s.backend === 'webgpu') {
    if (tf) engine = new TfQatEngine(tf, trainer);
    else fallback = `WebGPU training is not available here (${gpuUnavailable}); training on the CPU backend instead`;
  }
  post({
    type: 'ready',
    impl: engine ? 'webgpu' : kernels!.impl,
    ...(fallback ? { fallback } : {}),
    trainImages: train!.count,
    sites: trainer.model.sites.map((x) => ({ index: x.index, name: x.name })),
    quantized: [...trainer.quantizers.keys()],
  });
  await evaluate(0);
  await run();
}

async function score(limit: number) {
  if (!trainer || !val || !fp32Val) throw new Error('nothing trained yet');
  const n = Math.min(limit, val.count);
  const pred = await predictVal(n);
  const c = correctness(pred, val.labels.subarray(0, n));
  const f = correctness(fp32Val.slice(0, n), val.labels.subarray(0, n));
  let k = 0;
  let kf = 0;
  let aOnly = 0;
  let bOnly = 0;
  for (let i = 0; i < c.length; i++) {
    k += c[i];
    kf += f[i];
    if (f[i] && !c[i]) aOnly++;
    if (!f[i] && c[i]) bOnly++;
  }
  post({ type: 'score', step: trainer.step, val: { correct: k, n: c.length }, fp32Val: { correct: kf, n: c.length }, aOnly, bOnly });
}

async function exportModel() {
  if (!trainer || !weights) throw new Error('nothing trained yet');
  await engine?.pull();
  const shapes = new Map<string, number[]>();
  for (const p of trainer.model.params) shapes.set(p.name, p.shape.rows === 1 ? [p.shape.cols] : [p.shape.rows, p.shape.cols]);
  shapes.set('pos_embed', [trainer.model.shapes.get('pos_embed')!.rows, trainer.model.shapes.get('pos_embed')!.cols]);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, data] of trainer.params) tensors.set(name, { shape: shapes.get(name)!, data });
  const bytes = writeSafetensors(tensors, { source: `QAT, ${trainer.step} steps, issue 13` });
  const ranges = {
    plan: trainer.plan,
    step: trainer.step,
    note: 'learned (s, z) per quantized operand: q̂ = s·(clamp(⌊x/s⌉ + ⌊z⌉, qmin, qmax) − ⌊z⌉); clip = the real range it covers',
    operands: Object.fromEntries(
      [...trainer.quantizers].map(([k, q]) => [
        k,
        {
          bits: q.scheme.bits,
          granularity: q.scheme.granularity,
          symmetric: q.scheme.symmetric,
          s: Array.from(q.s),
          z: Array.from(q.z, roundHalfEven),
          clip: q.groups === 1 ? q.clip(0) : undefined,
        },
      ]),
    ),
  };
  post({ type: 'export', safetensors: bytes.buffer as ArrayBuffer, ranges: JSON.stringify(ranges, null, 1) }, [
    bytes.buffer as ArrayBuffer,
  ]);
}

/** trained parameters (copies, transferred) + the plan with the learned ranges as clips */
async function applyData() {
  if (!trainer) throw new Error('nothing trained yet');
  if (running && !paused) throw new Error('pause the run (or let it finish) before applying its weights');
  await engine?.pull();
  const { plan, notes } = learnedPlan(trainer.plan, trainer.quantizers, trainer.step);
  const params: Record<string, Float32Array> = {};
  for (const [name, v] of trainer.params) params[name] = v.slice();
  post(
    { type: 'apply', params, plan, step: trainer.step, notes },
    Object.values(params).map((a) => a.buffer as ArrayBuffer),
  );
}

self.onmessage = async (ev: MessageEvent<TrainRequest>) => {
  const m = ev.data;
  try {
    switch (m.type) {
      case 'start':
        await start(m.base, m.settings);
        return;
      case 'pause':
        paused = true;
        post({ type: 'paused' });
        return;
      case 'resume':
        paused = false;
        if (!running && trainer && settings && trainer.step < settings.steps && !cancelled) await run();
        return;
      case 'cancel':
        cancelled = true;
        paused = false;
        if (!running) post({ type: 'done', step: trainer?.step ?? 0, reason: 'cancelled' });
        return;
      case 'reset':
        if (running) throw new Error('cancel the run before resetting');
        trainer = undefined; // the shipped weights are never modified: a new run starts from them
        engine?.dispose();
        engine = undefined;
        return;
      case 'inspect': {
        inspect = { site: m.site, operand: m.operand };
        const qv = await quantView(trainer?.step ?? 0);
        if (qv) post({ type: 'quant', view: qv });
        return;
      }
      case 'score':
        await score(m.limit);
        return;
      case 'export':
        await exportModel();
        return;
      case 'apply':
        await applyData();
        return;
    }
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
