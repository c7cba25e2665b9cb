/**
 * Forward and backward of every step kind of src/plan/steps.ts over a batch: the trainer runs
 * the lowered list forward, then in reverse backward. Values and gradients live in named maps;
 * gradients accumulate (a tensor read twice — the residual stream — sums both contributions).
 * Row arithmetic (LayerNorm, softmax, GELU) in float64 accumulators, stored as float32.
 */
import type { LoweredVit, Step, StepKind } from '../plan/steps';
import type { LearnedQuantizer } from './fakeQuant';
import type { TrainKernels } from './trainKernels';

export interface Tape {
  batch: number;
  vals: Map<string, Float32Array>;
  grads: Map<string, Float32Array>;
  /** per-step saved intermediates (LayerNorm: x̂ and 1/σ) */
  saved: Map<Step, Float32Array[]>;
}

export interface OpContext {
  model: LoweredVit;
  kernels: TrainKernels;
  /** learned quantizer of fakeQuant steps, keyed `${site}${operand}` */
  quantizers: Map<string, LearnedQuantizer>;
}

export const quantKey = (site: number, operand: 'a' | 'b') => `${site}${operand}`;

function size(ctx: OpContext, tape: Tape, name: string): number {
  const sh = ctx.model.shapes.get(name);
  if (!sh) throw new Error(`no shape for tensor ${name}`);
  return sh.constant ? sh.rows * sh.cols : tape.batch * sh.rows * sh.cols;
}

function val(tape: Tape, name: string): Float32Array {
  const v = tape.vals.get(name);
  if (!v) throw new Error(`tensor ${name} has not been computed`);
  return v;
}

/** the gradient of `name`, zero-filled on first use */
export function grad(ctx: OpContext, tape: Tape, name: string): Float32Array {
  let g = tape.grads.get(name);
  if (!g) tape.grads.set(name, (g = ctx.kernels.alloc(size(ctx, tape, name))));
  return g;
}

function out(ctx: OpContext, tape: Tape, name: string): Float32Array {
  const y = ctx.kernels.alloc(size(ctx, tape, name));
  tape.vals.set(name, y);
  return y;
}

const shapeOf = (ctx: OpContext, name: string) => ctx.model.shapes.get(name)!;

