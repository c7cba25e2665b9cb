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

  /** The operands of a site on image `pixels`, gathered on the GPU; their statistics run there on the same buffers (read back once, never uploaded). */
  async captureOperands(plan: PreparedPlan, site: number, pixels: Uint8Array): Promise<CapturedOperands> {
    const got = await this.vit.compiled(plan, Math.min(this.vit.maxBatch, 4)).captureOnDevice(pixels, site);
    try {
      const vals = await Promise.all(got.map((g) => g.buffer.read()));
      const stats = await Promise.all(got.map((g, i) => gpuOperandStats(this.ctx, i === 0 ? 'a' : 'b', g.buffer, g.rows, g.cols, vals[i])));
      const [a, b] = got;
      return {
        a: vals[0],
        aRows: a.rows,
        b: b ? vals[1] : null,
        bRows: b ? b.rows : 0,
        k: a.cols,
        device: 'WebGPU',
        stats: { a: stats[0], ...(b ? { b: stats[1] } : {}) },
      };
    } finally {
      got.forEach((g) => g.buffer.destroy());
    }
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
  const backend = new WebGpuBackend(
    ctx,
    weights,
    reason,
    () =>
      (cpuBackend ??= import('./cpuBackendFactory').then((m) =>
        m.createCpuBackend(weights, 'fallback for a scheme the WebGPU kernels do not cover'),
      )),
  );
  ctx.onLost((info) => {
    if (info.reason !== 'destroyed') onLost();
  });
  return backend;
}
