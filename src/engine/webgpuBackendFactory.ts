/** The WebGPU backend for the worker/CLI. */
import type { VitWeights } from '../model/vitWeights';
import type { Backend } from './engine';

export async function createWebGpuBackend(_weights: VitWeights, _reason: string, _onLost: () => void, _gpu?: GPU): Promise<Backend> {
  throw new Error('the WebGPU forward is not wired yet');
}
