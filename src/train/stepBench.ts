/**
 * Seconds per QAT training step (all 38 sites INT4 per tensor, the recipe of npm run qat) on one
 * thread, after one warm-up step — the same function in Node (tools/cli/qatStepBench.ts) and in a
 * Chromium page (tools/cli/qatStepBench.page.ts), so the two figures differ only by the engine and
 * the wasm build it loads (browsers: fused multiply-add in the GEMM).
 */
import type { ImageSet } from '../data/cifar';
import type { VitWeights } from '../model/vitWeights';
import { uniformPlan } from '../plan/plan';
import { stepBatch } from './data';
import { median } from './report';
import type { TrainKernels } from './trainKernels';
import { QatTrainer } from './trainer';

export interface StepTiming {
  batch: number;
  kernels: TrainKernels['impl'];
  /** each timed step's milliseconds (the warm-up step excluded) */
  stepMs: number[];
  medianSeconds: number;
}

export function timeQatSteps(
  weights: VitWeights,
  calib: ImageSet,
  train: ImageSet,
  kernels: TrainKernels,
  batch: number,
  steps: number,
  log: (s: string) => void = () => undefined,
): StepTiming {
  const o = { bits: 4 as const, granularity: 'tensor' as const, symmetric: false, range: 'static' as const };
  const tr = new QatTrainer(weights, uniformPlan({ a: o, b: o }), kernels);
  tr.calibrate(calib.pixels, calib.count);
  const stepMs: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const { idx, rnd } = stepBatch(1, s + 1, batch, train.count);
    const r = tr.trainStep(train.pixels, train.labels, idx, rnd);
    if (s > 0) stepMs.push(r.ms);
    log(`step ${s}${s === 0 ? ' (warm-up)' : ''}: ${(r.ms / 1000).toFixed(2)} s, loss ${r.loss.toFixed(4)}`);
  }
  return { batch, kernels: kernels.impl, stepMs, medianSeconds: median(stepMs) / 1000 };
}