function fwd_linear(step: Extract<Step, { kind: 'linear' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const x = val(tape, step.x);
  const w = val(tape, step.w);
  const { rows: n, cols: k } = shapeOf(ctx, step.w);
  const m = x.length / k;
  const y = ctx.kernels.mm(x, false, w, false, m, n, k, val(tape, step.b));
  tape.vals.set(step.y, y);
  return;
}

function fwd_fakeQuant(step: Extract<Step, { kind: 'fakeQuant' }>, ctx: OpContext, tape: Tape, training: boolean): void {
  const q = ctx.quantizers.get(quantKey(step.site, step.operand));
  if (!q) throw new Error(`no quantizer for site ${step.site} operand ${step.operand}`);
  const x = val(tape, step.x);
  const keep = training ? ctx.kernels.alloc(x.length) : undefined;
  tape.vals.set(step.y, q.forward(x, ctx.kernels.alloc(x.length), keep, ctx.kernels));
  if (keep) tape.saved.set(step, [keep]);
  return;
}

function fwd_embed(step: Extract<Step, { kind: 'embed' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const B = tape.batch;
  const x = val(tape, step.x);
  const cls = val(tape, step.cls);
  const pos = val(tape, step.pos);
  const { rows: t, cols: d } = shapeOf(ctx, step.y);
  const y = out(ctx, tape, step.y);
  for (let i = 0; i < B; i++) {
    const o = i * t * d;
    for (let j = 0; j < d; j++) y[o + j] = cls[j] + pos[j];
    for (let r = 1; r < t; r++) for (let j = 0; j < d; j++) y[o + r * d + j] = x[(i * (t - 1) + r - 1) * d + j] + pos[r * d + j];
  }
  return;
}

function fwd_layerNorm(step: Extract<Step, { kind: 'layerNorm' }>, ctx: OpContext, tape: Tape, training: boolean): void {
  const x = val(tape, step.x);
  const g = val(tape, step.g);
  const b = val(tape, step.b);
  const d = g.length;
  const rows = x.length / d;
  const y = out(ctx, tape, step.y);
  const keep = training ? { xhat: ctx.kernels.alloc(x.length), inv: ctx.kernels.alloc(rows) } : undefined;
  ctx.kernels.layerNormForward(x, d, g, b, step.eps, y, keep);
  if (keep) tape.saved.set(step, [keep.xhat, keep.inv]);
  return;
}

function fwd_splitHeads(step: Extract<Step, { kind: 'splitHeads' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const B = tape.batch;
  const x = val(tape, step.x);
  const { rows: ht, cols: hd } = shapeOf(ctx, step.q);
  const H = step.heads;
  const t = ht / H;
  const dim = H * hd;
  const q = out(ctx, tape, step.q);
  const k = out(ctx, tape, step.k);
  const v = out(ctx, tape, step.v);
  for (let i = 0; i < B; i++)
    for (let h = 0; h < H; h++)
      for (let r = 0; r < t; r++) {
        const src = (i * t + r) * 3 * dim + h * hd;
        const dst = ((i * H + h) * t + r) * hd;
        for (let j = 0; j < hd; j++) {
          q[dst + j] = x[src + j];
          k[dst + j] = x[src + dim + j];
          v[dst + j] = x[src + 2 * dim + j];
        }
      }
  return;
}

function fwd_mergeHeads(step: Extract<Step, { kind: 'mergeHeads' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const B = tape.batch;
  const x = val(tape, step.x);
  const { rows: ht, cols: hd } = shapeOf(ctx, step.x);
  const H = step.heads;
  const t = ht / H;
  const dim = H * hd;
  const y = out(ctx, tape, step.y);
  for (let i = 0; i < B; i++)
    for (let h = 0; h < H; h++)
      for (let r = 0; r < t; r++) {
        const src = ((i * H + h) * t + r) * hd;
        const dst = (i * t + r) * dim + h * hd;
        for (let j = 0; j < hd; j++) y[dst + j] = x[src + j];
      }
  return;
}

function fwd_attnScores(step: Extract<Step, { kind: 'attnScores' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const B = tape.batch;
  const q = val(tape, step.q);
  const k = val(tape, step.k);
  const { rows: t } = shapeOf(ctx, step.y);
  const T = t / step.heads;
  const hd = shapeOf(ctx, step.q).cols;
  const y = out(ctx, tape, step.y);
  ctx.kernels.mmBatched(B * step.heads, q, false, k, false, T, T, hd, y, step.scale);
  return;
}

function fwd_softmax(step: Extract<Step, { kind: 'softmax' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const x = val(tape, step.x);
  const n = shapeOf(ctx, step.x).cols;
  const y = out(ctx, tape, step.y);
  y.set(x);
  ctx.kernels.softmaxRows(y, y.length / n, n);
}

function fwd_attnValues(step: Extract<Step, { kind: 'attnValues' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const B = tape.batch;
  const p = val(tape, step.p);
  const v = val(tape, step.v);
  const T = shapeOf(ctx, step.p).cols;
  const hd = shapeOf(ctx, step.v).cols;
  const y = out(ctx, tape, step.y);
  ctx.kernels.mmBatched(B * step.heads, p, false, v, true, T, hd, T, y);
  return;
}

function fwd_residual(step: Extract<Step, { kind: 'residual' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const a = val(tape, step.a);
  const b = val(tape, step.b);
  const y = out(ctx, tape, step.y);
  for (let i = 0; i < y.length; i++) y[i] = a[i] + b[i];
  return;
}

function fwd_gelu(step: Extract<Step, { kind: 'gelu' }>, ctx: OpContext, tape: Tape, training: boolean): void {
  const x = val(tape, step.x);
  const y = out(ctx, tape, step.y);
  const th = training ? ctx.kernels.alloc(y.length) : null; // tanh kept for the backward
  ctx.kernels.geluForward(x, y, th);
  if (th) tape.saved.set(step, [th]);
  return;
}

function fwd_takeCls(step: Extract<Step, { kind: 'takeCls' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const B = tape.batch;
  const x = val(tape, step.x);
  const { rows: t, cols: d } = shapeOf(ctx, step.x);
  const y = out(ctx, tape, step.y);
  for (let i = 0; i < B; i++) y.set(x.subarray(i * t * d, i * t * d + d), i * d);
  return;
}

/** forward of one step: each kind its own function (small functions optimize well) */
export function forwardStep(step: Step, ctx: OpContext, tape: Tape, training: boolean): void {
  (FORWARD[step.kind] as (s: Step, c: OpContext, t: Tape, tr: boolean) => void)(step, ctx, tape, training);
}

function bwd_linear(step: Extract<Step, { kind: 'linear' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const x = val(tape, step.x);
  const w = val(tape, step.w);
  const { rows: n, cols: k } = shapeOf(ctx, step.w);
  const m = x.length / k;
  // dX = dY·W, dW = dYᵀ·X, db = Σ_rows dY
  const { dx, dw } = ctx.kernels.linearBackward(x, w, dy, m, n, k);
  accumulate(ctx, tape, step.x, dx);
  accumulate(ctx, tape, step.w, dw);
  const db = grad(ctx, tape, step.b);
  const acc = new Float64Array(n);
  for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) acc[j] += dy[r * n + j];
  for (let j = 0; j < n; j++) db[j] += acc[j];
  return;
}

function bwd_fakeQuant(step: Extract<Step, { kind: 'fakeQuant' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const q = ctx.quantizers.get(quantKey(step.site, step.operand))!;
  const keep = tape.saved.get(step);
  if (keep) q.backwardKept(keep[0], dy, grad(ctx, tape, step.x), ctx.kernels);
  else q.backward(val(tape, step.x), dy, grad(ctx, tape, step.x), ctx.kernels);
  return;
}

function bwd_embed(step: Extract<Step, { kind: 'embed' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const B = tape.batch;
  const { rows: t, cols: d } = shapeOf(ctx, step.y);
  const dx = grad(ctx, tape, step.x);
  const dcls = grad(ctx, tape, step.cls);
  const dpos = grad(ctx, tape, step.pos);
  for (let i = 0; i < B; i++) {
    const o = i * t * d;
    for (let j = 0; j < d; j++) dcls[j] += dy[o + j];
    for (let r = 0; r < t; r++) for (let j = 0; j < d; j++) dpos[r * d + j] += dy[o + r * d + j];
    for (let r = 1; r < t; r++) for (let j = 0; j < d; j++) dx[(i * (t - 1) + r - 1) * d + j] += dy[o + r * d + j];
  }
  return;
}

function bwd_layerNorm(step: Extract<Step, { kind: 'layerNorm' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const saved = tape.saved.get(step);
  if (!saved) throw new Error('layerNorm backward without a training forward');
  const [xhat, inv] = saved;
  const g = val(tape, step.g);
  ctx.kernels.layerNormBackward({ xhat, inv }, g, dy, grad(ctx, tape, step.x), grad(ctx, tape, step.g), grad(ctx, tape, step.b));
  return;
}

function bwd_mergeHeads(step: Extract<Step, { kind: 'mergeHeads' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const B = tape.batch;
  const { rows: ht, cols: hd } = shapeOf(ctx, step.x);
  const H = step.heads;
  const t = ht / H;
  const dim = H * hd;
  const dx = grad(ctx, tape, step.x);
  for (let i = 0; i < B; i++)
    for (let h = 0; h < H; h++)
      for (let r = 0; r < t; r++) {
        const dst = ((i * H + h) * t + r) * hd;
        const src = (i * t + r) * dim + h * hd;
        for (let j = 0; j < hd; j++) dx[dst + j] += dy[src + j];
      }
  return;
}

function bwd_attnScores(step: Extract<Step, { kind: 'attnScores' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const B = tape.batch;
  const q = val(tape, step.q);
  const k = val(tape, step.k);
  const T = shapeOf(ctx, step.y).cols;
  const hd = shapeOf(ctx, step.q).cols;
  const dq = grad(ctx, tape, step.q);
  const dk = grad(ctx, tape, step.k);
  const n = B * step.heads;
  // S = scale·Q·Kᵀ: dQ = scale·dS·K, dK = scale·dSᵀ·Q
  const part = ctx.kernels.alloc(n * T * hd);
  ctx.kernels.mmBatched(n, dy, false, k, true, T, hd, T, part, step.scale);
  addInto(dq, part);
  ctx.kernels.mmBatched(n, dy, true, q, true, T, hd, T, part, step.scale);
  addInto(dk, part);
  return;
}

function bwd_softmax(step: Extract<Step, { kind: 'softmax' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const y = val(tape, step.y);
  const n = shapeOf(ctx, step.x).cols;
  const dx = grad(ctx, tape, step.x);
  ctx.kernels.softmaxBackward(y, dy, dx, n);
  return;
}

function bwd_attnValues(step: Extract<Step, { kind: 'attnValues' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const B = tape.batch;
  const p = val(tape, step.p);
  const v = val(tape, step.v);
  const T = shapeOf(ctx, step.p).cols;
  const hd = shapeOf(ctx, step.v).cols;
  const dp = grad(ctx, tape, step.p);
  const dv = grad(ctx, tape, step.v);
  const n = B * step.heads;
  // dP = dO·Vᵀ, dV = Pᵀ·dO
  const dP = ctx.kernels.alloc(n * T * T);
  ctx.kernels.mmBatched(n, dy, false, v, false, T, T, hd, dP);
  addInto(dp, dP);
  const dV = ctx.kernels.alloc(n * T * hd);
  ctx.kernels.mmBatched(n, p, true, dy, true, T, hd, T, dV);
  addInto(dv, dV);
  return;
}

function bwd_residual(step: Extract<Step, { kind: 'residual' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  // y is produced once and every reader of it has run: its gradient can become a's (no copy)
  accumulate(ctx, tape, step.a, dy);
  accumulate(ctx, tape, step.b, tape.grads.has(step.b) ? dy : copyOf(ctx, dy));
  return;
}

function bwd_gelu(step: Extract<Step, { kind: 'gelu' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const x = val(tape, step.x);
  const dx = grad(ctx, tape, step.x);
  const saved = tape.saved.get(step);
  if (!saved) throw new Error('gelu backward without a training forward');
  ctx.kernels.geluBackward(x, saved[0], dy, dx);
  return;
}

function bwd_takeCls(step: Extract<Step, { kind: 'takeCls' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const B = tape.batch;
  const { rows: t, cols: d } = shapeOf(ctx, step.x);
  const dx = grad(ctx, tape, step.x);
  for (let i = 0; i < B; i++) for (let j = 0; j < d; j++) dx[i * t * d + j] += dy[i * d + j];
  return;
}

const FORWARD: { [K in StepKind]: (s: Extract<Step, { kind: K }>, c: OpContext, t: Tape, training: boolean) => void } = {
  linear: fwd_linear,
  fakeQuant: fwd_fakeQuant,
  embed: fwd_embed,
  layerNorm: fwd_layerNorm,
  splitHeads: fwd_splitHeads,
  mergeHeads: fwd_mergeHeads,
  attnScores: fwd_attnScores,
  softmax: fwd_softmax,
  attnValues: fwd_attnValues,
  residual: fwd_residual,
  gelu: fwd_gelu,
  takeCls: fwd_takeCls,
};

const BACKWARD: {
  [K in Exclude<StepKind, 'splitHeads'>]: (s: Extract<Step, { kind: K }>, c: OpContext, t: Tape, dy: Float32Array) => void;
} = {
  linear: bwd_linear,
  fakeQuant: bwd_fakeQuant,
  embed: bwd_embed,
  layerNorm: bwd_layerNorm,
  mergeHeads: bwd_mergeHeads,
  attnScores: bwd_attnScores,
  softmax: bwd_softmax,
  attnValues: bwd_attnValues,
  residual: bwd_residual,
  gelu: bwd_gelu,
  takeCls: bwd_takeCls,
};

export function backwardStep(step: Step, ctx: OpContext, tape: Tape): void {
  if (step.kind === 'splitHeads') {
    splitHeadsBackward(step, ctx, tape);
    return;
  }
  const dy = tape.grads.get(step.y);
  if (!dy) return; // nothing downstream depends on this step's output
  (BACKWARD[step.kind] as (s: Step, c: OpContext, t: Tape, d: Float32Array) => void)(step, ctx, tape, dy);
}

function splitHeadsBackward(step: Extract<Step, { kind: 'splitHeads' }>, ctx: OpContext, tape: Tape): void {
  const B = tape.batch;
  const { rows: ht, cols: hd } = shapeOf(ctx, step.q);
  const H = step.heads;
  const t = ht / H;
  const dim = H * hd;
  const dx = grad(ctx, tape, step.x);
  [step.q, step.k, step.v].forEach((name, which) => {
    const gp = tape.grads.get(name);
    if (!gp) return;
    for (let i = 0; i < B; i++)
      for (let h = 0; h < H; h++)
        for (let r = 0; r < t; r++) {
          const dst = (i * t + r) * 3 * dim + which * dim + h * hd;
          const src = ((i * H + h) * t + r) * hd;
          for (let j = 0; j < hd; j++) dx[dst + j] += gp[src + j];
        }
  });
}

/** ∂name += g; takes g itself when name has no gradient yet (g must be a fresh array) */
function accumulate(ctx: OpContext, tape: Tape, name: string, g: Float32Array): void {
  const have = tape.grads.get(name);
  if (have) addInto(have, g);
  else {
    if (g.length !== size(ctx, tape, name)) throw new Error(`gradient of ${name}: ${g.length} values`);
    tape.grads.set(name, g);
  }
}

function copyOf(ctx: OpContext, a: Float32Array): Float32Array {
  const c = ctx.kernels.alloc(a.length);
  c.set(a);
  return c;
}

function addInto(dst: Float32Array, src: Float32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}

/** Runs the lowered list forward over a batch; returns the output (logits [batch × classes]). */
export function runForward(ctx: OpContext, tape: Tape, training: boolean): Float32Array {
  for (const step of ctx.model.steps) forwardStep(step, ctx, tape, training);
  return val(tape, ctx.model.output);
}

/** Runs the list in reverse from ∂L/∂output (set in tape.grads beforehand). */
export function runBackward(ctx: OpContext, tape: Tape): void {
  const steps = ctx.model.steps;
  for (let i = steps.length - 1; i >= 0; i--) backwardStep(steps[i], ctx, tape);
}

/**
 * Label-smoothed cross-entropy (PyTorch's label_smoothing: target (1−ε)·onehot + ε/C), mean over
 * the batch; returns the loss and ∂L/∂logits. With a teacher's logits (distillation, temperature 1):
 * ½·that loss + ½·CE(softmax(teacher)) — one cross-entropy against the averaged target.
 */
export function crossEntropy(
  logits: Float32Array,
  labels: ArrayLike<number>,
  classes: number,
  smoothing: number,
  teacher?: Float32Array,
): { loss: number; grad: Float32Array; correct: number } {
  const B = labels.length;
  const grad = new Float32Array(B * classes);
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < B; i++) {
    const o = i * classes;
    let mx = -Infinity;
    let arg = 0;
    for (let j = 0; j < classes; j++) if (logits[o + j] > mx) (mx = logits[o + j]), (arg = j);
    if (arg === labels[i]) correct++;
    let s = 0;
    for (let j = 0; j < classes; j++) s += Math.exp(logits[o + j] - mx);
    const lse = mx + Math.log(s);
    const soft = teacher ? softmaxRow(teacher, o, classes) : undefined;
    for (let j = 0; j < classes; j++) {
      const hard = (j === labels[i] ? 1 - smoothing : 0) + smoothing / classes;
      const target = soft ? 0.5 * hard + 0.5 * soft[j] : hard;
      loss -= target * (logits[o + j] - lse);
      grad[o + j] = (Math.exp(logits[o + j] - lse) - target) / B;
    }
  }
  return { loss: loss / B, grad, correct };
}

function softmaxRow(x: Float32Array, o: number, n: number): Float64Array {
  let mx = -Infinity;
  for (let j = 0; j < n; j++) mx = Math.max(mx, x[o + j]);
  const p = new Float64Array(n);
  let s = 0;
  for (let j = 0; j < n; j++) s += p[j] = Math.exp(x[o + j] - mx);
  for (let j = 0; j < n; j++) p[j] /= s;
  return p;
}
