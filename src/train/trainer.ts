/**
 * Quantization-aware training (issue 13) on the step list of src/plan/steps.ts: fake-quant with
 * learnable (s, z) at every quantized operand of the plan, straight-through rounding, LSQ
 * gradient scaling, AdamW (weights and quantizer parameters in two groups), label-smoothed
 * cross-entropy, crop + flip augmentation from a seeded stream, an optional progressive schedule
 * (e.g. 4 → 2 bits at step k, each range carried over), a NaN/Inf guard that restores the last
 * good state and stops with the reason.
 */
import type { Plan } from '../plan/plan';
import { IMAGE_BYTES } from '../data/cifar';
import { paramsFromWeights, type VitWeights, weightsFromParams } from '../model/vitWeights';

export { paramsFromWeights, weightsFromParams };
import { lowerVit, type LoweredVit } from '../plan/steps';
import { seededUniform } from '../quant/random';
import type { Bits } from '../quant/scaleZero';
import { LearnedQuantizer } from './fakeQuant';
import type { TrainKernels } from './trainKernels';
import { crossEntropy, forwardStep, quantKey, runBackward, runForward, type OpContext, type Tape } from './ops';

export interface QatOptions {
  lrWeights: number;
  lrQuant: number;
  weightDecay: number;
  smoothing: number;
  /** false: weights frozen, only (s, z) learn */
  trainWeights: boolean;
  /** progressive schedule: operands the plan puts at `to` bits start at `from` bits and switch at step `at` */
  progressive?: { from: number; to: number; at: number };
  seed: number;
}

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

interface AdamState {
  m: Float32Array;
  v: Float32Array;
}

export interface StepResult {
  step: number;
  loss: number;
  /** share of the batch classified right (training, augmented) */
  batchAccuracy: number;
  ms: number;
  bits?: number;
}

/** A snapshot that restores the trainer exactly (parameters, (s, z), optimizer, step, bits). */
export interface TrainerState {
  step: number;
  params: Map<string, Float32Array>;
  quant: Map<string, { s: Float32Array; z: Float32Array; bits: number }>;
  adam: Map<string, AdamState>;
}

