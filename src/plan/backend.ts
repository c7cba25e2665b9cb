/**
 * The contract between the engine and a backend (reference, WASM CPU, WebGPU): what a backend
 * runs and reports. Below the engine and the backends so that neither imports the other.
 */
import type { ForwardHooks } from './calibration';
import type { PreparedPlan } from './siteQuant';
import type { Step } from './steps';
import type { BackendInfo, OperandStats } from './types';
import { seededUniform } from '../quant/random';

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** science.md §7: multiply each site's output by (1 + scale·N(0,1)), seeded */
  jitter?: { scale: number; seed: number };
}

/** true, or why a backend does not run a step */
export type StepSupport = true | string;

/** A backend runs forward passes of a prepared plan over images. */
export interface Backend {
  readonly info: BackendInfo;
  /**
   * Whether this backend runs `step` of the inference list (lowerVit(…, 'infer')) under `plan`:
   * true, or the reason it does not. Absent: every step. The engine asks before running.
   */
  supports?(step: Step, plan: PreparedPlan, opts?: RunOptions): StepSupport;
  /** the backend that runs what this one does not support (WebGPU → the CPU backend) */
  fallback?(): Promise<Backend>;
  /** logits, count × classes, for `count` images of 3072 bytes each */
  run(plan: PreparedPlan, pixels: Uint8Array, count: number, opts?: RunOptions): Promise<Float32Array>;
  /**
   * The operands of `site` for one image under `plan`, in siteQuant's stacked layout; A as the
   * site quantizes it (after SmoothQuant's division). Absent: the engine captures on the CPU.
   */
  captureOperands?(plan: PreparedPlan, site: number, pixels: Uint8Array): Promise<CapturedOperands>;
  /** sites whose activation quantization ran fused into the previous op (LayerNorm) */
  fusedSites?(plan: PreparedPlan): Set<number>;
  dispose(): void;
}

export interface CapturedOperands {
  /** A as quantized (SmoothQuant-scaled when the site uses it) */
  a: Float32Array;
  aRows: number;
  /** B for attention sites (k or vᵀ, stacked per head); null for weight sites */
  b: Float32Array | null;
  bRows: number;
  k: number;
  /** where the capture ran, e.g. 'WebGPU' */
  device: string;
  /** statistics computed on the device where the operands live (A; B for the attention sites); absent: the engine computes them on the CPU */
  stats?: { a: OperandStats; b?: OperandStats };
}

/** mulberry32 + Box–Muller: a small seeded normal generator for the jitter bands. */
export function seededNormal(seed: number): () => number {
  const u = seededUniform(seed);
  return () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
}

export function jitterHooks(scale: number, seed: number, image: number): ForwardHooks {
  const rnd = seededNormal(seed * 1_000_003 + image);
  return {
    output(_site, y) {
      for (let i = 0; i < y.length; i++) y[i] *= 1 + scale * rnd();
      return y;
    },
  };
}
