import { describe, expect, it } from 'vitest';
import { choleskyLower, gptqQuantize, upperCholeskyOfInverse } from './gptq';
import { dequantizeMatrix, type MatrixQuantSpec, type QuantizedMatrix, quantizeMatrix } from './quantizeMatrix';
import { intRange } from './scaleZero';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}
function gaussian(rnd: () => number) {
  return () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** Correlated calibration inputs X [rows × k] = Z·A with per-channel scales (some channels large). */
function correlatedInputs(rows: number, k: number, seed: number, deadCols: number[] = []): Float32Array {
  const g = gaussian(lcg(seed));
  const a = Float64Array.from({ length: k * k }, () => g() / Math.sqrt(k));
  for (let i = 0; i < k; i++) a[i * k + i] += 1;
  const chScale = Float64Array.from({ length: k }, (_, c) => (c % 7 === 0 ? 4 : 1) * (0.5 + (c % 3) * 0.5));
  const x = new Float32Array(rows * k);
  const z = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) z[i] = g();
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += z[i] * a[i * k + c];
      x[r * k + c] = deadCols.includes(c) ? 0 : s * chScale[c];
    }
  }
  return x;
}

function hessianOf(x: Float32Array, rows: number, k: number): Float64Array {
  const h = new Float64Array(k * k);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) h[i * k + j] += (2 / rows) * x[r * k + i] * x[r * k + j];
  return h;
}

/** ‖X·Wᵀ − X·Ŵᵀ‖² */
function outputError(x: Float32Array, rows: number, w: ArrayLike<number>, wh: ArrayLike<number>, n: number, k: number): number {
  let e = 0;
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < n; o++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += x[r * k + c] * (w[o * k + c] - wh[o * k + c]);
      e += s * s;
    }
  return e;
}

function asMatrix(res: ReturnType<typeof gptqQuantize>, n: number, k: number, spec: MatrixQuantSpec): QuantizedMatrix {
  return { rows: n, cols: k, spec, ...res };
}

describe('Cholesky helpers', () => {
  it('upper factor of the inverse satisfies UᵀU·H = I', () => {
    const k = 9;
    const x = correlatedInputs(40, k, 2);
    const h = hessianOf(x, 40, k);
    for (let i = 0; i < k; i++) h[i * k + i] += 0.01;
    const u = upperCholeskyOfInverse(h, k)!;
    // upper triangular with a positive diagonal + UᵀU = H⁻¹ ⇒ the unique upper Cholesky factor
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) expect(u[i * k + j]).toBe(0);
    for (let i = 0; i < k; i++) expect(u[i * k + i]).toBeGreaterThan(0);
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          let hinv = 0;
          for (let m = 0; m < k; m++) hinv += u[m * k + i] * u[m * k + t];
          s += hinv * h[t * k + j];
        }
        expect(s).toBeCloseTo(i === j ? 1 : 0, 8);
      }
    expect(choleskyLower(new Float64Array([1, 2, 2, 1]), 2)).toBe(false);
  });
});

