/**
 * WebGPU in Node through the `webgpu` package (Dawn). Node only: never import from browser code.
 *
 * API:
 *   nodeGpu()                → GPU     the process-wide Dawn instance (created once, kept alive)
 *   nodeGpuContext(opts?)    → Promise<GpuContext>
 *
 * Run under `node tools/cli/gpu-env.mjs …` so that Dawn finds a Vulkan driver (SwiftShader here).
 */
import { create, globals } from 'webgpu';
import { createGpuContext, type GpuContext, type GpuContextOptions } from './device';

// dawn.node frees its instance when the create() result is garbage-collected, even while
// devices made from it live (random crashes): this module-level reference keeps it alive.
let instance: GPU | null = null;

export function nodeGpu(): GPU {
  if (!instance) {
    Object.assign(globalThis, globals);
    instance = create([]);
  }
  return instance;
}

export function nodeGpuContext(opts: GpuContextOptions = {}): Promise<GpuContext> {
  return createGpuContext(nodeGpu(), opts);
}
