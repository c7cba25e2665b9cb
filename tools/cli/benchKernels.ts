/**
 * `npm run bench:kernels [-- --images 16 --large 512 --runs 3 --warmup 1 --f32-variants --out results/kernels.json]`
 * Benchmarks every GEMM kernel on the ViT's shapes and one large square GEMM (src/kernels/bench.ts),
 * prints a table and writes the JSON (adapter, rows, ratios.int8_over_fp32 / int4_over_fp32).
 * Runs on whatever WebGPU adapter Dawn finds: SwiftShader here, a real GPU where a Vulkan driver
 * exists (QP_NATIVE_VULKAN=1 keeps gpu-env.mjs from forcing SwiftShader).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { nodeGpuContext } from '../../src/gpu/nodeGpu';
import { formatBenchTable, runKernelBench } from '../../src/kernels/bench';
import { cliArgs } from './args';

const args = cliArgs('bench:kernels', { images: { int: [1, 100_000] }, large: { int: [1, 100_000] }, runs: { int: [1, 1000] }, warmup: { int: [0, 1000] }, out: 'string', quiet: 'boolean', 'f32-variants': 'boolean' });
const out = (args.out as string | undefined) ?? 'results/kernels.json';
const ctx = await nodeGpuContext();
try {
  const t0 = performance.now();
  const res = await runKernelBench(ctx, {
    images: args.images as number | undefined,
    large: args.large as number | undefined,
    runs: args.runs as number | undefined,
    warmup: args.warmup as number | undefined,
    compareF32Variants: args['f32-variants'] === true,
    onProgress: args.quiet ? undefined : (done, total, label) => process.stderr.write(`[${done}/${total}] ${label}\n`),
  });
  console.log(formatBenchTable(res));
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(res, null, 2) + '\n');
  console.log(`wrote ${out}`);
} finally {
  ctx.destroy();
}
