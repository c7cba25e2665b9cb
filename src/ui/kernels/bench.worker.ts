/**
 * Runs the browser kernel benchmark (src/kernels/bench.ts, runKernelBench) off the main thread,
 * on its own GPU device, then the library yardsticks (src/kernels/yardsticksRun.ts: ONNX Runtime Web,
 * TensorFlow.js) at the same shapes, and posts progress and the plain-data result back.
 */
import { browserGpuContext } from '../../gpu/device';
import type { KernelBenchOptions } from '../../kernels/bench';

export type BenchRequest = { type: 'run'; options: Pick<KernelBenchOptions, 'images' | 'large' | 'runs' | 'warmup'> };

self.onmessage = async (ev: MessageEvent<BenchRequest>) => {
  if (ev.data?.type !== 'run') return;
  const post = (m: unknown) => (self as unknown as Worker).postMessage(m);
  let ctx: Awaited<ReturnType<typeof browserGpuContext>> | null = null;
  try {
    const { runKernelBench } = await import('../../kernels/bench');
    ctx = await browserGpuContext({ label: 'kernel-bench' });
    post({ type: 'progress', done: 0, total: 1, phase: 'compiling pipelines' });
    const result = await runKernelBench(ctx, {
      ...ev.data.options,
      onProgress: (done, total, phase) => post({ type: 'progress', done, total, phase }),
    });
    // ONNX Runtime Web and TensorFlow.js at the same shapes, in this worker (loaded only here)
    const { runYardsticks } = await import('../../kernels/yardsticksRun');
    result.yardsticks = await runYardsticks(ctx, {
      ...result.options,
      onProgress: (done, total, phase) => post({ type: 'progress', done, total, phase: `libraries: ${phase}` }),
    });
    post({ type: 'result', result: JSON.parse(JSON.stringify(result)) });
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  } finally {
    ctx?.destroy();
  }
};
