/**
 * Quantization-aware training (issue 13) on the step list of src/plan/steps.ts: fake-quant with
 * learnable (s, z) at every quantized operand of the plan, straight-through rounding, LSQ
 * gradient scaling, AdamW (weights and quantizer parameters in two groups), label-smoothed
 * cross-entropy, crop + flip augmentation from a seeded stream, an optional progressive schedule
 * (e.g. 4 → 2 bits at step k, each range carried over), a NaN/Inf guard that restores the last
 * good state and stops with the reason.
 */
import { fp32Plan, type Plan } from '../plan/plan';
import { IMAGE_BYTES } from '../data/cifar';
import { paramsFromWeights, type VitWeights, weightsFromParams } from '../model/vitWeights';

export { paramsFromWeights, weightsFromParams };
import { lowerVit, type LoweredVit, type Step } from '../plan/steps';
import { seededUniform } from '../quant/random';
import type { Bits } from '../quant/scaleZero';
import { LearnedQuantizer } from './fakeQuant';
import { StepMemoryMoved, type TrainKernels } from './trainKernels';
import { crossEntropy, forwardStep, quantKey, runBackward, runForward, type OpContext, type Tape } from './ops';

export interface QatOptions {
  lrWeights: number;
  lrQuant: number;
  weightDecay: number;
  smoothing: number;
  /** false: weights frozen, only (s, z) learn */
  trainWeights: boolean;
  /** progressive schedule: operands the plan puts at `to` bits start at `from` bits (see Progressive) */
  progressive?: Progressive;
  /** learning-rate schedule: constant, or cosine from the set rates to 0 over `steps` steps (both groups) */
  schedule?: { kind: 'cosine'; steps: number };
  /**
   * knowledge distillation from the FP32 model as LSQ trained (Esser et al. 2020, §3: temperature 1,
   * equal weight to the standard loss and the distillation loss): L = ½·CE_smoothed(y) + ½·CE(softmax(teacher))
   */
  distill?: boolean;
  seed: number;
}

/**
 * Operands the plan puts at `to` bits train at `from` bits until step `at`. Without `perSite` all of
 * them switch at `at`; with it, note 004's schedule ("4 bits degraded to 2 site by site", 逐环节):
 * one site switches at `at`, the next `perSite` steps later, and so on, in `order` — 'sensitivity'
 * (least harmed first: the KL divergence of the model's outputs on the calibration images when that
 * site alone goes to `to` bits, measured when the switching starts) or 'index'. At its switch an
 * operand's new grid starts from the real range it covered (`init` 'carry'), or from that range
 * shrunk by the factor in {0.05, 0.10, …, 1} that minimises the quantization MSE of its current
 * values on the first calibration images ('mse').
 */
export interface Progressive {
  from: number;
  to: number;
  at: number;
  perSite?: number;
  order?: 'sensitivity' | 'index';
  init?: 'carry' | 'mse';
}

/** calibration images the progressive schedule's sensitivity order and MSE ranges are measured on */
export const ORDER_IMAGES = 128;
export const MSE_IMAGES = 64;
const CLIP_FACTORS = Array.from({ length: 20 }, (_, i) => (i + 1) / 20);

export const DEFAULT_QAT: QatOptions = { lrWeights: 1e-4, lrQuant: 1e-3, weightDecay: 0.01, smoothing: 0.1, trainWeights: true, seed: 1 };

export class TrainingDiverged extends Error {
  constructor(
    readonly step: number,
    what: string,
  ) {
    super(`training diverged at step ${step}: ${what} is not finite; the last good state (before step ${step}) is kept`);
    this.name = 'TrainingDiverged';
  }
}

