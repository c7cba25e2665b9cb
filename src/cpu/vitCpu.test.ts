/**
 * The batched WASM forward (vitCpu.ts) against the plain-TypeScript reference forward (vitRef.ts)
 * on the trained model: same plan, same per-site quantization, logits within a tolerance and the
 * same predictions. Needs public/models/vit-cifar10 and the prepared CIFAR-10 test set.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataNode, loadWeightsNode } from '../runtime/nodeLoad';
import { defaultHasWeight, fp32Plan, type Plan, type SiteScheme, uniformPlan } from '../plan/plan';
import { preparePlan } from '../plan/siteQuant';
import { IMAGE_BYTES } from '../data/cifar';
import { siteLinears, VitReference } from '../forward/vitRef';
import type { VitWeights } from '../model/vitWeights';
import { isWasmKernels, loadCpuKernels } from './cpuKernels';
import { VitCpu, VitCpuBackend } from './vitCpu';

const N_IMAGES = 6;
const W8A8: SiteScheme = {
  a: { bits: 8, granularity: 'token', symmetric: false, range: 'dynamic' },
  b: { bits: 8, granularity: 'channel', symmetric: true, range: 'dynamic' },
};
const W8A8_TENSOR: SiteScheme = {
  a: { bits: 8, granularity: 'tensor', symmetric: false, range: 'dynamic' },
  b: { bits: 8, granularity: 'tensor', symmetric: false, range: 'dynamic' },
};
const W4A8_GROUP: SiteScheme = {
  a: { bits: 8, granularity: 'token', symmetric: false, range: 'dynamic' },
  b: { bits: 4, granularity: 'group', groupSize: 32, symmetric: true, range: 'dynamic' },
};
const WEIGHT_ONLY_INT4: SiteScheme = {
  a: { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' },
  b: { bits: 4, granularity: 'channel', symmetric: true, range: 'dynamic' },
};
const FAKE_A4: SiteScheme = {
  a: { bits: 4, granularity: 'token', symmetric: false, range: 'dynamic' },
  b: { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' },
};

function llmInt8Plan(): Plan {
  const p = uniformPlan(W8A8);
  p.sites.forEach((s, i) => {
    if (defaultHasWeight(i)) s.llmInt8 = { threshold: 6 };
  });
  return p;
}

// [name, plan, max |Δlogit|]: FP32 differs by float32 summation order only; in a quantized plan that
// order can move a value across a rounding boundary of the grid (one step of one integer), so the
// bound is looser. Training re-exports the weights each epoch: the bounds hold across checkpoints.
const CASES: [string, Plan, number][] = [
  ['FP32', fp32Plan(), 2e-3],
  ['W8A8 per-token × per-channel', uniformPlan(W8A8), 6e-2],
  ['W8A8 per-tensor asymmetric (per image)', uniformPlan(W8A8_TENSOR), 6e-2],
  ['W4A8 per-group 32', uniformPlan(W4A8_GROUP), 1.2e-1],
  ['INT4 weight-only', uniformPlan(WEIGHT_ONLY_INT4), 2e-3],
  ['LLM.int8 on weight sites (per-image slow path)', llmInt8Plan(), 6e-2],
  ['A4 fake-quant (4-bit probabilities: near-chaotic)', uniformPlan(FAKE_A4), 6e-1],
];

let w: VitWeights;
let pixels: Uint8Array;
let vit: VitCpu;
let ref: VitReference;

beforeAll(async () => {
  const [weights, data] = await Promise.all([loadWeightsNode(), loadDataNode(['test'])]);
  w = weights;
  pixels = data.test.pixels.subarray(0, N_IMAGES * IMAGE_BYTES);
  const k = await loadCpuKernels();
  if (!isWasmKernels(k)) throw new Error(`wasm kernels unavailable: ${k.fallbackReason}`);
  vit = new VitCpu(w, k);
  ref = new VitReference(w);
}, 60_000);

describe('VitCpu (WASM, batched) vs VitReference', () => {
  it.each(CASES)('%s: logits within tolerance, same predictions', (_name, plan, tol) => {
    const prepared = preparePlan(plan, ref.sites, siteLinears(w));
    const classes = w.config.classes;
    const got = vit.forward(prepared, pixels, N_IMAGES, 4); // chunk 4: exercises a partial batch
    let maxDiff = 0;
    for (let i = 0; i < N_IMAGES; i++) {
      const want = ref.forward(pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), prepared);
      const g = got.subarray(i * classes, (i + 1) * classes);
      for (let c = 0; c < classes; c++) maxDiff = Math.max(maxDiff, Math.abs(g[c] - want[c]));
      // same prediction, unless the reference's top-2 gap is within the tolerance (a near tie)
      const sorted = Array.from(want).sort((p, q) => q - p);
      if (sorted[0] - sorted[1] > 2 * tol) expect(g.indexOf(Math.max(...g))).toBe(want.indexOf(Math.max(...want)));
    }
    console.log(`${_name}: max |Δlogit| = ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThan(tol);
  });

  it('LayerNorm+quantization fusion changes no number', () => {
    for (const scheme of [W8A8, W4A8_GROUP]) {
      const prepared = preparePlan(uniformPlan(scheme), ref.sites, siteLinears(w));
      vit.fuseLayerNormQuant = false;
      const plain = vit.forward(prepared, pixels, N_IMAGES);
      vit.fuseLayerNormQuant = true;
      expect(vit.forward(prepared, pixels, N_IMAGES)).toEqual(plain);
    }
  });

  it('a plan probes the dot route of the integer kernels it packs, and only those', async () => {
    const k = await loadCpuKernels();
    if (!isWasmKernels(k)) throw new Error('wasm kernels needed');
    const v = new VitCpu(w, k);
    const run = (scheme?: SiteScheme) =>
      v.forward(preparePlan(scheme ? uniformPlan(scheme) : fp32Plan(), ref.sites, siteLinears(w)), pixels, 1);
    run();
    expect(k.knownDotRoutes()).toEqual({ w4a8: undefined, w8a8: undefined }); // FP32 pays no probe
    run(W8A8);
    expect(k.knownDotRoutes().w8a8?.reason).toMatch(/measured|different results/);
    expect(k.knownDotRoutes().w4a8).toBeUndefined();
    run(W4A8_GROUP);
    expect(k.knownDotRoutes().w4a8?.reason).toMatch(/measured|different results/);
    // the routes' arithmetic over whole plans: dotRoutes.test.ts (optimizing tier only)
  });

  it('LLM.int8(): images with the same outlier columns run as one matrix, same numbers as one by one', () => {
    const prepared = preparePlan(llmInt8Plan(), ref.sites, siteLinears(w));
    const before = { ...vit.slowMatrices };
    const stacked = vit.forward(prepared, pixels, N_IMAGES, N_IMAGES);
    const images = vit.slowMatrices.images - before.images;
    const matrices = vit.slowMatrices.matrices - before.matrices;
    console.log(`LLM.int8(): ${images} image operands ran as ${matrices} matrices`);
    expect(matrices).toBeLessThan(images); // grouping happened
    expect(matrices).toBeGreaterThan(images / N_IMAGES); // and not all images in one group regardless of mask
    expect(stacked).toEqual(vit.forward(prepared, pixels, N_IMAGES, 1));
  });

  it('backend: batched run equals image-by-image run', async () => {
    const k = await loadCpuKernels();
    const be = new VitCpuBackend(w, k, 'test');
    const prepared = preparePlan(uniformPlan(W8A8), ref.sites, siteLinears(w));
    const all = await be.run(prepared, pixels, N_IMAGES);
    const one = vit.forward(prepared, pixels, N_IMAGES, 1);
    expect(all).toEqual(one); // per-image ranges: batching changes nothing
    expect(be.info.label).toMatch(/WASM SIMD/);
  });
});

describe('VitCpuPool (worker threads)', () => {
  it('2 workers give the same logits as the single-thread forward', async () => {
    const { VitCpuPool } = await import('./vitCpuPool');
    const pool = await VitCpuPool.create(w, { threads: 2, chunk: 2 });
    try {
      const prepared = preparePlan(uniformPlan(W4A8_GROUP), ref.sites, siteLinears(w));
      let progress = 0;
      const got = await pool.run(prepared, pixels, N_IMAGES, { onProgress: (d) => (progress = d) });
      expect(got).toEqual(vit.forward(prepared, pixels, N_IMAGES));
      expect(progress).toBe(N_IMAGES);
      expect(pool.info.label).toMatch(/2 workers/);
    } finally {
      pool.dispose();
    }
  }, 60_000);
});

describe('SmoothQuant on the CPU backend', () => {
  it('folded into the LayerNorm (fast integer path) and at run time: same logits as the reference', async () => {
    const { Engine, ReferenceBackend } = await import('../engine/engine');
    const P = await import('../plan/presets');
    const data = await loadDataNode(['test', 'calib']);
    const eng = new Engine(w, data, new ReferenceBackend(w), vit.kernels);
    const classes = w.config.classes;
    for (const [name, plan] of [
      ['folded α=0.5', P.smoothQuant(0.5, 8)],
      ['folded + run-time at every other weight site', P.smoothQuant(0.5, 8, 'runtime-all')],
    ] as const) {
      const prepared = eng.prepare(plan);
      expect(prepared.sites[1].lnFold, name).toBeDefined();
      const got = vit.forward(prepared, pixels, N_IMAGES, 4);
      let maxDiff = 0;
      for (let i = 0; i < N_IMAGES; i++) {
        const want = ref.forward(pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), prepared);
        for (let c = 0; c < classes; c++) maxDiff = Math.max(maxDiff, Math.abs(got[i * classes + c] - want[c]));
      }
      console.log(`SmoothQuant ${name}: max |Δlogit| = ${maxDiff.toExponential(2)}`);
      expect(maxDiff).toBeLessThan(6e-2);
    }
  }, 120_000);
});
