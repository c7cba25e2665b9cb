/**
 * Hand-encoded WebAssembly modules for `npm run bench:simd` (tools/cli/benchSimd.ts): one module per
 * measured SIMD loop, built at runtime from bytes written here (type, function, export and code
 * sections; no toolchain), so that one opcode the engine rejects does not take the others down.
 *
 * Each module exports `run(iters: i32) -> i32 | f32`. Its loop body advances CHAINS independent
 * accumulator chains by one step each; a step is the measured instruction sequence, and its
 * multiplicand is the chain's own accumulator, so no product is loop-invariant (no hoisting, no
 * common subexpression across chains or unrolled iterations). Enough chains cover the latency of a
 * step, so the loop measures throughput. `run` returns the lane sum of all accumulators (nothing is
 * dead code); `simulate` computes the same value in TypeScript (simdModules.test.ts compares).
 *
 * Opcodes: the SIMD proposal's and the relaxed-SIMD proposal's binary format (WebAssembly/relaxed-simd
 * proposals/relaxed-simd/Overview.md: f32x4.relaxed_madd 0x105, i16x8.relaxed_dot_i8x16_i7x16_s 0x112,
 * i32x4.relaxed_dot_i8x16_i7x16_add_s 0x113), all behind the 0xfd prefix with a LEB128 sub-opcode.
 */

// ---------------------------------------------------------------------------------------------
// A tiny binary encoder

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return (out.push(b), out);
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

const T = { i32: 0x7f, f32: 0x7d, v128: 0x7b } as const;
/** core opcodes used here */
const OP = {
  block: 0x02,
  loop: 0x03,
  br_if: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  f32Add: 0x92,
  void: 0x40,
} as const;
/** SIMD sub-opcodes (after the 0xfd prefix) */
export const SIMD = {
  v128_const: 0x0c,
  i32x4_extract_lane: 0x1b,
  f32x4_extract_lane: 0x1f,
  i32x4_extadd_pairwise_i16x8_s: 0x7e,
  i16x8_add: 0x8e,
  i32x4_add: 0xae,
  i32x4_dot_i16x8_s: 0xba,
  f32x4_add: 0xe4,
  f32x4_mul: 0xe6,
  f32x4_relaxed_madd: 0x105,
  i16x8_relaxed_dot_i8x16_i7x16_s: 0x112,
  i32x4_relaxed_dot_i8x16_i7x16_add_s: 0x113,
} as const;
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const get = (i: number) => [OP.localGet, ...uleb(i)];
const set = (i: number) => [OP.localSet, ...uleb(i)];
const v128Const = (bytes: Uint8Array): number[] => [...simd(SIMD.v128_const), ...bytes];

/**
 * A module with one function `run(iters: i32) -> result`: the locals are the accumulators
 * 1..chains, then two constant operands B and C (also the reduction's scratch). `step(acc, b, c)`
 * emits the wasm that leaves the chain's next value on the stack.
 */
function encodeModule(o: {
  result: 'i32' | 'f32';
  chains: number;
  init: (k: number) => Uint8Array;
  b: Uint8Array;
  c: Uint8Array;
  step: (acc: number[], b: number[], c: number[]) => number[];
}): Uint8Array {
  const acc = (k: number) => 1 + k;
  const B = 1 + o.chains;
  const C = 2 + o.chains;
  const code: number[] = [];
  code.push(...v128Const(o.b), ...set(B), ...v128Const(o.c), ...set(C));
  for (let k = 0; k < o.chains; k++) code.push(...v128Const(o.init(k)), ...set(acc(k)));
  // block { if (iters == 0) break; loop { steps…; if (--iters != 0) continue } }
  code.push(OP.block, OP.void, ...get(0), OP.i32Eqz, OP.br_if, 0, OP.loop, OP.void);
  for (let k = 0; k < o.chains; k++) code.push(...o.step(get(acc(k)), get(B), get(C)), ...set(acc(k)));
  code.push(...get(0), OP.i32Const, ...sleb(1), OP.i32Sub, OP.localTee, 0, OP.br_if, 0, OP.end, OP.end);
  // reduction: v = acc0 + acc1 + … (lane-wise, in order), then v[0] + v[1] + v[2] + v[3]
  const vAdd = simd(o.result === 'f32' ? SIMD.f32x4_add : SIMD.i32x4_add);
  code.push(...get(acc(0)));
  for (let k = 1; k < o.chains; k++) code.push(...get(acc(k)), ...vAdd);
  code.push(...set(B));
  const extract = o.result === 'f32' ? SIMD.f32x4_extract_lane : SIMD.i32x4_extract_lane;
  const sAdd = o.result === 'f32' ? OP.f32Add : OP.i32Add;
  for (let lane = 0; lane < 4; lane++) {
    code.push(...get(B), ...simd(extract), lane);
    if (lane) code.push(sAdd);
  }
  code.push(OP.end);
  const body = [...vec([[...uleb(o.chains + 2), T.v128]]), ...code];

  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[T.i32]]), ...vec([[T[o.result]]])]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...name('run'), 0x00, ...uleb(0)]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Lane helpers (little-endian, as wasm)

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
const f32v = (xs: number[]) => bytesOf(new Float32Array(xs));
const i16v = (xs: number[]) => bytesOf(new Int16Array(xs));
const i8v = (xs: number[]) => bytesOf(new Int8Array(xs));

