/**
 * Formats beside INT and the Hadamard rotation on the trained model (CPU backend, WASM kernels):
 * - the rotation leaves the FP32 function unchanged (logits within float rounding, same predictions);
 * - the batched CPU forward and the TypeScript reference forward agree on every format plan;
 * - the rotation lowers the kurtosis of the rotated operands and helps per-tensor INT4.
 * Needs public/models/vit-cifar10 and the prepared CIFAR-10 test set.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataNode, loadWeightsNode } from '../runtime/nodeLoad';
import { fp32Plan, type Plan } from '../plan/plan';
import { formatPlan, rotationStudyPlan, ROTATABLE_SITES, withRotation } from '../plan/presets';
import { IMAGE_BYTES } from '../data/cifar';
import { VitReference } from '../forward/vitRef';
import type { VitWeights } from '../model/vitWeights';
import { isWasmKernels, loadCpuKernels } from '../cpu/cpuKernels';
import { VitCpu } from '../cpu/vitCpu';
import type { Engine } from './engine';
import { outlierStats, rotateRows } from '../quant/hadamard';

const N = 48;
let w: VitWeights;
let pixels: Uint8Array;
let labels: Uint8Array;
let vit: VitCpu;
let ref: VitReference;
let eng: Engine;

beforeAll(async () => {
  const [weights, data] = await Promise.all([loadWeightsNode(), loadDataNode(['test', 'calib'])]);
  w = weights;
  pixels = data.test.pixels.subarray(0, N * IMAGE_BYTES);
  labels = data.test.labels.subarray(0, N);
  const k = await loadCpuKernels();
  if (!isWasmKernels(k)) throw new Error(`wasm kernels unavailable: ${k.fallbackReason}`);
  vit = new VitCpu(w, k);
  ref = new VitReference(w);
  const { Engine, ReferenceBackend } = await import('./engine');
  eng = new Engine(w, data, new ReferenceBackend(w), k);
}, 60_000);

const classes = () => w.config.classes;
function argmax(l: Float32Array, i: number): number {
  let b = 0;
  for (let c = 1; c < classes(); c++) if (l[i * classes() + c] > l[i * classes() + b]) b = c;
  return b;
}
function run(plan: Plan): Float32Array {
  return vit.forward(eng.prepare(plan), pixels, N, 8);
}

describe('Hadamard rotation (QuaRot-style)', () => {
  it('FP32 with the rotation at all 18 to_qkv/fc1/fc2 sites: logits equal to FP32 within float rounding, same predictions', () => {
    const base = run(fp32Plan());
    const rot = run(withRotation(fp32Plan(), 7));
    let maxDiff = 0;
    let maxLogit = 0;
    for (let i = 0; i < base.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(base[i] - rot[i]));
      maxLogit = Math.max(maxLogit, Math.abs(base[i]));
    }
    let same = 0;
    let correctBase = 0;
    let correctRot = 0;
    for (let i = 0; i < N; i++) {
      same += +(argmax(base, i) === argmax(rot, i));
      correctBase += +(argmax(base, i) === labels[i]);
      correctRot += +(argmax(rot, i) === labels[i]);
    }
    console.log(
      `rotation, FP32: max |Δlogit| = ${maxDiff.toExponential(2)} (max |logit| ${maxLogit.toFixed(2)}), ${same}/${N} same predictions, accuracy ${correctBase} vs ${correctRot}`,
    );
    expect(maxDiff).toBeLessThan(1e-3);
    expect(maxDiff).toBeGreaterThan(0); // the rotation did run (float rounding differs)
    expect(same).toBe(N);
    expect(correctRot).toBe(correctBase);
  }, 120_000);

  it('the rotation lowers the kurtosis and max/σ of the to_qkv inputs (γ-free LayerNorm output) and fc2 inputs', () => {
    const prepared = eng.prepare(withRotation(fp32Plan(), 7));
    const hooks = new Map<number, Float32Array>();
    ref.forward(pixels.subarray(0, IMAGE_BYTES), prepared, {
      operands: (site, a) => {
        hooks.set(site, a.slice());
      },
    });
    expect(hooks.size).toBeGreaterThan(0);
    for (const site of ROTATABLE_SITES) {
      const a = hooks.get(site)!;
      const k = prepared.sites[site].info.k;
      const before = outlierStats(a);
      const after = outlierStats(rotateRows(a, a.length / k, k, prepared.sites[site].rotation!.signs));
      expect(after.kurtosis, `site ${site}`).toBeLessThan(before.kurtosis);
    }
  });

  it('per-tensor INT4 at the 18 sites: the rotation raises the agreement with FP32', () => {
    const base = run(fp32Plan());
    const agree = (l: Float32Array) => Array.from({ length: N }, (_, i) => +(argmax(l, i) === argmax(base, i))).reduce((a, b) => a + b, 0);
    const plain = agree(run(rotationStudyPlan('int4-tensor', false)));
    const rot = agree(run(rotationStudyPlan('int4-tensor', true)));
    console.log(`INT4 per-tensor at to_qkv/fc1/fc2: ${plain}/${N} agree with FP32 unrotated, ${rot}/${N} rotated`);
    expect(rot).toBeGreaterThan(plain);
  }, 120_000);
});

describe('format plans: batched CPU forward = TypeScript reference forward', () => {
  for (const fmt of ['fp8_e4m3', 'fp8_e5m2', 'mxfp8', 'mxfp4', 'nvfp4', 'nf4'] as const) {
    it(fmt, () => {
      const prepared = eng.prepare(formatPlan(fmt));
      const n = 3;
      const got = vit.forward(prepared, pixels, n, 3);
      let maxDiff = 0;
      for (let i = 0; i < n; i++) {
        const want = ref.forward(pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), prepared);
        for (let c = 0; c < classes(); c++) maxDiff = Math.max(maxDiff, Math.abs(got[i * classes() + c] - want[c]));
      }
      // the CPU backend runs the same definition (siteQuant.ts) with WASM GEMMs: summation order only,
      // which can move a value across a rounding boundary of a 4-bit grid
      expect(maxDiff).toBeLessThan(fmt === 'fp8_e4m3' || fmt === 'mxfp8' || fmt === 'nf4' ? 0.1 : 0.3);
      expect(prepared.sites.every((s) => s.path.path !== 'int8-gemm' && s.path.path !== 'int4-gemm')).toBe(true);
    }, 120_000);
  }
});
