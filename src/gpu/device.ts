/**
 * Device acquisition from any `GPU` object (navigator.gpu in a browser, Dawn's in Node).
 *
 * API:
 *   createGpuContext(gpu, opts?) → Promise<GpuContext>   adapter + device, optional features requested
 *   browserGpuContext(opts?)     → Promise<GpuContext>   navigator.gpu; throws GpuUnavailableError
 *   GpuContext { device, adapterInfo, features {packedDot4, timestampQuery, shaderF16}, limits,
 *                lost (promise), onLost(cb) → unsubscribe, isLost, destroy() }
 */

export class GpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuUnavailableError';
  }
}

export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallback: boolean;
}

export interface GpuFeatures {
  /** WGSL language feature packed_4x8_integer_dot_product (dot4I8Packed) */
  packedDot4: boolean;
  /** 'timestamp-query' was requested and granted */
  timestampQuery: boolean;
  /** 'shader-f16' was requested and granted */
  shaderF16: boolean;
}

export interface GpuContext {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  adapterInfo: GpuAdapterSummary;
  features: GpuFeatures;
  limits: GPUSupportedLimits;
  /** Resolves when the device is lost (or destroyed). */
  lost: Promise<GPUDeviceLostInfo>;
  readonly isLost: boolean;
  /** Subscribe to device loss; returns an unsubscribe function. */
  onLost(cb: (info: GPUDeviceLostInfo) => void): () => void;
  destroy(): void;
}

export interface GpuContextOptions {
  powerPreference?: GPUPowerPreference;
  /** Pretend dot4I8Packed is missing (tests of the unpacked fallback). */
  disablePackedDot4?: boolean;
  /** Do not request timestamp-query even when present. */
  disableTimestamps?: boolean;
  label?: string;
}

export async function createGpuContext(gpu: GPU, opts: GpuContextOptions = {}): Promise<GpuContext> {
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter)
    throw new GpuUnavailableError('WebGPU: requestAdapter() returned null (no adapter; in Chromium pass --enable-unsafe-webgpu)');
  const wanted: GPUFeatureName[] = [];
  const timestampQuery = !opts.disableTimestamps && adapter.features.has('timestamp-query');
  if (timestampQuery) wanted.push('timestamp-query');
  const shaderF16 = adapter.features.has('shader-f16');
  if (shaderF16) wanted.push('shader-f16');
  // Ask for the adapter's own storage limits: the default 128 MiB binding limit is too small for big batches.
  const al = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
    maxBufferSize: al.maxBufferSize,
    maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits, label: opts.label ?? 'qp-device' });
  const langFeatures = (gpu as GPU & { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures;
  const packedDot4 = !opts.disablePackedDot4 && !!langFeatures?.has('packed_4x8_integer_dot_product');
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const adapterInfo: GpuAdapterSummary = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallback: !!(
      (info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter ??
      (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter
    ),
  };
  const listeners = new Set<(info: GPUDeviceLostInfo) => void>();
  let isLost = false;
  const lost = device.lost.then((li) => {
    isLost = true;
    for (const cb of listeners) {
      try {
        cb(li);
      } catch {
        // a listener's failure must not hide the loss from the others
      }
    }
    return li;
  });
  return {
    gpu,
    adapter,
    device,
    adapterInfo,
    features: { packedDot4, timestampQuery, shaderF16 },
    limits: device.limits,
    lost,
    get isLost() {
      return isLost;
    },
    onLost(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    destroy() {
      device.destroy();
    },
  };
}

export async function browserGpuContext(opts: GpuContextOptions = {}): Promise<GpuContext> {
  const gpu = typeof navigator !== 'undefined' ? (navigator as Navigator & { gpu?: GPU }).gpu : undefined;
  if (!gpu)
    throw new GpuUnavailableError('WebGPU is not available in this browser (navigator.gpu is missing; a secure context is required)');
  return createGpuContext(gpu, opts);
}

/** One-line description of the adapter for tables and JSON outputs. */
export function describeAdapter(a: GpuAdapterSummary): string {
  return [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') + (a.isFallback ? ' (fallback)' : '');
}