/** Normalized patches [n·P × 3·p·p] of images `idx` of `pixels`, cropped (pad 4) and flipped when `rnd` is given. */
export function batchPatches(pixels: Uint8Array, idx: ArrayLike<number>, w: VitWeights['config'], rnd?: () => number): Float32Array {
  const { patch, image, mean, std } = w;
  const g = image / patch;
  const pd = 3 * patch * patch;
  const P = g * g;
  const out = new Float32Array(idx.length * P * pd);
  for (let n = 0; n < idx.length; n++) {
    const base = idx[n] * IMAGE_BYTES;
    // the order of draws (x offset, y offset, flip) is part of the seeded recipe
    const ox = rnd ? Math.floor(rnd() * 9) - 4 : 0;
    const oy = rnd ? Math.floor(rnd() * 9) - 4 : 0;
    const flip = rnd ? rnd() < 0.5 : false;
    for (let c = 0; c < 3; c++)
      for (let yy = 0; yy < image; yy++)
        for (let xx = 0; xx < image; xx++) {
          const sy = yy + oy;
          const sx0 = flip ? image - 1 - xx : xx;
          const sx = sx0 + ox;
          const v = sy < 0 || sy >= image || sx < 0 || sx >= image ? 0 : pixels[base + c * image * image + sy * image + sx] / 255;
          const p = Math.floor(yy / patch) * g + Math.floor(xx / patch);
          out[(n * P + p) * pd + c * patch * patch + (yy % patch) * patch + (xx % patch)] = (v - mean[c]) / std[c];
        }
  }
  return out;
}

/** the project's seeded uniform stream (src/quant/random.ts) */
export const uniformStream = (seed: number): (() => number) => seededUniform(seed >>> 0);

/** AdamW's constants (PyTorch's defaults), shared by every engine that trains */
export const ADAM = { b1: 0.9, b2: 0.999, eps: 1e-8 } as const;
/** the smallest learned scale: a scale stays positive */
export const MIN_SCALE = 1e-8;

/** Adam's moments and step count of one parameter (per parameter, as in PyTorch: a quantizer re-created by a progressive switch starts at 0) */
interface AdamState {
  m: Float32Array;
  v: Float32Array;
  t: number;
}

export interface StepResult {
  step: number;
  loss: number;
  /** share of the batch classified right (training, augmented) */
  batchAccuracy: number;
  ms: number;
  bits?: number;
  /** progressive: the sites at `to` bits so far */
  switchedSites?: number;
}

/** A snapshot that restores the trainer exactly (parameters, (s, z), optimizer, step, bits). */
export interface TrainerState {
  step: number;
  params: Map<string, Float32Array>;
  quant: Map<string, { s: Float32Array; z: Float32Array; bits: number }>;
  adam: Map<string, AdamState>;
  /** progressive, site by site: the order of the switches once measured */
  order?: number[];
}

export class QatTrainer {
  readonly model: LoweredVit;
  readonly params: Map<string, Float32Array>;
  readonly quantizers = new Map<string, LearnedQuantizer>();
  readonly ctx: OpContext;
  step = 0;
  private adam = new Map<string, AdamState>();
  private lastGood?: TrainerState;
  /** bits the quantized operands run at now (progressive: `from` until every site has switched) */
  currentBits: number | undefined;
  /** progressive: sites whose `to`-bit operands have switched */
  readonly switched = new Set<number>();
  /** progressive, site by site: the switching order (measured at step `at`) */
  order?: number[];
  /** the calibration images (set by calibrate(); set it after restore() to resume a progressive schedule) */
  calibPixels?: Uint8Array;
  /** distillation: the FP32 model's step list and parameters (the shipped weights, never written) */
  readonly teacher?: { ctx: OpContext; params: Map<string, Float32Array> };

  constructor(
    readonly weights: VitWeights,
    readonly plan: Plan,
    kernels: TrainKernels,
    readonly opts: QatOptions = DEFAULT_QAT,
  ) {
    this.model = lowerVit(weights.config, plan);
    this.params = paramsFromWeights(weights);
    for (const p of this.model.params) {
      const a = this.params.get(p.name);
      if (!a || a.length !== p.shape.rows * p.shape.cols) throw new Error(`parameter ${p.name}: weights and lowering disagree`);
    }
    this.ctx = { model: this.model, kernels, quantizers: this.quantizers };
    if (opts.distill) {
      // the teacher: the shipped weights (views, never written) through the FP32 lowering
      const fp = fp32Plan().sites[0];
      const m = lowerVit(weights.config, { ...plan, sites: plan.sites.map(() => fp) });
      this.teacher = { ctx: { model: m, kernels, quantizers: new Map() }, params: paramsFromWeights(weights, false) };
    }
    this.currentBits = opts.progressive ? opts.progressive.from : undefined;
    this.buildQuantizers();
  }

