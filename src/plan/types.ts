/**
 * The engine's contract: what a backend (WebGPU or CPU) takes and returns, and what the UI
 * receives through the engine client (src/runtime/client.ts, a Web Worker boundary).
 * Everything here is plain serializable data (structured-clone safe), never GPU objects.
 */
import type { Plan, SitePath } from './plan';
import type { NumberFormat } from '../quant/formats';

export type BackendKind = 'webgpu' | 'cpu';
export type BackendChoice = 'auto' | BackendKind;
export type EvalSetName = 'test' | 'val';

export interface BackendInfo {
  kind: BackendKind;
  /** e.g. "WebGPU · NVIDIA RTX 4090 (hardware)" or "CPU · WASM SIMD, 4 workers" */
  label: string;
  /** why this backend was chosen (auto rule, user choice, fallback after an error) */
  reason: string;
  adapter?: { vendor: string; architecture: string; device: string; description: string; isFallback: boolean };
  features?: { packedDot4: boolean; timestampQuery: boolean; shaderF16: boolean };
}

/** Where one step of the forward ran: the engine places every step before running (src/engine/placement.ts). */
export interface StepRunInfo {
  /** index in the inference step list (lowerVit(…, 'infer')) */
  step: number;
  kind: string;
  site?: number;
  on: BackendKind;
  /** why the chosen backend's primary did not take this step (the whole forward then ran on the fallback) */
  unsupported?: string;
}

export interface SiteRunInfo {
  site: number;
  path: SitePath;
  reason: string;
  /** 'fused' when activation quantization ran inside the previous op */
  fusedQuant?: boolean;
  /** what preparing the plan decided for this site (searched α, a calibrator's fallback, run-time scaling) */
  notes?: string[];
}

export interface ScoreRequest {
  plan: Plan;
  set: EvalSetName;
  /** first `offset`..`offset+limit` images of the set */
  offset?: number;
  limit?: number;
  /** keep per-image predictions (for flips, confusion matrix) */
  keepPredictions?: boolean;
}

export interface ScoreResult {
  set: EvalSetName;
  count: number;
  correct: number;
  accuracy: number;
  /** predicted class per image (when keepPredictions) */
  predictions?: number[];
  labels?: number[];
  /** 10×10, row = true label, column = predicted */
  confusion: number[][];
  perClassAccuracy: number[];
  sites: SiteRunInfo[];
  backend: BackendInfo;
  /** which step ran where */
  steps: StepRunInfo[];
  wallMs: number;
  imagesPerSecond: number;
  /** the weights that were scored (set by the engine worker) */
  model?: ModelIdentity;
}

export interface Histogram {
  /** bin edges: bins+1 values from min to max */
  lo: number;
  hi: number;
  counts: number[];
}

/** Statistics of one operand of one site for one image (or a small batch of images). */
export interface OperandStats {
  role: 'a' | 'b';
  rows: number;
  cols: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  absmax: number;
  /** share of values with |x − mean| > 6σ */
  beyond6Sigma: number;
  /** max|x − mean| / σ */
  maxSigma: number;
  histogram: Histogram;
  /** absmax of each column (input channel for activations) */
  colAbsMax: number[];
  /** min and max of each row (token for activations, output channel for weights) */
  rowMin: number[];
  rowMax: number[];
  /** a deterministic sample of raw values (for the x → q → x̂ explorer), ≤ 4096 */
  sample: number[];
  /**
   * Measured quantization error of this same operand at two granularities (dynamic min/max):
   * one range for the tensor vs one per row (token / output channel). Bits and symmetry are the
   * plan's for this operand (INT8 when it is FP32).
   */
  granularityError?: {
    bits: 8 | 4 | 2;
    symmetric: boolean;
    perTensorMse: number;
    perRowMse: number[];
    perTensorSqnrDb: number;
    perRowSqnrDb: number;
  };
}

export interface SiteStats {
  site: number;
  image: number;
  a: OperandStats;
  b: OperandStats;
  /** the scales and zeros the plan used on this image (first entries when per-token/channel) */
  quant: {
    a?: { scales: number[]; zeros: number[]; qmin: number; qmax: number };
    b?: { scales: number[]; zeros: number[]; qmin: number; qmax: number };
  };
  /** error of the site's output under the plan vs FP32 operands */
  outputMse: number;
  /** signal-to-quantization-noise ratio of the output, dB */
  outputSqnrDb: number;
  path: SiteRunInfo;
  /** where the statistics were computed: 'WebGPU', 'CPU', … */
  device?: string;
  /** per-block absmax, each format's SQNR on these operands, the rotation's before/after (formatStats.ts) */
  formats?: FormatSiteStats;
}

export interface Progress {
  done: number;
  total: number;
  phase: string;
}

// ---- what the engine worker tells the page (client.ts, protocol.ts) ----

export interface DatasetInfo {
  /** images available per eval set */
  sets: Record<EvalSetName, number>;
  classNames: string[];
}

export interface ModelInfo {
  name: string;
  config: Record<string, unknown>;
  /** accuracy PyTorch measured at export, per eval set */
  metrics: { test?: { accuracy: number; count: number }; val?: { accuracy: number; count: number }; epochs?: number };
}

/**
 * Which weights the engine runs: the shipped model (public/models/vit-cifar10/) or weights a QAT
 * run produced and the Train view applied (issue 13 item 3). `appliedAt`: ms since the epoch.
 */
export type ModelIdentity = { kind: 'shipped'; label: string } | { kind: 'trained'; label: string; step: number; appliedAt: number };

export type EngineStatus =
  | { state: 'loading'; message: string }
  | { state: 'ready'; backend: BackendInfo; model?: ModelIdentity }
  | { state: 'error'; message: string; fix?: string };

// ---- number formats and the rotation at a site (computed by formatStats.ts) ----

export interface BlockAbsMax {
  /** block length along K */
  block: number;
  blocksPerRow: number;
  /** row-major [rows × blocksPerRow], first MAX_BLOCKS */
  absmax: number[];
}

export interface OperandFormatStats {
  rows: number;
  cols: number;
  amax: number;
  blocks: BlockAbsMax[];
  /** SQNR (dB) of the operand fake-quantized in each format, on this operand */
  sqnrDb: Partial<Record<Exclude<NumberFormat, 'int'>, number>>;
}

export interface RotationStats {
  seed: number;
  /** the plan rotates this site */
  planned: boolean;
  before: { kurtosis: number; maxOverSigma: number; histogram: Histogram };
  after: { kurtosis: number; maxOverSigma: number; histogram: Histogram };
  /** INT4 per-tensor symmetric SQNR (dB) of A before and after (what per-tensor INT4 keeps) */
  int4TensorSqnrDb: { before: number; after: number };
}

export interface FormatSiteStats {
  a: OperandFormatStats;
  b: OperandFormatStats;
  rotation?: RotationStats;
}
