/**
 * Runs the CPU backend's kernel benchmark (src/cpu/cpuBench.ts, the same module and presets as
 * `npm run bench:kernels`) off the main thread, on its own wasm instance, and posts progress and the
 * plain-data result back.
 */
import type { CpuBenchOptions } from '../../cpu/cpuBench';

export type CpuBenchRequest = { type: 'run'; options: Omit<CpuBenchOptions, 'onProgress'> };

self.onmessage = async (ev: MessageEvent<CpuBenchRequest>) => {
  if (ev.data?.type !== 'run') return;
  const post = (m: unknown) => (self as unknown as Worker).postMessage(m);
  try {
    const [{ runCpuKernelBench }, { isWasmKernels, loadCpuKernels }] = await Promise.all([
      import('../../cpu/cpuBench'),
      import('../../cpu/cpuKernels'),
    ]);
    const k = await loadCpuKernels();
    if (!isWasmKernels(k)) throw new Error(`the CPU backend runs its TypeScript kernels here: ${k.fallbackReason}`);
    const result = runCpuKernelBench(k, {
      ...ev.data.options,
      onProgress: (done, total, phase) => post({ type: 'progress', done, total, phase }),
    });
    post({ type: 'result', result: JSON.parse(JSON.stringify(result)) });
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
