/**
 * npm run bench:qat -- [--batch N] [--steps N] [--backend cpu|typescript] [--browser [--gpu]] [--torch] [--out FILE]
 *
 * Seconds per QAT training step (all-INT4, the recipe of npm run qat; src/train/stepBench.ts) on one
 * thread, after one warm-up step: in Node, with --browser also in headless Chromium (the kernels the
 * Train view runs on), with --torch also tools/ref/qat_ref.py --bench (PyTorch, 1 thread) at the same
 * batch, with --gpu also the Chromium page's WebGPU steps (TensorFlow.js, the Train view's other backend;
 * on this machine SwiftShader) — one after the other in one run, so the ratios compare the same minutes of this machine.
 * Prints the figures and writes them to --out (default results/qat_step.json).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadavg } from 'node:os';
import { runPage } from './browserPage';
import { ArgError, cliArgs, type ArgSpec } from './args';
import { loadCpuKernels } from '../../src/cpu/cpuKernels';
import { dataDir, nodeReader } from '../../src/data/nodeReader';
import { loadDataNode, loadWeightsNode } from '../../src/runtime/nodeLoad';
import { loadTrainImages } from '../../src/train/data';
import { timeQatSteps, type StepTiming } from '../../src/train/stepBench';
import { trainKernelsFor, tsTrainKernels } from '../../src/train/trainKernels';

const SPEC: Record<string, ArgSpec> = {
  batch: { int: [1, 1024] },
  steps: { int: [1, 1000] },
  backend: { oneOf: ['cpu', 'typescript'] },
  browser: 'boolean',
  gpu: 'boolean',
  torch: 'boolean',
  out: 'string',
};
const args = cliArgs('bench:qat', SPEC);
const batch = (args.batch as number | undefined) ?? 32;
const steps = (args.steps as number | undefined) ?? 3;
const out = (args.out as string | undefined) ?? 'results/qat_step.json';
const load = [loadavg()[0]];

const cpu = await loadCpuKernels({ forceTypescript: args.backend === 'typescript' });
const kernels = args.backend === 'typescript' ? tsTrainKernels : trainKernelsFor(cpu);
const weights = await loadWeightsNode();
const { calib } = await loadDataNode(['calib']);
const train = await loadTrainImages(nodeReader(dataDir()), 10000);
console.log(`Node, ${kernels.impl} kernels${cpu.wasmFeatures ? ` (${cpu.wasmFeatures})` : ''}, batch ${batch}:`);
if (args.gpu && !args.browser) throw new ArgError('--gpu times the WebGPU steps in the Chromium page: add --browser');
const node = await timeQatSteps(weights, calib!, train, kernels, batch, steps, (s) => console.log(`  ${s}`));
const line = (who: string, t: { medianSeconds: number }) => console.log(`${who}: median ${t.medianSeconds.toFixed(3)} s/step`);
line('Node', node);

type BrowserTiming = StepTiming & { wasmFeatures: string | null; adapter: string | null; webgpu: StepTiming | { skipped: string } | null };
let chromium: BrowserTiming | null = null;
if (args.browser) {
  console.log('Chromium (headless, the Train view’s kernels):');
  const r = await runPage<BrowserTiming | { error: string }>({
    page: 'tools/cli/qatStepBench.page.html',
    query: { batch, steps, gpu: args.gpu ? 1 : 0 },
    webgpu: !!args.gpu,
    global: '__qatStepBench',
    timeoutMs: 600_000,
    console: (l) => console.log(`  [chromium] ${l}`),
  });
  if ('error' in r) throw new Error(`the Chromium page failed: ${r.error}`);
  chromium = r;
  line(`Chromium (${r.wasmFeatures})`, r);
  if (r.webgpu && 'skipped' in r.webgpu) console.log(`Chromium WebGPU: skipped (${r.webgpu.skipped})`);
  else if (r.webgpu) line(`Chromium WebGPU, TensorFlow.js (${r.adapter})`, r.webgpu);
}

let torch: { median_seconds: number; step_seconds: number[]; torch: string } | null = null;
if (args.torch) {
  console.log('PyTorch (tools/ref/qat_ref.py --bench, 1 thread):');
  const r = spawnSync(
    '/usr/bin/python3',
    ['tools/ref/qat_ref.py', '--plan', 'all-int4', '--bench', '--steps', String(steps + 1), '--batch', String(batch)],
    { env: { ...process.env, LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp', OMP_NUM_THREADS: '1' }, encoding: 'utf8' },
  );
  const at = r.stdout.lastIndexOf('{"bench"'); // after the script's \r progress line
  const json = at >= 0 ? r.stdout.slice(at).split('\n')[0] : undefined;
  if (r.status !== 0 || !json) throw new Error(`qat_ref.py --bench failed (${r.status}): ${r.stderr.slice(-600)}`);
  torch = JSON.parse(json).bench;
  console.log(`PyTorch ${torch!.torch}: median ${torch!.median_seconds.toFixed(3)} s/step`);
}
load.push(loadavg()[0]);

const ratios: Record<string, number> = {};
if (torch) {
  ratios.nodeVsTorch = node.medianSeconds / torch.median_seconds;
  if (chromium) ratios.chromiumVsTorch = chromium.medianSeconds / torch.median_seconds;
}
if (chromium?.webgpu && !('skipped' in chromium.webgpu))
  ratios.webgpuVsChromiumWasm = chromium.webgpu.medianSeconds / chromium.medianSeconds;
for (const [k, v] of Object.entries(ratios)) console.log(`${k}: ×${v.toFixed(2)}`);
console.log(`load average (1 min) at start ${load[0].toFixed(2)}, at end ${load[1].toFixed(2)}`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), batch, steps, plan: 'all-INT4 per tensor, 38 sites', node, chromium, torch, ratios, loadAverage: load }, null, 1)}\n`,
);
console.log(`→ ${out}`);
