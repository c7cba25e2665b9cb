/**
 * Every backward of src/train/ops.ts against central finite differences: each step kind of a small
 * lowered ViT (src/plan/steps.ts, FP32 plan) alone, random inputs, L = Σ c·y with random c; the
 * analytic ∂L/∂input of every input vs (L(x + h) − L(x − h)) / 2h on sampled elements.
 * fakeQuant is not here: its gradient is the straight-through / LSQ estimator, not a derivative
 * (round() is piecewise constant) — qat.torch.test.ts checks it against PyTorch autograd.
 */
import { describe, expect, it } from 'vitest';
import { fp32Site, type Plan } from '../plan/plan';
import { stepInputs } from '../plan/fusion';
import { lowerVit, type Step } from '../plan/steps';
import { uniformStream } from './trainer';
import { backwardStep, forwardStep, type OpContext, type Tape } from './ops';
import { tsTrainKernels } from './trainKernels';

const shape = { dim: 8, depth: 1, heads: 2, mlp: 12, patch: 16, classes: 5, image: 32, layer_norm_eps: 1e-5 };
const plan: Plan = { version: 1, sites: Array.from({ length: 8 }, () => fp32Site()) };
const model = lowerVit(shape, plan);
const ctx: OpContext = { model, kernels: tsTrainKernels, quantizers: new Map() };
const B = 2;

const outputsOf = (s: Step): string[] => (s.kind === 'splitHeads' ? [s.q, s.k, s.v] : [s.y]);
const isParam = (n: string) => model.params.some((p) => p.name === n);

const FD_ERRORS: Record<string, number> = {};

describe('every backward = central finite differences', () => {
  const kinds = [...new Set(model.steps.map((s) => s.kind))].filter((k) => k !== 'fakeQuant');
  it('the FP32 lowering has every non-quant step kind', () => {
    expect(kinds.sort()).toEqual([
      'attnScores',
      'attnValues',
      'embed',
      'gelu',
      'layerNorm',
      'linear',
      'mergeHeads',
      'residual',
      'softmax',
      'splitHeads',
      'takeCls',
    ]);
  });
  for (const kind of kinds) {
    it(kind, () => {
      const step = model.steps.find((s) => s.kind === kind)!;
      const rnd = uniformStream(kind.length * 7919 + 13);
      const normal = () => (rnd() + rnd() + rnd() - 1.5) * 2;
      const vals = new Map<string, Float32Array>();
      for (const n of stepInputs(step)) {
        const sh = model.shapes.get(n)!;
        const len = (isParam(n) ? 1 : B) * sh.rows * sh.cols;
        let a = Float32Array.from({ length: len }, normal);
        if (step.kind === 'attnValues' && n === step.p) a = a.map((v) => Math.abs(v)); // probabilities are positive
        vals.set(n, a);
      }
      const coef = new Map<string, Float64Array>();
      const loss = (): number => {
        const tape: Tape = { batch: B, vals: new Map(vals), grads: new Map(), saved: new Map() };
        forwardStep(step, ctx, tape, true);
        let L = 0;
        for (const o of outputsOf(step)) {
          const y = tape.vals.get(o)!;
          if (!coef.has(o)) coef.set(o, Float64Array.from({ length: y.length }, normal));
          const c = coef.get(o)!;
          for (let i = 0; i < y.length; i++) L += c[i] * y[i];
        }
        return L;
      };
      loss();
      const tape: Tape = { batch: B, vals: new Map(vals), grads: new Map(), saved: new Map() };
      forwardStep(step, ctx, tape, true);
      for (const o of outputsOf(step)) tape.grads.set(o, Float32Array.from(coef.get(o)!));
      backwardStep(step, ctx, tape);
      let worst = 0;
      for (const n of stepInputs(step)) {
        const g = tape.grads.get(n);
        expect(g, `∂${n}`).toBeDefined();
        const x = vals.get(n)!;
        let scale = 0;
        for (const v of g!) scale = Math.max(scale, Math.abs(v));
        const h = 1e-2;
        for (let t = 0; t < Math.min(40, x.length); t++) {
          const i = Math.floor(rnd() * x.length);
          const x0 = x[i];
          x[i] = x0 + h;
          const lp = loss();
          x[i] = x0 - h;
          const lm = loss();
          x[i] = x0;
          const fd = (lp - lm) / (Math.fround(x0 + h) - Math.fround(x0 - h)); // the step actually stored
          const err = Math.abs(fd - g![i]) / Math.max(scale, 1e-12);
          worst = Math.max(worst, err);
        }
      }
      FD_ERRORS[kind] = worst;
      console.log(`${kind}: max |analytic − FD| / max|analytic| = ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-3);
    });
  }
});
