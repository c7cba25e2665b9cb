/**
 * Backend choice (issue 7): `auto` takes WebGPU only on a hardware adapter; on a software
 * (fallback) adapter such as SwiftShader, or without WebGPU, the CPU backend runs — measured
 * here ~80× faster than WebGPU on SwiftShader. The reason is always reported to the user.
 */
import type { VitWeights } from '../model/vitWeights';
import type { Backend } from '../plan/backend';
import { ReferenceBackend } from '../engine/engine';
import type { BackendChoice } from '../plan/types';

export interface AdapterProbe {
  available: boolean;
  isFallback: boolean;
  description: string;
  why?: string;
}

export async function probeWebGpu(gpu: GPU | undefined): Promise<AdapterProbe> {
  if (!gpu)
    return { available: false, isFallback: false, description: '', why: 'this browser exposes no WebGPU (navigator.gpu is missing)' };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter)
      return {
        available: false,
        isFallback: false,
        description: '',
        why: 'WebGPU is present but no adapter was granted (blocklisted GPU or disabled flag)',
      };
    const info = adapter.info;
    const isFallback = Boolean(
      (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    );
    const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
    return { available: true, isFallback, description };
  } catch (e) {
    return { available: false, isFallback: false, description: '', why: `requestAdapter failed: ${(e as Error).message}` };
  }
}

export interface BackendFactories {
  webgpu?: (weights: VitWeights, reason: string) => Promise<Backend>;
  cpu?: (weights: VitWeights, reason: string) => Promise<Backend>;
}

export async function createBackend(
  choice: BackendChoice,
  weights: VitWeights,
  gpu: GPU | undefined,
  f: BackendFactories,
): Promise<Backend> {
  const cpu = async (reason: string) => (f.cpu ? f.cpu(weights, reason) : new ReferenceBackend(weights, undefined, { reason }));
  if (choice === 'cpu') return cpu('chosen by the user');
  const probe = await probeWebGpu(gpu);
  if (choice === 'auto') {
    if (!probe.available) return cpu(`auto: ${probe.why}`);
    if (probe.isFallback)
      return cpu(`auto: the WebGPU adapter is a software fallback (${probe.description}); the CPU backend is far faster on it`);
  }
  if (!probe.available) return cpu(`WebGPU requested but unavailable: ${probe.why}; running on the CPU`);
  if (!f.webgpu) return cpu('WebGPU backend not built in this context; running on the CPU');
  try {
    return await f.webgpu(weights, choice === 'auto' ? `auto: hardware adapter ${probe.description}` : 'chosen by the user');
  } catch (e) {
    return cpu(`WebGPU backend failed to start (${(e as Error).message}); running on the CPU`);
  }
}
