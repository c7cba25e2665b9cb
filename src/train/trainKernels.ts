/**
 * The hot loops of training, in both directions, behind one interface: the products
 * Y = op(A)·op(B)ᵀ (A stored [m×k] or [k×m] when aT, B stored [n×k] or [k×n] when bT — the
 * forward uses aT = bT = false, the backward's dX = dY·W and dW = dYᵀ·X the transposed cases),
 * the attention products of every (image, head) in one call, LSQ fake quantization and its
 * backward, GELU and its backward, the row softmax.
 *
 * Two implementations: WebAssembly SIMD (asm/kernels.ts through src/cpu/cpuKernels.ts — the GEMM,
 * softmax and GELU of the CPU inference backend, plus fq_forward / fq_backward / gelu_train /
 * gelu_backward) and plain TypeScript (the reference, and the fallback where the wasm does not
 * load). They agree to float32 rounding: the fake-quant forward bit for bit, the sums of the
 * backward and the exp/tanh of GELU and softmax to a few ulps (src/train/trainKernels.test.ts).
 */
import { isWasmKernels, roundUp, type CpuKernels } from '../cpu/cpuKernels';
import { GELU_C, layerNormRowsInto, softmaxRows } from '../kernels/rowOps.ref';

/** markers of clamped elements in the fake-quant `keep` (inside the grid it holds ⌊v⌉ − v ∈ [−½, ½]) */
export const FQ_BELOW = 2;
export const FQ_ABOVE = 3;

/** How a fake-quant call sees its quantizer: runs of elements sharing one (s, z). */
export interface FqArgs {
  /** int32 triples (group, first element, end) */
  runs: Int32Array;
  s: Float32Array;
  /** ⌊z⌉ per group */
  zr: Float32Array;
  qmin: number;
  qmax: number;
}

