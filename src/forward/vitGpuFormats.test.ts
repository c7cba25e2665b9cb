import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { loadDataNode, loadWeightsNode } from '../runtime/nodeLoad';
import { type Plan } from '../plan/plan';
import * as P from '../plan/presets';
import { preparePlan } from '../plan/siteQuant';
import { IMAGE_BYTES } from '../data/cifar';
import type { VitWeights } from '../model/vitWeights';
import { siteLinears, VitReference } from './vitRef';
import { UnsupportedOnWebGpu, VitGpu } from './vitGpu';
import type { EngineData } from '../engine/engine';

// Weight formats decode (by code book) into the weights once and run on the existing WebGPU GEMMs;
// activation formats and the rotation are refused with a reason (the backend runs them on the CPU).
let ctx: GpuContext;
let w: VitWeights;
let data: EngineData;
beforeAll(async () => {
  [ctx, w, data] = await Promise.all([nodeGpuContext(), loadWeightsNode(), loadDataNode(['test'])]);
});
afterAll(() => ctx?.destroy());
const IMAGES = 4;

describe('formats on WebGPU', () => {
  const wAct = (a: Plan['sites'][number]['a'], fmt: 'mxfp4' | 'nf4' | 'nvfp4'): Plan =>
    P.plan(`A ${a.bits} × W ${fmt}`, (_i, hw) =>
      hw ? { a, b: P.fmtOp(fmt) } : { a: P.op(32, 'tensor', true), b: P.op(32, 'tensor', true) },
    );
  for (const [name, plan] of [
    ['W-NF4 (weight-only, FP32 GEMM)', P.formatPlan('nf4')],
    ['A INT8 per-token × W MXFP4 (fake-quant A, decoded W)', wAct(P.op(8, 'token', false), 'mxfp4')],
    ['W-NVFP4 weight-only', wAct(P.op(32, 'tensor', true), 'nvfp4')],
  ] as const) {
    it(`${name}: WebGPU logits = TypeScript reference`, async () => {
      const ref = new VitReference(w);
      const prepared = preparePlan(plan, ref.sites, siteLinears(w));
      const vit = new VitGpu(ctx, w, IMAGES);
      const y = await vit.compiled(prepared, IMAGES).run(data.test.pixels.subarray(0, IMAGES * IMAGE_BYTES), IMAGES);
      const c = w.config.classes;
      let maxDiff = 0;
      for (let i = 0; i < IMAGES; i++) {
        const r = ref.forward(data.test.pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), prepared);
        for (let j = 0; j < c; j++) maxDiff = Math.max(maxDiff, Math.abs(y[i * c + j] - r[j]));
      }
      expect(maxDiff).toBeLessThan(plan.sites[1].a.bits === 32 ? 2e-3 : 0.1);
      vit.destroy();
    }, 120_000);
  }
  it('an activation format or the rotation is refused with a reason', () => {
    const ref = new VitReference(w);
    const vit = new VitGpu(ctx, w, IMAGES);
    for (const plan of [P.formatPlan('fp8_e4m3'), P.withRotation(P.fp32())]) {
      const prepared = preparePlan(plan, ref.sites, siteLinears(w), undefined, {
        layerNorm: (i: number) => (i % 6 === 1 ? w.blocks[((i - 1) / 6) | 0].ln1 : w.blocks[((i - 1) / 6) | 0].ln2),
      } as never);
      expect(() => vit.compiled(prepared, IMAGES)).toThrow(UnsupportedOnWebGpu);
      expect(() => vit.compiled(prepared, IMAGES)).toThrow(/CPU backend only/);
    }
    vit.destroy();
  });
});