export class QatTrainer {
  readonly model: LoweredVit;
  readonly params: Map<string, Float32Array>;
  readonly quantizers = new Map<string, LearnedQuantizer>();
  readonly ctx: OpContext;
  step = 0;
  private adam = new Map<string, AdamState>();
  private lastGood?: TrainerState;
  /** bits the quantized operands run at now (progressive: `from` until the switch) */
  currentBits: number | undefined;

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
    const prog = opts.progressive;
    this.currentBits = prog ? prog.from : undefined;
    this.buildQuantizers(prog ? prog.from : undefined);
  }

  /** one quantizer per fakeQuant step; `startBits` replaces the plan's bits where they equal progressive.to */
  private buildQuantizers(startBits?: number): void {
    for (const s of this.model.steps) {
      if (s.kind !== 'fakeQuant') continue;
      const sh = this.model.shapes.get(s.x)!;
      let scheme = s.scheme;
      if (startBits !== undefined && this.opts.progressive && scheme.bits === this.opts.progressive.to)
        scheme = { ...scheme, bits: startBits as Bits };
      const gran = s.isWeight ? scheme.granularity : 'tensor';
      const perGroup =
        !s.isWeight || gran === 'tensor' ? sh.rows * sh.cols : gran === 'channel' ? sh.cols : Math.min(scheme.groupSize!, sh.cols);
      this.quantizers.set(
        quantKey(s.site, s.operand),
        new LearnedQuantizer({ ...scheme, granularity: gran }, { rows: sh.rows, cols: sh.cols, groupCols: 0 }, perGroup),
      );
    }
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

  /** Switch every operand at `from` bits to `to` bits, carrying each group's real range over. */
  switchBits(to: number): void {
    const old = new Map(this.quantizers);
    this.quantizers.clear();
    this.buildQuantizers(undefined);
    for (const [k, q] of this.quantizers) {
      const o = old.get(k)!;
      if (o.scheme.bits === q.scheme.bits) {
        q.s.set(o.s);
        q.z.set(o.z);
        continue;
      }
      const lo = new Float64Array(q.groups);
      const hi = new Float64Array(q.groups);
      for (let g = 0; g < q.groups; g++) [lo[g], hi[g]] = o.clip(g);
      q.initFromRanges(lo, hi);
      this.adam.delete(`q:${k}:s`);
      this.adam.delete(`q:${k}:z`);
    }
    this.currentBits = to;
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
    for (const q of this.quantizers.values()) q.zeroGrad();
    const tape = this.tape(idx.length, batchPatches(pixels, idx, this.weights.config, rnd));
    const logits = runForward(this.ctx, tape, true);
    const lab = Array.from(idx, (i) => labels[i]);
    const ce = crossEntropy(logits, lab, this.weights.config.classes, this.opts.smoothing);
    tape.grads.set(this.model.output, ce.grad);
    runBackward(this.ctx, tape);
    return { ...ce, tape };
  }

  /** One training step on images `idx`; throws TrainingDiverged (state restored) on NaN/Inf. */
  trainStep(pixels: Uint8Array, labels: ArrayLike<number>, idx: ArrayLike<number>, rnd: () => number): StepResult {
    const t0 = performance.now();
    const p = this.opts.progressive;
    if (p && this.step === p.at && this.currentBits !== p.to) this.switchBits(p.to);
    const { loss, correct, tape } = this.lossAndGrads(pixels, labels, idx, rnd);
    const stepNo = this.step + 1;
    if (!Number.isFinite(loss)) return this.diverged(stepNo, 'the loss');
    const t = stepNo;
    const upd = (key: string, x: Float32Array, g: Float32Array, lr: number, wd: number) => {
      let st = this.adam.get(key);
      if (!st) this.adam.set(key, (st = { m: new Float32Array(x.length), v: new Float32Array(x.length) }));
      const b1 = 0.9;
      const b2 = 0.999;
      const c1 = 1 - b1 ** t;
      const c2 = 1 - b2 ** t;
      for (let i = 0; i < x.length; i++) {
        x[i] *= 1 - lr * wd;
        st.m[i] = b1 * st.m[i] + (1 - b1) * g[i];
        st.v[i] = b2 * st.v[i] + (1 - b2) * g[i] * g[i];
        x[i] -= (lr * (st.m[i] / c1)) / (Math.sqrt(st.v[i] / c2) + 1e-8);
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
      for (let g = 0; g < q.groups; g++) q.s[g] = Math.max(q.s[g], 1e-8); // a scale stays positive
      if (q.learnsZero) upd(`q:${k}:z`, q.z, q.gz, this.opts.lrQuant, 0);
    }
    for (const q of this.quantizers.values())
      for (let g = 0; g < q.groups; g++)
        if (!Number.isFinite(q.s[g]) || !Number.isFinite(q.z[g])) return this.diverged(stepNo, 'a learned scale or zero');
    this.step = stepNo;
    this.lastGood = this.snapshot();
    return { step: stepNo, loss, batchAccuracy: correct / idx.length, ms: performance.now() - t0, bits: this.currentBits };
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
    for (const [k, a] of this.adam) adam.set(k, { m: a.m.slice(), v: a.v.slice() });
    return { step: this.step, params, quant, adam };
  }

  restore(s: TrainerState): void {
    for (const [k, v] of s.params) this.params.get(k)!.set(v);
    const bits = [...s.quant.values()].map((q) => q.bits);
    const prog = this.opts.progressive;
    if (prog) {
      this.quantizers.clear();
      const atFrom = bits.some((b) => b === prog.from) && s.step < prog.at;
      this.buildQuantizers(atFrom ? prog.from : undefined);
      this.currentBits = atFrom ? prog.from : prog.to;
    }
    for (const [k, q] of s.quant) {
      const dst = this.quantizers.get(k)!;
      dst.s.set(q.s);
      dst.z.set(q.z);
    }
    this.adam = new Map([...s.adam].map(([k, a]) => [k, { m: a.m.slice(), v: a.v.slice() }]));
    this.step = s.step;
  }

  get lastGoodState(): TrainerState | undefined {
    return this.lastGood;
  }
}