// scalar models of the instructions (the spec's definitions; relaxed ones in their deterministic range)
type V = Uint8Array;
const asF32 = (v: V) => new Float32Array(v.buffer, v.byteOffset, 4);
const asI32 = (v: V) => new Int32Array(v.buffer, v.byteOffset, 4);
const asI16 = (v: V) => new Int16Array(v.buffer, v.byteOffset, 8);
const asI8 = (v: V) => new Int8Array(v.buffer, v.byteOffset, 16);
const fromF32 = (f: (i: number) => number) => bytesOf(Float32Array.from({ length: 4 }, (_, i) => f(i)));
const fromI32 = (f: (i: number) => number) => bytesOf(Int32Array.from({ length: 4 }, (_, i) => f(i)));
const fromI16 = (f: (i: number) => number) => bytesOf(Int16Array.from({ length: 8 }, (_, i) => f(i)));
export const model = {
  f32x4Mul: (a: V, b: V) => fromF32((i) => asF32(a)[i] * asF32(b)[i]),
  f32x4Add: (a: V, b: V) => fromF32((i) => asF32(a)[i] + asF32(b)[i]),
  /** exact when a*b+c is representable (the inputs here keep it so): fused and unfused agree */
  f32x4RelaxedMadd: (a: V, b: V, c: V) => fromF32((i) => asF32(a)[i] * asF32(b)[i] + asF32(c)[i]),
  i32x4Add: (a: V, b: V) => fromI32((i) => asI32(a)[i] + asI32(b)[i]),
  i16x8Add: (a: V, b: V) => fromI16((i) => asI16(a)[i] + asI16(b)[i]),
  i32x4DotI16x8S: (a: V, b: V) => fromI32((i) => asI16(a)[2 * i] * asI16(b)[2 * i] + asI16(a)[2 * i + 1] * asI16(b)[2 * i + 1]),
  /** b's lanes in [0, 127]: then no saturation and no implementation choice */
  i16x8RelaxedDotI8x16I7x16S: (a: V, b: V) => fromI16((i) => asI8(a)[2 * i] * asI8(b)[2 * i] + asI8(a)[2 * i + 1] * asI8(b)[2 * i + 1]),
  i32x4RelaxedDotI8x16I7x16AddS: (a: V, b: V, c: V) =>
    fromI32((i) => {
      let s = asI32(c)[i];
      for (let j = 4 * i; j < 4 * i + 4; j++) s += asI8(a)[j] * asI8(b)[j];
      return s;
    }),
  i32x4ExtaddPairwiseI16x8S: (a: V) => fromI32((i) => asI16(a)[2 * i] + asI16(a)[2 * i + 1]),
};

// ---------------------------------------------------------------------------------------------
// The loops

export interface SimdLoop {
  id: string;
  /** the step's instructions, as wasm names */
  label: string;
  /** wasm SIMD instructions per chain step */
  instructions: number;
  /** multiply-accumulates per chain step */
  macs: number;
  /** where the products accumulate */
  accumulator: 'f32' | 'i16' | 'i32';
  relaxed: boolean;
  result: 'i32' | 'f32';
  init: (k: number) => Uint8Array;
  b: Uint8Array;
  c: Uint8Array;
  step: (acc: number[], b: number[], c: number[]) => number[];
  /** the step in TypeScript (scalar model of the same instructions) */
  model: (acc: V, b: V, c: V) => V;
}

