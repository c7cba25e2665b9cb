/**
 * npm run bench:qat -- [--batch N] [--steps N] [--backend cpu|typescript]
 * Times QAT training steps (all-INT4, the recipe of npm run qat) of the TypeScript trainer on one
 * thread, after one warm-up step: median seconds per step. Compare with tools/ref/qat_ref.py's
 * seconds per step at the same batch (PyTorch, 1 thread).
 */
import { cliArgs, type ArgSpec } from './args';
import { loadCpuKernels } from '../../src/cpu/cpuKernels';
import { dataDir, nodeReader } from '../../src/data/nodeReader';
import { loadDataNode, loadWeightsNode } from '../../src/runtime/nodeLoad';
import { uniformPlan } from '../../src/plan/plan';
import { loadTrainImages, stepBatch } from '../../src/train/data';
import { matMulFor, tsMatMul } from '../../src/train/matmul';
import { median } from '../../src/train/report';
import { QatTrainer } from '../../src/train/trainer';

const SPEC: Record<string, ArgSpec> = { batch: { int: [1, 1024] }, steps: { int: [1, 1000] }, backend: { oneOf: ['cpu', 'typescript'] } };
const args = cliArgs('bench:qat', SPEC);
const batch = (args.batch as number | undefined) ?? 128;
const steps = (args.steps as number | undefined) ?? 3;
const mm = args.backend === 'typescript' ? tsMatMul : matMulFor(await loadCpuKernels());
const weights = await loadWeightsNode();
const { calib } = await loadDataNode(['calib']);
const train = await loadTrainImages(nodeReader(dataDir()), 10000);
const o = { bits: 4 as const, granularity: 'tensor' as const, symmetric: false, range: 'static' as const };
const tr = new QatTrainer(weights, uniformPlan({ a: o, b: o }), mm);
tr.calibrate(calib!.pixels, calib!.count);
const ms: number[] = [];
for (let s = 0; s <= steps; s++) {
  const { idx, rnd } = stepBatch(1, s + 1, batch, train.count);
  const r = tr.trainStep(train.pixels, train.labels, idx, rnd);
  if (s > 0) ms.push(r.ms);
  console.log(`step ${s}${s === 0 ? ' (warm-up)' : ''}: ${(r.ms / 1000).toFixed(2)} s, loss ${r.loss.toFixed(4)}`);
}
console.log(
  `all-INT4 QAT, batch ${batch}, ${mm.impl} GEMM, 1 thread: median ${(median(ms) / 1000).toFixed(2)} s/step over ${ms.length} steps`,
);
