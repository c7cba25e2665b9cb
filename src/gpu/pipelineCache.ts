/**
 * Compute pipelines cached per device by key (shader variant + entry point).
 *
 * API:
 *   getPipeline(ctx, key, () => wgslSource, entryPoint = 'main') → GPUComputePipeline
 *   dummyBuffer(ctx)  → a small storage buffer bound where an optional input is absent
 *   clearPipelineCache(ctx)
 */
import type { GpuContext } from './device';

const caches = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();
const dummies = new WeakMap<GPUDevice, GPUBuffer>();

export class ShaderCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShaderCompileError';
  }
}

export function getPipeline(ctx: GpuContext, key: string, source: () => string, entryPoint = 'main'): GPUComputePipeline {
  let cache = caches.get(ctx.device);
  if (!cache) caches.set(ctx.device, (cache = new Map()));
  const k = `${key}#${entryPoint}`;
  let p = cache.get(k);
  if (!p) {
    const module = ctx.device.createShaderModule({ code: source(), label: key });
    // Compile errors surface asynchronously; log them with the key so a broken variant is obvious.
    void module.getCompilationInfo?.().then((info) => {
      for (const m of info.messages) if (m.type === 'error') console.error(`WGSL ${key}:${m.lineNum}:${m.linePos} ${m.message}`);
    });
    p = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint }, label: k });
    cache.set(k, p);
  }
  return p;
}

/** Compile errors of a shader, for tests and diagnostics (pipeline creation itself is async-validated). */
export async function checkShader(ctx: GpuContext, code: string, label: string): Promise<void> {
  const m = ctx.device.createShaderModule({ code, label });
  const info = await m.getCompilationInfo();
  const errs = info.messages.filter((x) => x.type === 'error');
  if (errs.length) throw new ShaderCompileError(`${label}: ${errs.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('\n')}`);
}

export function dummyBuffer(ctx: GpuContext): GPUBuffer {
  let b = dummies.get(ctx.device);
  if (!b) {
    b = ctx.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: 'dummy' });
    dummies.set(ctx.device, b);
  }
  return b;
}

export function clearPipelineCache(ctx: GpuContext): void {
  caches.delete(ctx.device);
}
