/**
 * The WebGPU trainer (TF.js lowering of the step list + its autodiff + the LSQ custom gradient)
 * against PyTorch autograd on the fixture of qat.torch.test.ts (tools/ref/make_qat_fixture.py: LSQ
 * from Esser et al. 2020 / LSQ+, the ViT of tools/train/vit.py) — loss, logits, ∂ every parameter,
 * ∂s and ∂z of every quantizer on a mixed plan (per-tensor, per-channel, per-group, 2–8 bits) —
 * on TF.js's CPU backend and on its WebGPU backend (Dawn over SwiftShader in Node); then a few
 * AdamW steps against the WASM trainer's (TypeScript kernels) on the same batches, progressive
 * switch included; a run resumed from a snapshot (Adam moments included) against the uninterrupted one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fixture from './fixtures/qat_torch.json';
import type { Plan } from '../plan/plan';
import { fixtureWeights } from './fixtures/fixtureWeights';
import { tsTrainKernels } from './trainKernels';
import { DEFAULT_QAT, QatTrainer, TrainingDiverged, uniformStream } from './trainer';
import { type Tf, TfQatEngine } from './tfTrainer';
import { tfInNode } from './tfNode';

/** max |got − want| / max |want| over the tensor (see qat.torch.test.ts) */
function normwiseError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return scale === 0 ? err : err / scale;
}

const pixels = Uint8Array.from(fixture.pixels);
const labels = fixture.labels;
const idx = labels.map((_, i) => i);

