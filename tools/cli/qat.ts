/**
 * npm run qat -- --plan all-int4|all-int2|<plan.json> [--steps N] [--batch N]
 *   [--progressive 4,2 --switch k [--per-site e [--order sensitivity|index]] [--switch-init mse|carry]]
 *   [--backend cpu|typescript|webgpu] [--row NAME] [--eval-every N] [--eval-limit N] [--start-limit N] [--seed N] [--resume] [--freeze-weights]
 *   [--lr-weights 1e-4] [--lr-quant 1e-3] [--schedule constant|cosine] [--distill]
 *
 * Quantization-aware training (issue 13) of the committed model on the training images with
 * crop + flip (seeded), LSQ fake-quant with learnable s and z at every quantized operand
 * (initialised from min/max of the 256 calibration images), AdamW (lr 1e-4 weights, 1e-3 s and z),
 * label smoothing 0.1. Evaluated with the learned static ranges on val5000 and test1000 with
 * Wilson intervals and the paired Δ vs FP32 (exact McNemar), a curve on the first --eval-limit
 * validation images every --eval-every steps. Writes the row into results/qat.json and rebuilds
 * results/qat.md (with the PyTorch reference rows of results/qat_torch.json beside them).
 * Checkpoints (every 10 steps, and the last good state on divergence) in checkpoints/qat/.
 * --backend webgpu: the steps, the curve and the final predictions on WebGPU through TensorFlow.js
 * (src/train/tfTrainer.ts; Dawn in Node — SwiftShader on a machine without a GPU, so slow there).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArgError, cliArgs, readPlanArg, type ArgSpec } from './args';
import { builtinPlan, parseProgressive, type ProgressiveArgs } from './qatArgs';
import { loadCpuKernels } from '../../src/cpu/cpuKernels';
import { REPO_ROOT, dataDir, nodeReader } from '../../src/data/nodeReader';
import { loadDataNode, loadWeightsNode } from '../../src/runtime/nodeLoad';
import { fp32Plan, type Plan } from '../../src/plan/plan';
import { correctness, pairedDelta, wilson } from '../../src/quant/intervals';
import { loadTrainImages, stepBatch } from '../../src/train/data';
import { trainKernelsFor, tsTrainKernels } from '../../src/train/trainKernels';
import { DEFAULT_QAT, QatTrainer, TrainingDiverged, type TrainerState } from '../../src/train/trainer';
import { qatMarkdown, qatSummary, type QatRow, type QatResults, type EvalFigure } from '../../src/train/report';
import { TfQatEngine } from '../../src/train/tfTrainer';
import { tfInNode } from '../../src/train/tfNode';

const SPEC: Record<string, ArgSpec> = {
  plan: 'string',
  steps: { int: [0, 100000] },
  batch: { int: [1, 1024] },
  progressive: 'string',
  switch: { int: [0, 100000] },
  /** site by site (note 004): one more site switches every e steps from --switch k */
  'per-site': { int: [1, 100000] },
  order: { oneOf: ['sensitivity', 'index'] },
  'switch-init': { oneOf: ['mse', 'carry'] },
  backend: { oneOf: ['cpu', 'typescript', 'webgpu'] },
  row: 'string',
  'eval-every': { int: [1, 100000] },
  'eval-limit': { int: [1, 5000] },
  seed: { int: [0, 2 ** 31] },
  resume: 'boolean',
  'skip-test': 'boolean',
  /** weights frozen: only the quantizers' s and z learn */
  'freeze-weights': 'boolean',
  'lr-weights': 'number',
  'lr-quant': 'number',
  /** knowledge distillation from the FP32 model (LSQ's recipe: T = 1, ½ label loss + ½ distillation loss) */
  distill: 'boolean',
  /** learning-rate schedule over --steps */
  schedule: { oneOf: ['constant', 'cosine'] },
  /** images of val the step-0 figure is taken on (default all 5000) */
  'start-limit': { int: [1, 5000] },
};

function figure(pred: ArrayLike<number>, labels: ArrayLike<number>): EvalFigure {
  const c = correctness(pred, labels);
  let k = 0;
  for (const v of c) k += v;
  const w = wilson(k, c.length);
  return { correct: k, n: c.length, accuracy: w.p, lo: w.lo, hi: w.hi };
}

