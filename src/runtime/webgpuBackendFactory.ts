/**
 * The WebGPU backend: the compiled ViT forward of src/forward/vitGpu.ts, batched. It declines the
 * steps its kernels do not cover (gpuSupportsStep: LLM.int8's outlier split, attention with one
 * operand quantized, FP8/MX activations; output jitter) and names the CPU backend as its fallback;
 * the engine places the steps before running (src/engine/placement.ts) and the result says so.
 */
import type { GpuContext } from '../gpu/device';
import { createGpuContext } from '../gpu/device';
import { gpuFusedQuantSites, gpuSupportsStep, UnsupportedOnWebGpu, VitGpu } from '../forward/vitGpu';
import { type FusedOp, fuseSteps } from '../plan/fusion';
import { lowerVit } from '../plan/steps';
import type { Step } from '../plan/steps';
import type { VitWeights } from '../model/vitWeights';
import { IMAGE_BYTES } from '../data/cifar';
import type { Backend, CapturedOperands, RunOptions, StepSupport } from '../plan/backend';
import { throwIfAborted } from '../util/latest';
import { gpuOperandStats } from '../forward/gpuOperandStats';
import type { OperandStats } from '../plan/types';
import type { PreparedPlan } from '../plan/siteQuant';
import type { BackendInfo } from '../plan/types';

export class WebGpuBackend implements Backend {
  readonly info: BackendInfo;
  private vit: VitGpu;
  private readonly fused: FusedOp[];
  constructor(
    readonly ctx: GpuContext,
    vitWeights: VitWeights,
    reason: string,
    private cpu: () => Promise<Backend>,
  ) {
    const a = ctx.adapterInfo;
    this.vit = new VitGpu(ctx, vitWeights, a.isFallback ? 4 : 64);
    this.fused = fuseSteps(lowerVit(vitWeights.config, undefined, 'infer').steps);
    this.info = {
      kind: 'webgpu',
      label: `WebGPU · ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'adapter'}${a.isFallback ? ' (software)' : ''}`,
      reason,
      adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, isFallback: a.isFallback },
      features: { ...ctx.features },
    };
  }

  supports(step: Step, plan: PreparedPlan, opts: RunOptions = {}): StepSupport {
    if (opts.jitter && 'site' in step) return 'output jitter (science.md §7 bands) is a CPU-reference measurement';
    return gpuSupportsStep(step, plan);
  }

  fallback(): Promise<Backend> {
    return this.cpu();
  }

  async run(plan: PreparedPlan, pixels: Uint8Array, count: number, opts: RunOptions = {}): Promise<Float32Array> {
    if (opts.jitter) throw new UnsupportedOnWebGpu('output jitter runs on the CPU reference (the engine places it there)');
    const classes = this.vit.weights.config.classes;
    const out = new Float32Array(count * classes);
    const B = Math.min(this.vit.maxBatch, Math.max(1, count));
    const fwd = this.vit.compiled(plan, B);
    for (let i = 0; i < count; i += B) {
      throwIfAborted(opts.signal);
      const n = Math.min(B, count - i);
      const y = await fwd.run(pixels.subarray(i * IMAGE_BYTES, (i + n) * IMAGE_BYTES), n);
      out.set(y.subarray(0, n * classes), i * classes);
      opts.onProgress?.(i + n, count);
    }
    return out;
  }

  async captureOperands(plan: PreparedPlan, site: number, pixels: Uint8Array): Promise<CapturedOperands> {
    const { dim: D, heads: H } = this.vit.weights.config;
    const hd = D / H;
    const ps = plan.sites[site];
    const got = await this.vit.compiled(plan, Math.min(this.vit.maxBatch, 4)).capture(pixels, site);
    if (ps.info.hasWeight) return { a: got[0], aRows: got[0].length / ps.info.k, b: null, bRows: 0, k: ps.info.k, device: 'WebGPU' };
    // restack qkv rows [T × 3D] into siteQuant's per-head layout
    const qkv = ps.info.kind === 'qk' ? got[0] : got[1];
    const T = qkv.length / (3 * D);
    const heads = (colOff: number) => {
      const out = new Float32Array(H * T * hd);
      for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let j = 0; j < hd; j++) out[(h * T + t) * hd + j] = qkv[t * 3 * D + colOff + h * hd + j];
      return out;
    };
    if (ps.info.kind === 'qk') return { a: heads(0), aRows: H * T, b: heads(D), bRows: H * T, k: hd, device: 'WebGPU' };
    const vT = new Float32Array(H * hd * T);
    for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let j = 0; j < hd; j++) vT[(h * hd + j) * T + t] = qkv[t * 3 * D + 2 * D + h * hd + j];
    return { a: got[0], aRows: H * T, b: vT, bRows: H * hd, k: T, device: 'WebGPU' };
  }

  operandStats(role: 'a' | 'b', x: Float32Array, rows: number, cols: number): Promise<OperandStats> {
    return gpuOperandStats(this.ctx, role, x, rows, cols);
  }

  fusedSites(plan: PreparedPlan): Set<number> {
    return gpuFusedQuantSites(this.fused, plan);
  }

  dispose() {
    this.vit.destroy();
    this.ctx.destroy();
  }
}

export async function createWebGpuBackend(weights: VitWeights, reason: string, onLost: () => void, gpu?: GPU): Promise<Backend> {
  const g = gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (!g) throw new Error('no WebGPU');
  const ctx = await createGpuContext(g);
  let cpuBackend: Promise<Backend> | undefined;
  const backend = new WebGpuBackend(ctx, weights, reason, () => (cpuBackend ??= import('./cpuBackendFactory').then((m) => m.createCpuBackend(weights, 'fallback for a scheme the WebGPU kernels do not cover'))));
  ctx.onLost((info) => {
    if (info.reason !== 'destroyed') onLost();
  });
  return backend;
}
