/**
 * Forward and backward of every step kind of src/plan/steps.ts over a batch: the trainer runs
 * the lowered list forward, then in reverse backward. Values and gradients live in named maps;
 * gradients accumulate (a tensor read twice — the residual stream — sums both contributions).
 * Row arithmetic (LayerNorm, softmax, GELU) in float64 accumulators, stored as float32.
 */
import type { LoweredVit, Step, StepKind } from '../plan/steps';
import type { LearnedQuantizer } from './fakeQuant';
import { layerNormRowsInto, softmaxRows } from '../kernels/rowOps.ref';
import type { MatMul } from './matmul';

const GELU_C = Math.sqrt(2 / Math.PI);

export interface Tape {
  batch: number;
  vals: Map<string, Float32Array>;
  grads: Map<string, Float32Array>;
  /** per-step saved intermediates (LayerNorm: x̂ and 1/σ) */
  saved: Map<Step, Float32Array[]>;
}

export interface OpContext {
  model: LoweredVit;
  mm: MatMul;
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
  if (!g) tape.grads.set(name, (g = new Float32Array(size(ctx, tape, name))));
  return g;
}

function out(ctx: OpContext, tape: Tape, name: string): Float32Array {
  const y = new Float32Array(size(ctx, tape, name));
  tape.vals.set(name, y);
  return y;
}

const shapeOf = (ctx: OpContext, name: string) => ctx.model.shapes.get(name)!;

function fwd_linear(step: Extract<Step, { kind: 'linear' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const x = val(tape, step.x);
  const w = val(tape, step.w);
  const { rows: n, cols: k } = shapeOf(ctx, step.w);
  const m = x.length / k;
  const y = ctx.mm.mm(x, false, w, false, m, n, k, val(tape, step.b));
  tape.vals.set(step.y, y);
  return;
}

function fwd_fakeQuant(step: Extract<Step, { kind: 'fakeQuant' }>, ctx: OpContext, tape: Tape, training: boolean): void {
  const q = ctx.quantizers.get(quantKey(step.site, step.operand));
  if (!q) throw new Error(`no quantizer for site ${step.site} operand ${step.operand}`);
  const x = val(tape, step.x);
  const keep = training ? new Float32Array(x.length) : undefined;
  tape.vals.set(step.y, q.forward(x, undefined, keep));
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
  const keep = training ? { xhat: new Float32Array(x.length), inv: new Float32Array(rows) } : undefined;
  layerNormRowsInto(x, rows, d, g, b, step.eps, y, keep);
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
  const n = B * step.heads;
  for (let p = 0; p < n; p++) {
    const o = p * T * hd;
    const s = ctx.mm.mm(q.subarray(o, o + T * hd), false, k.subarray(o, o + T * hd), false, T, T, hd);
    const yo = p * T * T;
    for (let i = 0; i < T * T; i++) y[yo + i] = s[i] * step.scale;
  }
  return;
}

function fwd_softmax(step: Extract<Step, { kind: 'softmax' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const x = val(tape, step.x);
  const n = shapeOf(ctx, step.x).cols;
  const y = out(ctx, tape, step.y);
  y.set(x);
  softmaxRows(y, y.length / n, n); // the forward's own row softmax (src/kernels/rowOps.ref.ts)
}

function fwd_attnValues(step: Extract<Step, { kind: 'attnValues' }>, ctx: OpContext, tape: Tape, _training: boolean): void {
  const B = tape.batch;
  const p = val(tape, step.p);
  const v = val(tape, step.v);
  const T = shapeOf(ctx, step.p).cols;
  const hd = shapeOf(ctx, step.v).cols;
  const y = out(ctx, tape, step.y);
  const n = B * step.heads;
  for (let i = 0; i < n; i++)
    ctx.mm.mm(
      p.subarray(i * T * T, (i + 1) * T * T),
      false,
      v.subarray(i * T * hd, (i + 1) * T * hd),
      true,
      T,
      hd,
      T,
      null,
      y.subarray(i * T * hd, (i + 1) * T * hd),
    );
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
  const th = training ? new Float32Array(y.length) : null; // tanh kept for the backward
  for (let i = 0; i < y.length; i++) {
    const v = x[i];
    const t = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
    if (th) th[i] = t;
    y[i] = 0.5 * v * (1 + t);
  }
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
  accumulate(ctx, tape, step.x, ctx.mm.mm(dy, false, w, true, m, k, n));
  accumulate(ctx, tape, step.w, ctx.mm.mm(dy, true, x, true, n, k, m));
  const db = grad(ctx, tape, step.b);
  const acc = new Float64Array(n);
  for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) acc[j] += dy[r * n + j];
  for (let j = 0; j < n; j++) db[j] += acc[j];
  return;
}

function bwd_fakeQuant(step: Extract<Step, { kind: 'fakeQuant' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const q = ctx.quantizers.get(quantKey(step.site, step.operand))!;
  const keep = tape.saved.get(step);
  if (keep) q.backwardKept(keep[0], dy, grad(ctx, tape, step.x));
  else q.backward(val(tape, step.x), dy, grad(ctx, tape, step.x));
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
  const d = g.length;
  const rows = xhat.length / d;
  const dx = grad(ctx, tape, step.x);
  const dg = grad(ctx, tape, step.g);
  const db = grad(ctx, tape, step.b);
  const ag = new Float64Array(d);
  const ab = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < d; j++) {
      const e = dy[o + j];
      ag[j] += e * xhat[o + j];
      ab[j] += e;
      const dh = e * g[j];
      s1 += dh;
      s2 += dh * xhat[o + j];
    }
    const iv = inv[r];
    for (let j = 0; j < d; j++) dx[o + j] += (iv / d) * (d * dy[o + j] * g[j] - s1 - xhat[o + j] * s2);
  }
  for (let j = 0; j < d; j++) {
    dg[j] += ag[j];
    db[j] += ab[j];
  }
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
  const ds = new Float32Array(T * T);
  for (let p = 0; p < B * step.heads; p++) {
    const o = p * T * hd;
    for (let i = 0; i < T * T; i++) ds[i] = dy[p * T * T + i] * step.scale;
    // dQ = dS·K, dK = dSᵀ·Q
    addInto(dq.subarray(o, o + T * hd), ctx.mm.mm(ds, false, k.subarray(o, o + T * hd), true, T, hd, T));
    addInto(dk.subarray(o, o + T * hd), ctx.mm.mm(ds, true, q.subarray(o, o + T * hd), true, T, hd, T));
  }
  return;
}

