/** An Engine in Node (command-line tools, tests) on the chosen backend. */
import { Engine } from '../engine/engine';
import { createBackend } from './backends';
import { loadDataNode, loadWeightsNode } from './nodeLoad';
import type { BackendChoice, EvalSetName } from '../plan/types';

export async function createNodeEngine(choice: BackendChoice, sets: EvalSetName[] = ['test', 'val']) {
  const [weights, data] = await Promise.all([
    loadWeightsNode(),
    loadDataNode([...new Set<'test' | 'val' | 'calib'>(['test', ...sets, 'calib'])]),
  ]);
  let gpu: GPU | undefined;
  if (choice !== 'cpu') {
    try {
      gpu = (await import('../gpu/nodeGpu')).nodeGpu();
    } catch (e) {
      console.warn(`WebGPU in Node unavailable: ${(e as Error).message}`);
    }
  }
  const backend = await createBackend(choice, weights, gpu, {
    cpu: async (w, reason) => (await import('./cpuBackendFactory')).createCpuBackend(w, reason),
    webgpu: async (w, reason) => (await import('./webgpuBackendFactory')).createWebGpuBackend(w, reason, () => undefined, gpu),
  });
  // the engine's own reference passes (calibration, CPU statistics) on the WASM kernels when they load
  const kernels = await (await import('../cpu/cpuKernels')).loadCpuKernels().catch(() => undefined);
  const engine = new Engine(weights, data, backend, kernels?.impl === 'wasm-simd' ? kernels : undefined);
  return { engine, dispose: () => backend.dispose() };
}
