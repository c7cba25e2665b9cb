/**
 * The CPU kernels against the references: integer stages and quantizers bit-exact, float GEMM within
 * float32 summation error, and the wasm-missing path. Plain vitest, no GPU.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gemmF32Ref } from '../kernels/gemmF32.ref';
import { gemmW8A8AccRef, gemmW8A8Ref, type W8A8Operands } from '../kernels/gemmW8A8.ref';
import { gemmW4A8AccRef, gemmW4A8Ref, type W4A8Operands } from '../kernels/gemmW4A8.ref';
import { packInt4Rows, unpackInt4Rows } from '../quant/pack';
import { dequantizeMatrix, type MatrixQuantSpec, quantizeMatrix } from '../quant/quantizeMatrix';
import type { Bits } from '../quant/scaleZero';
import { type CpuKernels, DOT32_MARGIN, isWasmKernels, loadCpuKernels, probeW4A8Dot, probeW8A8Dot, tsCpuKernels } from './cpuKernels';
import { seededUniform } from '../quant/random';

const rng = seededUniform;
const randInt = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** int matrix with special rows: row 0 all zero, row 1 constant, row 2 range ends. */
function intMatrix(r: () => number, rows: number, k: number, lo: number, hi: number): Int32Array {
  const a = new Int32Array(rows * k);
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < k; c++)
      a[i * k + c] = i === 0 && rows > 2 ? 0 : i === 1 && rows > 2 ? hi : i === 2 && rows > 3 ? (c % 2 ? lo : hi) : randInt(r, lo, hi);
  return a;
}
function floatMatrix(r: () => number, rows: number, k: number, scale = 1): Float32Array {
  const a = new Float32Array(rows * k);
  for (let i = 0; i < a.length; i++) a[i] = (r() * 2 - 1) * scale;
  if (rows > 2) {
    a.fill(0, 0, k); // all-zero row
    a.fill(0.75, k, 2 * k); // constant row
  }
  return a;
}

// shapes: M/N/K not multiples of 4/8, K = 1, single rows/columns, the ViT's shapes
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 1],
  [5, 3, 7],
  [6, 12, 24],
  [4, 8, 8],
  [7, 9, 13],
  [17, 10, 33],
  [65, 13, 32],
  [9, 31, 130],
  [65, 384, 128],
  [1, 10, 128],
];

let wasm: CpuKernels;
/** the SIMD128 build (engines without relaxed SIMD), loaded explicitly: the loader prefers the relaxed one */
let simd128: CpuKernels;
beforeAll(async () => {
  wasm = await loadCpuKernels();
  simd128 = await loadCpuKernels({ source: async () => readFileSync(new URL('./generated/kernels.wasm', import.meta.url)) });
});