  /** one quantizer per fakeQuant step: the plan's bits, or `from` for a progressive operand whose site has not switched */
  private buildQuantizers(): void {
    for (const s of this.model.steps) if (s.kind === 'fakeQuant') this.quantizers.set(quantKey(s.site, s.operand), this.quantizerFor(s));
  }

  private progressiveOperand(s: FakeQuantStep): boolean {
    return this.opts.progressive !== undefined && s.scheme.bits === this.opts.progressive.to;
  }

  private quantizerFor(s: FakeQuantStep, bits?: number): LearnedQuantizer {
    const sh = this.model.shapes.get(s.x)!;
    const p = this.opts.progressive;
    const b = bits ?? (p && this.progressiveOperand(s) && !this.switched.has(s.site) ? p.from : s.scheme.bits);
    const scheme = { ...s.scheme, bits: b as Bits };
    const gran = s.isWeight ? scheme.granularity : 'tensor';
    const perGroup =
      !s.isWeight || gran === 'tensor' ? sh.rows * sh.cols : gran === 'channel' ? sh.cols : Math.min(scheme.groupSize!, sh.cols);
    return new LearnedQuantizer({ ...scheme, granularity: gran }, { rows: sh.rows, cols: sh.cols, groupCols: 0 }, perGroup);
  }

  /** the sites with an operand the progressive schedule switches, ascending */
  progressiveSites(): number[] {
    const sites = new Set<number>();
    for (const s of this.model.steps) if (s.kind === 'fakeQuant' && this.progressiveOperand(s)) sites.add(s.site);
    return [...sites].sort((a, b) => a - b);
  }

  private tape(batch: number, patches: Float32Array): Tape {
    const vals = new Map(this.params);
    vals.set(this.model.input, patches);
    return { batch, vals, grads: new Map(), saved: new Map() };
  }

  /**
   * Static ranges from min/max over `count` images (FP32 forward, no fake-quant), and (s, z) of
   * weights from min/max of each weight group — the initialisation of the recipe.
   */
  calibrate(pixels: Uint8Array, count: number, chunk = 64): void {
    const lo = new Map<string, Float64Array>();
    const hi = new Map<string, Float64Array>();
    const saved = new Map(this.quantizers);
    this.quantizers.clear(); // FP32: no fakeQuant runs, but the steps still name their outputs
    const fqSteps = this.model.steps.filter((s) => s.kind === 'fakeQuant');
    for (let i0 = 0; i0 < count; i0 += chunk) {
      const idx = Array.from({ length: Math.min(chunk, count - i0) }, (_, j) => i0 + j);
      const tape = this.tape(idx.length, batchPatches(pixels, idx, this.weights.config));
      for (const st of this.model.steps) {
        if (st.kind === 'fakeQuant') {
          const x = tape.vals.get(st.x)!;
          tape.vals.set(st.y, x);
          const key = quantKey(st.site, st.operand);
          const q = saved.get(key)!;
          if (!st.isWeight) {
            const r = q.ranges(x, lo.get(key), hi.get(key));
            lo.set(key, r.lo);
            hi.set(key, r.hi);
          }
          continue;
        }
        forwardStep(st, this.ctx, tape, false);
      }
    }
    for (const [k, v] of saved) this.quantizers.set(k, v);
    this.calibPixels = pixels;
    for (const st of fqSteps) {
      if (st.kind !== 'fakeQuant') continue;
      const key = quantKey(st.site, st.operand);
      const q = this.quantizers.get(key)!;
      if (st.isWeight) {
        const r = q.ranges(this.params.get(st.x)!);
        q.initFromRanges(r.lo, r.hi);
      } else q.initFromRanges(lo.get(key)!, hi.get(key)!);
    }
    this.lastGood = this.snapshot();
  }

