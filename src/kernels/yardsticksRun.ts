/**
 * The runner of the library yardsticks (pure parts, types and the explanation: ./yardsticks.ts).
 * Imported only by the kernel benchmark's worker (src/ui/kernels/bench.worker.ts) and page
 * (tools/cli/benchKernels.page.ts), and it imports ONNX Runtime Web and TensorFlow.js lazily, so
 * neither the libraries nor ORT's wasm enter the main app's bundle.
 */
import type { GpuContext } from '../gpu/device';
import { GpuBuffer } from '../gpu/buffers';
import { createGemmF32 } from './gemmF32';
import { matMulModel, matMulNBitsModel, ortDp4aRule } from './onnxTiny';
import {
  type YardstickCase,
  det,
  firstRowError,
  LIB_NAME,
  median,
  operands,
  RESULT_TOLERANCE,
  summarizeYardsticks,
  yardstickCases,
  type YardstickLib,
  type YardstickOptions,
  type YardstickResult,
  type YardstickRow,
} from './yardsticks';

interface Lib {
  library: YardstickLib;
  ops: string[];
  /** prepare one op at one shape; returns a timed call that resolves when the GPU is idle */
  prepare(
    op: string,
    c: YardstickCase,
  ): Promise<{ call: () => Promise<void>; destroy: () => void; note?: string; firstRow?: () => Promise<ArrayLike<number>> }>;
  dispose(): void;
}

function errText(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.length > 300 ? s.slice(0, 300) + '…' : s;
}

async function ortLib(versions: Record<string, string>): Promise<Lib> {
  const ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = {
    wasm: new URL('../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm', import.meta.url).href,
  };
  ort.env.logLevel = 'error';
  versions['onnxruntime-web'] = ort.env.versions.web ?? '?';
  const sessions: { release(): Promise<void> }[] = [];
  let device: GPUDevice | undefined;
  return {
    library: 'onnxruntime-web',
    ops: ['MatMul (FP32)', 'MatMulNBits (4-bit b32)'],
    async prepare(op, c) {
      const nbits = op.startsWith('MatMulNBits');
      const d = operands(c);
      const bytes = nbits ? matMulNBitsModel(c.k, c.n, d.q, d.scales) : matMulModel(c.k, c.n, d.b);
      const sess = await ort.InferenceSession.create(bytes, {
        executionProviders: ['webgpu'],
        graphOptimizationLevel: 'all',
        preferredOutputLocation: 'gpu-buffer',
      });
      sessions.push(sess);
      device ??= (await ort.env.webgpu.device) as GPUDevice;
      const dev = device;
      const a = dev.createBuffer({
        size: c.m * c.k * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      });
      dev.queue.writeBuffer(a, 0, d.a);
      const input = ort.Tensor.fromGpuBuffer(a, { dataType: 'float32', dims: [c.m, c.k] });
      let note: string | undefined;
      if (nbits) {
        const feats = [...dev.features] as string[];
        const vendor = (dev as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo?.vendor ?? '';
        note = ortDp4aRule({ features: feats, vendor }, c.n, c.k).reason;
      }
      return {
        note,
        async call() {
          const r = await sess.run({ A: input });
          await dev.queue.onSubmittedWorkDone();
          r.Y.dispose();
        },
        async firstRow() {
          const r = await sess.run({ A: input });
          const y = (await r.Y.getData(true)) as Float32Array;
          return y.subarray(0, c.n);
        },
        destroy: () => a.destroy(),
      };
    },
    dispose() {
      for (const s of sessions) void s.release();
    },
  };
}

async function tfLib(versions: Record<string, string>): Promise<Lib> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  // setBackend resolves false (and TF.js warns) when the backend cannot start
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not initialise its WebGPU backend on this adapter');
  await tf.ready();
  versions['@tensorflow/tfjs-core'] = tf.version_core;
  const backend = tf.backend() as unknown as { device: GPUDevice; endComputePassEncoder(): void; submitQueue(): void };
  return {
    library: 'tfjs',
    ops: ['matMul (FP32)'],
    async prepare(_op, c) {
      const d = operands(c);
      const a = tf.tensor2d(d.a, [c.m, c.k]);
      const b = tf.tensor2d(d.b, [c.k, c.n]);
      return {
        async call() {
          const y = tf.matMul(a, b);
          // TF.js batches dispatches in an open compute pass: end it, then submit (what its own reads
          // do); submitting with the pass open records nothing — the result check caught exactly that
          backend.endComputePassEncoder();
          backend.submitQueue();
          await backend.device.queue.onSubmittedWorkDone();
          y.dispose();
        },
        async firstRow() {
          const y = tf.matMul(a, b);
          const v = (await y.data()) as Float32Array;
          y.dispose();
          return v.subarray(0, c.n);
        },
        destroy() {
          a.dispose();
          b.dispose();
        },
      };
    },
    dispose() {
      tf.disposeVariables();
    },
  };
}

