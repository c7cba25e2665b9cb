import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataNode, loadWeightsNode } from '../runtime/nodeLoad';
import { Engine, ReferenceBackend } from './engine';
import { type Backend } from '../plan/backend';
import { createWebGpuBackend } from '../runtime/webgpuBackendFactory';
import { nodeGpu } from '../gpu/nodeGpu';
import * as P from '../plan/presets';

// Per-site statistics captured and measured on the GPU (the operands gathered on the device, the stats
// kernels run on them in place) equal the CPU reference's (science.md: one image).
let cpu: Engine;
let gpu: Engine;
let backend: Backend;
beforeAll(async () => {
  const [w, data] = await Promise.all([loadWeightsNode(), loadDataNode(['test', 'calib'])]);
  cpu = new Engine(w, data, new ReferenceBackend(w));
  backend = await createWebGpuBackend(w, 'test', () => undefined, nodeGpu());
  gpu = new Engine(w, data, backend);
});
afterAll(() => backend?.dispose());

describe('site statistics: WebGPU capture + stats kernels vs CPU', () => {
  it.each([
    [0, 'patch embedding'],
    [5, 'fc1 (LayerNorm-fused quantization)'],
    [8, 'q·kᵀ'],
    [9, 'attn·v'],
    [10, 'to_out'],
    [37, 'head'],
  ])('site %i (%s): FP32 operands, then W8A8 output error', async (site) => {
    // FP32 upstream: the captured operands agree to float noise (a quantized upstream may move
    // values across rounding boundaries, science.md §7)
    const plan = P.fp32();
    const [c, g] = [await cpu.siteStats(plan, site, 'test', 3), await gpu.siteStats(plan, site, 'test', 3)];
    // A is measured where the forward left it (on the GPU, nothing uploaded); a weight site's B where the weights live
    expect(g.device).toBe(site === 8 || site === 9 ? 'WebGPU' : 'WebGPU (A), CPU (B)');
    expect(c.device).toBe('CPU');
    for (const role of ['a', 'b'] as const) {
      const x = c[role];
      const y = g[role];
      expect([y.rows, y.cols]).toEqual([x.rows, x.cols]);
      const tol = 1e-4 * Math.max(1, x.absmax);
      expect(Math.abs(y.min - x.min)).toBeLessThan(tol);
      expect(Math.abs(y.max - x.max)).toBeLessThan(tol);
      expect(Math.abs(y.mean - x.mean)).toBeLessThan(tol);
      expect(Math.abs(y.std - x.std)).toBeLessThan(tol);
      expect(Math.abs(y.beyond6Sigma - x.beyond6Sigma)).toBeLessThanOrEqual(2 / (x.rows * x.cols));
      const total = (h: number[]) => h.reduce((a, b) => a + b, 0);
      expect(total(y.histogram.counts)).toBe(x.rows * x.cols);
      for (let i = 0; i < x.rowMax.length; i++) expect(Math.abs(y.rowMax[i] - x.rowMax[i])).toBeLessThan(tol);
      for (let i = 0; i < x.colAbsMax.length; i++) expect(Math.abs(y.colAbsMax[i] - x.colAbsMax[i])).toBeLessThan(tol);
    }
    const q = P.w8a8PerToken();
    const [cq, gq] = [await cpu.siteStats(q, site, 'test', 3), await gpu.siteStats(q, site, 'test', 3)];
    // deeper sites see upstream quantization that differs at rounding boundaries: looser there
    expect(Math.abs(gq.outputSqnrDb - cq.outputSqnrDb)).toBeLessThan(site > 30 ? 4 : 1);
    expect(gq.quant.a?.qmax).toBe(255);
  });
  it('rejects an image out of range', async () => {
    await expect(gpu.siteStats(P.fp32(), 1, 'test', 99999)).rejects.toThrow(/out of range/);
  });
});