describe('loading', () => {
  it('loads the WebAssembly SIMD kernels (npm run build:wasm ran)', () => {
    expect(wasm.fallbackReason).toBeUndefined();
    expect(wasm.impl).toBe('wasm-simd');
  });
  // The loader enables V8's relaxed-SIMD flag on Node 20 (shipped from Node 22); where it cannot,
  // the relaxed build's test is skipped, not passed (e2e/relaxedSimd.spec.ts tests it in Chromium).
  const relaxedBytes = readFileSync(new URL('./generated/kernels-relaxed.wasm', import.meta.url));
  const relaxedHere = () => WebAssembly.validate(relaxedBytes);
  it('the loader picks the relaxed-SIMD build, or says why not (SIMD128 fallback with a stated reason)', async () => {
    const { loadKernelModule } = await import('./cpuKernels');
    const mod = await loadKernelModule();
    // Node loads the relaxed int8 dot without FMA (FP32 figures as the SIMD128 build's)
    expect(mod.features).toBe(relaxedHere() ? 'simd128+relaxed-dot' : 'simd128');
    if (mod.features !== 'simd128') expect(mod.relaxedUnavailable).toBeUndefined();
    else expect(mod.relaxedUnavailable).toMatch(/does not compile the relaxed-SIMD build|not available/);
    expect(simd128.wasmFeatures).toBe('simd128');
    expect(simd128.relaxedUnavailable).toMatch(/not tried/);
  });
  it('the relaxed int8 dot runs in this Node (V8 flag set by the loader on Node 20); its FP32 GEMM equals the SIMD128 build bit for bit', () => {
    expect(relaxedHere()).toBe(true);
    expect(wasm.wasmFeatures).toBe('simd128+relaxed-dot');
    const r = rng(15);
    const [m, n, k] = [33, 70, 128];
    const x = floatMatrix(r, m, k, 3);
    const w = floatMatrix(r, n, k);
    expect(wasm.gemmF32(x, w, null, m, n, k)).toEqual(simd128.gemmF32(x, w, null, m, n, k));
  });
  it(`relaxed-SIMD build (FMA GEMM) agrees with the references`, async (ctx) => {
    if (!relaxedHere()) ctx.skip(`Node ${process.version} has no relaxed SIMD (tested in Chromium by e2e/relaxedSimd.spec.ts)`);
    const mod = new WebAssembly.Module(relaxedBytes);
    const { kernelsFromModule } = await import('./cpuKernels');
    const rk = kernelsFromModule({ module: mod, features: 'simd128+relaxed' });
    const r = rng(12);
    const [m, n, k] = [33, 70, 128];
    const x = floatMatrix(r, m, k, 3);
    const w = floatMatrix(r, n, k);
    const a = rk.gemmF32(x, w, null, m, n, k);
    const ref = gemmF32Ref(x, w, null, m, n, k);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - ref[i])).toBeLessThanOrEqual(1e-4);
    const o: W8A8Operands = {
      m,
      n,
      k,
      xq: intMatrix(r, m, k, -128, 127),
      wq: intMatrix(r, n, k, -128, 127),
      sx: new Float32Array([0.01]),
      sw: new Float32Array([0.02]),
    };
    expect(rk.gemmW8A8(o)).toEqual(gemmW8A8Ref(o));
  });
  it('missing wasm → TypeScript kernels with the reason', async () => {
    const k = await loadCpuKernels({ source: () => Promise.reject(new Error('ENOENT: no such file')) });
    expect(k.impl).toBe('typescript');
    expect(k.fallbackReason).toMatch(/not available.*ENOENT/);
    const y = k.gemmF32(new Float32Array([1, 2]), new Float32Array([3, 4]), null, 1, 1, 2);
    expect(Array.from(y)).toEqual([11]);
  });
  it('corrupt wasm → TypeScript kernels with the reason', async () => {
    const k = await loadCpuKernels({ source: async () => new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99]) });
    expect(k.impl).toBe('typescript');
    expect(k.fallbackReason).toMatch(/does not compile/);
  });
});

describe("the integer GEMMs' dot routes (int16 lanes or the int32 dot; their arithmetic: dotRoutes.test.ts)", () => {
  it('are measured and checked on this machine: both routes timed, the int32 one taken only past the margin and only when its sums agree', () => {
    if (!isWasmKernels(wasm) || wasm.wasmFeatures === 'simd128') throw new Error('the relaxed build must load in this Node');
    for (const p of [probeW4A8Dot(wasm, 3, 2), probeW8A8Dot(wasm, 3, 2)]) {
      expect(p.int16Us).toBeGreaterThan(0);
      expect(p.int32Us).toBeGreaterThan(0);
      // Node 20's baseline compiler gets the int32 dot wrong: refused (first calls), else chosen by speed
      if (/different results/.test(p.reason)) expect(p.chosen).toBe('int16');
      else {
        expect(p.chosen).toBe(p.int32Us! < DOT32_MARGIN * p.int16Us! ? 'int32' : 'int16');
        expect(p.reason).toMatch(/measured \d+\.\d\d× the int16 route/);
      }
    }
  });
  it('the SIMD128 build has no int32 route: int16, with the reason; pinning int32 there is refused', () => {
    const k = simd128;
    if (!isWasmKernels(k)) throw new Error('the SIMD128 build must load');
    expect(probeW4A8Dot(k)).toEqual({ chosen: 'int16', reason: 'the SIMD128 build has no relaxed int8 dot' });
    expect(() => k.forceDot('int32')).toThrow(/needs the relaxed-SIMD build/);
  });
});