  /**
   * Switches the progressive operands of `sites` to `to` bits, each new grid from the real range
   * its group covered (shrunk by the MSE-best factor with init 'mse'); their optimizer moments
   * start afresh. Sites already switched are skipped.
   */
  switchSites(sites: number[]): void {
    const p = this.opts.progressive;
    if (!p) throw new Error('switchSites: no progressive schedule');
    for (const site of sites) {
      if (this.switched.has(site)) continue;
      this.switched.add(site);
      for (const st of this.progressiveSteps(site)) {
        const k = quantKey(st.site, st.operand);
        this.quantizers.set(k, this.lowered(st, p.init ?? 'carry'));
        this.adam.delete(`q:${k}:s`);
        this.adam.delete(`q:${k}:z`);
      }
    }
    if (this.progressiveSites().every((s) => this.switched.has(s))) this.currentBits = p.to;
  }

  /** the fakeQuant steps of `site` that the progressive schedule switches */
  private progressiveSteps(site: number): FakeQuantStep[] {
    return this.model.steps.filter((st): st is FakeQuantStep => st.kind === 'fakeQuant' && st.site === site && this.progressiveOperand(st));
  }

  /**
   * A `to`-bit quantizer for `st` whose grid starts from the real range its current quantizer
   * covers per group ('carry'), or from that range shrunk by the MSE-best factor ('mse').
   */
  private lowered(st: FakeQuantStep, init: 'carry' | 'mse'): LearnedQuantizer {
    const o = this.quantizers.get(quantKey(st.site, st.operand))!;
    const q = this.quantizerFor(st, this.opts.progressive!.to);
    const lo = new Float64Array(q.groups);
    const hi = new Float64Array(q.groups);
    for (let g = 0; g < q.groups; g++) [lo[g], hi[g]] = o.clip(g);
    const f = init === 'mse' ? this.mseClipFactor(st, q, lo, hi) : 1;
    q.initFromRanges(
      lo.map((v) => v * f),
      hi.map((v) => v * f),
    );
    return q;
  }

  /** the first factor of CLIP_FACTORS whose shrunk range quantizes the operand's current values with the least MSE */
  private mseClipFactor(st: FakeQuantStep, q: LearnedQuantizer, lo: Float64Array, hi: Float64Array): number {
    const x =
      this.params.get(st.x) ??
      this.operandSample(this.calibOrThrow(), range(Math.min(MSE_IMAGES, this.calibOrThrow().length / IMAGE_BYTES)), st.site, st.operand);
    let best = Infinity;
    let bestF = 1;
    const y = new Float32Array(x.length);
    for (const f of CLIP_FACTORS) {
      q.initFromRanges(
        lo.map((v) => v * f),
        hi.map((v) => v * f),
      );
      q.forward(x, y, undefined, this.ctx.kernels);
      let e = 0;
      for (let i = 0; i < x.length; i++) e += (y[i] - x[i]) ** 2;
      if (e < best) (best = e), (bestF = f);
    }
    return bestF;
  }

  private calibOrThrow(): Uint8Array {
    if (!this.calibPixels) throw new Error('progressive schedule: calibrate() first (the schedule measures on the calibration images)');
    return this.calibPixels;
  }

  /**
   * For each progressive site not yet switched: the mean KL divergence of the softmax outputs on
   * (up to) ORDER_IMAGES calibration images when that site alone switches to `to` bits (its range
   * carried over), against the current model.
   */
  sensitivityScores(): { site: number; kl: number }[] {
    const pixels = this.calibOrThrow();
    const idx = range(Math.min(ORDER_IMAGES, pixels.length / IMAGE_BYTES));
    const C = this.weights.config.classes;
    const base = this.logits(pixels, idx, 64);
    const out: { site: number; kl: number }[] = [];
    for (const site of this.progressiveSites()) {
      if (this.switched.has(site)) continue;
      const saved = new Map(this.quantizers);
      for (const st of this.progressiveSteps(site)) this.quantizers.set(quantKey(st.site, st.operand), this.lowered(st, 'carry'));
      const l = this.logits(pixels, idx, 64);
      for (const [k, v] of saved) this.quantizers.set(k, v);
      out.push({ site, kl: meanKl(base, l, C) });
    }
    return out;
  }

