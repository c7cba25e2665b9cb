import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import common from '../../shaders/quant_common.wgsl?raw';
import { composeWgsl } from './wgsl';
import { GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { getPipeline } from '../gpu/pipelineCache';
import { type MatrixQuantSpec, quantizeMatrix } from '../quant/quantizeMatrix';
import { type Bits, storageOffset } from '../quant/scaleZero';
import { NonFiniteInputError, bindGroup, dispatch, submitAndWait } from './common';
import { runQuantizeRows } from './quantizeRows';
import { firstMismatch, randF32, randIntIn, rng } from './testUtil';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

/** Reference in storage form: quantizeMatrix over each tensor block of `rowsPerTensor` rows. */
function reference(x: Float32Array, rows: number, cols: number, spec: MatrixQuantSpec, rowsPerTensor = rows) {
  const off = storageOffset(spec.bits, spec.symmetric);
  const q = new Int32Array(rows * cols);
  const scales: number[] = [];
  const zeros: number[] = [];
  const blocks = spec.granularity === 'tensor' ? Math.ceil(rows / rowsPerTensor) : 1;
  const per = spec.granularity === 'tensor' ? rowsPerTensor : rows;
  for (let b = 0; b < blocks; b++) {
    const r0 = b * per,
      r1 = Math.min(rows, r0 + per);
    const m = quantizeMatrix(x.subarray(r0 * cols, r1 * cols), r1 - r0, cols, spec);
    for (let i = 0; i < m.q.length; i++) q[r0 * cols + i] = m.q[i] - off;
    scales.push(...m.scales);
    zeros.push(...Array.from(m.zeros, (z) => z - off));
  }
  return { q, scales: Float32Array.from(scales), zeros: Int32Array.from(zeros) };
}

async function check(
  x: Float32Array,
  rows: number,
  cols: number,
  bits: Bits,
  symmetric: boolean,
  granularity: 'row' | 'tensor',
  extra: { rowsPerTensor?: number; clip?: { min: number; max: number } } = {},
) {
  const ref = reference(
    x,
    rows,
    cols,
    { bits, symmetric, granularity: granularity === 'row' ? 'row' : 'tensor', clip: extra.clip },
    extra.rowsPerTensor,
  );
  // both row→thread mappings of the min/max pass
  for (const rowMode of ['workgroup', 'thread'] as const) {
    const got = await runQuantizeRows(ctx, x, rows, cols, { bits, symmetric, granularity, ...extra, rowMode });
    expect(firstMismatch(got.scales, ref.scales)).toBe(-1);
    expect(firstMismatch(got.zeros, ref.zeros)).toBe(-1);
    expect(firstMismatch(got.q, ref.q)).toBe(-1);
  }
}

describe('div_rn (exact float32 division in WGSL)', () => {
  it('equals Math.fround(a / b) on 20k random and tie-prone operand pairs', async () => {
    const r = rng(3);
    const n = 20000;
    const a = new Float32Array(n),
      b = new Float32Array(n);
    const bitsA = new Uint32Array(a.buffer),
      bitsB = new Uint32Array(b.buffer);
    for (let i = 0; i < n; i++) {
      if (i % 4 === 0) {
        // quantizer-shaped: r in a range, s = range / 255 or absmax / 127
        const s = Math.fround(Math.fround(r() * 10) / [255, 127, 15, 7, 3, 1][i % 6]);
        b[i] = s || 1;
        a[i] = Math.fround((randIntIn(r, -300, 300) + 0.5) * b[i]);
      } else {
        bitsA[i] = (Math.floor(r() * 2 ** 32) & 0xbfffffff) >>> 0; // exponent < 128: finite
        bitsB[i] = ((Math.floor(r() * 2 ** 32) & 0x3fffffff) | 0x00800000) >>> 0;
      }
    }
    const code =
      composeWgsl(common) +
      `
      @group(0) @binding(0) var<storage, read> A: array<f32>;
      @group(0) @binding(1) var<storage, read> B: array<f32>;
      @group(0) @binding(2) var<storage, read_write> O: array<f32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
        if (g.x < arrayLength(&O)) { O[g.x] = div_rn(A[g.x], B[g.x]); }
      }`;
    const p = getPipeline(ctx, 'test:div_rn', () => code);
    const ba = GpuBuffer.f32(ctx, a),
      bb = GpuBuffer.f32(ctx, b),
      bo = GpuBuffer.f32(ctx, n);
    await submitAndWait(ctx, (enc) => {
      const pass = enc.beginComputePass();
      dispatch(pass, p, bindGroup(ctx, p, [ba.buffer, bb.buffer, bo.buffer]), Math.ceil(n / 64));
      pass.end();
    });
    const o = await bo.read();
    const ref = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const q = Math.fround(a[i] / b[i]);
      ref[i] = Math.abs(q) < 2 ** -126 ? 0 * Math.sign(q) : q; // documented: subnormal quotients → ±0
    }
    const bad = firstMismatch(
      new Uint32Array(o.buffer).map((v, i) => (ref[i] === 0 ? 0 : v)),
      new Uint32Array(ref.buffer).map((v, i) => (ref[i] === 0 ? 0 : v)),
    );
    expect(bad, bad >= 0 ? `${a[bad]} / ${b[bad]}: gpu ${o[bad]} ref ${ref[bad]}` : '').toBe(-1);
    [ba, bb, bo].forEach((x) => x.destroy());
  });
});