describe.each([
  ['wasm (relaxed int8 dot)', () => wasm],
  ['wasm SIMD128 build', () => simd128],
  ['ts', () => tsCpuKernels],
])('%s kernels', (_name, get) => {
  it('W8A8 corrected int32 accumulators and float outputs are bit-exact', () => {
    const r = rng(1);
    for (const [m, n, k] of SHAPES) {
      for (const mode of ['sym-tensor', 'asym-row', 'asym-tensor-x-row-w'] as const) {
        const o: W8A8Operands = {
          m,
          n,
          k,
          xq: intMatrix(r, m, k, -128, 127),
          wq: intMatrix(r, n, k, -128, 127),
          sx: Float32Array.from({ length: mode === 'asym-row' ? m : 1 }, () => r() * 0.1 + 1e-3),
          sw: Float32Array.from({ length: mode === 'sym-tensor' ? 1 : n }, () => r() * 0.1 + 1e-3),
          bias: mode === 'sym-tensor' ? null : Float32Array.from({ length: n }, () => r() - 0.5),
        };
        if (mode !== 'sym-tensor') {
          o.zx = Int32Array.from({ length: mode === 'asym-row' ? m : 1 }, () => randInt(r, -128, 127));
          o.zw = Int32Array.from({ length: n }, () => randInt(r, -128, 127));
        }
        const k_ = get();
        expect(k_.gemmW8A8Acc(o), `${m}×${n}×${k} ${mode}`).toEqual(gemmW8A8AccRef(o));
        expect(k_.gemmW8A8(o), `${m}×${n}×${k} ${mode}`).toEqual(gemmW8A8Ref(o));
      }
    }
  });

  it('W8A8 with |acc| ≥ 2^24 (float64 epilogue product) is bit-exact', () => {
    const r = rng(11);
    const m = 3,
      n = 6,
      k = 700;
    // (x − zx) = −255, (w − zw) = 255, 1 or 0: |acc'| up to 255²·700 ≈ 4.6e7 > 2^24, and odd
    // sums (the products of 1) are not float32 values: f32(acc) would round before the scale
    const xq = new Int32Array(m * k).fill(-128);
    const wq = Int32Array.from({ length: n * k }, (_, i) => (i % 7 === 0 ? -128 : i % 11 === 0 ? -127 : 127));
    const o: W8A8Operands = {
      m,
      n,
      k,
      xq,
      wq,
      zx: Int32Array.from({ length: m }, () => 127),
      zw: Int32Array.from({ length: n }, () => -128),
      sx: Float32Array.from({ length: m }, () => r() * 1e-3 + 1e-5),
      sw: Float32Array.from({ length: n }, () => r() * 1e-3 + 1e-5),
      bias: Float32Array.from({ length: n }, () => r()),
    };
    const acc = gemmW8A8AccRef(o);
    expect(Math.max(...Array.from(acc, Math.abs))).toBeGreaterThan(2 ** 24);
    expect(acc.some((a) => Math.fround(a) !== a)).toBe(true);
    expect(get().gemmW8A8Acc(o)).toEqual(acc);
    expect(get().gemmW8A8(o)).toEqual(gemmW8A8Ref(o));
  });

  it('W4A8 per-group accumulators and outputs are bit-exact', () => {
    const r = rng(2);
    for (const [m, n, k] of SHAPES) {
      for (const groupSize of m * n * k > 50000 ? [32, k] : [1, 3, 8, 32, k, k + 5]) {
        const groups = Math.ceil(k / groupSize);
        const o: W4A8Operands = {
          m,
          n,
          k,
          groupSize,
          xq: intMatrix(r, m, k, -128, 127),
          wq: intMatrix(r, n, k, -8, 7),
          sx: Float32Array.from({ length: m }, () => r() * 0.1),
          zx: Int32Array.from({ length: m }, () => randInt(r, -128, 127)),
          sw: Float32Array.from({ length: n * groups }, () => r() * 0.1),
          bias: Float32Array.from({ length: n }, () => r() - 0.5),
        };
        const k_ = get();
        expect(k_.gemmW4A8Acc(o), `${m}×${n}×${k} g${groupSize}`).toEqual(gemmW4A8AccRef(o));
        expect(k_.gemmW4A8(o), `${m}×${n}×${k} g${groupSize}`).toEqual(gemmW4A8Ref(o));
      }
    }
  });

  it('W4A8 and W8A8 at the int16 lane bound (x = −128, every nibble 15, long groups) are bit-exact', () => {
    // the int8 kernels sum relaxed_dot's int16 lanes 8 times before widening: 8·2·128·15 = 30720 < 2^15
    const r = rng(14);
    for (const [m, n, k, groupSize] of [
      [3, 9, 256, 256],
      [2, 8, 96, 32],
      [5, 3, 200, 72],
    ]) {
      const groups = Math.ceil(k / groupSize);
      const o: W4A8Operands = {
        m,
        n,
        k,
        groupSize,
        xq: new Int32Array(m * k).fill(-128),
        wq: new Int32Array(n * k).fill(7),
        sx: Float32Array.from({ length: m }, () => r() * 0.1),
        zx: Int32Array.from({ length: m }, () => randInt(r, -128, 127)),
        sw: Float32Array.from({ length: n * groups }, () => r() * 0.1),
      };
      expect(get().gemmW4A8Acc(o), `w4a8 ${m}×${n}×${k} g${groupSize}`).toEqual(gemmW4A8AccRef(o));
      expect(get().gemmW4A8(o)).toEqual(gemmW4A8Ref(o));
      // w = −1: low nibble 15, high nibble (−1 >> 4) + 8 = 7; w = 127: both 15
      for (const wv of [-1, 127]) {
        const o8: W8A8Operands = {
          m,
          n,
          k,
          xq: new Int32Array(m * k).fill(-128),
          wq: new Int32Array(n * k).fill(wv),
          sx: new Float32Array([0.01]),
          sw: new Float32Array([0.02]),
        };
        expect(get().gemmW8A8Acc(o8), `w8a8 ${m}×${n}×${k} w ${wv}`).toEqual(gemmW8A8AccRef(o8));
      }
    }
  });

  it('INT4 unpacking matches pack.ts', () => {
    const r = rng(3);
    for (const [rows, k] of [
      [1, 1],
      [3, 7],
      [5, 8],
      [4, 33],
      [16, 128],
    ]) {
      const v = intMatrix(r, rows, k, -8, 7);
      const p = packInt4Rows(v, rows, k);
      expect(get().unpackInt4(p, rows, k)).toEqual(unpackInt4Rows(p, rows, k));
      expect(get().unpackInt4(p, rows, k)).toEqual(v);
    }
  });

  it('FP32 GEMM within float32 summation error (|Δ| ≤ 1e-6·Σ|x·w| + 1e-7), fused GELU and residual', () => {
    const r = rng(4);
    for (const [m, n, k] of SHAPES) {
      const x = floatMatrix(r, m, k, 3);
      const w = floatMatrix(r, n, k, 1);
      const b = Float32Array.from({ length: n }, () => r() - 0.5);
      const res = Float32Array.from({ length: m * n }, () => r() - 0.5);
      const ref = gemmF32Ref(x, w, b, m, n, k);
      const y = get().gemmF32(x, w, b, m, n, k);
      const yg = get().gemmF32(x, w, b, m, n, k, { gelu: true, residual: res });
      const yn = get().gemmF32(x, w, null, m, n, k);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let mag = Math.abs(b[j]);
          for (let c = 0; c < k; c++) mag += Math.abs(x[i * k + c] * w[j * k + c]);
          const tol = 1e-6 * mag + 1e-7;
          const o = i * n + j;
          expect(Math.abs(y[o] - ref[o])).toBeLessThanOrEqual(tol);
          expect(Math.abs(yn[o] - (ref[o] - b[j]))).toBeLessThanOrEqual(tol * 2);
          const g = res[o] + 0.5 * ref[o] * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (ref[o] + 0.044715 * ref[o] ** 3)));
          expect(Math.abs(yg[o] - g)).toBeLessThanOrEqual(2 * tol + 2e-6 * (1 + Math.abs(g)));
        }
    }
  });

  it('quantizers are bit-exact with quantizeMatrix (all bits, sym/asym, tensor/row/group, static clip)', () => {
    const r = rng(5);
    const mats: [Float32Array, number, number][] = [];
    for (const [rows, cols] of [
      [1, 1],
      [3, 5],
      [7, 13],
      [65, 128],
      [12, 48],
    ])
      mats.push([floatMatrix(r, rows, cols, 4), rows, cols]);
    // ties: values on exact multiples of .5 of a power-of-two scale; huge values; one-sided data
    mats.push([Float32Array.from({ length: 64 }, (_, i) => (i - 32) * 0.5), 4, 16]);
    mats.push([Float32Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 1e30 : i % 3 === 1 ? -1e30 : i)), 5, 8]);
    mats.push([Float32Array.from({ length: 30 }, () => r() * 7), 3, 10]);
    mats.push([new Float32Array(24), 4, 6]);
    for (const [x, rows, cols] of mats)
      for (const bits of [8, 4, 2] as Bits[])
        for (const symmetric of [true, false])
          for (const spec of [
            { granularity: 'tensor' },
            { granularity: 'row' },
            { granularity: 'group', groupSize: 4 },
            { granularity: 'group', groupSize: 3 },
            { granularity: 'tensor', clip: { min: -1.5, max: 2.25 } },
          ] as Partial<MatrixQuantSpec>[]) {
            const s = { bits, symmetric, ...spec } as MatrixQuantSpec;
            const ref = quantizeMatrix(x, rows, cols, s);
            const got = get().quantize(x, rows, cols, s);
            const what = `${rows}×${cols} ${JSON.stringify(s)}`;
            expect(got.q, what).toEqual(ref.q);
            expect(got.scales, what).toEqual(ref.scales);
            expect(got.zeros, what).toEqual(ref.zeros);
            expect(got.groupsPerRow).toBe(ref.groupsPerRow);
            expect(get().fakeQuant(x, rows, cols, s), what).toEqual(dequantizeMatrix(ref));
            expect(get().dequantize(ref), what).toEqual(dequantizeMatrix(ref));
          }
  });

  it('quantizers report NaN/Inf inputs and float32 range overflow like the reference', () => {
    const spec: MatrixQuantSpec = { bits: 8, symmetric: false, granularity: 'tensor' };
    expect(() => get().quantize(new Float32Array([1, NaN, 2]), 1, 3, spec)).toThrow(/element 1 is NaN/);
    expect(() => get().quantize(new Float32Array([1, 2, -Infinity]), 1, 3, spec)).toThrow(/element 2 is -Infinity/);
    expect(() => quantizeMatrix(new Float32Array([3e38, -3e38]), 1, 2, spec)).toThrow(/overflows/);
    expect(() => get().quantize(new Float32Array([3e38, -3e38]), 1, 2, spec)).toThrow(/overflows/);
    // every position of a 40-value row — the wasm range scan runs four chains 16 values a step, then
    // 4 at a time, then a scalar tail — per tensor and per row
    // (a static clip range only scans for finiteness, the same way)
    for (const granularity of ['tensor', 'row', 'clip'] as const)
      for (const bad of [NaN, Infinity, -Infinity])
        for (let at = 0; at < 40; at++) {
          const x = Float32Array.from({ length: 80 }, (_, i) => Math.sin(i));
          x[40 + at] = bad;
          const sp: MatrixQuantSpec = granularity === 'clip' ? { ...spec, clip: { min: -1, max: 1 } } : { ...spec, granularity };
          expect(() => get().quantize(x, 2, 40, sp), `${granularity} ${bad} at ${at}`).toThrow(new RegExp(`element ${40 + at} is ${bad}`));
        }
  });

  it('LayerNorm within 1 float32 ulp of the float64 reference (reordered float64 sums); softmax and GELU within 1e-6', () => {
    const r = rng(6);
    const rows = 9;
    const d = 37;
    const x = floatMatrix(r, rows, d, 5);
    const g = Float32Array.from({ length: d }, () => r() + 0.5);
    const b = Float32Array.from({ length: d }, () => r() - 0.5);
    const ln = get().layerNorm(x, rows, d, g, b, 1e-5);
    const lr = tsCpuKernels.layerNorm(x, rows, d, g, b, 1e-5);
    let differ = 0;
    for (let i = 0; i < ln.length; i++) {
      expect(Math.abs(ln[i] - lr[i])).toBeLessThanOrEqual(Math.abs(lr[i]) * 2 ** -23);
      if (ln[i] !== lr[i]) differ++;
    }
    expect(differ).toBeLessThanOrEqual(ln.length / 100);
    const s1 = floatMatrix(r, rows, d, 30);
    const s2 = s1.slice();
    get().softmaxRows(s1, rows, d, 0.17677669529663687);
    tsCpuKernels.softmaxRows(s2, rows, d, 0.17677669529663687);
    for (let i = 0; i < s1.length; i++) expect(Math.abs(s1[i] - s2[i])).toBeLessThanOrEqual(1e-7 + 1e-6 * s2[i]);
    const gx = Float32Array.from({ length: 200 }, (_, i) => (i - 100) / 10);
    gx[0] = -1e30;
    gx[1] = 1e30;
    const ga = get().gelu(gx);
    const gb = tsCpuKernels.gelu(gx);
    for (let i = 0; i < gx.length; i++) expect(Math.abs(ga[i] - gb[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(gb[i])));
  });

  it('shape errors are explicit', () => {
    expect(() => get().gemmF32(new Float32Array(3), new Float32Array(4), null, 2, 2, 2)).toThrow(/gemmF32 x: length 3, expected 4/);
    const o: W8A8Operands = {
      m: 1,
      n: 1,
      k: 2,
      xq: new Int32Array(2),
      wq: new Int32Array(2),
      sx: new Float32Array(2),
      sw: new Float32Array(1),
    };
    expect(() => get().gemmW8A8(o)).toThrow(/sx: length 2, expected 1/);
  });
});