// Float chains: acc ← acc·B + C converges to C / (1 − B) (no overflow, no subnormals); small dyadic
// values keep the first steps exact, so a fused and an unfused multiply-add give the same bits.
const F_B = f32v([0.5, 0.25, 0.75, 0.5]);
const F_C = f32v([1, 2, 0.5, -3]);
const fInit = (k: number) => f32v([k + 1, -k - 0.5, 2 * k - 4, 0.25 * k]);
// Integer chains: the accumulator's own bits are the multiplicand (wrapping is fine: integer
// latency does not depend on the values). C lanes vary, so a wrong lane pairing changes the result.
const I16_C = i16v([3, -5, 7, 2, -1, 4, 6, -2]);
/** 7-bit (0..127) second operand of the relaxed dots: the deterministic range */
const I7_C = i8v([1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 127]);
const iInit = (k: number) => Uint8Array.from({ length: 16 }, (_, j) => (k * 37 + j * 11 + 5) & 0xff);
const ZERO = new Uint8Array(16);

export const SIMD_LOOPS: readonly SimdLoop[] = [
  {
    id: 'f32-mul-add',
    label: 'f32x4.mul + f32x4.add',
    instructions: 2,
    macs: 4,
    accumulator: 'f32',
    relaxed: false,
    result: 'f32',
    init: fInit,
    b: F_B,
    c: F_C,
    step: (acc, b, c) => [...acc, ...b, ...simd(SIMD.f32x4_mul), ...c, ...simd(SIMD.f32x4_add)],
    model: (acc, b, c) => model.f32x4Add(model.f32x4Mul(acc, b), c),
  },
  {
    id: 'f32-relaxed-madd',
    label: 'f32x4.relaxed_madd',
    instructions: 1,
    macs: 4,
    accumulator: 'f32',
    relaxed: true,
    result: 'f32',
    init: fInit,
    b: F_B,
    c: F_C,
    step: (acc, b, c) => [...acc, ...b, ...c, ...simd(SIMD.f32x4_relaxed_madd)],
    model: (acc, b, c) => model.f32x4RelaxedMadd(acc, b, c),
  },
  {
    id: 'i16-dot-add',
    label: 'i32x4.dot_i16x8_s + i32x4.add',
    instructions: 2,
    macs: 8,
    accumulator: 'i32',
    relaxed: false,
    result: 'i32',
    init: iInit,
    b: I16_C,
    c: ZERO,
    step: (acc, b) => [...acc, ...acc, ...b, ...simd(SIMD.i32x4_dot_i16x8_s), ...simd(SIMD.i32x4_add)],
    model: (acc, b) => model.i32x4Add(acc, model.i32x4DotI16x8S(acc, b)),
  },
  {
    id: 'i8-relaxed-dot-i16',
    label: 'i16x8.relaxed_dot_i8x16_i7x16_s + i16x8.add',
    instructions: 2,
    macs: 16,
    accumulator: 'i16',
    relaxed: true,
    result: 'i32',
    init: iInit,
    b: I7_C,
    c: ZERO,
    step: (acc, b) => [...acc, ...acc, ...b, ...simd(SIMD.i16x8_relaxed_dot_i8x16_i7x16_s), ...simd(SIMD.i16x8_add)],
    model: (acc, b) => model.i16x8Add(acc, model.i16x8RelaxedDotI8x16I7x16S(acc, b)),
  },
  {
    id: 'i8-relaxed-dot-add-i32',
    label: 'i32x4.relaxed_dot_i8x16_i7x16_add_s',
    instructions: 1,
    macs: 16,
    accumulator: 'i32',
    relaxed: true,
    result: 'i32',
    init: iInit,
    b: I7_C,
    c: ZERO,
    step: (acc, b) => [...acc, ...b, ...acc, ...simd(SIMD.i32x4_relaxed_dot_i8x16_i7x16_add_s)],
    model: (acc, b) => model.i32x4RelaxedDotI8x16I7x16AddS(acc, b, acc),
  },
  {
    id: 'i8-relaxed-dot-extadd-i32',
    label: 'i16x8.relaxed_dot_i8x16_i7x16_s + i32x4.extadd_pairwise_i16x8_s + i32x4.add',
    instructions: 3,
    macs: 16,
    accumulator: 'i32',
    relaxed: true,
    result: 'i32',
    init: iInit,
    b: I7_C,
    c: ZERO,
    step: (acc, b) => [
      ...acc,
      ...acc,
      ...b,
      ...simd(SIMD.i16x8_relaxed_dot_i8x16_i7x16_s),
      ...simd(SIMD.i32x4_extadd_pairwise_i16x8_s),
      ...simd(SIMD.i32x4_add),
    ],
    model: (acc, b) => model.i32x4Add(acc, model.i32x4ExtaddPairwiseI16x8S(model.i16x8RelaxedDotI8x16I7x16S(acc, b))),
  },
];