describe('gptqQuantize', () => {
  const n = 24;
  const k = 48;
  const rows = 256;
  const x = correlatedInputs(rows, k, 11);
  const h = hessianOf(x, rows, k);
  const g = gaussian(lcg(5));
  const w = Float32Array.from({ length: n * k }, () => g() * 0.2);

  const specs: MatrixQuantSpec[] = [
    { bits: 4, symmetric: true, granularity: 'row' },
    { bits: 4, symmetric: false, granularity: 'row' },
    { bits: 4, symmetric: true, granularity: 'group', groupSize: 16 },
    { bits: 4, symmetric: true, granularity: 'tensor' },
    { bits: 2, symmetric: true, granularity: 'row' },
    { bits: 2, symmetric: false, granularity: 'group', groupSize: 12 },
    { bits: 8, symmetric: true, granularity: 'row' },
  ];
  for (const spec of specs)
    for (const actOrder of [false, true])
      it(`beats round-to-nearest on ‖WX − ŴX‖²: ${spec.bits}-bit ${spec.symmetric ? 'sym' : 'asym'} ${spec.granularity}${spec.groupSize ?? ''} actOrder=${actOrder}`, () => {
        const res = gptqQuantize(w, n, k, h, spec, { actOrder, damp: 0.01 });
        const { qmin, qmax } = intRange(spec.bits, spec.symmetric);
        expect(res.q.length).toBe(n * k);
        for (const v of res.q) expect(v >= qmin && v <= qmax).toBe(true);
        const rtn = quantizeMatrix(w, n, k, spec);
        expect(res.groupsPerRow).toBe(rtn.groupsPerRow);
        expect(res.groupSize).toBe(rtn.groupSize);
        expect(res.scales.length).toBe(rtn.scales.length);
        const eG = outputError(x, rows, w, dequantizeMatrix(asMatrix(res, n, k, spec)), n, k);
        const eR = outputError(x, rows, w, dequantizeMatrix(rtn), n, k);
        // GPTQ minimises exactly this objective: expect a clear gain (≥ 10 %) at low bits.
        expect(eG).toBeLessThan(spec.bits === 8 ? eR : eR * 0.9);
        if (spec.granularity !== 'group') {
          // tensor/row scales come from the original weights: identical to RTN's
          expect(Array.from(res.scales)).toEqual(Array.from(rtn.scales));
          expect(Array.from(res.zeros)).toEqual(Array.from(rtn.zeros));
        }
      });

  it('k beyond one 128-column block (group scales from the block-start snapshot)', () => {
    const kk = 160;
    const nn = 8;
    const rr = 320;
    const xx = correlatedInputs(rr, kk, 21);
    const hh = hessianOf(xx, rr, kk);
    const ww = Float32Array.from({ length: nn * kk }, () => g() * 0.2);
    for (const spec of [
      { bits: 4, symmetric: true, granularity: 'group', groupSize: 32 },
      { bits: 2, symmetric: false, granularity: 'group', groupSize: 24 },
    ] as MatrixQuantSpec[]) {
      const res = gptqQuantize(ww, nn, kk, hh, spec, { actOrder: false, damp: 0.01 });
      const eG = outputError(xx, rr, ww, dequantizeMatrix(asMatrix(res, nn, kk, spec)), nn, kk);
      const eR = outputError(xx, rr, ww, dequantizeMatrix(quantizeMatrix(ww, nn, kk, spec)), nn, kk);
      expect(eG).toBeLessThan(eR * 0.9);
    }
  });

  it('act-order returns integers in the original column order', () => {
    // A diagonal H: GPTQ has no cross terms to exploit, so every column is plain RTN in any
    // processing order — and the result must be RTN's exactly, in original order.
    const hd = new Float64Array(k * k);
    for (let c = 0; c < k; c++) hd[c * k + c] = 1 + ((c * 37) % k); // distinct: a non-trivial permutation
    const spec: MatrixQuantSpec = { bits: 4, symmetric: true, granularity: 'row' };
    const res = gptqQuantize(w, n, k, hd, spec, { actOrder: true, damp: 0.01 });
    expect(Array.from(res.q)).toEqual(Array.from(quantizeMatrix(w, n, k, spec).q));
    const resG = gptqQuantize(w, n, k, hd, { ...spec, granularity: 'group', groupSize: 8 }, { actOrder: true, damp: 0.01 });
    expect(Array.from(resG.q)).toEqual(Array.from(quantizeMatrix(w, n, k, { ...spec, granularity: 'group', groupSize: 8 }).q));
  });

  it('handles dead inputs (all-zero input columns) and a zero Hessian', () => {
    const dead = [0, 5, 47];
    const xd = correlatedInputs(rows, k, 13, dead);
    const hdead = hessianOf(xd, rows, k);
    for (const actOrder of [false, true])
      for (const spec of [
        { bits: 4, symmetric: true, granularity: 'group', groupSize: 16 },
        { bits: 4, symmetric: false, granularity: 'row' },
      ] as MatrixQuantSpec[]) {
        const res = gptqQuantize(w, n, k, hdead, spec, { actOrder, damp: 0.01 });
        const deq = dequantizeMatrix(asMatrix(res, n, k, spec));
        for (const v of deq) expect(Number.isFinite(v)).toBe(true);
        // the dead columns' weights are zeroed (exact 0 is on the grid)
        for (let r = 0; r < n; r++) for (const c of dead) expect(deq[r * k + c]).toBe(0);
        const eG = outputError(xd, rows, w, deq, n, k);
        const eR = outputError(xd, rows, w, dequantizeMatrix(quantizeMatrix(w, n, k, spec)), n, k);
        expect(eG).toBeLessThan(eR);
      }
    // H = 0 everywhere (no calibration signal): all columns dead, everything quantizes to 0
    const res0 = gptqQuantize(
      w,
      n,
      k,
      new Float64Array(k * k),
      { bits: 4, symmetric: true, granularity: 'row' },
      { actOrder: true, damp: 0 },
    );
    expect(Array.from(res0.q).every((v) => v === 0)).toBe(true);
  });

  it('rank-deficient H with damp = 0 still factors (damping is raised)', () => {
    const xr = correlatedInputs(4, k, 17); // 4 rows → rank 4 ≪ k
    const res = gptqQuantize(w, n, k, hessianOf(xr, 4, k), { bits: 4, symmetric: true, granularity: 'row' }, { actOrder: false, damp: 0 });
    for (const v of res.q) expect(Number.isInteger(v)).toBe(true);
  });

  it('validates shapes and NaN/Inf', () => {
    const spec: MatrixQuantSpec = { bits: 4, symmetric: true, granularity: 'row' };
    expect(() => gptqQuantize(w, n, k + 1, h, spec, { actOrder: false, damp: 0.01 })).toThrow(/weights/);
    expect(() => gptqQuantize(w, n, k, h.subarray(1), spec, { actOrder: false, damp: 0.01 })).toThrow(/Hessian/);
    const bad = Float64Array.from(h);
    bad[3] = NaN;
    expect(() => gptqQuantize(w, n, k, bad, spec, { actOrder: false, damp: 0.01 })).toThrow(/NaN/);
    expect(() => gptqQuantize(w, n, k, h, { ...spec, granularity: 'group' }, { actOrder: false, damp: 0.01 })).toThrow(/groupSize/);
  });
});

