/**
 * The two kernel sets of training agree: the WebAssembly SIMD kernels (asm/kernels.ts) against the
 * TypeScript references of src/train/trainKernels.ts on seeded inputs — the fake-quant forward bit
 * for bit (markers included), the rest to float32 rounding (the tolerances below are what float32
 * sums and a polynomial exp allow, and far below what a wrong formula gives).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCpuKernels } from '../cpu/cpuKernels';
import { seededUniform } from '../quant/random';
import { FQ_ABOVE, FQ_BELOW, type FqArgs, StepMemoryMoved, type TrainKernels, trainKernelsFor, tsTrainKernels } from './trainKernels';

let wasm: TrainKernels;
beforeAll(async () => {
  wasm = trainKernelsFor(await loadCpuKernels());
  if (wasm.impl !== 'wasm-simd') throw new Error('the wasm kernels did not load: run npm run build:wasm');
});

function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = seededUniform(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * (r() + r() + r() - 1.5) * 2;
  return a;
}

/** max |a − b| / max |b| */
function relErr(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    e = Math.max(e, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return e / m;
}

describe('training kernels: WebAssembly SIMD = TypeScript', () => {
  // two groups over 3 rows × 13 columns (odd lengths: the scalar tails run too)
  const x = randn(39, 1, 3);
  const q: FqArgs = {
    runs: Int32Array.from([0, 0, 20, 1, 20, 39]),
    s: Float32Array.from([0.37, 0.21]),
    zr: Float32Array.from([7, 3]),
    qmin: 0,
    qmax: 15,
  };

  it('fake-quant forward: bit-exact values and markers, both sides of the grid clamped', () => {
    const yw = new Float32Array(39);
    const kw = new Float32Array(39);
    const yt = new Float32Array(39);
    const kt = new Float32Array(39);
    wasm.fqForward(x, yw, kw, q);
    tsTrainKernels.fqForward(x, yt, kt, q);
    expect(Array.from(yw)).toEqual(Array.from(yt));
    expect(Array.from(kw)).toEqual(Array.from(kt));
    expect(kt.some((v) => v === FQ_BELOW)).toBe(true);
    expect(kt.some((v) => v === FQ_ABOVE)).toBe(true);
    expect(kt.some((v) => Math.abs(v) <= 0.5)).toBe(true);
  });

  it('fake-quant backward: dx bit-exact, the sums of s and z to float64 rounding', () => {
    const keep = new Float32Array(39);
    tsTrainKernels.fqForward(x, new Float32Array(39), keep, q);
    const dy = randn(39, 2);
    const dxw = randn(39, 3);
    const dxt = dxw.slice();
    const [gsw, gzw, gst, gzt] = [0, 1, 2, 3].map(() => Float64Array.from([0.5, -0.25]));
    wasm.fqBackward(keep, dy, dxw, q, gsw, gzw);
    tsTrainKernels.fqBackward(keep, dy, dxt, q, gst, gzt);
    expect(Array.from(dxw)).toEqual(Array.from(dxt));
    expect(relErr(gsw, gst)).toBeLessThan(1e-12);
    expect(relErr(gzw, gzt)).toBeLessThan(1e-12);
    expect(gzt[0]).not.toBe(-0.25); // clamped elements moved z
  });

  it('GELU forward (tanh kept) and backward', () => {
    const v = randn(103, 4, 4);
    const [yw, tw, yt, tt] = [0, 1, 2, 3].map(() => new Float32Array(103));
    wasm.geluForward(v, yw, tw);
    tsTrainKernels.geluForward(v, yt, tt);
    expect(relErr(yw, yt)).toBeLessThan(1e-6);
    expect(relErr(tw, tt)).toBeLessThan(1e-6);
    const dy = randn(103, 5);
    const dxw = randn(103, 6);
    const dxt = dxw.slice();
    wasm.geluBackward(v, tw, dy, dxw);
    tsTrainKernels.geluBackward(v, tt, dy, dxt);
    expect(relErr(dxw, dxt)).toBeLessThan(1e-6);
  });

  it('LayerNorm forward (x̂ and 1/σ kept) and backward', () => {
    const d = 16;
    const rows = 5;
    const v = randn(rows * d, 7, 2);
    const g = randn(d, 8);
    const b = randn(d, 9);
    const kw = { xhat: new Float32Array(rows * d), inv: new Float32Array(rows) };
    const kt = { xhat: new Float32Array(rows * d), inv: new Float32Array(rows) };
    const yw = new Float32Array(rows * d);
    const yt = new Float32Array(rows * d);
    wasm.layerNormForward(v, d, g, b, 1e-6, yw, kw);
    tsTrainKernels.layerNormForward(v, d, g, b, 1e-6, yt, kt);
    expect(relErr(yw, yt)).toBeLessThan(1e-6);
    expect(relErr(kw.xhat, kt.xhat)).toBeLessThan(1e-6);
    expect(relErr(kw.inv, kt.inv)).toBeLessThan(1e-6);
    const dy = randn(rows * d, 10);
    const [dxw, dgw, dbw] = [randn(rows * d, 11), randn(d, 12), randn(d, 13)];
    const [dxt, dgt, dbt] = [dxw.slice(), dgw.slice(), dbw.slice()];
    wasm.layerNormBackward(kt, g, dy, dxw, dgw, dbw);
    tsTrainKernels.layerNormBackward(kt, g, dy, dxt, dgt, dbt);
    expect(relErr(dxw, dxt)).toBeLessThan(1e-5);
    expect(relErr(dgw, dgt)).toBeLessThan(1e-6);
    expect(relErr(dbw, dbt)).toBeLessThan(1e-6);
  });

  it('softmax forward and backward (row length 13: SIMD body and tail)', () => {
    const n = 13;
    const v = randn(4 * n, 14, 3);
    const yw = v.slice();
    const yt = v.slice();
    wasm.softmaxRows(yw, 4, n);
    tsTrainKernels.softmaxRows(yt, 4, n);
    expect(relErr(yw, yt)).toBeLessThan(1e-6);
    const dy = randn(4 * n, 15);
    const dxw = randn(4 * n, 16);
    const dxt = dxw.slice();
    wasm.softmaxBackward(yt, dy, dxw, n);
    tsTrainKernels.softmaxBackward(yt, dy, dxt, n);
    expect(relErr(dxw, dxt)).toBeLessThan(1e-6);
  });

  it('a linear layer backward: dX = dY·W and dW = dYᵀ·X', () => {
    const [m, n, k] = [37, 11, 19];
    const x = randn(m * k, 19);
    const w = randn(n * k, 20);
    const dy = randn(m * n, 21);
    const a = wasm.linearBackward(x, w, dy, m, n, k);
    const b = tsTrainKernels.linearBackward(x, w, dy, m, n, k);
    expect(relErr(a.dx, b.dx)).toBeLessThan(1e-6);
    expect(relErr(a.dw, b.dw)).toBeLessThan(1e-6);
    // dX[0][0] = Σ_j dY[0][j]·W[j][0] by hand
    let s = 0;
    for (let j = 0; j < n; j++) s += dy[j] * w[j * k];
    expect(b.dx[0]).toBeCloseTo(s, 5);
  });

  // n = 11 leaves a partial 8-channel panel; k = 19 and m = 21 are not multiples of the tiles
  for (const [aT, bT] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const)
    it(`products, A${aT ? 'ᵀ' : ''}·B${bT ? '' : 'ᵀ'} (stored ${aT ? '[k×m]' : '[m×k]'}, ${bT ? '[k×n]' : '[n×k]'}), single and batched`, () => {
      const [m, n, k, count] = [21, 11, 19, 3];
      const a = randn(count * m * k, 17);
      const b = randn(count * n * k, 18);
      const yw = new Float32Array(count * m * n);
      const yt = new Float32Array(count * m * n);
      wasm.mmBatched(count, a, aT, b, bT, m, n, k, yw, 0.5);
      tsTrainKernels.mmBatched(count, a, aT, b, bT, m, n, k, yt, 0.5);
      expect(relErr(yw, yt)).toBeLessThan(1e-6);
      const one = wasm.mm(a.subarray(0, m * k), aT, b.subarray(0, n * k), bT, m, n, k);
      expect(relErr(one, tsTrainKernels.mm(a.subarray(0, m * k), aT, b.subarray(0, n * k), bT, m, n, k))).toBeLessThan(1e-6);
    });

  it('a step’s tensors in wasm memory: measured on the first step, resident after, the same products; growth mid-step is caught', async () => {
    const k = trainKernelsFor(await loadCpuKernels()); // a fresh set: its own residency state
    const [m, n, kk] = [21, 11, 19];
    const a = randn(m * kk, 22);
    const b = randn(n * kk, 23);
    const want = tsTrainKernels.mm(a, false, b, false, m, n, kk);
    const step = () => {
      const ar = k.alloc(m * kk);
      ar.set(a);
      const y = k.mm(ar, false, b, false, m, n, kk);
      const g = k.alloc(m * n);
      k.geluForward(y, g, null);
      k.checkStep();
      return { y: y.slice(), resident: y.byteOffset > 0 }; // a JS array starts its own buffer
    };
    expect(k.residency()).toBe('measure');
    k.beginStep();
    const first = step();
    k.endStep();
    expect(k.residency()).toBe('resident');
    expect(first.resident).toBe(false); // JS arrays while measuring
    k.beginStep();
    const second = step();
    k.endStep();
    expect(second.resident).toBe(true);
    expect(relErr(second.y, want)).toBeLessThan(1e-6);
    expect(Array.from(second.y)).toEqual(Array.from(first.y));
    // far past the reserve: the memory grows, the step's views are detached, the step must rerun
    k.beginStep();
    k.alloc(m * kk);
    expect(() => k.alloc(64 * 2 ** 20)).toThrowError(StepMemoryMoved);
    k.endStep();
    expect(k.residency()).toBe('resident');
  });
});
