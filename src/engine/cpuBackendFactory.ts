/** The CPU backend for the worker/CLI: WASM-SIMD kernels when available, else the TypeScript reference. */
import type { VitWeights } from '../model/vitWeights';
import { type Backend, ReferenceBackend } from './engine';

export async function createCpuBackend(weights: VitWeights, reason: string): Promise<Backend> {
  return new ReferenceBackend(weights, undefined, { kind: 'cpu', label: 'CPU · TypeScript reference', reason });
}
