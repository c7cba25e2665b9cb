/**
 * Browser half of `npm run bench:qat -- --browser`: src/train/stepBench.ts in a headless Chromium
 * page served by Vite, with the kernels the browser's Train view gets (the relaxed-SIMD build when
 * the engine compiles it); with gpu=1 also on WebGPU through TensorFlow.js (the Train view's other
 * backend). Query: batch, steps, gpu. The result is left in window.__qatStepBench.
 */
import { fetchReader, loadEvalSet, loadManifest } from '../../src/data/cifar';
import { loadVit } from '../../src/model/vitWeights';
import { loadCpuKernels } from '../../src/cpu/cpuKernels';
import { loadTrainImages } from '../../src/train/data';
import { timeQatSteps } from '../../src/train/stepBench';
import { trainKernelsFor } from '../../src/train/trainKernels';
import { loadTfWebGpu } from '../../src/train/tfTrainer';

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
  const batch = Number(q.get('batch') ?? 32);
  const steps = Number(q.get('steps') ?? 3);
  const kernels = trainKernelsFor(cpu);
  const t = await timeQatSteps(weights, calib, train, kernels, batch, steps, log);
  let webgpu: Awaited<ReturnType<typeof timeQatSteps>> | { skipped: string } | null = null;
  if (q.get('gpu') === '1') {
    const tf = await loadTfWebGpu();
    if ('tf' in tf) {
      log('WebGPU (TensorFlow.js):');
      webgpu = await timeQatSteps(weights, calib, train, kernels, batch, steps, log, tf.tf);
    } else webgpu = { skipped: tf.reason };
  }
  const adapter = q.get('gpu') === '1' ? await navigator.gpu?.requestAdapter() : null;
  return {
    ...t,
    webgpu,
    adapter: adapter ? `${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}`.trim() : null,
    wasmFeatures: cpu.wasmFeatures ?? null,
    userAgent: navigator.userAgent,
  };
}

run().then(
  (r) => ((globalThis as { __qatStepBench?: unknown }).__qatStepBench = r),
  (e: Error) => ((globalThis as { __qatStepBench?: unknown }).__qatStepBench = { error: e.message }),
);
