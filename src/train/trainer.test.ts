/**
 * Trainer behaviour: a NaN/Inf stops training with a clear error and keeps the last good state;
 * the progressive switch carries each range over; the learned quantizer's loss goes down on a
 * fixed batch; lowering refuses what QAT cannot train, naming the site.
 */
import { describe, expect, it } from 'vitest';
import fixture from './fixtures/qat_torch.json';
import { fp32Plan, type Plan } from '../plan/plan';
import { fixtureWeights } from './fixtures/fixtureWeights';
import type { VitConfig } from '../model/vitWeights';
import { lowerVit, LoweringError } from '../plan/steps';
import { trainKernelsFor, tsTrainKernels } from './trainKernels';
import { loadCpuKernels } from '../cpu/cpuKernels';
import { scaleZero } from '../quant/scaleZero';
import { batchPatches, DEFAULT_QAT, QatTrainer, TrainingDiverged, uniformStream } from './trainer';
import { crossEntropy } from './ops';

const tinyWeights = () => fixtureWeights(fixture.mixed);
const pixels = Uint8Array.from(fixture.pixels);
const labels = fixture.labels;
const idx = labels.map((_, i) => i);
const int4 = (): Plan => ({
  version: 1,
  sites: Array.from({ length: 8 }, () => ({
    a: { bits: 4, granularity: 'tensor', symmetric: false, range: 'static' },
    b: { bits: 4, granularity: 'tensor', symmetric: false, range: 'static' },
  })),
});