describe('W4A8 int8 kernel: operands outside the int8 storage range', () => {
  it('are refused with the index and range, not wrapped (W4A8)', () => {
    const o: W4A8Operands = {
      m: 1,
      n: 1,
      k: 2,
      groupSize: 2,
      xq: Int32Array.from([1, 200]),
      wq: new Int32Array(2),
      sx: new Float32Array([1]),
      sw: new Float32Array([1]),
    };
    expect(() => wasm.gemmW4A8(o)).toThrow(/xq\[1\] = 200: the int8 kernels take storage values in \[-128, 127\]/);
    const o4: W4A8Operands = {
      m: 1,
      n: 1,
      k: 2,
      groupSize: 2,
      xq: new Int32Array(2),
      wq: Int32Array.from([0, 9]),
      sx: new Float32Array([1]),
      sw: new Float32Array([1]),
    };
    expect(() => wasm.gemmW4A8(o4)).toThrow(/wq\[1\] = 9: .*\[-8, 7\]/);
  });
});

describe('wasm memory', () => {
  it('every call releases what it allocated (no leak)', () => {
    if (!isWasmKernels(wasm)) throw new Error(wasm.fallbackReason);
    const top = wasm.arena.top;
    const r = rng(8);
    wasm.gemmF32(floatMatrix(r, 65, 128), floatMatrix(r, 384, 128), null, 65, 384, 128);
    wasm.quantize(floatMatrix(r, 65, 128), 65, 128, { bits: 8, symmetric: false, granularity: 'row' });
    expect(() => wasm.quantize(new Float32Array([NaN]), 1, 1, { bits: 8, symmetric: false, granularity: 'row' })).toThrow();
    expect(wasm.arena.top).toBe(top);
  });
});

