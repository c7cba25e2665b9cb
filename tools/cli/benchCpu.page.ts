/**
 * Browser half of `npm run bench:cpu -- --browser`: the same comparison as benchCpu.ts (our WASM
 * CPU backend vs ONNX Runtime Web's WASM path, 1 thread each, same weights and images) inside a
 * headless Chromium page served by Vite. Parameters in the query string; the result is left in
 * window.__benchCpu for the driver (benchCpu.ts).
 */
import * as ort from 'onnxruntime-web';
import { fetchReader, IMAGE_BYTES, loadEvalSet, loadManifest } from '../../src/data/cifar';
import { fp32Plan, type Plan, type SiteScheme, uniformPlan } from '../../src/plan/plan';
import { preparePlan } from '../../src/plan/siteQuant';
import { buildSites } from '../../src/plan/sites';
import { siteLinears } from '../../src/forward/vitRef';
import { loadVit } from '../../src/model/vitWeights';
import { isWasmKernels, loadCpuKernels } from '../../src/cpu/cpuKernels';
import { VitCpu } from '../../src/cpu/vitCpu';
import { VitCpuPool } from '../../src/cpu/vitCpuPool';

const q = new URLSearchParams(location.search);
const N = Number(q.get('images') ?? 256);
const BATCH = Number(q.get('batch') ?? 32);
const REPS = Number(q.get('reps') ?? 3);
const logEl = document.getElementById('log')!;
const log = (s: string) => {
  logEl.textContent += '\n' + s;
  console.log(s);
};

const op = (bits: 32 | 8 | 4, granularity: 'tensor' | 'token' | 'channel' | 'group', symmetric: boolean, groupSize?: number) => ({
  bits,
  granularity,
  symmetric,
  range: 'dynamic' as const,
  ...(groupSize ? { groupSize } : {}),
});
const PLANS: [string, Plan][] = [
  ['FP32', fp32Plan()],
  ['W8A8 per-token × per-channel', uniformPlan({ a: op(8, 'token', false), b: op(8, 'channel', true) } as SiteScheme)],
  ['W4A8 per-group (g=32), A8 per-token', uniformPlan({ a: op(8, 'token', false), b: op(4, 'group', true, 32) } as SiteScheme)],
  ['all-INT4 per-tensor asymmetric (note 004)', uniformPlan({ a: op(4, 'tensor', false), b: op(4, 'tensor', false) } as SiteScheme)],
  [
    'INT4 fake-quant (A4 per-token, W4 per-group g=32 asym)',
    uniformPlan({ a: op(4, 'token', false), b: op(4, 'group', false, 32) } as SiteScheme),
  ],
];

