/** The CPU backend for the worker/CLI: WASM-SIMD kernels when available, else the TypeScript reference. */
import type { VitWeights } from '../model/vitWeights';
import { ReferenceBackend } from '../engine/engine';
import { type Backend } from '../plan/backend';

export async function createCpuBackend(weights: VitWeights, reason: string): Promise<Backend> {
  const { loadCpuKernels } = await import('../cpu/cpuKernels');
  const kernels = await loadCpuKernels();
  if (kernels.impl !== 'wasm-simd')
    return new ReferenceBackend(weights, undefined, {
      kind: 'cpu',
      label: 'CPU · TypeScript reference',
      reason: `${reason}; WASM kernels unavailable: ${kernels.fallbackReason}`,
    });
  // several workers only where they can run in parallel (crossOriginIsolated page); else this thread
  const { defaultThreads, VitCpuPool } = await import('../cpu/vitCpuPool');
  if (defaultThreads() > 1) {
    try {
      return await VitCpuPool.create(weights, { reason });
    } catch (e) {
      reason = `${reason}; worker pool failed (${(e as Error).message}), one thread`;
    }
  }
  const { VitCpuBackend } = await import('../cpu/vitCpu');
  return new VitCpuBackend(weights, kernels, reason);
}
