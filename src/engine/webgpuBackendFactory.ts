/**
 * The WebGPU backend: the compiled ViT forward of src/model/vitGpu.ts, batched. A plan with a
 * scheme the WebGPU kernels do not cover (LLM.int8's outlier split, attention with one operand
 * quantized) runs on the CPU backend instead, and the result says so.
 */
import type { GpuContext } from '../gpu/device';
import { createGpuContext } from '../gpu/device';
import { UnsupportedOnWebGpu, VitGpu } from '../model/vitGpu';
import type { VitWeights } from '../model/vitWeights';
import { IMAGE_BYTES } from '../data/cifar';
import { type Backend, type RunOptions, throwIfAborted } from './engine';
import type { PreparedPlan } from './siteQuant';
import type { BackendInfo } from './types';

export class WebGpuBackend implements Backend {
  readonly info: BackendInfo;
  lastFallback?: string;
  private vit: VitGpu;
  constructor(
    readonly ctx: GpuContext,
    weights: VitWeights,
    reason: string,
    private cpu: () => Promise<Backend>,
  ) {
    const a = ctx.adapterInfo;
    this.vit = new VitGpu(ctx, weights, a.isFallback ? 4 : 64);
    this.info = {
      kind: 'webgpu',
      label: `WebGPU · ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'adapter'}${a.isFallback ? ' (software)' : ''}`,
      reason,
      adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, isFallback: a.isFallback },
      features: { ...ctx.features },
    };
  }

  async run(plan: PreparedPlan, pixels: Uint8Array, count: number, opts: RunOptions = {}): Promise<Float32Array> {
    this.lastFallback = undefined;
    if (opts.jitter) return this.onCpu(plan, pixels, count, opts, 'output jitter (science.md §7 bands) is a CPU-reference measurement');
    const classes = this.vit.weights.config.classes;
    const out = new Float32Array(count * classes);
    const B = Math.min(this.vit.maxBatch, Math.max(1, count));
    let fwd;
    try {
      fwd = this.vit.compiled(plan, B);
    } catch (e) {
      if (e instanceof UnsupportedOnWebGpu) return this.onCpu(plan, pixels, count, opts, e.message);
      throw e;
    }
    for (let i = 0; i < count; i += B) {
      throwIfAborted(opts.signal);
      const n = Math.min(B, count - i);
      const y = await fwd.run(pixels.subarray(i * IMAGE_BYTES, (i + n) * IMAGE_BYTES), n);
      out.set(y.subarray(0, n * classes), i * classes);
      opts.onProgress?.(i + n, count);
    }
    return out;
  }

  private async onCpu(plan: PreparedPlan, pixels: Uint8Array, count: number, opts: RunOptions, why: string) {
    this.lastFallback = why;
    return (await this.cpu()).run(plan, pixels, count, opts);
  }

  fusedSites(plan: PreparedPlan): Set<number> {
    try {
      return this.vit.compiled(plan, Math.min(this.vit.maxBatch, 4)).fusedSites;
    } catch {
      return new Set();
    }
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