export interface TrainKernels {
  readonly impl: 'wasm-simd' | 'typescript';
  /**
   * A zeroed tensor. Between beginStep() and endStep() the wasm kernels place it in their own
   * memory, where they read and write it without copies; it is valid until endStep().
   */
  alloc(len: number): Float32Array;
  /** opens a step (see alloc); nothing allocated in it may be used after endStep() */
  beginStep(): void;
  /** throws StepMemoryMoved when the step's tensors were detached (memory grew): rerun the step */
  checkStep(): void;
  endStep(): void;
  /** how the step's tensors are held: 'resident' (wasm memory), 'measure' (the first step sizes it), 'copy' */
  readonly residency: () => 'resident' | 'measure' | 'copy';
  /** out (fresh when absent) = op(A)·op(B)ᵀ (+ bias per column) */
  mm(
    a: Float32Array,
    aT: boolean,
    b: Float32Array,
    bT: boolean,
    m: number,
    n: number,
    k: number,
    bias?: Float32Array | null,
    out?: Float32Array,
  ): Float32Array;
  /** a linear layer's backward products: dX = dY·W [m×k] and dW = dYᵀ·X [n×k] (x [m×k], w [n×k], dy [m×n]) */
  linearBackward(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    m: number,
    n: number,
    k: number,
  ): { dx: Float32Array; dw: Float32Array };
  /** `count` independent products of consecutive blocks: out_p = scale·op(A_p)·op(B_p)ᵀ (out overwritten) */
  mmBatched(
    count: number,
    a: Float32Array,
    aT: boolean,
    b: Float32Array,
    bT: boolean,
    m: number,
    n: number,
    k: number,
    out: Float32Array,
    scale?: number,
  ): void;
  /** y = s·(clamp(⌊x/s⌉ + ⌊z⌉, qmin, qmax) − ⌊z⌉) per run; keep (when given): ⌊v⌉ − v or FQ_BELOW / FQ_ABOVE */
  fqForward(x: Float32Array, y: Float32Array, keep: Float32Array | undefined, q: FqArgs): void;
  /** dx += dy inside the grid; gs[g] += Σ dy·∂q̂/∂s, gz[g] += Σ dy·∂q̂/∂z (before LSQ's gradient scale) */
  fqBackward(keep: Float32Array, dy: Float32Array, dx: Float32Array, q: FqArgs, gs: Float64Array, gz: Float64Array): void;
  /** tanh-GELU; th (when given) receives tanh(u) for the backward */
  geluForward(x: Float32Array, y: Float32Array, th: Float32Array | null): void;
  /** dx += dy·gelu′(x) from the kept tanh */
  geluBackward(x: Float32Array, th: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** row softmax in place */
  softmaxRows(x: Float32Array, rows: number, n: number): void;
  /** dx += y·(dy − Σ_row dy·y) */
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;
  /** LayerNorm over rows of d into y, keeping x̂ and each row's 1/σ */
  layerNormForward(x: Float32Array, d: number, g: Float32Array, b: Float32Array, eps: number, y: Float32Array, keep?: LayerNormKeep): void;
  /** dx += ∂L/∂x, dg += Σ dy·x̂, db += Σ dy from what the forward kept */
  layerNormBackward(keep: LayerNormKeep, g: Float32Array, dy: Float32Array, dx: Float32Array, dg: Float32Array, db: Float32Array): void;
}

export interface LayerNormKeep {
  xhat: Float32Array;
  inv: Float32Array;
}

/** The wasm memory grew while a step's tensors lived in it (their views are detached): the step must run again. */
export class StepMemoryMoved extends Error {
  constructor() {
    super('the training kernels’ memory grew during a step; the step runs again with a larger reserve');
    this.name = 'StepMemoryMoved';
  }
}

function check(a: Float32Array, b: Float32Array, m: number, n: number, k: number, count = 1) {
  if (a.length !== count * m * k) throw new RangeError(`mm: A has ${a.length} values, expected ${count}×${m}×${k}`);
  if (b.length !== count * n * k) throw new RangeError(`mm: B has ${b.length} values, expected ${count}×${n}×${k}`);
}

function mmTs(
  a: Float32Array,
  aT: boolean,
  b: Float32Array,
  bT: boolean,
  m: number,
  n: number,
  k: number,
  bias?: Float32Array | null,
  out?: Float32Array,
): Float32Array {
  check(a, b, m, n, k);
  const y = out ?? new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j] : 0;
      for (let p = 0; p < k; p++) s += (aT ? a[p * m + i] : a[i * k + p]) * (bT ? b[p * n + j] : b[j * k + p]);
      y[i * n + j] = s;
    }
  return y;
}