async function main() {
  // keep the weight bytes: the ONNX model must come from the same model.safetensors (training re-exports it)
  const modelRead = fetchReader('/models/vit-cifar10/');
  let stBytes: Uint8Array | undefined;
  const w = await loadVit(async (name) => {
    const b = await modelRead(name);
    if (name === 'model.safetensors') stBytes = b;
    return b;
  });
  const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (v) => v.toString(16).padStart(2, '0')).join('');
  const stSha = hex(await crypto.subtle.digest('SHA-256', stBytes! as BufferSource));
  const onnxSha = (
    (await (await fetch('/models/vit-cifar10/model.onnx.json', { cache: 'no-store' })).json()) as { safetensors_sha256: string }
  ).safetensors_sha256;
  const sameWeights = stSha === onnxSha;
  if (!sameWeights) log('WARNING: model.onnx was exported from other weights than model.safetensors (training re-exported them)');
  const read = fetchReader('/data/cifar10/');
  const test = await loadEvalSet(read, 'test', await loadManifest(read));
  const n = Math.min(N, test.count);
  const pixels = test.pixels.subarray(0, n * IMAGE_BYTES);
  const classes = w.config.classes;
  const kernels = await loadCpuKernels();
  log(
    `kernels ${kernels.impl} ${kernels.wasmFeatures ?? ''} ${kernels.fallbackReason ?? ''}; crossOriginIsolated ${globalThis.crossOriginIsolated}; ${navigator.userAgent}`,
  );
  if (!isWasmKernels(kernels)) throw new Error(kernels.fallbackReason);
  const vit = new VitCpu(w, kernels);
  const sites = buildSites(w.config);

  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  const sess = await ort.InferenceSession.create('/models/vit-cifar10/model.onnx', {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const ortLogits = new Float32Array(n * classes);
  const ortPass = async () => {
    for (let i = 0; i < n; i += BATCH) {
      const b = Math.min(BATCH, n - i);
      const x = new Float32Array(b * IMAGE_BYTES);
      const px = pixels.subarray(i * IMAGE_BYTES, (i + b) * IMAGE_BYTES);
      for (let j = 0; j < x.length; j++) x[j] = px[j] / 255;
      const r = await sess.run({ pixels: new ort.Tensor('float32', x, [b, 3, 32, 32]) });
      ortLogits.set(r.logits.data as Float32Array, i * classes);
    }
  };
  await ortPass(); // warm-up
  // the quantized yardsticks (tools/train/export_onnx_quant.py; bench:cpu exports them first)
  const quant: { quant: 'int8' | 'int4'; scheme: string; pass: () => Promise<void>; logits: Float32Array; best: number }[] = [];
  for (const qn of ['int8', 'int4'] as const) {
    const side = await fetch(`/models/vit-cifar10/model-${qn}.onnx.json`, { cache: 'no-store' });
    if (!side.ok) {
      log(`no model-${qn}.onnx: skipping that yardstick`);
      continue;
    }
    const scheme = ((await side.json()) as { scheme: string }).scheme;
    const qs = await ort.InferenceSession.create(`/models/vit-cifar10/model-${qn}.onnx`, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    const ql = new Float32Array(n * classes);
    const pass = async () => {
      for (let i = 0; i < n; i += BATCH) {
        const b = Math.min(BATCH, n - i);
        const x = new Float32Array(b * IMAGE_BYTES);
        const px = pixels.subarray(i * IMAGE_BYTES, (i + b) * IMAGE_BYTES);
        for (let j = 0; j < x.length; j++) x[j] = px[j] / 255;
        const r = await qs.run({ pixels: new ort.Tensor('float32', x, [b, 3, 32, 32]) });
        ql.set(r.logits.data as Float32Array, i * classes);
      }
    };
    await pass(); // warm-up
    quant.push({ quant: qn, scheme, pass, logits: ql, best: Infinity });
  }
  const prepared = PLANS.map(([, p]) => preparePlan(p, sites, siteLinears(w)));
  prepared.forEach((p) => vit.forward(p, pixels.subarray(0, BATCH * IMAGE_BYTES), Math.min(BATCH, n), BATCH));
  let ortBest = Infinity;
  const best = PLANS.map(() => Infinity);
  const logits: Float32Array[] = [];
  for (let r = 0; r < REPS; r++) {
    let t = performance.now();
    await ortPass();
    ortBest = Math.min(ortBest, performance.now() - t);
    for (const qq of quant) {
      t = performance.now();
      await qq.pass();
      qq.best = Math.min(qq.best, performance.now() - t);
    }
    for (let p = 0; p < PLANS.length; p++) {
      t = performance.now();
      logits[p] = vit.forward(prepared[p], pixels, n, BATCH);
      best[p] = Math.min(best[p], performance.now() - t);
    }
    log(`pass ${r + 1}/${REPS}`);
  }
  const ortIps = (n / ortBest) * 1000;
  let maxDiff = 0;
  for (let i = 0; i < logits[0].length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[0][i] - ortLogits[i]));
  const rows = PLANS.map(([name], p) => {
    const ips = (n / best[p]) * 1000;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let b = 0;
      for (let c = 1; c < classes; c++) if (logits[p][i * classes + c] > logits[p][i * classes + b]) b = c;
      if (b === test.labels[i]) correct++;
    }
    const vsFp32 = best[0] / best[p];
    log(
      `${name.padEnd(56)} ${ips.toFixed(1).padStart(7)} img/s  ×${vsFp32.toFixed(2)} our FP32  ×${(ips / ortIps).toFixed(2)} ORT  acc ${((100 * correct) / n).toFixed(1)}%`,
    );
    return {
      plan: name,
      imagesPerSecond: +ips.toFixed(1),
      vsOurFp32: +vsFp32.toFixed(2),
      vsOrt: +(ips / ortIps).toFixed(2),
      accuracy: +(correct / n).toFixed(4),
    };
  });
  log(`ONNX Runtime Web (wasm, 1 thread) ${ortIps.toFixed(1)} img/s; FP32 max |Δlogit| vs ORT ${maxDiff.toExponential(2)}`);
  const argmaxAt = (a: Float32Array, i: number) => {
    let b = 0;
    for (let c = 1; c < classes; c++) if (a[i * classes + c] > a[i * classes + b]) b = c;
    return b;
  };
  const yardsticks = quant.map((qq) => {
    const ours = PLANS.findIndex(([name]) => name.startsWith(qq.quant === 'int8' ? 'W8A8' : 'W4A8'));
    const ips = (n / qq.best) * 1000;
    let correct = 0;
    let agree = 0;
    for (let i = 0; i < n; i++) {
      const pr = argmaxAt(qq.logits, i);
      if (pr === test.labels[i]) correct++;
      if (pr === argmaxAt(logits[ours], i)) agree++;
    }
    const oursOverOrt = best[ours] > 0 ? qq.best / best[ours] : NaN;
    log(
      `ONNX Runtime Web ${qq.quant} (${qq.scheme}): ${ips.toFixed(1)} img/s (×${(ips / ortIps).toFixed(2)} its FP32); ours ${PLANS[ours][0]} ×${oursOverOrt.toFixed(2)} of it; acc ${((100 * correct) / n).toFixed(1)}%`,
    );
    return {
      quant: qq.quant,
      scheme: qq.scheme,
      imagesPerSecond: +ips.toFixed(1),
      vsOrtFp32: +(ips / ortIps).toFixed(2),
      accuracy: +(correct / n).toFixed(4),
      ours: PLANS[ours][0],
      oursOverOrt: +oursOverOrt.toFixed(2),
      predictionsAgreeWithOurs: +(agree / n).toFixed(4),
    };
  });
  // the Web Worker pool (what the app uses when crossOriginIsolated on a machine with more cores):
  // every plan with 1 and with 2 workers, interleaved, best of REPS; logits checked against one thread
  const pool: {
    threads: number;
    label?: string;
    plans?: { plan: string; imagesPerSecond: number; identicalToOneThread: boolean }[];
    error?: string;
  }[] = [];
  for (const threads of [1, 2]) {
    try {
      const p = await VitCpuPool.create(w, { threads, chunk: BATCH });
      try {
        const plans = [];
        for (let i = 0; i < PLANS.length; i++) {
          await p.run(prepared[i], pixels, Math.min(n, threads * BATCH)); // warm-up, packs the plan in every worker
          let bestMs = Infinity;
          let y: Float32Array = new Float32Array(0);
          for (let r = 0; r < REPS; r++) {
            const t = performance.now();
            y = await p.run(prepared[i], pixels, n);
            bestMs = Math.min(bestMs, performance.now() - t);
          }
          const ips = (n / bestMs) * 1000;
          const same = y.every((v, j) => v === logits[i][j]);
          plans.push({ plan: PLANS[i][0], imagesPerSecond: +ips.toFixed(1), identicalToOneThread: same });
          log(
            `worker pool, ${threads} worker${threads > 1 ? 's' : ''}: ${PLANS[i][0].padEnd(56)} ${ips.toFixed(1).padStart(7)} img/s, logits identical to one thread: ${same}`,
          );
        }
        pool.push({ threads, label: p.info.label, plans });
      } finally {
        p.dispose();
      }
    } catch (e) {
      pool.push({ threads, error: (e as Error).message });
      log(`worker pool (${threads}) failed: ${(e as Error).message}`);
    }
  }
  return {
    kernels: { impl: kernels.impl, wasmFeatures: kernels.wasmFeatures },
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    images: n,
    batch: BATCH,
    reps: REPS,
    onnxRuntimeWeb: { imagesPerSecond: +ortIps.toFixed(1), maxLogitDiffVsOurFp32: +maxDiff.toExponential(2), sameWeights },
    onnxRuntimeQuantized: yardsticks,
    ours: rows,
    workerPool: pool,
  };
}

const g = globalThis as { __benchCpu?: unknown };
main().then(
  (r) => (g.__benchCpu = r),
  (e) => {
    log(`ERROR ${(e as Error).stack ?? e}`);
    g.__benchCpu = { error: String((e as Error).message ?? e) };
  },
);
