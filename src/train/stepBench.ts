/**
 * Seconds per QAT training step (all 38 sites INT4 per tensor, the recipe of npm run qat) on one
 * thread, after one warm-up step — the same function in Node (tools/cli/qatStepBench.ts) and in a
 * Chromium page (tools/cli/qatStepBench.page.ts), so the two figures differ only by the engine and
 * the wasm build it loads (browsers: fused multiply-add in the GEMM). With `tf` the steps run on
 * TensorFlow.js's backend (WebGPU in the Train view) through src/train/tfTrainer.ts instead.
 */
import type { ImageSet } from '../data/cifar';
import type { VitWeights } from '../model/vitWeights';
import { uniformPlan } from '../plan/plan';
import { stepBatch } from './data';
import { median } from './report';
import type { TrainKernels } from './trainKernels';
import { QatTrainer } from './trainer';
import { type Tf, TfQatEngine } from './tfTrainer';

export interface StepTiming {
  batch: number;
  kernels: TrainKernels['impl'] | `tfjs-${string}`;
  /** each timed step's milliseconds (the warm-up step excluded) */
  stepMs: number[];
  medianSeconds: number;
}

export async function timeQatSteps(
  weights: VitWeights,
  calib: ImageSet,
  train: ImageSet,
  kernels: TrainKernels,
  batch: number,
  steps: number,
  log: (s: string) => void = () => undefined,
  tf?: Tf,
): Promise<StepTiming> {
  const o = { bits: 4 as const, granularity: 'tensor' as const, symmetric: false, range: 'static' as const };
  const tr = new QatTrainer(weights, uniformPlan({ a: o, b: o }), kernels);
  tr.calibrate(calib.pixels, calib.count);
  const engine = tf ? new TfQatEngine(tf, tr) : undefined;
  const stepMs: number[] = [];
  try {
    for (let s = 0; s <= steps; s++) {
      const { idx, rnd } = stepBatch(1, s + 1, batch, train.count);
      // a device step returns once its loss is read back: the previous step's update has run by then
      const r = engine ? await engine.trainStep(train.pixels, train.labels, idx, rnd) : tr.trainStep(train.pixels, train.labels, idx, rnd);
      if (s > 0) stepMs.push(r.ms);
      log(`step ${s}${s === 0 ? ' (warm-up)' : ''}: ${(r.ms / 1000).toFixed(2)} s, loss ${r.loss.toFixed(4)}`);
    }
  } finally {
    engine?.dispose();
  }
  return { batch, kernels: engine ? `tfjs-${engine.backend}` : kernels.impl, stepMs, medianSeconds: median(stepMs) / 1000 };
}
