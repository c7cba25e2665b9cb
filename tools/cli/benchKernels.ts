/**
 * `npm run bench:kernels [-- --browser --size standard|quick --no-gpu --no-cpu --out results/kernels.json]`
 * The kernel benchmark of the Kernels view from the command line: the same modules, presets (--size,
 * default standard) and timing — src/kernels/bench.ts (every WGSL GEMM at the ViT's shapes and one
 * square GEMM) and src/cpu/cpuBench.ts (the CPU backend's WASM GEMMs at the ViT's shapes) — prints
 * both tables, the ratios and their plain-words explanation, and writes the JSON (the WebGPU result at
 * the top level as before, the CPU result under `cpu`). With --browser the WebGPU result also holds
 * `yardsticks`: ONNX Runtime Web's MatMul / MatMulNBits and TensorFlow.js's matMul at the same shapes in
 * the same page (src/kernels/yardsticks.ts; --no-libs leaves them out).
 *
 * --browser runs everything in headless Chromium (/usr/bin/chromium through Playwright, page
 * tools/cli/benchKernels.page.html served by Vite): the adapter and the wasm engine a user of the app
 * has, relaxed SIMD included. Without it: Node (Dawn's adapter — SwiftShader here, a real GPU where a
 * Vulkan driver exists and QP_NATIVE_VULKAN=1 — and Node's wasm engine, which lacks relaxed SIMD in
 * Node 20: the CPU rows then come from the SIMD128 build, and say so).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { explainYardsticks, formatYardstickTable } from '../../src/kernels/yardsticks';
import { explainGpuRatios, formatBenchTable, KERNEL_BENCH_PRESETS, type KernelBenchResult, runKernelBench } from '../../src/kernels/bench';
import {
  CPU_BENCH_PRESETS,
  type CpuBenchResult,
  ceilingsFor,
  explainCpuRatios,
  formatCpuBenchTable,
  runCpuKernelBench,
  simdCeilings,
} from '../../src/cpu/cpuBench';
import { isWasmKernels, loadCpuKernels } from '../../src/cpu/cpuKernels';
import { runPage } from './browserPage';
import { cliArgs } from './args';
import { cpuInfo } from './machine';

const args = cliArgs('bench:kernels', {
  'no-libs': 'boolean',
  size: 'string',
  out: 'string',
  quiet: 'boolean',
  browser: 'boolean',
  'no-gpu': 'boolean',
  'no-cpu': 'boolean',
  'f32-variants': 'boolean',
});
const out = (args.out as string | undefined) ?? 'results/kernels.json';
const size = ((args.size as string | undefined) ?? 'standard') as keyof typeof KERNEL_BENCH_PRESETS;
if (!(size in KERNEL_BENCH_PRESETS)) {
  console.error(`bench:kernels: --size ${size}: expected ${Object.keys(KERNEL_BENCH_PRESETS).join(' or ')}`);
  process.exit(2);
}
const wantGpu = !args['no-gpu'];
const wantCpu = !args['no-cpu'];
const progress = args.quiet
  ? undefined
  : (tag: string) => (done: number, total: number, label: string) => process.stderr.write(`[${tag} ${done}/${total}] ${label}\n`);
const load0 = loadavg();
const t0 = performance.now();

let webgpu: KernelBenchResult | { error: string } | undefined;
let cpu: CpuBenchResult | { error: string } | undefined;
let runner: string;
if (args.browser) {
  const r = await runPage<{ runner: string; webgpu?: typeof webgpu; cpu?: typeof cpu; error?: string }>({
    page: 'tools/cli/benchKernels.page.html',
    query: { size, gpu: wantGpu ? 1 : 0, cpu: wantCpu ? 1 : 0, libs: args['no-libs'] ? 0 : 1 },
    global: '__benchKernels',
    timeoutMs: 1_200_000,
    webgpu: true,
    console: args.quiet ? () => undefined : undefined,
  });
  if (r.error) throw new Error(`browser benchmark failed: ${r.error}`);
  runner = r.runner;
  webgpu = r.webgpu;
  cpu = r.cpu;
} else {
  runner = `node ${process.version}`;
  if (wantGpu) {
    const { nodeGpuContext } = await import('../../src/gpu/nodeGpu');
    const ctx = await nodeGpuContext();
    try {
      webgpu = await runKernelBench(ctx, {
        ...KERNEL_BENCH_PRESETS[size],
        compareF32Variants: args['f32-variants'] === true,
        onProgress: progress?.('webgpu'),
      });
      webgpu.yardsticks = 'ONNX Runtime Web and TensorFlow.js run in a browser only: use --browser';
    } finally {
      ctx.destroy();
    }
  }
  if (wantCpu) {
    const k = await loadCpuKernels();
    cpu = isWasmKernels(k)
      ? runCpuKernelBench(k, { ...CPU_BENCH_PRESETS[size], onProgress: progress?.('cpu') })
      : { error: `no wasm kernels: ${k.fallbackReason}` };
  }
}

if (webgpu && 'rows' in webgpu) {
  console.log(formatBenchTable(webgpu));
  for (const s of explainGpuRatios(webgpu)) console.log(`  · ${s}`);
  if (typeof webgpu.yardsticks === 'object') {
    console.log('\n' + formatYardstickTable(webgpu.yardsticks));
    for (const s of explainYardsticks(webgpu.yardsticks)) console.log(`  · ${s}`);
  } else console.log(`libraries: ${webgpu.yardsticks ?? 'not run'}`);
} else if (webgpu) console.log(`WebGPU: ${webgpu.error}`);
if (cpu && 'rows' in cpu) {
  console.log('\n' + formatCpuBenchTable(cpu));
  // the instruction ceilings of this machine's engines, when bench:simd has measured them here: the
  // explanation divides them by this run's FP32 rate, so ceilings of another CPU would say nothing
  const simdFile = 'results/simd.json';
  const simd = existsSync(simdFile) ? JSON.parse(readFileSync(simdFile, 'utf8')) : null;
  const engine = /chrom/i.test(cpu.runtime) ? 'chromium' : 'node';
  const here = cpuInfo().model;
  const ceilings = simd ? ceilingsFor(simd, engine, here) : null;
  const measured = simd ? simdCeilings(simd, engine) : null;
  if (measured && !ceilings)
    console.log(
      `  (${simdFile} was measured on ${measured.cpu ?? 'an unnamed CPU'}, not this ${here}: npm run bench:simd -- --browser measures this one)`,
    );
  for (const s of explainCpuRatios(cpu, ceilings)) console.log(`  · ${s}`);
} else if (cpu) console.log(`CPU: ${cpu.error}`);
console.log(
  `total ${((performance.now() - t0) / 1000).toFixed(1)} s; load average ${load0.map((v) => v.toFixed(2)).join(' ')} at start, ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')} at end (the machine may be shared)`,
);
const result = {
  ...(webgpu && 'rows' in webgpu ? webgpu : { webgpuError: webgpu?.error ?? 'not run' }),
  runner,
  size,
  loadAverage: { start: load0, end: loadavg() },
  // the CPU model beside the CPU run: the Kernels view quotes results/simd.json's ceilings only for the same one
  cpu: cpu && 'rows' in cpu ? { ...cpu, machine: cpuInfo().model } : (cpu ?? null),
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${out}`);
