/**
 * CPU benchmark (issue 7): our WASM-SIMD CPU backend (src/cpu/vitCpu.ts) against ONNX Runtime Web's
 * WASM path running the same ViT (public/models/vit-cifar10/model.onnx, exported by
 * tools/train/export_onnx.py from the same model.safetensors), same images, same process, 1 thread.
 * A benchmark, not a test: prints images/s and ratios, writes results/cpu.json.
 *
 *   npm run bench:cpu -- [--images 256] [--batch 32] [--reps 2] [--no-ort] [--plans W8A8,W4A8] [--threads 2] [--browser] [--out results/cpu.json]
 *
 * --threads N also times every plan on VitCpuPool (N worker_threads, one wasm instance each).
 *
 * Yardsticks: ONNX Runtime Web's FP32 graph (model.onnx) and its quantized paths exported from the
 * same weights by tools/train/export_onnx_quant.py — int8 (DynamicQuantizeLinear + MatMulInteger,
 * per-tensor activations × per-channel weights) against our W8A8, 4-bit MatMulNBits (block 32)
 * against our W4A8 — timed in the same interleaved passes; ratios under onnxRuntimeQuantized.
 *
 * --browser also runs the comparison in headless Chromium (/usr/bin/chromium through Playwright,
 * page tools/cli/benchCpu.page.html served by Vite on 127.0.0.1).
 *
 * Throughput is given two ways: wall clock, and per CPU-second of this process
 * (process.cpuUsage) — the second is steadier when other processes share the cores.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { loadDataNode, loadReferenceNode, loadWeightsNode } from '../../src/runtime/nodeLoad';
import { fp32Plan, type Plan, type SiteScheme, sitePath, uniformPlan } from '../../src/plan/plan';
import { preparePlan } from '../../src/plan/siteQuant';
import { buildSites } from '../../src/plan/sites';
import { siteLinears, VitReference } from '../../src/forward/vitRef';
import { IMAGE_BYTES } from '../../src/data/cifar';
import { isWasmKernels, loadCpuKernels } from '../../src/cpu/cpuKernels';
import { VitCpu } from '../../src/cpu/vitCpu';
import { modelDir } from '../../src/data/nodeReader';
import { runPage } from './browserPage';
import { cliArgs, THREADS_ARG } from './args';

const args = cliArgs('bench:cpu', {
  images: { int: [1, 100_000] },
  batch: { int: [1, 1024] },
  reps: { int: [1, 100] },
  threads: THREADS_ARG,
  plans: 'string',
  out: 'string',
  'no-ort': 'boolean',
  'no-export': 'boolean',
  browser: 'boolean',
});
const N = (args.images as number | undefined) ?? 256;
const BATCH = (args.batch as number | undefined) ?? 32;
const REPS = (args.reps as number | undefined) ?? 2;
const noOrt = Boolean(args['no-ort']);
const noExport = Boolean(args['no-export']);
const browser = Boolean(args.browser);
const THREADS = (args.threads as number | undefined) ?? 0;
const OUT = (args.out as string | undefined) ?? 'results/cpu.json';

const op = (bits: 32 | 8 | 4, granularity: 'tensor' | 'token' | 'channel' | 'group', symmetric: boolean, groupSize?: number) => ({
  bits,
  granularity,
  symmetric,
  range: 'dynamic' as const,
  ...(groupSize ? { groupSize } : {}),
});
const ALL_PLANS: [string, Plan][] = [
  ['FP32', fp32Plan()],
  ['W8A8 per-token × per-channel', uniformPlan({ a: op(8, 'token', false), b: op(8, 'channel', true) } as SiteScheme)],
  ['W4A8 per-group (g=32), A8 per-token', uniformPlan({ a: op(8, 'token', false), b: op(4, 'group', true, 32) } as SiteScheme)],
  ['all-INT4 per-tensor asymmetric (note 004)', uniformPlan({ a: op(4, 'tensor', false), b: op(4, 'tensor', false) } as SiteScheme)],
  [
    'INT4 fake-quant (A4 per-token, W4 per-group g=32 asym)',
    uniformPlan({ a: op(4, 'token', false), b: op(4, 'group', false, 32) } as SiteScheme),
  ],
];

// --plans a,b: keep the plans whose name contains one of the strings (FP32 always runs: the baseline)
const planFilter = args.plans ? String(args.plans).split(',') : null;
const PLANS = ALL_PLANS.filter(([name], i) => i === 0 || !planFilter || planFilter.some((f) => name.includes(f)));

function cpuSeconds(f: () => void): { wall: number; cpu: number } {
  const t = performance.now();
  const c = process.cpuUsage();
  f();
  const cu = process.cpuUsage(c);
  return { wall: (performance.now() - t) / 1000, cpu: (cu.user + cu.system) / 1e6 };
}
async function cpuSecondsAsync(f: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const t = performance.now();
  const c = process.cpuUsage();
  await f();
  const cu = process.cpuUsage(c);
  return { wall: (performance.now() - t) / 1000, cpu: (cu.user + cu.system) / 1e6 };
}
function argmax(a: Float32Array, o: number, n: number): number {
  let b = 0;
  for (let c = 1; c < n; c++) if (a[o + c] > a[o + b]) b = c;
  return b;
}

const loadAverageAtStart = loadavg();

async function main() {
  const [w, data] = await Promise.all([loadWeightsNode(), loadDataNode(['test'])]);
  const test = data.test;
  const n = Math.min(N, test.count);
  const pixels = test.pixels.subarray(0, n * IMAGE_BYTES);
  const classes = w.config.classes;
  const kernels = await loadCpuKernels();
  console.log(
    `kernels: ${kernels.impl}${kernels.wasmFeatures ? ` (${kernels.wasmFeatures})` : ''}${kernels.fallbackReason ? ` (fallback: ${kernels.fallbackReason})` : ''}`,
  );
  console.log(
    `machine: ${cpus()[0]?.model} × ${cpus().length}, load average ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}, node ${process.version}`,
  );
  console.log(`${n} test images, batch ${BATCH}, ${REPS} timed passes, 1 thread\n`);
  if (!isWasmKernels(kernels)) throw new Error(`the benchmark needs the wasm kernels: ${kernels.fallbackReason}`);
  const vit = new VitCpu(w, kernels);
  const sites = buildSites(w.config);
  const linears = siteLinears(w);

  // --- ONNX Runtime Web (WASM, 1 thread), same weights
  let ortPass: (() => Promise<void>) | undefined;
  const ortQuant: {
    quant: 'int8' | 'int4';
    pass: () => Promise<void>;
    logits: Float32Array;
    best: { wall: number; cpu: number };
    scheme: string;
  }[] = [];
  let ort:
    | { ips: number; ipsCpu: number; logits: Float32Array; refMaxDiff: number; version: string; sessionMs: number; sameWeights: boolean }
    | undefined;
  const onnxPath = join(modelDir('vit-cifar10'), 'model.onnx');
  const EXPORT = 'LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 tools/train/export_onnx.py';
  // same weights? export_onnx.py records the hash of the model.safetensors it read; the weights
  // loaded above are what our backend runs (training may re-export them each epoch)
  const stSha = createHash('sha256')
    .update(readFileSync(join(modelDir('vit-cifar10'), 'model.safetensors')))
    .digest('hex');
  const onnxSha = () => {
    try {
      return JSON.parse(readFileSync(onnxPath + '.json', 'utf8')).safetensors_sha256 as string;
    } catch {
      return '';
    }
  };
  if (!noOrt && !noExport && (!existsSync(onnxPath) || onnxSha() !== stSha)) ensureOnnx();
  if (!noOrt) {
    if (!existsSync(onnxPath)) console.warn(`no ${onnxPath}: run ${EXPORT} (skipping ONNX Runtime)`);
    else {
      const sameWeights = onnxSha() === stSha;
      if (!sameWeights) console.warn(`WARNING: model.onnx was not exported from the weights benchmarked here: run ${EXPORT}`);
      const ortm = await import('onnxruntime-web');
      ortm.env.wasm.numThreads = 1;
      ortm.env.wasm.simd = true;
      const t0 = performance.now();
      const sess = await ortm.InferenceSession.create(readFileSync(onnxPath), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
      const sessionMs = performance.now() - t0;
      const runOrt = async (px: Uint8Array, count: number) => {
        const x = new Float32Array(count * IMAGE_BYTES);
        for (let i = 0; i < x.length; i++) x[i] = px[i] / 255; // the model normalizes inside the graph
        const r = await sess.run({ pixels: new ortm.Tensor('float32', x, [count, 3, 32, 32]) });
        return r.logits.data as Float32Array;
      };
      // same weights: compare with PyTorch's reference logits
      const { reference } = loadReferenceNode();
      let refMaxDiff = 0;
      for (let i = 0; i < Math.min(16, reference.indices.length); i++) {
        const idx = reference.indices[i];
        const y = await runOrt(test.pixels.subarray(idx * IMAGE_BYTES, (idx + 1) * IMAGE_BYTES), 1);
        reference.logits[i].forEach((v, c) => (refMaxDiff = Math.max(refMaxDiff, Math.abs(v - y[c]))));
      }
      const logits = new Float32Array(n * classes);
      const pass = async () => {
        for (let i = 0; i < n; i += BATCH) {
          const b = Math.min(BATCH, n - i);
          logits.set(await runOrt(pixels.subarray(i * IMAGE_BYTES, (i + b) * IMAGE_BYTES), b), i * classes);
        }
      };
      await runOrt(pixels.subarray(0, BATCH * IMAGE_BYTES), Math.min(BATCH, n)); // warm-up
      ortPass = pass;
      ort = { ips: 0, ipsCpu: 0, logits, refMaxDiff, version: ortm.env.versions?.web ?? 'unknown', sessionMs, sameWeights };
      // the quantized yardsticks (tools/train/export_onnx_quant.py): int8 MatMulInteger, 4-bit MatMulNBits
      for (const quant of ['int8', 'int4'] as const) {
        const path = join(modelDir('vit-cifar10'), `model-${quant}.onnx`);
        if (!noExport) ensureOnnxQuant(quant);
        if (!existsSync(path)) {
          console.warn(`no ${path}: run ${EXPORT_Q} --quant ${quant} (skipping this yardstick)`);
          continue;
        }
        const qs = await ortm.InferenceSession.create(readFileSync(path), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
        const ql = new Float32Array(n * classes);
        const qpass = async () => {
          for (let i = 0; i < n; i += BATCH) {
            const b = Math.min(BATCH, n - i);
            const x = new Float32Array(b * IMAGE_BYTES);
            const px = pixels.subarray(i * IMAGE_BYTES, (i + b) * IMAGE_BYTES);
            for (let j = 0; j < x.length; j++) x[j] = px[j] / 255;
            const r = await qs.run({ pixels: new ortm.Tensor('float32', x, [b, 3, 32, 32]) });
            ql.set(r.logits.data as Float32Array, i * classes);
          }
        };
        await qpass(); // warm-up
        ortQuant.push({
          quant,
          pass: qpass,
          logits: ql,
          best: { wall: Infinity, cpu: Infinity },
          scheme: JSON.parse(readFileSync(path + '.json', 'utf8')).scheme as string,
        });
      }
    }
  }

  // --- TypeScript reference forward (context)
  const ref = new VitReference(w);
  const fpPrepared = preparePlan(fp32Plan(), sites, linears);
  const nRef = Math.min(8, n);
  const tRef = cpuSeconds(() => {
    for (let i = 0; i < nRef; i++) ref.forward(pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), fpPrepared);
  });
  const refIps = nRef / tRef.wall;
  console.log(
    `TypeScript reference forward (FP32, ${nRef} images): ${refIps.toFixed(1)} images/s wall, ${(nRef / tRef.cpu).toFixed(1)} per CPU-s\n`,
  );

  // --- timed passes, interleaved (ORT, then each plan, REPS times) so that a change of machine
  // load hits every configuration alike; best pass of each
  const prepared = PLANS.map(([, plan]) => preparePlan(plan, sites, linears));
  const logitsOf: Float32Array[] = PLANS.map(() => new Float32Array(0));
  const best = PLANS.map(() => ({ wall: Infinity, cpu: Infinity }));
  const ortBest = { wall: Infinity, cpu: Infinity };
  const keep = (b: { wall: number; cpu: number }, t: { wall: number; cpu: number }) => {
    b.wall = Math.min(b.wall, t.wall);
    b.cpu = Math.min(b.cpu, t.cpu);
  };
  for (let r = 0; r < REPS; r++) {
    if (ortPass) keep(ortBest, await cpuSecondsAsync(ortPass));
    for (const q of ortQuant) keep(q.best, await cpuSecondsAsync(q.pass));
    for (let p = 0; p < PLANS.length; p++) {
      if (r === 0) vit.forward(prepared[p], pixels.subarray(0, Math.min(BATCH, n) * IMAGE_BYTES), Math.min(BATCH, n), BATCH); // warm-up, packs weights
      keep(
        best[p],
        cpuSeconds(() => (logitsOf[p] = vit.forward(prepared[p], pixels, n, BATCH))),
      );
    }
    console.log(`pass ${r + 1}/${REPS} done`);
  }
  if (ort) {
    ort.ips = n / ortBest.wall;
    ort.ipsCpu = n / ortBest.cpu;
    console.log(
      `ONNX Runtime Web ${ort.version} (wasm, 1 thread): ${ort.ips.toFixed(1)} images/s wall, ${ort.ipsCpu.toFixed(1)} per CPU-s; |Δ| vs PyTorch reference.json ${ort.refMaxDiff.toExponential(2)}`,
    );
  }
  const rows: Record<string, unknown>[] = [];
  const fpLogits = logitsOf[0];
  PLANS.forEach(([name, plan], p) => {
    const logits = logitsOf[p];
    const paths: Record<string, number> = {};
    plan.sites.forEach((s, i) => {
      const path = sitePath(s, sites[i].hasWeight).path;
      paths[path] = (paths[path] ?? 0) + 1;
    });
    let correct = 0;
    let agreeOrt = 0;
    let agreeFp = 0;
    let maxDiffOrt = 0;
    for (let i = 0; i < n; i++) {
      const pr = argmax(logits, i * classes, classes);
      if (pr === test.labels[i]) correct++;
      if (ort && pr === argmax(ort.logits, i * classes, classes)) agreeOrt++;
      if (pr === argmax(fpLogits, i * classes, classes)) agreeFp++;
      if (ort && p === 0)
        for (let c = 0; c < classes; c++)
          maxDiffOrt = Math.max(maxDiffOrt, Math.abs(logits[i * classes + c] - ort.logits[i * classes + c]));
    }
    const ips = n / best[p].wall;
    const ipsCpu = n / best[p].cpu;
    const row = {
      plan: name,
      paths,
      imagesPerSecond: +ips.toFixed(1),
      imagesPerCpuSecond: +ipsCpu.toFixed(1),
      vsOurFp32: +(best[0].wall / best[p].wall).toFixed(2),
      vsOrt: ort ? +(ips / ort.ips).toFixed(2) : null,
      vsOrtCpu: ort ? +(ipsCpu / ort.ipsCpu).toFixed(2) : null,
      vsTypescriptReference: +(ips / refIps).toFixed(1),
      accuracy: +(correct / n).toFixed(4),
      predictionsAgreeWithOrtFp32: ort ? +(agreeOrt / n).toFixed(4) : null,
      predictionsAgreeWithOurFp32: +(agreeFp / n).toFixed(4),
      ...(p === 0 && ort ? { maxLogitDiffVsOrt: +maxDiffOrt.toExponential(2) } : {}),
    };
    rows.push(row);
    console.log(
      `${name.padEnd(56)} ${ips.toFixed(1).padStart(7)} img/s wall ${ipsCpu.toFixed(1).padStart(7)} per CPU-s` +
        (ort ? `   ×${(ips / ort.ips).toFixed(2)} ORT (×${(ipsCpu / ort.ipsCpu).toFixed(2)} per CPU-s)` : '') +
        `   acc ${(100 * row.accuracy).toFixed(1)}%   paths ${Object.entries(paths)
          .map(([k, v]) => `${k}:${v}`)
          .join(' ')}`,
    );
    if (p === 0 && ort)
      console.log(
        `   FP32 vs ONNX Runtime: max |Δlogit| ${maxDiffOrt.toExponential(2)}, predictions agree ${((100 * agreeOrt) / n).toFixed(1)}%`,
      );
  });

  // ONNX Runtime's quantized paths against the plan of ours closest to each
  const yardsticks = ortQuant.map((q) => {
    const ours = PLANS.findIndex(([name]) => name.startsWith(q.quant === 'int8' ? 'W8A8' : 'W4A8')); // -1 when --plans left it out
    const ips = n / q.best.wall;
    let correct = 0;
    let agreeOurs = 0;
    for (let i = 0; i < n; i++) {
      const pr = argmax(q.logits, i * classes, classes);
      if (pr === test.labels[i]) correct++;
      if (ours >= 0 && pr === argmax(logitsOf[ours], i * classes, classes)) agreeOurs++;
    }
    const oursIps = ours >= 0 ? n / best[ours].wall : NaN;
    const row = {
      ort: `ONNX Runtime Web ${ort?.version} ${q.quant} (${q.scheme})`,
      imagesPerSecond: +ips.toFixed(1),
      imagesPerCpuSecond: +(n / q.best.cpu).toFixed(1),
      vsOrtFp32: ort ? +(ips / ort.ips).toFixed(2) : null,
      accuracy: +(correct / n).toFixed(4),
      ours: PLANS[ours]?.[0] ?? null,
      oursOverOrt: +(oursIps / ips).toFixed(2),
      oursOverOrtCpu: ours >= 0 ? +(best[ours].cpu > 0 ? q.best.cpu / best[ours].cpu : NaN).toFixed(2) : null,
      predictionsAgreeWithOurs: ours >= 0 ? +(agreeOurs / n).toFixed(4) : null,
    };
    console.log(
      `${row.ort.slice(0, 56).padEnd(56)} ${ips.toFixed(1).padStart(7)} img/s wall ${row.imagesPerCpuSecond.toFixed(1).padStart(7)} per CPU-s; ours (${row.ours}) ×${row.oursOverOrt} of it (×${row.oursOverOrtCpu} per CPU-s); acc ${(100 * row.accuracy).toFixed(1)}%`,
    );
    return row;
  });

  let pool: Record<string, unknown>[] | null = null;
  if (THREADS > 0) {
    const { VitCpuPool } = await import('../../src/cpu/vitCpuPool');
    const p = await VitCpuPool.create(w, { threads: THREADS, chunk: BATCH });
    pool = [];
    try {
      for (let i = 0; i < PLANS.length; i++) {
        await p.run(prepared[i], pixels.subarray(0, Math.min(n, BATCH * THREADS) * IMAGE_BYTES), Math.min(n, BATCH * THREADS)); // warm-up
        let bestWall = Infinity;
        for (let r = 0; r < REPS; r++) {
          const t = performance.now();
          await p.run(prepared[i], pixels, n);
          bestWall = Math.min(bestWall, (performance.now() - t) / 1000);
        }
        const ips = n / bestWall;
        pool.push({
          plan: PLANS[i][0],
          threads: THREADS,
          imagesPerSecond: +ips.toFixed(1),
          vsOneThread: +(ips / (n / best[i].wall)).toFixed(2),
        });
        console.log(
          `${PLANS[i][0].padEnd(56)} ${ips.toFixed(1).padStart(7)} img/s wall with ${THREADS} worker threads (${cpus().length} cores)`,
        );
      }
    } finally {
      p.dispose();
    }
  }

  if (browser && !noExport) {
    ensureOnnx(); // the weights may have been re-exported by training meanwhile
    ensureOnnxQuant('int8');
    ensureOnnxQuant('int4');
  }
  const chromium = browser
    ? await runPage<unknown>({
        page: 'tools/cli/benchCpu.page.html',
        query: { images: n, batch: BATCH, reps: REPS },
        global: '__benchCpu',
        timeoutMs: 540_000,
        console: (l) => console.log(`  [chromium] ${l}`),
      })
    : null;

  const result = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadAverageAtStart, loadAverageAtEnd: loadavg(), node: process.version },
    note: "one thread each, same process, same images; figures are the best of the timed passes; per-CPU-second figures divide by this process's CPU time (steadier when other processes share the cores)",
    images: n,
    batch: BATCH,
    reps: REPS,
    kernels: { impl: kernels.impl, wasmFeatures: kernels.wasmFeatures ?? null, fallbackReason: kernels.fallbackReason ?? null },
    typescriptReference: { imagesPerSecond: +refIps.toFixed(2), images: nRef },
    onnxRuntimeWeb: ort
      ? {
          version: ort.version,
          backend: 'wasm (SIMD), 1 thread',
          imagesPerSecond: +ort.ips.toFixed(1),
          imagesPerCpuSecond: +ort.ipsCpu.toFixed(1),
          maxLogitDiffVsPytorchReference: +ort.refMaxDiff.toExponential(2),
          sameWeightsAsSafetensors: ort.sameWeights,
          sessionCreateMs: Math.round(ort.sessionMs),
        }
      : null,
    ours: rows,
    onnxRuntimeQuantized: yardsticks,
    workerPool: pool,
    chromium,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${OUT}`);
}

/** Re-exports model.onnx when it was not exported from the current model.safetensors. */
function ensureOnnx(): void {
  const dir = modelDir('vit-cifar10');
  const sha = createHash('sha256')
    .update(readFileSync(join(dir, 'model.safetensors')))
    .digest('hex');
  try {
    if (JSON.parse(readFileSync(join(dir, 'model.onnx.json'), 'utf8')).safetensors_sha256 === sha && existsSync(join(dir, 'model.onnx')))
      return;
  } catch {
    /* no sidecar: export */
  }
  console.log('exporting model.onnx from the current model.safetensors (tools/train/export_onnx.py)…');
  const r = spawnSync('/usr/bin/python3', ['tools/train/export_onnx.py'], {
    env: { ...process.env, LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp', OMP_NUM_THREADS: '1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) console.warn(`export failed (${r.status}): ${r.stderr?.slice(-500)}`);
}

const EXPORT_Q =
  'LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 tools/train/export_onnx_quant.py';

/** Re-exports model-<quant>.onnx when it was not exported from the current model.safetensors. */
function ensureOnnxQuant(quant: 'int8' | 'int4'): void {
  const dir = modelDir('vit-cifar10');
  const sha = createHash('sha256')
    .update(readFileSync(join(dir, 'model.safetensors')))
    .digest('hex');
  try {
    if (
      JSON.parse(readFileSync(join(dir, `model-${quant}.onnx.json`), 'utf8')).safetensors_sha256 === sha &&
      existsSync(join(dir, `model-${quant}.onnx`))
    )
      return;
  } catch {
    /* no sidecar: export */
  }
  console.log(`exporting model-${quant}.onnx (tools/train/export_onnx_quant.py)…`);
  const r = spawnSync('/usr/bin/python3', ['tools/train/export_onnx_quant.py', '--quant', quant], {
    env: { ...process.env, LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp', OMP_NUM_THREADS: '1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) console.warn(`export failed (${r.status}): ${r.stderr?.slice(-500)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