  /** least harmed first (sensitivityScores), ties by site index */
  sensitivityOrder(): number[] {
    return this.sensitivityScores()
      .sort((a, b) => a.kl - b.kl || a.site - b.site)
      .map((x) => x.site);
  }

  /**
   * True when the next step starts switching site by site in sensitivity order and the order is not
   * measured yet: a caller may say so and call measureOrder() first (it takes ORDER_IMAGES forwards
   * per site, seconds in a browser) rather than let trainStep() do it silently.
   */
  needsOrder(): boolean {
    const p = this.opts.progressive;
    return !!p?.perSite && p.order !== 'index' && !this.order && this.step >= p.at;
  }

  measureOrder(): void {
    if (!this.order) this.order = this.sensitivityOrder();
  }

  /** the sites the progressive schedule switches before the next step runs (not switched yet) */
  sitesDueNow(): number[] {
    return this.dueSites(this.step).filter((site) => !this.switched.has(site));
  }

  /** the learning-rate multiplier of the step that runs next: 1, or the cosine schedule's ½(1 + cos(π·i/T)) */
  lrScale(): number {
    const sch = this.opts.schedule;
    return sch ? 0.5 * (1 + Math.cos((Math.PI * Math.min(this.step, sch.steps)) / sch.steps)) : 1;
  }

  /** the sites due at step `step` of the schedule (switched before that step runs) */
  private dueSites(step: number): number[] {
    const p = this.opts.progressive;
    if (!p || step < p.at) return [];
    if (!p.perSite) return this.progressiveSites();
    if (!this.order) this.order = p.order === 'index' ? this.progressiveSites() : this.sensitivityOrder();
    return this.order.slice(0, Math.floor((step - p.at) / p.perSite) + 1);
  }

  /** logits [n × classes] without augmentation, in chunks */
  logits(pixels: Uint8Array, idx: ArrayLike<number>, chunk = 100): Float32Array {
    const C = this.weights.config.classes;
    const out = new Float32Array(idx.length * C);
    for (let i0 = 0; i0 < idx.length; i0 += chunk) {
      const part = Array.from({ length: Math.min(chunk, idx.length - i0) }, (_, j) => idx[i0 + j]);
      const tape = this.tape(part.length, batchPatches(pixels, part, this.weights.config));
      out.set(runForward(this.ctx, tape, false), i0 * C);
    }
    return out;
  }

  /** the input of the fakeQuant step of (site, operand) on images idx (eval forward): its histogram in the Train view */
  operandSample(pixels: Uint8Array, idx: ArrayLike<number>, site: number, operand: 'a' | 'b'): Float32Array {
    const st = this.model.steps.find((s) => s.kind === 'fakeQuant' && s.site === site && s.operand === operand);
    if (!st || st.kind !== 'fakeQuant') throw new Error(`site ${site} operand ${operand} is not quantized in this plan`);
    if (this.params.has(st.x)) return this.params.get(st.x)!;
    const tape = this.tape(idx.length, batchPatches(pixels, idx, this.weights.config));
    for (const s of this.model.steps) {
      forwardStep(s, this.ctx, tape, false);
      if (s === st) break;
    }
    return tape.vals.get(st.x)!;
  }

