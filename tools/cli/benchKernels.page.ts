/**
 * Browser half of `npm run bench:kernels -- --browser`: the Kernels view's benchmark (the same
 * modules, presets and timing: src/kernels/bench.ts on this page's WebGPU adapter, src/cpu/cpuBench.ts
 * on the CPU backend's WASM kernels) in headless Chromium. Parameters in the query string; the result
 * is left in window.__benchKernels for the driver (tools/cli/benchKernels.ts).
 */
import { browserGpuContext } from '../../src/gpu/device';
import { KERNEL_BENCH_PRESETS, runKernelBench } from '../../src/kernels/bench';
import { CPU_BENCH_PRESETS, runCpuKernelBench } from '../../src/cpu/cpuBench';
import { isWasmKernels, loadCpuKernels } from '../../src/cpu/cpuKernels';

const q = new URLSearchParams(location.search);
const size = (q.get('size') ?? 'standard') as keyof typeof KERNEL_BENCH_PRESETS;
const logEl = document.getElementById('log')!;
const log = (s: string) => {
  logEl.textContent += '\n' + s;
  console.log(s);
};

async function main() {
  if (!(size in KERNEL_BENCH_PRESETS)) throw new Error(`size ${size}: expected ${Object.keys(KERNEL_BENCH_PRESETS).join(' or ')}`);
  const out: Record<string, unknown> = { runner: `chromium: ${navigator.userAgent}`, size };
  if (q.get('gpu') !== '0') {
    try {
      const ctx = await browserGpuContext({ label: 'kernel-bench' });
      try {
        const r = await runKernelBench(ctx, { ...KERNEL_BENCH_PRESETS[size], onProgress: (d, t, l) => log(`[webgpu ${d}/${t}] ${l}`) });
        // the Kernels view's worker does the same: libraries at the same shapes, same page
        if (q.get('libs') !== '0') {
          const { runYardsticks } = await import('../../src/kernels/yardsticksRun');
          r.yardsticks = await runYardsticks(ctx, { ...r.options, onProgress: (d, t, l) => log(`[libraries ${d}/${t}] ${l}`) });
        }
        out.webgpu = r;
      } finally {
        ctx.destroy();
      }
    } catch (e) {
      out.webgpu = { error: (e as Error).message };
      log(`WebGPU benchmark failed: ${(e as Error).message}`);
    }
  }
  if (q.get('cpu') !== '0') {
    const k = await loadCpuKernels();
    if (!isWasmKernels(k)) out.cpu = { error: `no wasm kernels: ${k.fallbackReason}` };
    else out.cpu = runCpuKernelBench(k, { ...CPU_BENCH_PRESETS[size], onProgress: (d, t, l) => log(`[cpu ${d}/${t}] ${l}`) });
  }
  return out;
}

const g = globalThis as { __benchKernels?: unknown };
main().then(
  (r) => (g.__benchKernels = JSON.parse(JSON.stringify(r))),
  (e) => {
    log(`ERROR ${(e as Error).stack ?? e}`);
    g.__benchKernels = { error: String((e as Error).message ?? e) };
  },
);
