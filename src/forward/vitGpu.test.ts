import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { loadDataNode, loadReferenceNode, loadWeightsNode } from '../runtime/nodeLoad';
import { fp32Plan, validatePlan } from '../plan/plan';
import * as P from '../plan/presets';
import { type PreparedPlan, preparePlan } from '../plan/siteQuant';
import { IMAGE_BYTES } from '../data/cifar';
import type { VitWeights } from '../model/vitWeights';
import { siteLinears, VitReference } from './vitRef';
import { VitGpu } from './vitGpu';
import type { EngineData } from '../engine/engine';

// The WebGPU forward (SwiftShader here) against PyTorch's logits and the TypeScript reference.
let ctx: GpuContext;
let w: VitWeights;
let data: EngineData;
beforeAll(async () => {
  [ctx, w, data] = await Promise.all([nodeGpuContext(), loadWeightsNode(), loadDataNode(['test'])]);
});
afterAll(() => ctx?.destroy());

const IMAGES = 4;

describe('ViT forward on WebGPU', () => {
  it('FP32 logits within 1e-3 of PyTorch (reference.json)', async () => {
    const { reference } = loadReferenceNode();
    const vit = new VitGpu(ctx, w, IMAGES);
    const ref = new VitReference(w);
    const plan = preparePlan(fp32Plan(), ref.sites, siteLinears(w));
    const y = await vit.compiled(plan, IMAGES).run(data.test.pixels.subarray(0, IMAGES * IMAGE_BYTES), IMAGES);
    let maxDiff = 0;
    for (let i = 0; i < IMAGES; i++)
      for (let c = 0; c < 10; c++) maxDiff = Math.max(maxDiff, Math.abs(y[i * 10 + c] - reference.logits[i][c]));
    expect(maxDiff).toBeLessThan(1e-3);
    vit.destroy();
  });

  // stable plans: WebGPU and the CPU reference agree closely (science.md §7)
  it.each([
    ['W8A8 per-token (integer GEMMs, fused LayerNorm quantization)', () => P.w8a8PerToken()],
    ['W4A8 group 32 (int4 GEMM)', () => P.w4a8Group(32)],
    ['INT8 per-tensor asymmetric, note-004 style', () => P.allNote004(8)],
    ['SmoothQuant α=0.5 W8A8 per-tensor', () => P.smoothQuant(0.5, 8)],
    ['weight-only W4 RTN', () => P.weightOnly(4, 'channel', false)],
    [
      'fake-quant: INT8 activations × FP32 weights',
      () => P.plan('A8 only', (_i, hasW) => (hasW ? { a: P.op(8, 'token', false), b: P.op(32) } : { a: P.op(32), b: P.op(32) })),
    ],
  ])('%s ≈ CPU reference', async (_name, build) => {
    const ref = new VitReference(w);
    const plan = validatePlan(build());
    let prepared: PreparedPlan;
    if (plan.sites.some((s) => s.smoothquant)) {
      // SmoothQuant folds into the LayerNorms: the engine prepares it (calibration on 4 images, cached)
      const { Engine, ReferenceBackend } = await import('../engine/engine');
      const eng = new Engine(w, { test: data.test, calib: (await loadDataNode(['calib'])).calib }, new ReferenceBackend(w));
      eng.getCalibration(4);
      prepared = eng.prepare(plan);
      expect(prepared.sites[1].lnFold).toBeDefined();
    } else prepared = preparePlan(plan, ref.sites, siteLinears(w));
    const vit = new VitGpu(ctx, w, IMAGES);
    const y = await vit.compiled(prepared, IMAGES).run(data.test.pixels.subarray(0, IMAGES * IMAGE_BYTES), IMAGES);
    let maxDiff = 0;
    let scale = 0;
    for (let i = 0; i < IMAGES; i++) {
      const r = ref.forward(data.test.pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), prepared);
      for (let c = 0; c < 10; c++) {
        maxDiff = Math.max(maxDiff, Math.abs(y[i * 10 + c] - r[c]));
        scale = Math.max(scale, Math.abs(r[c]));
      }
    }
    // float rounding (LayerNorm, summation order) can move a value across a rounding boundary of the
    // quantizer, so a few logits differ by more than float noise: bound the effect relative to the logits
    expect(maxDiff).toBeLessThan(0.05 * Math.max(1, scale));
    vit.destroy();
  });

  it('a scheme the kernels do not cover is refused with a reason (the backend then runs it on the CPU)', () => {
    const ref = new VitReference(w);
    const vit = new VitGpu(ctx, w, IMAGES);
    const only = P.plan('A8 on q·kᵀ only', (i) => (i === 2 ? { a: P.op(8), b: P.op(32) } : { a: P.op(32), b: P.op(32) }));
    expect(() => vit.compiled(preparePlan(validatePlan(only), ref.sites, siteLinears(w)), IMAGES)).toThrow(
      /site 2: .*both operands or neither/,
    );
    vit.destroy();
  });
});