describe('QatTrainer', () => {
  it('loss goes down over steps on a fixed batch (INT4 everywhere, learned s and z)', () => {
    const tr = new QatTrainer(tinyWeights(), int4(), tsTrainKernels, { ...DEFAULT_QAT, lrWeights: 3e-3, lrQuant: 3e-3 });
    tr.calibrate(pixels, 6);
    const rnd = uniformStream(3);
    const s0 = tr.quantizers.get('4a')!.s[0];
    const first = tr.lossAndGrads(pixels, labels, idx).loss;
    for (let i = 0; i < 30; i++) tr.trainStep(pixels, labels, idx, () => (rnd(), 0.5)); // fixed crop: a deterministic batch
    const last = tr.lossAndGrads(pixels, labels, idx).loss;
    expect(last).toBeLessThan(first - 0.05);
    expect(tr.quantizers.get('4a')!.s[0]).not.toBe(s0); // the scale learned
    expect(tr.step).toBe(30);
  });

  it('frozen weights: only s and z move', () => {
    const tr = new QatTrainer(tinyWeights(), int4(), tsTrainKernels, { ...DEFAULT_QAT, trainWeights: false });
    tr.calibrate(pixels, 6);
    const w0 = tr.params.get('blocks.0.fc1.weight')!.slice();
    const s0 = tr.quantizers.get('5b')!.s[0];
    tr.trainStep(pixels, labels, idx, uniformStream(4));
    expect(Array.from(tr.params.get('blocks.0.fc1.weight')!)).toEqual(Array.from(w0));
    expect(tr.quantizers.get('5b')!.s[0]).not.toBe(s0);
  });

  it('a NaN stops training with a clear error and keeps the last good state', () => {
    const tr = new QatTrainer(tinyWeights(), int4(), tsTrainKernels, DEFAULT_QAT);
    tr.calibrate(pixels, 6);
    const rnd = uniformStream(5);
    tr.trainStep(pixels, labels, idx, rnd);
    const good = tr.params.get('head.weight')!.slice();
    const goodS = tr.quantizers.get('1b')!.s.slice();
    tr.params.get('blocks.0.fc1.weight')![3] = NaN; // what an exploding step leaves behind
    let err: unknown;
    try {
      tr.trainStep(pixels, labels, idx, rnd);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrainingDiverged);
    expect((err as Error).message).toMatch(
      /training diverged at step 2: the loss is not finite; the last good state \(before step 2\) is kept/,
    );
    expect(tr.step).toBe(1);
    expect(Number.isFinite(tr.params.get('blocks.0.fc1.weight')![3])).toBe(true);
    expect(Array.from(tr.params.get('head.weight')!)).toEqual(Array.from(good));
    expect(Array.from(tr.quantizers.get('1b')!.s)).toEqual(Array.from(goodS));
  });

  it('progressive 4 → 2 bits at step k: each real range carried over, the grid shrinks', () => {
    const plan = int4();
    for (const s of plan.sites) (s.a.bits = 2), (s.b.bits = 2);
    const tr = new QatTrainer(tinyWeights(), plan, tsTrainKernels, { ...DEFAULT_QAT, progressive: { from: 4, to: 2, at: 2 } });
    tr.calibrate(pixels, 6);
    const q4 = tr.quantizers.get('5b')!;
    expect(q4.qmax).toBe(15);
    const rnd = uniformStream(9);
    tr.trainStep(pixels, labels, idx, rnd);
    tr.trainStep(pixels, labels, idx, rnd);
    const before = tr.quantizers.get('5b')!.clip();
    const r = tr.trainStep(pixels, labels, idx, rnd);
    expect(r.bits).toBe(2);
    const q2 = tr.quantizers.get('5b')!;
    expect(q2.qmax).toBe(3);
    const after = q2.clip();
    // Adam's moments and step count are per parameter (PyTorch's AdamW): the new s takes a first
    // bias-corrected step of exactly lr (a step count shared with the weights would give ≈0.64·lr)
    const s0 = scaleZero(Math.min(before[0], 0), Math.max(before[1], 0), 2, false).scale;
    expect(Math.abs(Math.abs(q2.s[0] - s0) - DEFAULT_QAT.lrQuant)).toBeLessThan(1e-6);
    // the 2-bit range holds 0 and stays close to the 4-bit one (one training step later)
    expect(Math.abs(after[0] - before[0])).toBeLessThan(0.2 * (before[1] - before[0]));
    expect(Math.abs(after[1] - before[1])).toBeLessThan(0.2 * (before[1] - before[0]));
  });

  it('progressive site by site (note 004): one site per perSite steps, in order, MSE-clipped ranges, resumable', () => {
    const plan = int4();
    for (const s of plan.sites) (s.a.bits = 2), (s.b.bits = 2);
    const prog = { from: 4, to: 2, at: 0, perSite: 2, order: 'sensitivity' as const, init: 'mse' as const };
    const tr = new QatTrainer(tinyWeights(), plan, tsTrainKernels, { ...DEFAULT_QAT, progressive: prog });
    tr.calibrate(pixels, 6);
    const scores = tr.sensitivityScores();
    expect(scores.length).toBe(plan.sites.length);
    expect(scores.every((x) => Number.isFinite(x.kl) && x.kl >= 0)).toBe(true);
    const rnd = uniformStream(9);
    expect(tr.switched.size).toBe(0);
    expect(tr.needsOrder()).toBe(true); // due at step 0, not measured yet: a worker can say it is measuring
    const fourBit = new Map([...tr.quantizers].map(([k, q]) => [k, q.clip()]));
    const r = tr.trainStep(pixels, labels, idx, rnd); // step 0: the first site of the order
    expect(r.switchedSites).toBe(1);
    expect(tr.needsOrder()).toBe(false);
    const order = tr.order!;
    expect([...order].sort((a, b) => a - b)).toEqual(plan.sites.map((_, i) => i));
    // least sensitive first: the order follows the scores measured when switching started
    const kl = new Map(scores.map((x) => [x.site, x.kl]));
    for (let i = 1; i < order.length; i++) expect(kl.get(order[i])!).toBeGreaterThanOrEqual(kl.get(order[i - 1])!);
    expect([...tr.switched]).toEqual([order[0]]);
    for (const op of ['a', 'b']) {
      const q = tr.quantizers.get(`${order[0]}${op}`)!;
      expect(q.qmax).toBe(3);
      // the 2-bit range lies inside the 4-bit one it came from (MSE clipping shrinks, never widens)
      const [lo4, hi4] = fourBit.get(`${order[0]}${op}`)!;
      const [lo, hi] = q.clip();
      expect(lo).toBeGreaterThanOrEqual(Math.min(lo4, 0) - 1e-6 * (hi4 - lo4));
      expect(hi).toBeLessThanOrEqual(Math.max(hi4, 0) + 1e-6 * (hi4 - lo4));
    }
    expect(tr.quantizers.get(`${order[1]}a`)!.qmax).toBe(15);
    tr.trainStep(pixels, labels, idx, rnd); // step 1: nothing new
    expect(tr.switched.size).toBe(1);
    tr.trainStep(pixels, labels, idx, rnd); // step 2: the second
    expect([...tr.switched].sort()).toEqual([order[0], order[1]].sort());
    // a snapshot restores the switched sites and the order
    const snap = tr.snapshot();
    const tr2 = new QatTrainer(tinyWeights(), plan, tsTrainKernels, { ...DEFAULT_QAT, progressive: prog });
    tr2.restore(snap);
    expect([...tr2.switched].sort()).toEqual([...tr.switched].sort());
    expect(tr2.order).toEqual(order);
    expect(tr2.quantizers.get(`${order[1]}b`)!.qmax).toBe(3);
    expect(tr2.quantizers.get(`${order[2]}b`)!.qmax).toBe(15);
  });

  it('cosine schedule: the rate reaches 0 at its last step (parameters and ranges stop moving)', () => {
    const tr = new QatTrainer(tinyWeights(), int4(), tsTrainKernels, { ...DEFAULT_QAT, schedule: { kind: 'cosine', steps: 2 } });
    tr.calibrate(pixels, 6);
    const rnd = uniformStream(4);
    const w0 = tr.params.get('head.weight')!.slice();
    tr.trainStep(pixels, labels, idx, rnd); // rate lr
    const w1 = tr.params.get('head.weight')!.slice();
    expect(Array.from(w1)).not.toEqual(Array.from(w0));
    tr.trainStep(pixels, labels, idx, rnd); // rate lr/2
    const w2 = tr.params.get('head.weight')!.slice();
    const s2 = tr.quantizers.get('1b')!.s.slice();
    tr.trainStep(pixels, labels, idx, rnd); // rate 0
    expect(Array.from(tr.params.get('head.weight')!)).toEqual(Array.from(w2));
    expect(Array.from(tr.quantizers.get('1b')!.s)).toEqual(Array.from(s2));
  });

  it('the wasm kernels (tensors resident in wasm memory from the second step) train as the TypeScript ones do', async () => {
    const wasm = trainKernelsFor(await loadCpuKernels());
    expect(wasm.impl).toBe('wasm-simd');
    const run = (k: typeof wasm) => {
      const tr = new QatTrainer(tinyWeights(), int4(), k);
      tr.calibrate(pixels, 6);
      const rnd = uniformStream(5);
      const losses = [0, 1, 2, 3].map(() => tr.trainStep(pixels, labels, idx, rnd).loss);
      return { losses, w: tr.params.get('head.weight')!, s: tr.quantizers.get('1b')!.s[0] };
    };
    const a = run(wasm);
    expect(wasm.residency()).toBe('resident');
    const b = run(tsTrainKernels);
    for (let i = 0; i < 4; i++) expect(Math.abs(a.losses[i] - b.losses[i])).toBeLessThan(1e-3 * Math.abs(b.losses[i]));
    let e = 0;
    for (let i = 0; i < a.w.length; i++) e = Math.max(e, Math.abs(a.w[i] - b.w[i]));
    expect(e).toBeLessThan(1e-4);
    expect(Math.abs(a.s - b.s)).toBeLessThan(1e-4 * Math.abs(b.s));
  });

  it('distillation (LSQ, T = 1): ½ label loss + ½ CE to the FP32 teacher, whose weights training never moves', () => {
    const C = 10;
    const logits = Float32Array.from({ length: 3 * C }, (_, i) => Math.sin(i * 1.7) * 2);
    const teacher = Float32Array.from({ length: 3 * C }, (_, i) => Math.cos(i * 0.9) * 3);
    const lab = [2, 7, 0];
    const hard = crossEntropy(logits, lab, C, 0.1);
    const both = crossEntropy(logits, lab, C, 0.1, teacher);
    // the distillation term written out: −Σ softmax(t)·log softmax(l), mean over rows
    let kd = 0;
    for (let r = 0; r < 3; r++) {
      const row = (a: Float32Array) => Array.from(a.subarray(r * C, r * C + C));
      const lse = (v: number[]) => Math.log(v.reduce((s, x) => s + Math.exp(x), 0));
      const t = row(teacher);
      const l = row(logits);
      for (let j = 0; j < C; j++) kd -= Math.exp(t[j] - lse(t)) * (l[j] - lse(l));
    }
    expect(both.loss).toBeCloseTo(0.5 * hard.loss + (0.5 * kd) / 3, 6);
    // ∂L/∂logits against central differences
    for (const i of [0, 7, 13, 29]) {
      const h = 1e-3;
      const up = logits.slice();
      const dn = logits.slice();
      up[i] += h;
      dn[i] -= h;
      const fd = (crossEntropy(up, lab, C, 0.1, teacher).loss - crossEntropy(dn, lab, C, 0.1, teacher).loss) / (2 * h);
      expect(both.grad[i]).toBeCloseTo(fd, 4);
    }
    // the teacher is the shipped FP32 model, before and after steps that change the student
    const w = tinyWeights();
    const tr = new QatTrainer(w, int4(), tsTrainKernels, { ...DEFAULT_QAT, distill: true, lrWeights: 1e-2 });
    tr.calibrate(pixels, 6);
    const fp = fp32Plan().sites[0];
    const fp32 = new QatTrainer(tinyWeights(), { ...int4(), sites: int4().sites.map(() => fp) }, tsTrainKernels);
    const patches = batchPatches(pixels, idx, w.config);
    const before = tr.teacherLogits(patches, idx.length)!;
    expect(Array.from(before)).toEqual(Array.from(fp32.logits(pixels, idx)));
    const rnd = uniformStream(5);
    tr.trainStep(pixels, labels, idx, rnd);
    tr.trainStep(pixels, labels, idx, rnd);
    expect(Array.from(tr.teacherLogits(patches, idx.length)!)).toEqual(Array.from(before));
    expect(Array.from(tr.logits(pixels, idx))).not.toEqual(Array.from(before));
  });

  it('lowering refuses what QAT cannot train, naming the site', () => {
    const plan = int4();
    plan.sites[2].a = { ...plan.sites[2].a, granularity: 'token' };
    expect(() => lowerVit(fixture.mixed.config as unknown as VitConfig, plan)).toThrowError(LoweringError);
    expect(() => lowerVit(fixture.mixed.config as unknown as VitConfig, plan)).toThrowError(
      /plan.sites\[2\] \(block 0 · q·kᵀ\)\.a: QAT learns one static \(s, z\) per activation tensor/,
    );
    const p2 = int4();
    p2.sites[1].smoothquant = { alpha: 0.5, placement: 'fold' };
    expect(() => lowerVit(fixture.mixed.config as unknown as VitConfig, p2)).toThrowError(/post-training transforms/);
  });
});