export const tsTrainKernels: TrainKernels = {
  impl: 'typescript',
  alloc: (len) => new Float32Array(len),
  beginStep: () => undefined,
  checkStep: () => undefined,
  endStep: () => undefined,
  residency: () => 'copy',
  mm: mmTs,
  linearBackward(x, w, dy, m, n, k) {
    return { dx: mmTs(dy, false, w, true, m, k, n), dw: mmTs(dy, true, x, true, n, k, m) };
  },
  mmBatched(count, a, aT, b, bT, m, n, k, out, scale = 1) {
    check(a, b, m, n, k, count);
    for (let p = 0; p < count; p++) {
      const y = out.subarray(p * m * n, (p + 1) * m * n);
      mmTs(a.subarray(p * m * k, (p + 1) * m * k), aT, b.subarray(p * n * k, (p + 1) * n * k), bT, m, n, k, null, y);
      if (scale !== 1) for (let i = 0; i < y.length; i++) y[i] *= scale;
    }
  },
  fqForward(x, y, keep, { runs, s, zr, qmin, qmax }) {
    for (let r = 0; r < runs.length; r += 3) {
      const g = runs[r];
      const sc = s[g];
      const z = zr[g];
      for (let i = runs[r + 1]; i < runs[r + 2]; i++) {
        const v = Math.fround(x[i] / sc);
        let rv = Math.round(v);
        if (rv - v === 0.5 && rv % 2 !== 0) rv -= 1; // half to even (src/quant/scaleZero.ts roundHalfEven, inlined)
        const rr = rv + z;
        const cl = rr < qmin ? qmin : rr > qmax ? qmax : rr;
        y[i] = sc * (cl - z);
        if (keep) keep[i] = rr < qmin ? FQ_BELOW : rr > qmax ? FQ_ABOVE : rv - v;
      }
    }
  },
  fqBackward(keep, dy, dx, { runs, s, zr, qmin, qmax }, gs, gz) {
    for (let r = 0; r < runs.length; r += 3) {
      const g = runs[r];
      const z = zr[g];
      let as = 0;
      let clamped = 0;
      for (let i = runs[r + 1]; i < runs[r + 2]; i++) {
        const e = keep[i];
        const d = dy[i];
        if (e <= 0.5) {
          dx[i] += d;
          as += d * e;
        } else {
          as += d * ((e === FQ_BELOW ? qmin : qmax) - z);
          clamped += d;
        }
      }
      gs[g] += as;
      gz[g] -= clamped * s[g];
    }
  },
  geluForward(x, y, th) {
    for (let i = 0; i < y.length; i++) {
      const v = x[i];
      const t = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
      if (th) th[i] = t;
      y[i] = 0.5 * v * (1 + t);
    }
  },
  geluBackward(x, th, dy, dx) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      const t = th[i];
      dx[i] += dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * v * v));
    }
  },
  softmaxRows,
  softmaxBackward(y, dy, dx, n) {
    for (let o = 0; o < y.length; o += n) {
      let s = 0;
      for (let j = 0; j < n; j++) s += dy[o + j] * y[o + j];
      for (let j = 0; j < n; j++) dx[o + j] += y[o + j] * (dy[o + j] - s);
    }
  },
  layerNormForward(x, d, g, b, eps, y, keep) {
    layerNormRowsInto(x, x.length / d, d, g, b, eps, y, keep);
  },
  layerNormBackward({ xhat, inv }, g, dy, dx, dg, db) {
    const d = g.length;
    const ag = new Float64Array(d);
    const ab = new Float64Array(d);
    for (let r = 0; r < inv.length; r++) {
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
  },
};

/** The wasm kernels when `kernels` is the wasm implementation, else the TypeScript ones. */
/** wasm memory a step may hold resident (batch 128 needs ~2 GiB; more: the tensors are copied in and out per call) */
const RESIDENT_LIMIT = 3 * 2 ** 30;