async function main() {
  const args = cliArgs('qat', SPEC);
  if (!args.plan) throw new ArgError('--plan is required: all-int4, all-int2 or a plan JSON file');
  const plan = builtinPlan(String(args.plan)) ?? readPlanArg('plan', String(args.plan));
  const steps = (args.steps as number | undefined) ?? 100;
  const batch = (args.batch as number | undefined) ?? 128;
  const seed = (args.seed as number | undefined) ?? 1;
  const progressive = parseProgressive(args as ProgressiveArgs, plan, steps);
  const evalEvery = (args['eval-every'] as number | undefined) ?? 25;
  const evalLimit = (args['eval-limit'] as number | undefined) ?? 1000;
  const rowName = String(
    args.row ??
      `${args.plan}${progressive ? ` progressive ${progressive.from}→${progressive.to} at ${progressive.at}${progressive.perSite ? ` +${progressive.perSite}/site` : ''}` : ''}`.replace(
        /.*\//,
        '',
      ),
  );
  const slug = rowName.replace(/[^A-Za-z0-9]+/g, '-');

  const kernels = await loadCpuKernels({ forceTypescript: args.backend === 'typescript' });
  const tk = args.backend === 'typescript' ? tsTrainKernels : trainKernelsFor(kernels);
  if (args.backend !== 'typescript' && tk.impl !== 'wasm-simd')
    throw new Error(`the wasm kernels did not load (${kernels.fallbackReason}); run npm run build:wasm, or pass --backend typescript`);
  const gpu = args.backend === 'webgpu' ? await tfInNode('webgpu') : undefined;
  if (gpu && 'reason' in gpu) throw new Error(`--backend webgpu: ${gpu.reason}`);
  const weights = await loadWeightsNode();
  const loaded = await loadDataNode(['test', 'val', 'calib']);
  const data = { val: loaded.val!, test: loaded.test!, calib: loaded.calib! };
  const train = await loadTrainImages(nodeReader(dataDir()));
  const where = gpu ? `WebGPU (TensorFlow.js ${gpu.tf.version_core}, ${gpu.adapter})` : `${tk.impl} kernels, 1 thread`;
  console.log(`qat ${rowName}: ${steps} steps × batch ${batch} on ${train.count} training images, ${where}`);

  const resultsPath = join(REPO_ROOT, 'results', 'qat.json');
  const results: QatResults = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : { rows: {} };
  const ckDir = join(REPO_ROOT, 'checkpoints', 'qat');
  mkdirSync(ckDir, { recursive: true });

  // FP32 predictions for the paired Δ (the trainer's forward on the FP32 plan), cached
  const fpPath = join(ckDir, 'fp32-predictions.json');
  let fp: { val: number[]; test: number[] };
  if (existsSync(fpPath)) fp = JSON.parse(readFileSync(fpPath, 'utf8'));
  else {
    const f = new QatTrainer(weights, fp32Plan(), tk);
    fp = { val: Array.from(f.predict(data.val.pixels, data.val.count)), test: Array.from(f.predict(data.test.pixels, data.test.count)) };
    writeFileSync(fpPath, JSON.stringify(fp));
  }
  results.fp32 = { val: figure(fp.val, data.val.labels), test: figure(fp.test, data.test.labels) };

  const lrWeights = (args['lr-weights'] as number | undefined) ?? DEFAULT_QAT.lrWeights;
  const lrQuant = (args['lr-quant'] as number | undefined) ?? DEFAULT_QAT.lrQuant;
  for (const [k, v] of [
    ['lr-weights', lrWeights],
    ['lr-quant', lrQuant],
  ] as const)
    if (!(v >= 0 && v <= 1)) throw new ArgError(`--${k} ${v}: a learning rate in [0, 1]`);
  const tr = new QatTrainer(weights, plan, tk, {
    ...DEFAULT_QAT,
    lrWeights,
    lrQuant,
    progressive,
    seed,
    trainWeights: !args['freeze-weights'],
    ...(args.schedule === 'cosine' ? { schedule: { kind: 'cosine' as const, steps } } : {}),
    distill: !!args.distill,
  });
  const ckPath = join(ckDir, `${slug}.json`);
  let row: QatRow;
  let engine: TfQatEngine | undefined;
  const t0 = Date.now();
  if (args.resume && existsSync(ckPath)) {
    const ck = JSON.parse(readFileSync(ckPath, 'utf8'));
    row = ck.row;
    const state = decodeState(ck.state);
    tr.restore(state);
    tr.calibPixels = data.calib.pixels; // a progressive schedule measures on them
    if (gpu) (engine = new TfQatEngine(gpu.tf, tr)).loadAdam(state.adam);
    console.log(`resumed at step ${tr.step}`);
  } else {
    tr.calibrate(data.calib.pixels, data.calib.count);
    if (gpu) engine = new TfQatEngine(gpu.tf, tr);
    row = {
      name: rowName,
      engine: gpu ? `TF.js WebGPU trainer (src/train/tfTrainer.ts), ${where}` : `TypeScript trainer (src/train), ${tk.impl} kernels`,
      plan: plan.name ?? String(args.plan),
      steps,
      batch,
      seed,
      progressive,
      recipe: `AdamW lr ${lrWeights} (weights, weight decay 0.01) / ${lrQuant} (s, z)${args.schedule === 'cosine' ? `, cosine to 0 over ${steps} steps` : ''}; label smoothing 0.1${args.distill ? '; distillation from the FP32 model (½ label loss + ½ CE to its softmax, T = 1)' : ''}; crop (pad 4) + flip; s, z from min/max of the 256 calibration images; LSQ gradient scale 1/√(n·qmax)`,
      curve: [],
      evals: [],
      stepMs: [],
      wallSeconds: 0,
    };
    // the step-0 accuracy depends on the plan and the starting bits only (min/max calibration is deterministic): cached
    const startLimit = (args['start-limit'] as number | undefined) ?? data.val.count;
    const startKey = join(ckDir, `start-${slug0(plan, progressive?.from)}-${startLimit}.json`);
    row.start = existsSync(startKey)
      ? JSON.parse(readFileSync(startKey, 'utf8'))
      : { val: figure(tr.predict(data.val.pixels, startLimit), data.val.labels.subarray(0, startLimit)) };
    writeFileSync(startKey, JSON.stringify(row.start));
    console.log(`step 0 (static min/max ranges): val ${(100 * row.start!.val.accuracy).toFixed(2)}%`);
    row.evals.push({ step: 0, ...figure(tr.predict(data.val.pixels, evalLimit), data.val.labels.subarray(0, evalLimit)) });
  }
  /** predictions on the device that trains */
  const predict = async (pixels: Uint8Array, n: number) => (engine ? engine.predict(pixels, n) : tr.predict(pixels, n));
  const save = async () => {
    const state = engine ? await engine.snapshot() : (tr.lastGoodState ?? tr.snapshot());
    row.wallSeconds += (Date.now() - t0) / 1000;
    writeFileSync(ckPath + '.tmp', JSON.stringify({ row, state: encodeState(state) }));
    renameSync(ckPath + '.tmp', ckPath);
    row.wallSeconds -= (Date.now() - t0) / 1000;
  };
  try {
    while (tr.step < steps) {
      const { idx, rnd } = stepBatch(seed, tr.step + 1, batch, train.count);
      const r = engine ? await engine.trainStep(train.pixels, train.labels, idx, rnd) : tr.trainStep(train.pixels, train.labels, idx, rnd);
      row.curve.push({ step: r.step, loss: r.loss, batchAccuracy: r.batchAccuracy, bits: r.bits, switchedSites: r.switchedSites });
      row.stepMs.push(r.ms);
      process.stderr.write(
        `\r  step ${r.step}/${steps} loss ${r.loss.toFixed(4)} ${(r.ms / 1000).toFixed(2)} s/step${r.switchedSites !== undefined ? ` ${r.switchedSites} sites switched` : r.bits ? ` ${r.bits} bits` : ''}   `,
      );
      if (r.step % evalEvery === 0 || r.step === steps) {
        const e = figure(await predict(data.val.pixels, evalLimit), data.val.labels.subarray(0, evalLimit));
        row.evals.push({ step: r.step, ...e });
        process.stderr.write(`\n  val[0, ${evalLimit}) at step ${r.step}: ${(100 * e.accuracy).toFixed(2)}%\n`);
      }
      if (r.step % 10 === 0) await save();
    }
  } catch (e) {
    if (!(e instanceof TrainingDiverged)) throw e;
    row.diverged = e.message;
    console.log(`\n${e.message}`);
  }
  process.stderr.write('\n');
  const pv = await predict(data.val.pixels, data.val.count);
  const pt = args['skip-test'] ? undefined : await predict(data.test.pixels, data.test.count);
  row.final = {
    step: tr.step,
    val: figure(pv, data.val.labels),
    valDelta: pairedDelta(correctness(fp.val, data.val.labels), correctness(pv, data.val.labels)),
    test: pt ? figure(pt, data.test.labels) : undefined,
    testDelta: pt ? pairedDelta(correctness(fp.test, data.test.labels), correctness(pt, data.test.labels)) : undefined,
    // the report half: a recipe chosen by its curve (val[0, eval-limit) ⊂ the selection half) is reported here
    reportHalf: (() => {
      const h = data.val.count / 2;
      const lab = data.val.labels.subarray(h);
      return {
        val: figure(pv.subarray(h), lab),
        delta: pairedDelta(correctness(fp.val.slice(h), lab), correctness(pv.subarray(h), lab)),
      };
    })(),
  };
  row.valPredictions = Array.from(pv);
  if (tr.order) row.order = tr.order; // progressive, site by site: the switching order measured
  await save(); // adds this session's wall time to what it writes
  row.wallSeconds += (Date.now() - t0) / 1000;
  // re-read: another qat run may have written its row since this one started
  const latest: QatResults = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : { rows: {} };
  results.rows = { ...latest.rows, [rowName]: row };
  const torchPath = join(REPO_ROOT, 'results', 'qat_torch.json');
  const torch = existsSync(torchPath) ? JSON.parse(readFileSync(torchPath, 'utf8')) : undefined;
  writeFileSync(resultsPath, JSON.stringify(results, null, 1));
  writeFileSync(join(REPO_ROOT, 'results', 'qat.summary.json'), JSON.stringify(qatSummary(results)));
  writeFileSync(join(REPO_ROOT, 'results', 'qat.md'), qatMarkdown(results, torch, data.val.labels));
  console.log(
    `${rowName}: val5000 ${(100 * row.final.val.accuracy).toFixed(2)}% [${(100 * row.final.val.lo).toFixed(1)}, ${(100 * row.final.val.hi).toFixed(1)}] after ${tr.step} steps → results/qat.{json,md}`,
  );
}