for (const backend of ['cpu', 'webgpu'] as const) {
  describe(`TF.js trainer on its ${backend} backend`, () => {
    let tf: Tf | undefined;
    let why = '';
    beforeAll(async () => {
      const r = await tfInNode(backend);
      if ('reason' in r) why = r.reason;
      else tf = r.tf;
    }, 60_000);
    afterAll(() => tf?.disposeVariables());
    const need = (): Tf => {
      if (!tf) throw new Error(`cannot run: ${why}`);
      return tf;
    };

    it('mixed INT plan = PyTorch autograd: loss, logits, ∂ every parameter, ∂s and ∂z of every quantizer', async () => {
      const c = fixture.mixed;
      const tr = new QatTrainer(fixtureWeights(c), c.plan as unknown as Plan, tsTrainKernels);
      tr.calibrate(pixels, labels.length);
      const eng = new TfQatEngine(need(), tr);
      const r = await eng.lossAndGrads(pixels, labels, idx);
      expect(Math.abs(r.loss - c.loss)).toBeLessThan(1e-4);
      expect(normwiseError(r.logits, c.logits.flat())).toBeLessThan(1e-4);
      const worst = { param: 0, s: 0, z: 0 };
      for (const n of Object.keys(c.grads)) {
        const e = normwiseError(r.grads.get(n)!, (c.grads as Record<string, number[]>)[n]);
        worst.param = Math.max(worst.param, e);
        expect(e, n).toBeLessThan(backend === 'cpu' ? 1e-5 : 1e-3);
      }
      const quant = c.quant as Record<string, { ds: number[]; dz: number[]; z: number[] }>;
      for (const [k, want] of Object.entries(quant)) {
        const es = normwiseError(r.grads.get(`q:${k}:s`)!, want.ds);
        worst.s = Math.max(worst.s, es);
        expect(es, `∂s ${k}`).toBeLessThan(backend === 'cpu' ? 2e-4 : 2e-3);
        if (tr.quantizers.get(k)!.learnsZero) {
          const ez = normwiseError(r.grads.get(`q:${k}:z`)!, want.dz);
          worst.z = Math.max(worst.z, ez);
          expect(ez, `∂z ${k}`).toBeLessThan(backend === 'cpu' ? 2e-5 : 2e-3);
        }
      }
      console.log(`[tf ${backend}] max normwise errors vs PyTorch: ${JSON.stringify(worst)}`);
      eng.dispose();
    }, 120_000);

    it('one AdamW step on the device: x·(1 − lr·wd) − lr·m̂/(√v̂ + ε) from its own gradients, s kept ≥ 1e-8', async () => {
      const c = fixture.mixed;
      const tr = new QatTrainer(fixtureWeights(c), c.plan as unknown as Plan, tsTrainKernels, {
        ...DEFAULT_QAT,
        lrWeights: 1e-3,
        lrQuant: 2e-3,
      });
      tr.calibrate(pixels, labels.length);
      const eng = new TfQatEngine(need(), tr);
      const rnd = () => 0.5; // crop offset 0, no flip: the same patches as lossAndGrads
      const before = new Map([...tr.params].map(([k, v]) => [k, v.slice()]));
      const s0 = new Map([...tr.quantizers].map(([k, q]) => [k, q.s.slice()]));
      const g = await eng.lossAndGrads(pixels, labels, idx);
      await eng.trainStep(pixels, labels, idx, rnd);
      await eng.pull();
      // at t = 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε)
      const expectStep = (x0: number, gi: number, lr: number, wd: number) => x0 * (1 - lr * wd) - (lr * gi) / (Math.abs(gi) + 1e-8);
      let worst = 0;
      for (const [n, x0] of before) {
        const gi = g.grads.get(n)!;
        const x1 = tr.params.get(n)!;
        for (let i = 0; i < x0.length; i++)
          if (Math.abs(gi[i]) > 1e-5) worst = Math.max(worst, Math.abs(x1[i] - expectStep(x0[i], gi[i], 1e-3, DEFAULT_QAT.weightDecay)));
      }
      expect(worst).toBeLessThan(2e-6);
      for (const [k, q] of tr.quantizers) {
        const gs = g.grads.get(`q:${k}:s`)!;
        for (let j = 0; j < q.groups; j++)
          if (Math.abs(gs[j]) > 1e-5)
            expect(q.s[j], `s ${k}[${j}]`).toBeCloseTo(Math.max(1e-8, expectStep(s0.get(k)![j], gs[j], 2e-3, 0)), 5);
      }
      eng.dispose();
    }, 120_000);

    it('a progressive 4 → 2 run follows the WASM trainer step by step (same batches, switch, cosine schedule)', async () => {
      const c = fixture.mixed;
      const opts = { ...DEFAULT_QAT, progressive: { from: 4, to: 2, at: 2 }, schedule: { kind: 'cosine' as const, steps: 4 } };
      const a = new QatTrainer(fixtureWeights(c), c.plan as unknown as Plan, tsTrainKernels, opts);
      const b = new QatTrainer(fixtureWeights(c), c.plan as unknown as Plan, tsTrainKernels, opts);
      a.calibrate(pixels, labels.length);
      b.calibrate(pixels, labels.length);
      const eng = new TfQatEngine(need(), b);
      for (let s = 0; s < 4; s++) {
        const ra = a.trainStep(pixels, labels, idx, uniformStream(10 + s));
        const rb = await eng.trainStep(pixels, labels, idx, uniformStream(10 + s));
        expect(rb.step).toBe(ra.step);
        expect(rb.switchedSites, `sites at 2 bits after step ${ra.step}`).toBe(ra.switchedSites);
        expect(rb.bits).toBe(ra.bits);
        // Adam's first steps move a parameter with a near-zero gradient by ±lr whichever its sign: two
        // float orders can differ there, so the losses are compared loosely after the first
        expect(Math.abs(rb.loss - ra.loss), `loss at step ${ra.step}`).toBeLessThan(s === 0 ? 2e-4 : 0.05);
      }
      await eng.pull();
      for (const [k, q] of a.quantizers) {
        expect(b.quantizers.get(k)!.qmax, k).toBe(q.qmax);
        expect(normwiseError(b.quantizers.get(k)!.s, q.s), `s ${k}`).toBeLessThan(0.05);
      }
      eng.dispose();
    }, 120_000);

    it('distillation: the same loss and gradients as the WASM trainer (teacher = the FP32 model on the device)', async () => {
      const c = fixture.mixed;
      const opts = { ...DEFAULT_QAT, distill: true };
      const tr = new QatTrainer(fixtureWeights(c), c.plan as unknown as Plan, tsTrainKernels, opts);
      tr.calibrate(pixels, labels.length);
      const host = tr.lossAndGrads(pixels, labels, idx);
      const plain = new QatTrainer(fixtureWeights(c), c.plan as unknown as Plan, tsTrainKernels);
      plain.calibrate(pixels, labels.length);
      expect(Math.abs(host.loss - plain.lossAndGrads(pixels, labels, idx).loss)).toBeGreaterThan(1e-3); // the teacher term is there
      const eng = new TfQatEngine(need(), tr);
      const dev = await eng.lossAndGrads(pixels, labels, idx);
      expect(Math.abs(dev.loss - host.loss)).toBeLessThan(backend === 'cpu' ? 1e-5 : 1e-4);
      for (const p of tr.model.params)
        expect(normwiseError(dev.grads.get(p.name)!, host.tape.grads.get(p.name)!), p.name).toBeLessThan(backend === 'cpu' ? 1e-5 : 1e-3);
      eng.dispose();
    }, 120_000);

    it('resume: a snapshot after 2 steps, restored into a new trainer and engine with its Adam moments, continues as the uninterrupted run', async () => {
      const c = fixture.mixed;
      const opts = { ...DEFAULT_QAT, schedule: { kind: 'cosine' as const, steps: 4 } };
      const trainer = () => {
        const t = new QatTrainer(fixtureWeights(c), c.plan as unknown as Plan, tsTrainKernels, opts);
        t.calibrate(pixels, labels.length);
        return t;
      };
      const a = trainer();
      const ea = new TfQatEngine(need(), a);
      const b = trainer();
      const eb = new TfQatEngine(need(), b);
      for (let s = 0; s < 2; s++) {
        await ea.trainStep(pixels, labels, idx, uniformStream(20 + s));
        await eb.trainStep(pixels, labels, idx, uniformStream(20 + s));
      }
      const state = await eb.snapshot();
      eb.dispose();
      const r = trainer();
      r.restore(state);
      const er = new TfQatEngine(need(), r);
      er.loadAdam(state.adam);
      const tol = backend === 'cpu' ? 1e-6 : 1e-5;
      for (let s = 2; s < 4; s++) {
        const ra = await ea.trainStep(pixels, labels, idx, uniformStream(20 + s));
        const rr = await er.trainStep(pixels, labels, idx, uniformStream(20 + s));
        expect(rr.step).toBe(ra.step);
        expect(Math.abs(rr.loss - ra.loss), `loss at step ${ra.step}`).toBeLessThan(tol);
      }
      await ea.pull();
      await er.pull();
      for (const [k, v] of a.params) expect(normwiseError(r.params.get(k)!, v), k).toBeLessThan(tol);
      for (const [k, q] of a.quantizers) expect(normwiseError(r.quantizers.get(k)!.s, q.s), `s ${k}`).toBeLessThan(tol);
      ea.dispose();
      er.dispose();
    }, 120_000);

    it('a non-finite loss stops the step with TrainingDiverged before any update', async () => {
      const c = fixture.mixed;
      const tr = new QatTrainer(fixtureWeights(c), c.plan as unknown as Plan, tsTrainKernels);
      tr.calibrate(pixels, labels.length);
      tr.params.get('head.bias')![0] = Number.NaN;
      const eng = new TfQatEngine(need(), tr);
      await expect(eng.trainStep(pixels, labels, idx, uniformStream(1))).rejects.toThrow(TrainingDiverged);
      expect(tr.step).toBe(0);
      eng.dispose();
    }, 60_000);
  });
}