describe('quantize_i16 (activation operand of the integer GEMMs, one pass)', () => {
  it.each([false, true])(
    'matches quantizeMatrix + group layout (int8 elements: %s — storage offset; int16: centred), per row / per image / static clip',
    (i8) => {
      const wk = wasm;
      if (!isWasmKernels(wk)) throw new Error(wk.fallbackReason);
      const ar = wk.arena;
      const r = rng(9);
      for (const [rows, k, perImage, gsIn] of [
        [7, 13, 7, 13],
        [12, 33, 4, 8],
        [65, 128, 65, 32],
        [6, 5, 3, 5],
        [4, 1, 2, 1],
      ]) {
        const x = floatMatrix(r, rows, k, 3);
        for (const bits of [8, 4, 2] as Bits[])
          for (const symmetric of [true, false])
            for (const mode of [0, 1, 2]) {
              ar.scoped(() => {
                const clip = { min: -1.25, max: 2.5 };
                const spec: MatrixQuantSpec = {
                  bits,
                  symmetric,
                  granularity: mode === 1 ? 'row' : 'tensor',
                  clip: mode === 2 ? clip : undefined,
                };
                const off = symmetric ? 0 : 1 << (bits - 1);
                const gs = gsIn;
                const groups = Math.ceil(k / gs);
                const gp = Math.ceil(gs / 8) * 8;
                const rowsP = Math.ceil(rows / 4) * 4;
                const px = ar.putF32(x);
                const dst = ar.alloc(rowsP * groups * gp * (i8 ? 1 : 2));
                const sums = ar.alloc(rows * groups * 4);
                const sx = ar.alloc(rows * 4);
                const zx = ar.alloc(rows * 4);
                const sz = mode === 2 ? quantizeMatrix(new Float32Array([0]), 1, 1, spec) : null;
                const rc = wk.ex.quantize_i16(
                  px,
                  rows,
                  k,
                  perImage,
                  mode,
                  bits,
                  symmetric ? 1 : 0,
                  sz?.scales[0] ?? 1,
                  sz?.zeros[0] ?? 0,
                  gs,
                  gp,
                  groups,
                  rowsP,
                  off,
                  dst,
                  sums,
                  sx,
                  zx,
                  i8 ? 1 : 0,
                );
                expect(rc).toBe(0);
                const d16 = i8
                  ? new Int8Array(ar.memory.buffer, dst, rowsP * groups * gp)
                  : new Int16Array(ar.memory.buffer, dst, rowsP * groups * gp);
                const what = `${rows}×${k} img ${perImage} g ${gs} ${bits}b sym ${symmetric} mode ${mode}`;
                for (let i0 = 0; i0 < rows; i0 += mode === 0 ? perImage : rows) {
                  const n = mode === 0 ? perImage : rows;
                  const ref = quantizeMatrix(x.subarray(i0 * k, (i0 + n) * k), n, k, spec);
                  for (let i = 0; i < n; i++) {
                    const row = i0 + i;
                    const g = ref.spec.granularity === 'tensor' ? 0 : i;
                    expect(ar.f32(sx + row * 4, 1)[0], what).toBe(ref.scales[g]);
                    // int8 elements carry the storage offset; int16 ones are centred (q − z, zx = 0)
                    const sub = i8 ? off : ref.zeros[g];
                    expect(ar.i32(zx + row * 4, 1)[0], what).toBe(ref.zeros[g] - sub);
                    for (let gi = 0; gi < groups; gi++) {
                      let s = 0;
                      for (let c = 0; c < gp; c++) {
                        const col = gi * gs + c;
                        const want = c < gs && col < k ? ref.q[i * k + col] - sub : 0;
                        s += want;
                        expect(d16[row * groups * gp + gi * gp + c], what).toBe(want);
                      }
                      expect(ar.i32(sums + (row * groups + gi) * 4, 1)[0], what).toBe(s);
                    }
                  }
                }
                for (let i = rows * groups * gp; i < rowsP * groups * gp; i++) expect(d16[i]).toBe(0);
              });
            }
      }
    },
  );
  it.each([0, 1])('LayerNorm fused with per-token quantization = layernorm then quantize_i16 (int8 elements: %i)', (i8) => {
    const wk = wasm;
    if (!isWasmKernels(wk)) throw new Error(wk.fallbackReason);
    const ar = wk.arena;
    const r = rng(13);
    for (const [rows, d, gs, bits, sym] of [
      [5, 37, 37, 8, 0],
      [65, 128, 128, 8, 0],
      [9, 64, 32, 4, 1],
      [3, 13, 5, 2, 0],
    ] as const) {
      ar.scoped(() => {
        const x = ar.putF32(floatMatrix(r, rows, d, 4));
        const g = ar.putF32(Float32Array.from({ length: d }, () => r() + 0.5));
        const b = ar.putF32(Float32Array.from({ length: d }, () => r() - 0.5));
        const groups = Math.ceil(d / gs);
        const gp = Math.ceil(gs / 8) * 8;
        const rowsP = Math.ceil(rows / 4) * 4;
        const off = sym ? 0 : 1 << (bits - 1);
        const bufs = () => ({
          y: ar.alloc(rows * d * 4),
          dst: ar.alloc(rowsP * groups * gp * (i8 ? 1 : 2)),
          sums: ar.alloc(rows * groups * 4),
          sx: ar.alloc(rows * 4),
          zx: ar.alloc(rows * 4),
        });
        const A = bufs();
        const B = bufs();
        expect(
          wk.ex.layernorm_quant_i16(x, rows, d, g, b, 1e-5, A.y, bits, sym, gs, gp, groups, rowsP, off, A.dst, A.sums, A.sx, A.zx, i8),
        ).toBe(0);
        wk.ex.layernorm(x, rows, d, g, b, 1e-5, B.y);
        expect(wk.ex.quantize_i16(B.y, rows, d, 1, 1, bits, sym, 1, 0, gs, gp, groups, rowsP, off, B.dst, B.sums, B.sx, B.zx, i8)).toBe(0);
        const bytes = (p: number, n: number) => Array.from(new Uint8Array(ar.memory.buffer, p, n));
        expect(bytes(A.y, rows * d * 4)).toEqual(bytes(B.y, rows * d * 4));
        expect(bytes(A.dst, rowsP * groups * gp * (i8 ? 1 : 2))).toEqual(bytes(B.dst, rowsP * groups * gp * (i8 ? 1 : 2)));
        expect(bytes(A.sums, rows * groups * 4)).toEqual(bytes(B.sums, rows * groups * 4));
        expect(bytes(A.sx, rows * 4)).toEqual(bytes(B.sx, rows * 4));
        expect(bytes(A.zx, rows * 4)).toEqual(bytes(B.zx, rows * 4));
      });
    }
  });
  it('reports NaN/Inf (first index) before a float32 overflow', () => {
    const wk = wasm;
    if (!isWasmKernels(wk)) throw new Error(wk.fallbackReason);
    const ar = wk.arena;
    ar.scoped(() => {
      const x = new Float32Array([3e38, -3e38, 1, 2, 5, NaN, 1, 1]);
      const px = ar.putF32(x);
      const big = ar.alloc(4096);
      expect(wk.ex.quantize_i16(px, 4, 2, 1, 0, 8, 0, 1, 0, 2, 8, 1, 4, 128, big, big + 1024, big + 2048, big + 3072, 0)).toBe(1);
      expect(wk.ex.quantErrorIndex()).toBe(5);
      x[5] = 0;
      ar.f32(px, 8).set(x);
      expect(wk.ex.quantize_i16(px, 4, 2, 1, 0, 8, 0, 1, 0, 2, 8, 1, 4, 128, big, big + 1024, big + 2048, big + 3072, 0)).toBe(2);
    });
  });
});