  predict(pixels: Uint8Array, count: number, chunk = 100): Int32Array {
    const C = this.weights.config.classes;
    const l = this.logits(
      pixels,
      Array.from({ length: count }, (_, i) => i),
      chunk,
    );
    const pred = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      let b = 0;
      for (let j = 1; j < C; j++) if (l[i * C + j] > l[i * C + b]) b = j;
      pred[i] = b;
    }
    return pred;
  }

  /** forward + backward on a batch (no update); the loss, ∂L/∂params in the returned tape */
  lossAndGrads(pixels: Uint8Array, labels: ArrayLike<number>, idx: ArrayLike<number>, rnd?: () => number) {
    return this.lossAndGradsOn(batchPatches(pixels, idx, this.weights.config, rnd), labels, idx);
  }

  private lossAndGradsOn(patches: Float32Array, labels: ArrayLike<number>, idx: ArrayLike<number>) {
    for (const q of this.quantizers.values()) q.zeroGrad();
    const tape = this.tape(idx.length, patches);
    const logits = runForward(this.ctx, tape, true);
    const lab = Array.from(idx, (i) => labels[i]);
    const ce = crossEntropy(logits, lab, this.weights.config.classes, this.opts.smoothing, this.teacherLogits(patches, idx.length));
    tape.grads.set(this.model.output, ce.grad);
    runBackward(this.ctx, tape);
    return { ...ce, tape };
  }

  /** the FP32 teacher's logits on the same (augmented) patches; undefined without distillation */
  teacherLogits(patches: Float32Array, batch: number): Float32Array | undefined {
    if (!this.teacher) return undefined;
    const vals = new Map(this.teacher.params);
    vals.set(this.teacher.ctx.model.input, patches);
    return runForward(this.teacher.ctx, { batch, vals, grads: new Map(), saved: new Map() }, false);
  }

  /** One training step on images `idx`; throws TrainingDiverged (state restored) on NaN/Inf. */
  trainStep(pixels: Uint8Array, labels: ArrayLike<number>, idx: ArrayLike<number>, rnd: () => number): StepResult {
    const t0 = performance.now();
    const due = this.sitesDueNow();
    if (due.length) this.switchSites(due);
    const patches = batchPatches(pixels, idx, this.weights.config, rnd);
    const k = this.ctx.kernels;
    // the step's tensors live in the kernels' memory from here to endStep(); if that memory had to
    // grow meanwhile (their views detached) the forward and backward run again on the same batch
    let run: ReturnType<QatTrainer['lossAndGradsOn']> | undefined;
    for (let attempt = 0; !run; attempt++) {
      k.beginStep();
      try {
        run = this.lossAndGradsOn(patches, labels, idx);
        k.checkStep();
      } catch (e) {
        run = undefined;
        k.endStep();
        if (!(e instanceof StepMemoryMoved) || attempt >= 3) throw e;
      }
    }
    try {
      return this.update(run, idx.length, t0);
    } finally {
      k.endStep();
    }
  }

  /** AdamW on the gradients of a step's tape; the guard against non-finite values */
  private update(run: ReturnType<QatTrainer['lossAndGradsOn']>, batch: number, t0: number): StepResult {
    const { loss, correct, tape } = run;
    const stepNo = this.step + 1;
    if (!Number.isFinite(loss)) return this.diverged(stepNo, 'the loss');
    // cosine: the rate of step i (0-based) is lr·½(1 + cos(π·i/T)), as a per-step cosine annealing
    const lrScale = this.lrScale();
    const upd = (key: string, x: Float32Array, g: Float32Array, lr0: number, wd: number) => {
      const lr = lr0 * lrScale;
      let st = this.adam.get(key);
      if (!st) this.adam.set(key, (st = { m: new Float32Array(x.length), v: new Float32Array(x.length), t: 0 }));
      const t = ++st.t;
      const { b1, b2, eps } = ADAM;
      const c1 = 1 - b1 ** t;
      const c2 = 1 - b2 ** t;
      for (let i = 0; i < x.length; i++) {
        x[i] *= 1 - lr * wd;
        st.m[i] = b1 * st.m[i] + (1 - b1) * g[i];
        st.v[i] = b2 * st.v[i] + (1 - b2) * g[i] * g[i];
        x[i] -= (lr * (st.m[i] / c1)) / (Math.sqrt(st.v[i] / c2) + eps);
      }
    };
    for (const [name, g] of tape.grads)
      if (this.params.has(name)) for (const v of g) if (!Number.isFinite(v)) return this.diverged(stepNo, `the gradient of ${name}`);
    if (this.opts.trainWeights)
      for (const pi of this.model.params)
        upd(
          `p:${pi.name}`,
          this.params.get(pi.name)!,
          tape.grads.get(pi.name) ?? new Float32Array(0),
          this.opts.lrWeights,
          this.opts.weightDecay,
        );
    for (const [k, q] of this.quantizers) {
      upd(`q:${k}:s`, q.s, q.gs, this.opts.lrQuant, 0);
      for (let g = 0; g < q.groups; g++) q.s[g] = Math.max(q.s[g], MIN_SCALE);
      if (q.learnsZero) upd(`q:${k}:z`, q.z, q.gz, this.opts.lrQuant, 0);
    }
    for (const q of this.quantizers.values())
      for (let g = 0; g < q.groups; g++)
        if (!Number.isFinite(q.s[g]) || !Number.isFinite(q.z[g])) return this.diverged(stepNo, 'a learned scale or zero');
    this.step = stepNo;
    this.lastGood = this.snapshot();
    return this.stepResult(loss, correct / batch, t0);
  }

  /** the step just taken (this.step), as a trainer on any device reports it */
  stepResult(loss: number, batchAccuracy: number, t0: number): StepResult {
    return {
      step: this.step,
      loss,
      batchAccuracy,
      ms: performance.now() - t0,
      bits: this.currentBits,
      ...(this.opts.progressive ? { switchedSites: this.switched.size } : {}),
    };
  }

  private diverged(step: number, what: string): never {
    if (this.lastGood) this.restore(this.lastGood);
    throw new TrainingDiverged(step, what);
  }

  snapshot(): TrainerState {
    const params = new Map<string, Float32Array>();
    for (const [k, v] of this.params) params.set(k, v.slice());
    const quant = new Map<string, { s: Float32Array; z: Float32Array; bits: number }>();
    for (const [k, q] of this.quantizers) quant.set(k, { s: q.s.slice(), z: q.z.slice(), bits: q.scheme.bits });
    const adam = new Map<string, AdamState>();
    for (const [k, a] of this.adam) adam.set(k, { m: a.m.slice(), v: a.v.slice(), t: a.t });
    return { step: this.step, params, quant, adam, ...(this.order ? { order: [...this.order] } : {}) };
  }

  restore(s: TrainerState): void {
    for (const [k, v] of s.params) this.params.get(k)!.set(v);
    const p = this.opts.progressive;
    if (p) {
      // which sites had switched is in the bits each quantizer was saved with
      this.switched.clear();
      for (const st of this.model.steps)
        if (st.kind === 'fakeQuant' && this.progressiveOperand(st) && s.quant.get(quantKey(st.site, st.operand))?.bits === p.to)
          this.switched.add(st.site);
      this.quantizers.clear();
      this.buildQuantizers();
      this.currentBits = this.progressiveSites().every((x) => this.switched.has(x)) ? p.to : p.from;
      this.order = s.order ? [...s.order] : undefined;
    }
    for (const [k, q] of s.quant) {
      const dst = this.quantizers.get(k)!;
      dst.s.set(q.s);
      dst.z.set(q.z);
    }
    this.adam = new Map([...s.adam].map(([k, a]) => [k, { m: a.m.slice(), v: a.v.slice(), t: a.t }]));
    this.step = s.step;
  }

  get lastGoodState(): TrainerState | undefined {
    return this.lastGood;
  }
}

type FakeQuantStep = Extract<Step, { kind: 'fakeQuant' }>;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** mean over rows of KL(softmax(p) ‖ softmax(q)) for logits [rows × C] */
function meanKl(p: Float32Array, q: Float32Array, C: number): number {
  let total = 0;
  const rows = p.length / C;
  for (let r = 0; r < rows; r++) {
    const lse = (a: Float32Array) => {
      let m = -Infinity;
      for (let j = 0; j < C; j++) m = Math.max(m, a[r * C + j]);
      let e = 0;
      for (let j = 0; j < C; j++) e += Math.exp(a[r * C + j] - m);
      return m + Math.log(e);
    };
    const lp = lse(p);
    const lq = lse(q);
    for (let j = 0; j < C; j++) {
      const a = p[r * C + j] - lp;
      total += Math.exp(a) * (a - (q[r * C + j] - lq));
    }
  }
  return total / rows;
}
