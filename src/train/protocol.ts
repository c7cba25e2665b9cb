/** Messages between the Train view and the training worker (src/train/worker.ts). Plain data only. */
import type { Progressive } from './trainer';
import type { Plan } from '../plan/plan';

export interface TrainSettings {
  plan: Plan;
  steps: number;
  batch: number;
  /** validation images in the curve (first N of val) */
  evalLimit: number;
  evalEvery: number;
  seed: number;
  progressive?: Progressive;
  /** training images read (the browser reads data_batch_1: 10,000) */
  trainImages: number;
  /** where the steps run: the CPU backend's WASM SIMD kernels, or WebGPU through TensorFlow.js (falls back to the CPU with the reason) */
  backend?: 'cpu' | 'webgpu';
  /** knowledge distillation from the shipped FP32 model (LSQ's recipe: ½ label loss + ½ CE to its softmax) */
  distill?: boolean;
}

export type TrainRequest =
  | { type: 'start'; settings: TrainSettings; base: string }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'cancel' }
  | { type: 'reset' }
  | { type: 'inspect'; site: number; operand: 'a' | 'b' }
  /** score on val[0, limit) (5000 = the whole validation set) */
  | { type: 'score'; limit: number }
  | { type: 'export' }
  /** the trained parameters and the plan with the learned ranges, for the engine (Apply to playground) */
  | { type: 'apply' };

export interface QuantView {
  site: number;
  operand: 'a' | 'b';
  bits: number;
  /** (s, z) of group 0 (per-tensor: the only one) and how many groups there are */
  s: number;
  z: number;
  groups: number;
  /** histogram of the operand over a fixed batch of validation images */
  lo: number;
  hi: number;
  counts: number[];
  /** the real values of the grid, s·(q − ⌊z⌉), q = qmin..qmax */
  grid: number[];
  step: number;
}

export interface Figure {
  correct: number;
  n: number;
}

export type TrainEvent =
  | { type: 'status'; message: string }
  /** impl: 'wasm-simd' | 'typescript' (CPU kernels) or 'webgpu' (TensorFlow.js); fallback: why WebGPU was asked for and not used */
  | { type: 'ready'; impl: string; trainImages: number; sites: { index: number; name: string }[]; quantized: string[]; fallback?: string }
  | { type: 'step'; step: number; steps: number; loss: number; ms: number; bits?: number; switchedSites?: number }
  /** `correct`: per validation image 1 if right — the view pairs each evaluation with step 0's on the same images */
  | { type: 'eval'; step: number; correct: number; n: number; perImage: Uint8Array }
  | { type: 'quant'; view: QuantView }
  | { type: 'paused' }
  | { type: 'done'; step: number; reason: 'finished' | 'cancelled' | 'diverged'; message?: string }
  | { type: 'score'; step: number; val: Figure; fp32Val: Figure; aOnly: number; bOnly: number }
  | { type: 'export'; safetensors: ArrayBuffer; ranges: string }
  | { type: 'apply'; params: Record<string, Float32Array>; plan: Plan; step: number; notes: string[] }
  | { type: 'error'; message: string };
