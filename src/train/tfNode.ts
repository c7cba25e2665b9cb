/**
 * TensorFlow.js in Node for the WebGPU trainer's CLI and tests: its WebGPU backend on Dawn (the
 * `webgpu` package, SwiftShader on a machine without a GPU — run under tools/cli/gpu-env.mjs), or
 * its CPU backend. Node only: never import from browser code.
 */
import { nodeGpu } from '../gpu/nodeGpu';
import type { Tf } from './tfTrainer';

export async function tfInNode(backend: 'webgpu' | 'cpu'): Promise<{ tf: Tf; adapter: string } | { reason: string }> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-core/dist/register_all_gradients');
  let adapter = 'TF.js CPU backend';
  if (backend === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else {
    let gpu: GPU;
    try {
      gpu = nodeGpu();
    } catch (e) {
      return { reason: `no WebGPU in this Node (${(e as Error).message})` };
    }
    const a = await gpu.requestAdapter();
    if (!a) return { reason: 'Dawn found no adapter (run under tools/cli/gpu-env.mjs, which points Vulkan at SwiftShader)' };
    adapter = `${a.info.vendor} ${a.info.architecture} ${a.info.description}`.trim();
    // TF.js's WebGPU backend asks navigator.gpu for its adapter, as in a browser
    if (typeof navigator === 'undefined' || !navigator.gpu)
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  if (!(await tf.setBackend(backend))) return { reason: `TensorFlow.js could not start its ${backend} backend` };
  return { tf, adapter };
}