function oursLib(ctx: GpuContext): Lib {
  return {
    library: 'ours',
    ops: ['gemm_f32 (WGSL)'],
    async prepare(_op, c) {
      const op = createGemmF32(ctx, { m: c.m, n: c.n, k: c.k, bias: true });
      const bufs = {
        x: GpuBuffer.f32(ctx, det(c.m * c.k, 1, 1)),
        w: GpuBuffer.f32(ctx, det(c.n * c.k, 0.1, 3)),
        bias: GpuBuffer.f32(ctx, det(c.n, 1)),
        y: GpuBuffer.f32(ctx, new Float32Array(c.m * c.n)),
      };
      const dev = ctx.device;
      return {
        note: op.variant,
        async call() {
          const enc = dev.createCommandEncoder();
          op.encode(enc, bufs);
          dev.queue.submit([enc.finish()]);
          await dev.queue.onSubmittedWorkDone();
        },
        destroy() {
          op.destroy();
          for (const b of Object.values(bufs)) b.destroy();
        },
      };
    },
    dispose() {},
  };
}

export async function runYardsticks(ctx: GpuContext, o: YardstickOptions): Promise<YardstickResult> {
  const cases = yardstickCases(o.images, o.large);
  const versions: Record<string, string> = {};
  const starts: [YardstickLib, string[], () => Promise<Lib>][] = [
    ['ours', ['gemm_f32 (WGSL)'], async () => oursLib(ctx)],
    ['onnxruntime-web', ['MatMul (FP32)', 'MatMulNBits (4-bit b32)'], () => ortLib(versions)],
    ['tfjs', ['matMul (FP32)'], () => tfLib(versions)],
  ];
  const rows: YardstickRow[] = [];
  const total = starts.reduce((s, [, ops]) => s + ops.length * cases.length, 0);
  let done = 0;
  for (const [library, ops, start] of starts) {
    let lib: Lib | undefined;
    let failed: string | undefined;
    try {
      o.onProgress?.(done, total, `starting ${LIB_NAME[library]}`);
      lib = await start();
    } catch (e) {
      failed = `${LIB_NAME[library]} failed to initialise: ${errText(e)}`;
    }
    try {
      for (const op of ops)
        for (const c of cases) {
          if (o.signal?.aborted) throw new DOMException('benchmark cancelled', 'AbortError');
          const shape = `${c.m}×${c.n}×${c.k}`;
          const row: YardstickRow = { library, op, group: c.group, shape, ops: 2 * c.m * c.n * c.k };
          o.onProgress?.(done++, total, `${LIB_NAME[library]} ${op} ${shape}`);
          if (!lib) {
            rows.push({ ...row, skipped: failed });
            continue;
          }
          let run: Awaited<ReturnType<Lib['prepare']>> | undefined;
          try {
            run = await lib.prepare(op, c);
            const times: number[] = [];
            for (let r = 0; r < o.warmup + o.runs; r++) {
              const t0 = performance.now();
              await run.call();
              if (r >= o.warmup) times.push(performance.now() - t0);
            }
            const ms = median(times);
            // after timing: the result is checked, and a wrong one gets no figure
            const relErr = run.firstRow ? firstRowError(c, op.startsWith('MatMulNBits'), await run.firstRow()) : undefined;
            if (relErr !== undefined && !(relErr <= RESULT_TOLERANCE))
              rows.push({
                ...row,
                relErr,
                note: run.note,
                skipped: `its result differs from the reference (first row, relative error ${relErr.toPrecision(2)})`,
              });
            else rows.push({ ...row, ms, gops: row.ops / (ms * 1e6), note: run.note, relErr });
          } catch (e) {
            if ((e as Error)?.name === 'AbortError') throw e;
            rows.push({ ...row, skipped: `failed at this shape: ${errText(e)}`, note: run?.note });
          } finally {
            run?.destroy();
          }
        }
    } finally {
      lib?.dispose();
    }
  }
  o.onProgress?.(total, total, 'done');
  for (const r of rows) {
    const ours = rows.find((x) => x.library === 'ours' && x.group === r.group);
    if (r.ms !== undefined && ours?.ms !== undefined) r.vsOurFp32 = ours.ms / r.ms;
  }
  return {
    timing: `wall clock, call → device queue idle (onSubmittedWorkDone), operands resident on the GPU; median of ${o.runs} after ${o.warmup} warm-up, each library on its own device`,
    versions,
    rows,
    summary: summarizeYardsticks(rows),
  };
}
