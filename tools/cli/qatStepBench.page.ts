/**
 * Browser half of `npm run bench:qat -- --browser`: src/train/stepBench.ts in a headless Chromium
 * page served by Vite, with the kernels the browser's Train view gets (the relaxed-SIMD build when
 * the engine compiles it). Query: batch, steps. The result is left in window.__qatStepBench.
 */
import { fetchReader, loadEvalSet, loadManifest } from '../../src/data/cifar';
import { loadVit } from '../../src/model/vitWeights';
import { loadCpuKernels } from '../../src/cpu/cpuKernels';
import { loadTrainImages } from '../../src/train/data';
import { timeQatSteps } from '../../src/train/stepBench';
import { trainKernelsFor } from '../../src/train/trainKernels';

const q = new URLSearchParams(location.search);
const logEl = document.getElementById('log')!;
const log = (s: string) => {
  logEl.textContent += `\n${s}`;
  console.log(s);
};

async function run() {
  const weights = await loadVit(fetchReader('/models/vit-cifar10/'));
  const read = fetchReader('/data/cifar10/');
  const calib = await loadEvalSet(read, 'calib', await loadManifest(read));
  const train = await loadTrainImages(read, 10000);
  const cpu = await loadCpuKernels();
  const t = timeQatSteps(weights, calib, train, trainKernelsFor(cpu), Number(q.get('batch') ?? 32), Number(q.get('steps') ?? 3), log);
  return { ...t, wasmFeatures: cpu.wasmFeatures ?? null, userAgent: navigator.userAgent };
}

run().then(
  (r) => ((globalThis as { __qatStepBench?: unknown }).__qatStepBench = r),
  (e: Error) => ((globalThis as { __qatStepBench?: unknown }).__qatStepBench = { error: e.message }),
);