describe('quantize_rows', () => {
  const schemes: [Bits, boolean][] = [
    [8, true],
    [8, false],
    [4, true],
    [4, false],
    [2, true],
    [2, false],
  ];
  for (const [bits, sym] of schemes) {
    for (const gran of ['row', 'tensor'] as const) {
      it(`INT${bits} ${sym ? 'sym' : 'asym'} per-${gran}: random data bit-exact`, async () => {
        const r = rng(bits * 10 + (sym ? 1 : 0) + (gran === 'row' ? 100 : 0));
        const rows = randIntIn(r, 1, 40),
          cols = randIntIn(r, 1, 70);
        const x = randF32(r, rows * cols, -3, 2);
        for (let i = 0; i < x.length; i += 7) x[i] *= 10; // spread
        await check(x, rows, cols, bits, sym, gran);
      });
    }
  }

  it('degenerate rows: all-zero, constant, positive-only, ±1e30, K=1, exact .5 ties', async () => {
    const cols = 9;
    const rowsData = [
      new Array(cols).fill(0),
      new Array(cols).fill(3.25),
      new Array(cols).fill(-2),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
      [1e30, -1e30, 0, 5, 1e29, -3, 2, 1, 1],
      [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 127], // s = 1: ties to even
    ];
    const x = Float32Array.from(rowsData.flat());
    for (const [bits, sym] of schemes) {
      await check(x, rowsData.length, cols, bits, sym, 'row');
      await check(x, rowsData.length, cols, bits, sym, 'tensor');
    }
    await check(Float32Array.from([0.7, -3, 0, 12.5]), 4, 1, 8, false, 'row');
  });

  it('one range per image (rowsPerTensor) and a static clip range', async () => {
    const r = rng(11);
    const T = 13,
      imgs = 3,
      cols = 20;
    const x = randF32(r, T * imgs * cols, -4, 6);
    await check(x, T * imgs, cols, 8, false, 'tensor', { rowsPerTensor: T });
    await check(x, T * imgs, cols, 4, true, 'tensor', { rowsPerTensor: T });
    await check(x, T * imgs, cols, 8, false, 'tensor', { clip: { min: -1, max: 2 } });
    await check(x, T * imgs, cols, 4, true, 'row', { clip: { min: -1.5, max: 1 } });
  });

  it('reports NaN and Inf inputs as errors', async () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = Float32Array.from([1, 2, bad, 4]);
      for (const rowMode of ['workgroup', 'thread'] as const)
        await expect(runQuantizeRows(ctx, x, 2, 2, { bits: 8, symmetric: true, granularity: 'row', rowMode })).rejects.toThrow(
          NonFiniteInputError,
        );
    }
    await expect(
      runQuantizeRows(ctx, Float32Array.from([3e38, -3e38]), 1, 2, { bits: 8, symmetric: false, granularity: 'row' }),
    ).rejects.toThrow(/overflows/);
  });
});
