/**
 * Runs the browser kernel benchmark (src/kernels/bench.ts) off the main thread.
 * INTEGRATION POINT: bench.ts is expected to export
 *   runKernelBench(ctx: GpuContext, onProgress: (p: { done: number; total: number; phase: string }) => void)
 *     : Promise<{ adapter: unknown; rows: Record<string, unknown>[]; ratios: Record<string, number> }>
 * (any exported function whose name starts with "run" is accepted). It is loaded lazily through
 * import.meta.glob so the app builds and runs while the module does not exist yet.
 */
import { browserGpuContext } from '../../gpu/device';

type BenchFn = (ctx: unknown, onProgress: (p: { done: number; total: number; phase: string }) => void) => Promise<unknown>;

const modules = import.meta.glob('../../kernels/bench.ts');

self.onmessage = async (ev: MessageEvent<{ type: 'run' }>) => {
  if (ev.data?.type !== 'run') return;
  const post = (m: unknown) => (self as unknown as Worker).postMessage(m);
  const load = modules['../../kernels/bench.ts'];
  if (!load) {
    post({ type: 'error', message: 'The kernel benchmark module (src/kernels/bench.ts) is not in this build yet.', missing: true });
    return;
  }
  let ctx: Awaited<ReturnType<typeof browserGpuContext>> | null = null;
  try {
    const mod = (await load()) as Record<string, unknown>;
    const fn = (mod.runKernelBench ?? mod.runBench ?? Object.entries(mod).find(([k, v]) => k.startsWith('run') && typeof v === 'function')?.[1]) as BenchFn | undefined;
    if (!fn) throw new Error('src/kernels/bench.ts exports no run… function');
    ctx = await browserGpuContext({ label: 'kernel-bench' });
    const result = await fn(ctx, (p) => post({ type: 'progress', ...p }));
    post({ type: 'result', result: JSON.parse(JSON.stringify(result)) });
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  } finally {
    ctx?.destroy();
  }
};