/** a file-name key of (plan, starting bits) */
function slug0(plan: Plan, startBits?: number): string {
  let h = 0;
  for (const c of JSON.stringify(plan.sites)) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return `${h.toString(16)}-${startBits ?? 'plan'}`;
}

function encodeState(s: TrainerState) {
  const enc = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  return {
    step: s.step,
    params: Object.fromEntries([...s.params].map(([k, v]) => [k, enc(v)])),
    quant: Object.fromEntries([...s.quant].map(([k, q]) => [k, { s: enc(q.s), z: enc(q.z), bits: q.bits }])),
    adam: Object.fromEntries([...s.adam].map(([k, a]) => [k, { m: enc(a.m), v: enc(a.v), t: a.t }])),
    ...(s.order ? { order: s.order } : {}),
  };
}

function decodeState(j: ReturnType<typeof encodeState>): TrainerState {
  const dec = (b: string) => {
    const buf = Buffer.from(b, 'base64');
    return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  };
  return {
    step: j.step,
    params: new Map(Object.entries(j.params).map(([k, v]) => [k, dec(v)])),
    quant: new Map(Object.entries(j.quant).map(([k, q]) => [k, { s: dec(q.s), z: dec(q.z), bits: q.bits }])),
    adam: new Map(Object.entries(j.adam).map(([k, a]) => [k, { m: dec(a.m), v: dec(a.v), t: a.t ?? j.step }])),
    ...(j.order ? { order: j.order } : {}),
  };
}

await main().catch((e) => {
  console.error(`qat: ${e.message}${e.fix ? `\nfix: ${e.fix}` : ''}`);
  process.exit(e instanceof ArgError ? 2 : 1);
});