/** 12 chains: enough to cover a step's latency at the x64 ports' throughput (the longest step,
 * pmaddubsw + pmaddwd + paddd, is ~11 cycles at one step per cycle), and with B and C they still fit
 * the 15 allocatable xmm registers of V8 (no spills). */
export const DEFAULT_CHAINS = 12;

export function moduleBytes(loop: SimdLoop, chains = DEFAULT_CHAINS): Uint8Array {
  return encodeModule({ result: loop.result, chains, init: loop.init, b: loop.b, c: loop.c, step: loop.step });
}

/** What `run(iters)` of the loop's module returns, computed in TypeScript. */
export function simulate(loop: SimdLoop, iters: number, chains = DEFAULT_CHAINS): number {
  const accs = Array.from({ length: chains }, (_, k) => loop.init(k));
  for (let t = 0; t < iters; t++) for (let k = 0; k < chains; k++) accs[k] = loop.model(accs[k], loop.b, loop.c);
  const sum = accs.reduce((v, a) => (loop.result === 'f32' ? model.f32x4Add(v, a) : model.i32x4Add(v, a)));
  if (loop.result === 'f32') {
    const l = asF32(sum);
    return Math.fround(Math.fround(Math.fround(l[0] + l[1]) + l[2]) + l[3]);
  }
  const l = asI32(sum);
  return (((l[0] + l[1]) | 0) + l[2] + l[3]) | 0;
}

/** The loop's compiled module's `run`, or why the engine refuses the bytes. */
export async function instantiateLoop(loop: SimdLoop, chains = DEFAULT_CHAINS): Promise<(iters: number) => number> {
  const { instance } = await WebAssembly.instantiate(moduleBytes(loop, chains) as BufferSource);
  return instance.exports.run as (iters: number) => number;
}

/** A module using a relaxed-SIMD opcode: WebAssembly.validate says whether the engine has it. */
export const relaxedProbe = (): Uint8Array => moduleBytes(SIMD_LOOPS.find((l) => l.id === 'f32-relaxed-madd')!, 8);

// ---------------------------------------------------------------------------------------------
// Measurement (shared by Node and the Chromium page)

export interface LoopFigures {
  id: string;
  label: string;
  accumulator: SimdLoop['accumulator'];
  relaxed: boolean;
  instructionsPerStep: number;
  macsPerStep: number;
  chains: number;
  /** loop iterations per timed call */
  iters: number;
  /** seconds of each timed call, in order */
  seconds: number[];
  bestSeconds: number;
  /** billions of wasm SIMD instructions per second (best call) */
  gInstructionsPerSecond: number;
  /** billions of multiply-accumulates per second (best call) */
  gMacsPerSecond: number;
  /** MACs/s over f32x4.relaxed_madd's, and over f32x4.mul + add's */
  vsRelaxedMadd: number | null;
  vsMulAdd: number | null;
  /** per CPU-second of the process (Node only): steadier when other processes share the cores */
  gMacsPerCpuSecond?: number;
  /** run(iters)'s value (keeps the loop live; reported so a reader can see nothing was elided) */
  value: number;
  /** run(3) equals simulate() on the first call (the baseline tier: V8's Liftoff) */
  baselineTierCorrect?: boolean;
  /** run(3) equals simulate() after the warm-up (the optimized tier, which the timed calls run) */
  optimizedTierCorrect?: boolean;
  error?: string;
}

export interface MeasureOptions {
  chains?: number;
  reps?: number;
  /** target duration of one timed call */
  ms?: number;
  /** warm-up per loop (lets the engine tier up from its baseline compiler) */
  warmupMs?: number;
  only?: string[];
  cpuSeconds?: () => number;
  log?: (s: string) => void;
  /** yields between calls (a browser page stays responsive) */
  pause?: () => Promise<void>;
}

