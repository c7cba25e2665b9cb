/**
 * QAT on WebGPU (issue 13 item 2) through TensorFlow.js: the step list of src/plan/steps.ts lowered
 * to TF.js ops — the same description the WASM trainer runs, not another hand-written forward —
 * and TF.js's automatic differentiation for the backward, with one custom gradient: LSQ fake
 * quantization (straight-through rounding; ∂s, ∂z per group scaled by 1/√(n·qmax), exactly the
 * rules of src/train/fakeQuant.ts). AdamW in two groups as QatTrainer.update does, on the device.
 *
 * Why a library here and our kernels on the CPU: a GPU step needs the whole tape on the device (a
 * readback per op would stall on every product), and TF.js's WebGPU backend already has a tuned
 * kernel for every op of the ViT with its gradient; writing ~20 WGSL backward kernels of our own
 * would buy nothing measurable on the SwiftShader adapter this project is developed on. The
 * step-time comparison is in the closing note of issue 13 and in `npm run bench:qat -- --gpu`.
 *
 * The engine runs beside a QatTrainer, which keeps the host copy of the state (calibration, the
 * progressive schedule, the sensitivity order, export and apply read it): the device holds the
 * parameters, (s, z) and Adam's moments while training; pull() copies parameters and (s, z) back.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import { GELU_C } from '../kernels/rowOps.ref';
import type { LoweredVit, Step } from '../plan/steps';
import type { LearnedQuantizer } from './fakeQuant';
import { quantKey } from './ops';
import { ADAM, batchPatches, MIN_SCALE, type QatTrainer, type StepResult, type TrainerState, TrainingDiverged } from './trainer';

export type Tf = typeof TfCore;
type Tensor = TfCore.Tensor;
type Variable = TfCore.Variable;

/** TF.js on its WebGPU backend, or the reason it cannot run here */
export async function loadTfWebGpu(): Promise<{ tf: Tf } | { reason: string }> {
  if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) return { reason: 'this browser has no WebGPU' };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { reason: 'WebGPU has no adapter here' };
  try {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-core/dist/register_all_gradients');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return { reason: 'TensorFlow.js could not start its WebGPU backend' };
    return { tf };
  } catch (e) {
    return { reason: `TensorFlow.js WebGPU failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** a learned quantizer on the device */
interface DeviceQuant {
  s: Variable;
  z: Variable;
  /** element → group for a grouped weight (gathered to the operand's shape); absent for one group */
  index?: Tensor;
  qmin: number;
  qmax: number;
  gradScale: number;
  learnsZero: boolean;
}

interface DeviceAdam {
  m: Variable;
  v: Variable;
  t: number;
}

export class TfQatEngine {
  private readonly vars = new Map<string, Variable>();
  private readonly quant = new Map<string, DeviceQuant>();
  private readonly adam = new Map<string, DeviceAdam>();
  private readonly model: LoweredVit;
  /** distillation: the FP32 model's steps and the shipped weights as constants on the device */
  private readonly teacher?: { model: LoweredVit; params: Map<string, Tensor> };
  /** what the device has changed since the last pull() */
  private dirty = false;

  constructor(
    readonly tf: Tf,
    readonly trainer: QatTrainer,
  ) {
    this.model = trainer.model;
    if (trainer.teacher) {
      const params = new Map<string, Tensor>();
      for (const p of trainer.teacher.ctx.model.params)
        params.set(p.name, tf.tensor2d(trainer.teacher.params.get(p.name)!, [p.shape.rows, p.shape.cols]));
      this.teacher = { model: trainer.teacher.ctx.model, params };
    }
    for (const p of this.model.params) {
      const v = trainer.params.get(p.name)!;
      this.vars.set(p.name, tf.variable(tf.tensor2d(v, [p.shape.rows, p.shape.cols]), true));
    }
    for (const k of trainer.quantizers.keys()) this.pushQuantizer(k);
  }

  get backend(): string {
    return this.tf.getBackend();
  }

  /** (re)places quantizer `key` from the host's copy — after calibration or a progressive switch; its moments start afresh */
  pushQuantizer(key: string): void {
    const tf = this.tf;
    const q: LearnedQuantizer = this.trainer.quantizers.get(key)!;
    const old = this.quant.get(key);
    if (old) {
      old.s.dispose();
      old.z.dispose();
      old.index?.dispose();
    }
    for (const part of ['s', 'z']) {
      this.adam.get(`q:${key}:${part}`)?.m.dispose();
      this.adam.get(`q:${key}:${part}`)?.v.dispose();
      this.adam.delete(`q:${key}:${part}`);
    }
    const st = this.model.steps.find((s) => s.kind === 'fakeQuant' && quantKey(s.site, s.operand) === key) as FakeQuantStep;
    const sh = this.model.shapes.get(st.x)!;
    this.quant.set(key, {
      s: tf.variable(tf.tensor1d(q.s), true),
      z: tf.variable(tf.tensor1d(q.z), q.learnsZero),
      index: q.groups > 1 ? tf.tensor1d(q.groupIndex(sh.rows * sh.cols), 'int32') : undefined,
      qmin: q.qmin,
      qmax: q.qmax,
      gradScale: q.gradScale,
      learnsZero: q.learnsZero,
    });
  }

  /** every quantizer from the host (after restore or calibrate) */
  pushQuantizers(): void {
    for (const k of this.trainer.quantizers.keys()) this.pushQuantizer(k);
  }

  /** parameters and (s, z) from the device into the host trainer */
  async pull(): Promise<void> {
    if (!this.dirty) return;
    // cleared first: a step that finishes while this reads (the worker interleaves messages) marks it again
    this.dirty = false;
    for (const [name, v] of this.vars) this.trainer.params.get(name)!.set(await v.data());
    for (const [k, d] of this.quant) {
      const q = this.trainer.quantizers.get(k)!;
      q.s.set(await d.s.data());
      q.z.set(await d.z.data());
    }
  }

  /** the host trainer's snapshot with the device's parameters, (s, z) and Adam moments: a checkpoint */
  async snapshot(): Promise<TrainerState> {
    await this.pull();
    const s = this.trainer.snapshot();
    const adam: TrainerState['adam'] = new Map();
    for (const [k, a] of this.adam) adam.set(k, { m: (await a.m.data()) as Float32Array, v: (await a.v.data()) as Float32Array, t: a.t });
    return { ...s, adam };
  }

  /** Adam's moments from a checkpoint (after the host trainer restored the rest and this engine was built from it) */
  loadAdam(adam: TrainerState['adam']): void {
    const tf = this.tf;
    for (const [k, a] of adam) {
      const target = k.startsWith('p:') ? this.vars.get(k.slice(2)) : this.quant.get(k.slice(2, -2))?.[k.endsWith(':s') ? 's' : 'z'];
      if (!target) throw new Error(`checkpoint: Adam state for ${k}, which this model does not train`);
      this.adam.get(k)?.m.dispose();
      this.adam.get(k)?.v.dispose();
      this.adam.set(k, {
        m: tf.variable(tf.tensor(a.m, target.shape), false),
        v: tf.variable(tf.tensor(a.v, target.shape), false),
        t: a.t,
      });
    }
  }

  /** LSQ fake quantization of x with the quantizer `key` (custom gradient: STE, ∂s, ∂z as fakeQuant.ts) */
  private fakeQuant(x: Tensor, key: string): Tensor {
    const tf = this.tf;
    const d = this.quant.get(key);
    if (!d) throw new Error(`no quantizer for ${key}`);
    const expand = (p: Tensor) => (d.index ? tf.reshape(tf.gather(p, d.index), x.shape) : p);
    const { qmin, qmax, gradScale } = d;
    const f = tf.customGrad((...args: unknown[]) => {
      const [xx, s, z, save] = args as [Tensor, Tensor, Tensor, TfCore.GradSaveFunc];
      const zr = tf.round(z);
      const c = tf.clipByValue(tf.add(tf.round(tf.div(xx, s)), zr), qmin, qmax);
      save([xx, s, z]);
      return {
        value: tf.mul(s, tf.sub(c, zr)),
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const [xs, ss, zs] = saved;
          const zq = tf.round(zs);
          const v = tf.div(xs, ss);
          const rv = tf.round(v);
          const r = tf.add(rv, zq);
          const inside = tf.logicalAnd(tf.greaterEqual(r, qmin), tf.lessEqual(r, qmax));
          const dx = tf.where(inside, dy, tf.zerosLike(dy));
          // ∂q̂/∂s: ⌊v⌉ − v inside the grid, clamp(r) − ⌊z⌉ where clamped; ∂q̂/∂z: −s where clamped
          const dsE = tf.mul(dy, tf.where(inside, tf.sub(rv, v), tf.sub(tf.clipByValue(r, qmin, qmax), zq)));
          const dzE = tf.where(inside, tf.zerosLike(dy), tf.mul(dy, tf.neg(ss)));
          const reduce = (g: Tensor, like: Tensor) => tf.mul(like.size === 1 ? tf.reshape(tf.sum(g), like.shape) : g, gradScale);
          return [dx, reduce(dsE, ss), reduce(dzE, zs)];
        },
      };
    });
    return f(x, expand(d.s), expand(d.z));
  }

  private lowerStep(
    st: Step,
    get: (n: string) => Tensor,
    shape: (n: string) => { rows: number; cols: number },
    B: number,
  ): [string, Tensor][] {
    const tf = this.tf;
    const one = (name: string, t: Tensor): [string, Tensor][] => [[name, t]];
    switch (st.kind) {
      case 'linear':
        return one(st.y, tf.add(tf.matMul(get(st.x), get(st.w), false, true), get(st.b)));
      case 'fakeQuant':
        return one(st.y, this.fakeQuant(get(st.x), quantKey(st.site, st.operand)));
      case 'embed': {
        const { rows: t, cols: d } = shape(st.y);
        const cls = tf.tile(tf.reshape(get(st.cls), [1, 1, d]), [B, 1, 1]);
        const x = tf.concat([cls, tf.reshape(get(st.x), [B, t - 1, d])], 1);
        return one(st.y, tf.reshape(tf.add(x, tf.reshape(get(st.pos), [1, t, d])), [B * t, d]));
      }
      case 'layerNorm': {
        const x = get(st.x);
        const { mean, variance } = tf.moments(x, -1, true);
        const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, st.eps)));
        return one(st.y, tf.add(tf.mul(xhat, get(st.g)), get(st.b)));
      }
      case 'splitHeads': {
        const { rows: ht, cols: hd } = shape(st.q);
        const t = ht / st.heads;
        // [B·t × 3·H·hd] → [3, B, H, t, hd]: q, k, v each [B·H·t × hd]
        const parts = tf.unstack(tf.transpose(tf.reshape(get(st.x), [B, t, 3, st.heads, hd]), [2, 0, 3, 1, 4]));
        return [st.q, st.k, st.v].map((name, i): [string, Tensor] => [name, tf.reshape(parts[i], [B * ht, hd])]);
      }
      case 'attnScores': {
        const { rows: ht, cols: hd } = shape(st.q);
        const t = ht / st.heads;
        const q = tf.reshape(get(st.q), [B * st.heads, t, hd]);
        const k = tf.reshape(get(st.k), [B * st.heads, t, hd]);
        return one(st.y, tf.reshape(tf.mul(tf.matMul(q, k, false, true), st.scale), [B * ht, t]));
      }
      case 'softmax':
        return one(st.y, tf.softmax(get(st.x)));
      case 'attnValues': {
        const { rows: ht, cols: hd } = shape(st.v);
        const t = ht / st.heads;
        const p = tf.reshape(get(st.p), [B * st.heads, t, t]);
        const v = tf.reshape(get(st.v), [B * st.heads, t, hd]);
        return one(st.y, tf.reshape(tf.matMul(p, v), [B * ht, hd]));
      }
      case 'mergeHeads': {
        const { rows: ht, cols: hd } = shape(st.x);
        const t = ht / st.heads;
        return one(st.y, tf.reshape(tf.transpose(tf.reshape(get(st.x), [B, st.heads, t, hd]), [0, 2, 1, 3]), [B * t, st.heads * hd]));
      }
      case 'residual':
        return one(st.y, tf.add(get(st.a), get(st.b)));
      case 'gelu': {
        // tanh form, as the inference kernels and the WASM trainer (rowOps.ref)
        const x = get(st.x);
        const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C);
        return one(st.y, tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)));
      }
      case 'takeCls': {
        const { rows: t, cols: d } = shape(st.x);
        return one(st.y, tf.reshape(tf.slice(tf.reshape(get(st.x), [B, t, d]), [0, 0, 0], [B, 1, d]), [B, d]));
      }
    }
  }

  /** the logits of patches [batch·P × 3p²] through a step list — the trained one, or the teacher's (inside a tidy or a gradient) */
  private logitsTensor(
    patches: Tensor,
    batch: number,
    net: { model: LoweredVit; params: Map<string, Tensor> } = { model: this.model, params: this.vars },
  ): Tensor {
    const vals = new Map<string, Tensor>(net.params);
    vals.set(net.model.input, patches);
    const get = (n: string) => {
      const v = vals.get(n);
      if (!v) throw new Error(`tensor ${n} has not been computed`);
      return v;
    };
    const shape = (n: string) => net.model.shapes.get(n)!;
    for (const st of net.model.steps) for (const [name, t] of this.lowerStep(st, get, shape, batch)) vals.set(name, t);
    return get(net.model.output);
  }

  /** the distillation target: the FP32 teacher's softmax on the same patches (no gradient); undefined without distillation */
  private teacherProbs(patches: Tensor, batch: number): Tensor | undefined {
    return this.teacher ? this.tf.softmax(this.logitsTensor(patches, batch, this.teacher)) : undefined;
  }

  /**
   * label-smoothed cross-entropy, mean over the batch (PyTorch's label_smoothing, as ops.crossEntropy);
   * with the teacher's probabilities ½ of it + ½ CE to them (LSQ's distillation, T = 1)
   */
  private loss(logits: Tensor, labels: Tensor, soft?: Tensor): Tensor {
    const tf = this.tf;
    const C = this.trainer.weights.config.classes;
    const eps = this.trainer.opts.smoothing;
    const hard = tf.add(tf.mul(tf.oneHot(labels, C), 1 - eps), eps / C);
    const target = soft ? tf.add(tf.mul(hard, 0.5), tf.mul(soft, 0.5)) : hard;
    return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), -1)));
  }

  private patchesOf(pixels: Uint8Array, idx: ArrayLike<number>, rnd?: () => number): Tensor {
    const c = this.trainer.weights.config;
    const P = (c.image / c.patch) ** 2;
    return this.tf.tensor2d(batchPatches(pixels, idx, c, rnd), [idx.length * P, 3 * c.patch * c.patch]);
  }

  /** the trainable variables in a fixed order, with their AdamW group */
  private trainables(): { key: string; v: Variable; lr: number; wd: number; clampMin?: number }[] {
    const o = this.trainer.opts;
    const out: { key: string; v: Variable; lr: number; wd: number; clampMin?: number }[] = [];
    if (o.trainWeights) for (const [name, v] of this.vars) out.push({ key: `p:${name}`, v, lr: o.lrWeights, wd: o.weightDecay });
    for (const [k, d] of this.quant) {
      out.push({ key: `q:${k}:s`, v: d.s, lr: o.lrQuant, wd: 0, clampMin: MIN_SCALE });
      if (d.learnsZero) out.push({ key: `q:${k}:z`, v: d.z, lr: o.lrQuant, wd: 0 });
    }
    return out;
  }

  /**
   * One training step on images `idx` (the same batch, augmentation and schedule as
   * QatTrainer.trainStep). A non-finite loss or gradient throws TrainingDiverged before any update,
   * so the device keeps the last good state.
   */
  async trainStep(pixels: Uint8Array, labels: ArrayLike<number>, idx: ArrayLike<number>, rnd: () => number): Promise<StepResult> {
    const tf = this.tf;
    const t0 = performance.now();
    const tr = this.trainer;
    const due = tr.sitesDueNow();
    if (due.length) {
      await this.pull(); // the switch reads the ranges (and, with init 'mse', the weights) the device learned
      const before = new Map(tr.quantizers);
      tr.switchSites(due);
      // a switched operand has a new quantizer object (new bits, range, fresh moments)
      for (const [k, q] of tr.quantizers) if (before.get(k) !== q) this.pushQuantizer(k);
    }
    const B = idx.length;
    const items = this.trainables();
    const lab = Int32Array.from(idx, (i) => labels[i]);
    const { value, grads, stats } = tf.tidy(() => {
      const x = this.patchesOf(pixels, idx, rnd);
      const y = tf.tensor1d(lab, 'int32');
      const soft = this.teacherProbs(x, B);
      let logits: Tensor | undefined;
      const g = tf.variableGrads(
        () => {
          logits = tf.keep(this.logitsTensor(x, B)); // variableGrads disposes what its function made; the accuracy needs the logits
          return this.loss(logits, y, soft) as TfCore.Scalar;
        },
        items.map((i) => i.v),
      );
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits!, -1), y), 'float32'));
      logits!.dispose();
      // one finite check over every gradient: a sum of |g| is finite iff each term is (short of overflow).
      // concat, not addN/stack: TF.js 4.22's WebGPU backend returned zeros for an addN of 46 tensors stacked with scalars
      const gAbs = tf.sum(tf.concat(items.map((i) => tf.reshape(tf.sum(tf.abs(g.grads[i.v.name])), [1]))));
      return {
        value: g.value,
        grads: g.grads,
        stats: tf.concat([tf.reshape(g.value, [1]), tf.reshape(correct, [1]), tf.reshape(gAbs, [1])]),
      };
    });
    const [loss, correct, gsum] = await stats.data();
    stats.dispose();
    value.dispose();
    const stepNo = tr.step + 1;
    if (!Number.isFinite(loss) || !Number.isFinite(gsum)) {
      tf.dispose(grads);
      throw new TrainingDiverged(stepNo, Number.isFinite(loss) ? 'a gradient' : 'the loss');
    }
    const lrScale = tr.lrScale();
    for (const it of items) {
      const g = grads[it.v.name];
      let st = this.adam.get(it.key);
      if (!st) this.adam.set(it.key, (st = { m: tf.variable(tf.zerosLike(it.v), false), v: tf.variable(tf.zerosLike(it.v), false), t: 0 }));
      const t = ++st.t;
      const lr = it.lr * lrScale;
      const c1 = 1 - ADAM.b1 ** t;
      const c2 = 1 - ADAM.b2 ** t;
      const s = st;
      tf.tidy(() => {
        const m = tf.add(tf.mul(s.m, ADAM.b1), tf.mul(g, 1 - ADAM.b1));
        const v = tf.add(tf.mul(s.v, ADAM.b2), tf.mul(tf.square(g), 1 - ADAM.b2));
        s.m.assign(m);
        s.v.assign(v);
        let nx = tf.sub(tf.mul(it.v, 1 - lr * it.wd), tf.div(tf.mul(m, lr / c1), tf.add(tf.sqrt(tf.div(v, c2)), ADAM.eps)));
        if (it.clampMin !== undefined) nx = tf.maximum(nx, it.clampMin);
        it.v.assign(nx);
      });
    }
    tf.dispose(grads);
    this.dirty = true;
    tr.step = stepNo;
    return tr.stepResult(loss, correct / B, t0);
  }

  /** loss and gradients on a batch without an update (tests): parameters by name, (s, z) by quantizer key */
  async lossAndGrads(
    pixels: Uint8Array,
    labels: ArrayLike<number>,
    idx: ArrayLike<number>,
  ): Promise<{ loss: number; logits: Float32Array; grads: Map<string, Float32Array> }> {
    const tf = this.tf;
    const names: [string, Variable][] = [...this.vars];
    for (const [k, d] of this.quant) names.push([`q:${k}:s`, d.s], ...(d.learnsZero ? ([[`q:${k}:z`, d.z]] as [string, Variable][]) : []));
    const lab = Int32Array.from(idx, (i) => labels[i]);
    let logits: Tensor | undefined;
    const x = this.patchesOf(pixels, idx);
    const soft = this.teacherProbs(x, idx.length);
    const r = tf.variableGrads(
      () => {
        logits = tf.keep(this.logitsTensor(x, idx.length));
        return this.loss(logits, tf.tensor1d(lab, 'int32'), soft) as TfCore.Scalar;
      },
      names.map(([, v]) => v),
    );
    const grads = new Map<string, Float32Array>();
    for (const [n, v] of names) grads.set(n, (await r.grads[v.name].data()) as Float32Array);
    const out = { loss: (await r.value.data())[0], logits: (await logits!.data()) as Float32Array, grads };
    tf.dispose([r.value, logits!, x, ...(soft ? [soft] : []), ...Object.values(r.grads)]);
    return out;
  }

  /** predicted classes of images idx (no augmentation), in chunks */
  async predict(pixels: Uint8Array, count: number, chunk = 50): Promise<Int32Array> {
    const tf = this.tf;
    const out = new Int32Array(count);
    for (let i0 = 0; i0 < count; i0 += chunk) {
      const idx = Array.from({ length: Math.min(chunk, count - i0) }, (_, j) => i0 + j);
      const p = tf.tidy(() => tf.argMax(this.logitsTensor(this.patchesOf(pixels, idx), idx.length), -1));
      out.set(await p.data(), i0);
      p.dispose();
    }
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    if (this.teacher) this.tf.dispose([...this.teacher.params.values()]);
    for (const d of this.quant.values()) this.tf.dispose([d.s, d.z, ...(d.index ? [d.index] : [])]);
    for (const a of this.adam.values()) this.tf.dispose([a.m, a.v]);
    this.vars.clear();
    this.quant.clear();
    this.adam.clear();
  }
}

type FakeQuantStep = Extract<Step, { kind: 'fakeQuant' }>;