describe('GPTQ worked by hand (4 columns)', () => {
  it('compensates the error of a column on its correlated neighbour only', () => {
    // H = blockdiag([[2, 1], [1, 2]], I): H⁻¹'s upper Cholesky has U₁₁ = √(2/3), U₁₂ = −1/√6, so
    // quantizing column 1 moves column 2 by −U₁₂/U₁₁·(w₁ − q₁) = +½(w₁ − q₁); columns 3, 4 are RTN.
    // Per-tensor symmetric INT4 from absmax 0.7: s = 0.1.
    //   row 1: w₁ = 0.46 → 0.5 (error −0.04), so w₂ = 0.36 − 0.02 = 0.34 → 0.3 (RTN would give 0.4);
    //          0.26 → 0.3, −0.44 → −0.4.   row 2: 0.7 → 0.7 exactly, nothing to carry.
    const w = Float32Array.from([0.46, 0.36, 0.26, -0.44, 0.7, 0, 0, 0]);
    const h = Float64Array.from([2, 1, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    const spec: MatrixQuantSpec = { bits: 4, symmetric: true, granularity: 'tensor' };
    const res = gptqQuantize(w, 2, 4, h, spec, { actOrder: false, damp: 0 });
    expect(res.scales[0]).toBeCloseTo(0.1, 7);
    expect(Array.from(res.q)).toEqual([5, 3, 3, -4, 7, 0, 0, 0]);
    const rtn = quantizeMatrix(w, 2, 4, spec);
    expect(Array.from(rtn.q)).toEqual([5, 4, 3, -4, 7, 0, 0, 0]);
  });
});