function bwd_softmax(step: Extract<Step, { kind: 'softmax' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const y = val(tape, step.y);
  const n = shapeOf(ctx, step.x).cols;
  const dx = grad(ctx, tape, step.x);
  const rows = y.length / n;
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let s = 0;
    for (let j = 0; j < n; j++) s += dy[o + j] * y[o + j];
    for (let j = 0; j < n; j++) dx[o + j] += y[o + j] * (dy[o + j] - s);
  }
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
  for (let i = 0; i < B * step.heads; i++) {
    const po = i * T * T;
    const vo = i * T * hd;
    const dO = dy.subarray(vo, vo + T * hd);
    // dP = dO·Vᵀ, dV = Pᵀ·dO
    addInto(dp.subarray(po, po + T * T), ctx.mm.mm(dO, false, v.subarray(vo, vo + T * hd), false, T, T, hd));
    addInto(dv.subarray(vo, vo + T * hd), ctx.mm.mm(p.subarray(po, po + T * T), true, dO, true, T, hd, T));
  }
  return;
}

function bwd_residual(step: Extract<Step, { kind: 'residual' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  addInto(grad(ctx, tape, step.a), dy);
  addInto(grad(ctx, tape, step.b), dy);
  return;
}

function bwd_gelu(step: Extract<Step, { kind: 'gelu' }>, ctx: OpContext, tape: Tape, dy: Float32Array): void {
  const x = val(tape, step.x);
  const dx = grad(ctx, tape, step.x);
  const saved = tape.saved.get(step);
  if (!saved) throw new Error('gelu backward without a training forward');
  const tanh = saved[0];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const th = tanh[i];
    dx[i] += dy[i] * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * GELU_C * (1 + 3 * 0.044715 * v * v));
  }
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
  const parts = [step.q, step.k, step.v].map((n) => tape.grads.get(n));
  for (let i = 0; i < B; i++)
    for (let h = 0; h < H; h++)
      for (let r = 0; r < t; r++) {
        const dst = (i * t + r) * 3 * dim + h * hd;
        const src = ((i * H + h) * t + r) * hd;
        parts.forEach((gp, which) => {
          if (gp) for (let j = 0; j < hd; j++) dx[dst + which * dim + j] += gp[src + j];
        });
      }
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
 * the batch; returns the loss and ∂L/∂logits.
 */
export function crossEntropy(
  logits: Float32Array,
  labels: ArrayLike<number>,
  classes: number,
  smoothing: number,
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
    for (let j = 0; j < classes; j++) {
      const target = (j === labels[i] ? 1 - smoothing : 0) + smoothing / classes;
      loss -= target * (logits[o + j] - lse);
      grad[o + j] = (Math.exp(logits[o + j] - lse) - target) / B;
    }
  }
  return { loss: loss / B, grad, correct };
}