export async function measureLoops(opts: MeasureOptions = {}): Promise<LoopFigures[]> {
  const chains = opts.chains ?? DEFAULT_CHAINS;
  const reps = opts.reps ?? 5;
  const ms = opts.ms ?? 200;
  const warmupMs = opts.warmupMs ?? 300;
  const log = opts.log ?? (() => undefined);
  const pause = opts.pause ?? (async () => undefined);
  const loops = SIMD_LOOPS.filter((l) => !opts.only || opts.only.includes(l.id));
  const live: { loop: SimdLoop; run: (n: number) => number; iters: number; fig: LoopFigures; cpu: number[] }[] = [];
  const figures: LoopFigures[] = [];
  for (const loop of loops) {
    const fig: LoopFigures = {
      id: loop.id,
      label: loop.label,
      accumulator: loop.accumulator,
      relaxed: loop.relaxed,
      instructionsPerStep: loop.instructions,
      macsPerStep: loop.macs,
      chains,
      iters: 0,
      seconds: [],
      bestSeconds: NaN,
      gInstructionsPerSecond: NaN,
      gMacsPerSecond: NaN,
      vsRelaxedMadd: null,
      vsMulAdd: null,
      value: NaN,
    };
    figures.push(fig);
    let run: (n: number) => number;
    const want = simulate(loop, 3, chains);
    try {
      run = await instantiateLoop(loop, chains);
    } catch (e) {
      fig.error = (e as Error).message;
      log(`${loop.id}: ${fig.error}`);
      continue;
    }
    // first call: the engine's baseline tier (V8: Liftoff), before any tier-up
    const baseline = run(3);
    fig.baselineTierCorrect = Object.is(baseline, want);
    if (!fig.baselineTierCorrect) log(`${loop.id}: first call (baseline tier) run(3) = ${baseline}, expected ${want}`);
    // warm-up and calibration: calls of growing length until warmupMs has passed
    let n = 1000;
    let t = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < warmupMs || t < 20) {
      const s = performance.now();
      run(n);
      t = performance.now() - s;
      if (t < 20) n *= 2;
      await pause();
    }
    // after the warm-up: the optimized tier, the code the timed calls run
    const optimized = run(3);
    fig.optimizedTierCorrect = Object.is(optimized, want);
    if (!fig.optimizedTierCorrect) {
      fig.error = `after warm-up run(3) = ${optimized}, expected ${want}: the engine computes something else`;
      log(`${loop.id}: ${fig.error}`);
      continue;
    }
    const s = performance.now();
    run(n);
    t = performance.now() - s;
    live.push({ loop, run, iters: Math.max(1, Math.round((n * ms) / Math.max(t, 0.01))), fig, cpu: [] });
  }
  // timed calls, interleaved: a change of machine load hits every loop alike
  for (let r = 0; r < reps; r++) {
    for (const l of live) {
      const c0 = opts.cpuSeconds?.();
      const s = performance.now();
      l.fig.value = l.run(l.iters);
      l.fig.seconds.push((performance.now() - s) / 1000);
      if (c0 !== undefined) l.cpu.push(opts.cpuSeconds!() - c0);
      await pause();
    }
    log(`pass ${r + 1}/${reps} done`);
  }
  for (const l of live) {
    const f = l.fig;
    f.iters = l.iters;
    f.bestSeconds = Math.min(...f.seconds);
    const steps = l.iters * chains;
    f.gInstructionsPerSecond = (steps * l.loop.instructions) / f.bestSeconds / 1e9;
    f.gMacsPerSecond = (steps * l.loop.macs) / f.bestSeconds / 1e9;
    if (l.cpu.length) f.gMacsPerCpuSecond = (steps * l.loop.macs) / Math.max(Math.min(...l.cpu), 1e-9) / 1e9;
  }
  const ref = (id: string) => figures.find((f) => f.id === id && !f.error)?.gMacsPerSecond;
  const madd = ref('f32-relaxed-madd');
  const mulAdd = ref('f32-mul-add');
  for (const f of figures) {
    if (f.error) continue;
    f.vsRelaxedMadd = madd ? f.gMacsPerSecond / madd : null;
    f.vsMulAdd = mulAdd ? f.gMacsPerSecond / mulAdd : null;
  }
  return figures;
}

/** A text table of the figures. */
export function formatTable(figs: LoopFigures[]): string {
  const rows = [['loop', 'instr/step', 'MACs/step', 'G instr/s', 'G MAC/s', '× relaxed_madd', '× mul+add']];
  for (const f of figs)
    rows.push(
      f.error
        ? [f.label, String(f.instructionsPerStep), String(f.macsPerStep), `error: ${f.error}`, '', '', '']
        : [
            f.label,
            String(f.instructionsPerStep),
            String(f.macsPerStep),
            f.gInstructionsPerSecond.toFixed(2),
            f.gMacsPerSecond.toFixed(2),
            f.vsRelaxedMadd?.toFixed(2) ?? '–',
            f.vsMulAdd?.toFixed(2) ?? '–',
          ],
    );
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((x, c) => (c === 0 ? x.padEnd(w[c]) : x.padStart(w[c]))).join('  ')).join('\n');
}