/** The wasm kernels when `kernels` is the wasm implementation, else the TypeScript ones. */
export function trainKernelsFor(kernels: CpuKernels): TrainKernels {
  if (!isWasmKernels(kernels)) return tsTrainKernels;
  const ex = kernels.ex;
  const ar = kernels.arena;
  /**
   * Residency: the first step runs with JS arrays and counts what it allocates ('measure'); later
   * steps reserve that much wasm memory up front (growing memory detaches every view, so it must
   * not grow mid-step) and hand out views into it ('resident'). A growth anyway throws
   * StepMemoryMoved; after two, or past RESIDENT_LIMIT, tensors stay JS arrays ('copy').
   */
  let mode: 'measure' | 'resident' | 'copy' = 'measure';
  let open = false;
  let mark = 0;
  let gen0 = 0;
  let counted = 0;
  let reserve = 0;
  let losses = 0;
  const resident = (a: Float32Array) => a.buffer === ex.memory.buffer;
  const guard = () => {
    if (open && mode === 'resident' && ar.generation !== gen0) throw new StepMemoryMoved();
  };
  /** a pointer to `a` in wasm memory: itself when resident, else a scoped copy */
  const ptr = (a: Float32Array) => (resident(a) ? a.byteOffset : ar.putF32(a));
  /** where a kernel writes `out`: itself when resident, else scoped scratch copied out by done() */
  const outPtr = (a: Float32Array) => (resident(a) ? a.byteOffset : ar.alloc(a.length * 4));
  const done = (a: Float32Array, p: number) => {
    guard();
    if (!resident(a)) a.set(ar.f32(p, a.length));
  };
  /** runs f on scoped scratch, checking that the step's tensors did not move */
  const call = <T>(f: () => T): T => {
    guard();
    return ar.scoped(f);
  };
  /** one product on operands already in wasm memory; `ta` (m×k floats) and `wp` (packed B) are scratch */
  const product = (
    pa: number,
    aT: boolean,
    pb: number,
    bT: boolean,
    m: number,
    n: number,
    k: number,
    ta: number,
    wp: number,
    pbias: number,
    py: number,
  ) => {
    if (aT) {
      ex.transpose32(pa, k, m, ta, k); // stored [k×m] → [m×k]
      pa = ta;
    }
    if (bT)
      ex.pack_b_f32_kn(pb, n, k, wp); // stored [k×n]: packed without a transpose
    else ex.pack_b_f32(pb, n, k, wp);
    ex.gemm_f32(pa, wp, pbias, py, m, n, k, 0, 0);
  };
  const fqIn = (q: FqArgs) => [ar.putI32(q.runs), q.runs.length / 3, ar.putF32(q.s), ar.putF32(q.zr), q.qmin, q.qmax] as const;
  const alloc = (len: number): Float32Array => {
    if (!open || mode === 'copy') return new Float32Array(len);
    if (mode === 'measure') {
      counted += roundUp(len * 4, 16);
      return new Float32Array(len);
    }
    const p = ar.alloc(len * 4);
    guard();
    const v = ar.f32(p, len);
    v.fill(0); // the memory held the previous step's tensors
    return v;
  };
  return {
    impl: 'wasm-simd',
    alloc,
    residency: () => mode,
    beginStep() {
      if (open) throw new Error('beginStep: a step is already open');
      open = true;
      mark = ar.top;
      ar.highWater = mark;
      counted = 0;
      if (mode === 'resident') {
        try {
          // grow now, before any view of this step exists
          ar.scoped(() => ar.alloc(reserve));
        } catch {
          mode = 'copy'; // the memory cannot grow that far: copy per call
        }
      }
      gen0 = ar.generation;
    },
    checkStep: guard,
    endStep() {
      if (!open) return;
      open = false;
      const moved = mode === 'resident' && ar.generation !== gen0;
      const used = ar.highWater - mark;
      ar.top = mark;
      if (mode === 'measure') {
        // the tensors and the per-call scratch on top of them, and slack for the scratch's own peaks
        reserve = counted + used + 16 * 2 ** 20;
        mode = reserve <= RESIDENT_LIMIT ? 'resident' : 'copy';
      } else if (moved) {
        losses++;
        reserve = Math.max(reserve, used) * 1.25;
        if (losses >= 2 || reserve > RESIDENT_LIMIT) mode = 'copy';
      }
    },
    mm(a, aT, b, bT, m, n, k, bias, out) {
      check(a, b, m, n, k);
      const y = out ?? alloc(m * n);
      if (m * n === 0) return y;
      if (k === 0) {
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) y[i * n + j] = bias ? bias[j] : 0;
        return y;
      }
      call(() => {
        const pa = ptr(a);
        const pb = ptr(b);
        const ta = aT ? ar.alloc(m * k * 4) : 0;
        const wp = ar.alloc(roundUp(n, 8) * k * 4);
        const pbias = bias ? ar.putF32(bias) : 0;
        const py = outPtr(y);
        product(pa, aT, pb, bT, m, n, k, ta, wp, pbias, py);
        done(y, py);
      });
      return y;
    },
    linearBackward(x, w, dy, m, n, k) {
      if (m * n * k === 0) return tsTrainKernels.linearBackward(x, w, dy, m, n, k);
      const dx = alloc(m * k);
      const dw = alloc(n * k);
      call(() => {
        const pdy = ptr(dy);
        const ta = ar.alloc(Math.max(m * n, 1) * 4);
        const wp = ar.alloc(roundUp(Math.max(k, n), 8) * Math.max(n, m) * 4);
        const pdx = outPtr(dx);
        product(pdy, false, ptr(w), true, m, k, n, ta, wp, 0, pdx); // dX = dY·W: W [n×k] is Bᵀ stored [K×N]
        done(dx, pdx);
        const pdw = outPtr(dw);
        product(pdy, true, ptr(x), true, n, k, m, ta, wp, 0, pdw); // dW = dYᵀ·X
        done(dw, pdw);
      });
      return { dx, dw };
    },
    mmBatched(count, a, aT, b, bT, m, n, k, out, scale = 1) {
      check(a, b, m, n, k, count);
      if (count * m * n === 0) return;
      if (k === 0) {
        out.fill(0);
        return;
      }
      call(() => {
        const pa = ptr(a);
        const pb = ptr(b);
        const ta = aT ? ar.alloc(m * k * 4) : 0;
        const wp = ar.alloc(roundUp(n, 8) * k * 4);
        const py = outPtr(out);
        for (let p = 0; p < count; p++) product(pa + p * m * k * 4, aT, pb + p * n * k * 4, bT, m, n, k, ta, wp, 0, py + p * m * n * 4);
        done(out, py);
      });
      if (scale !== 1) for (let i = 0; i < out.length; i++) out[i] *= scale;
    },
    fqForward(x, y, keep, q) {
      call(() => {
        const py = outPtr(y);
        const pk = keep ? outPtr(keep) : 0;
        ex.fq_forward(ptr(x), py, pk, ...fqIn(q));
        done(y, py);
        if (keep) done(keep, pk);
      });
    },
    fqBackward(keep, dy, dx, q, gs, gz) {
      call(() => {
        const pdx = ptr(dx); // read and written: a copy for a JS array, copied back by done()
        const pgs = ar.putF64(gs);
        const pgz = ar.putF64(gz);
        ex.fq_backward(ptr(keep), ptr(dy), pdx, ...fqIn(q), pgs, pgz);
        done(dx, pdx);
        gs.set(ar.f64(pgs, gs.length));
        gz.set(ar.f64(pgz, gz.length));
      });
    },
    geluForward(x, y, th) {
      call(() => {
        const py = outPtr(y);
        if (th) {
          const pt = outPtr(th);
          ex.gelu_train(ptr(x), py, pt, x.length);
          done(th, pt);
        } else {
          ar.f32(py, x.length).set(x);
          ex.gelu(py, x.length);
        }
        done(y, py);
      });
    },
    geluBackward(x, th, dy, dx) {
      call(() => {
        const pdx = ptr(dx);
        ex.gelu_backward(ptr(x), ptr(th), ptr(dy), pdx, x.length);
        done(dx, pdx);
      });
    },
    softmaxRows(x, rows, n) {
      call(() => {
        const p = ptr(x);
        ex.softmax_rows(p, rows, n, 1);
        done(x, p);
      });
    },
    softmaxBackward(y, dy, dx, n) {
      call(() => {
        const pdx = ptr(dx);
        ex.softmax_backward(ptr(y), ptr(dy), pdx, y.length / n, n);
        done(dx, pdx);
      });
    },
    layerNormForward(x, d, g, b, eps, y, keep) {
      // the SIMD kernel takes whole 4-lane rows; other widths (none in the committed ViT) use the reference
      if (d % 4 !== 0) return tsTrainKernels.layerNormForward(x, d, g, b, eps, y, keep);
      const rows = x.length / d;
      call(() => {
        const py = outPtr(y);
        const ph = keep ? outPtr(keep.xhat) : ar.alloc(x.length * 4);
        const pi = keep ? outPtr(keep.inv) : ar.alloc(rows * 4);
        ex.layernorm_train(ptr(x), rows, d, ptr(g), ptr(b), eps, py, ph, pi);
        done(y, py);
        if (keep) {
          done(keep.xhat, ph);
          done(keep.inv, pi);
        }
      });
    },
    layerNormBackward(keep, g, dy, dx, dg, db) {
      const d = g.length;
      if (d % 4 !== 0) return tsTrainKernels.layerNormBackward(keep, g, dy, dx, dg, db);
      call(() => {
        const pdx = ptr(dx);
        const pdg = ptr(dg);
        const pdb = ptr(db);
        ex.layernorm_backward(ptr(keep.xhat), ptr(keep.inv), ptr(g), ptr(dy), keep.inv.length, d, pdx, pdg, pdb);
        done(dx, pdx);
        done(dg, pdg);
        done(db, pdb);
      });
    },
  };
}
