import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { KernelError, submitAndWait } from './common';
import { type ElementwiseOp, createAdd, createAddInPlace, createCopyRows, createGelu, createScale, gelu } from './elementwise';
import { firstOutOfTol, randF32, rng } from './testUtil';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

async function run(op: ElementwiseOp, a: Float32Array, b: Float32Array | null, outInit: Float32Array): Promise<Float32Array> {
  const ba = GpuBuffer.f32(ctx, a),
    bb = b ? GpuBuffer.f32(ctx, b) : undefined,
    bo = GpuBuffer.f32(ctx, outInit);
  await submitAndWait(ctx, (enc) => op.encode(enc, { a: ba, b: bb, out: bo }));
  const o = await bo.read();
  [ba, bb, bo].forEach((x) => x?.destroy());
  op.destroy();
  return o;
}

describe('elementwise', () => {
  const r = rng(9);
  const n = 300;
  const a = randF32(r, n, -6, 6),
    b = randF32(r, 20);
  it('add with broadcast (exact f32 sums)', async () => {
    const o = await run(createAdd(ctx, { n, bPeriod: 20 }), a, b, new Float32Array(n));
    expect(Array.from(o)).toEqual(Array.from(a, (v, i) => Math.fround(v + b[i % 20])));
  });
  it('add in place', async () => {
    const init = randF32(r, n);
    const o = await run(createAddInPlace(ctx, { n }), a, null, init);
    expect(Array.from(o)).toEqual(Array.from(a, (v, i) => Math.fround(v + init[i])));
  });
  it('GELU within 1e-6 (abs) + 1e-6 (rel)', async () => {
    const o = await run(createGelu(ctx, { n }), a, null, new Float32Array(n));
    expect(firstOutOfTol(o, a.map(gelu), (i) => 1e-6 + 1e-6 * Math.abs(a[i]))).toBe(-1);
    const big = Float32Array.from([1e30, -1e30, 0, 40, -40]);
    const ob = await run(createGelu(ctx, { n: 5 }), big, null, new Float32Array(5));
    expect(Array.from(ob)).toEqual([1e30, -0, 0, 40, -0].map(Math.fround));
  });
  it('scale and strided row copy (class-token gather)', async () => {
    const o = await run(createScale(ctx, { n, alpha: 0.5 }), a, null, new Float32Array(n));
    expect(Array.from(o)).toEqual(Array.from(a, (v) => Math.fround(v * 0.5)));
    // 3 images × T=5 tokens × 20 dims: gather row 0 of each image
    const x = randF32(r, 3 * 5 * 20);
    const g = await run(createCopyRows(ctx, { rows: 3, cols: 20, aRow: 5 * 20, outRow: 20 }), x, null, new Float32Array(60));
    for (let i = 0; i < 3; i++) expect(Array.from(g.subarray(i * 20, i * 20 + 20))).toEqual(Array.from(x.subarray(i * 100, i * 100 + 20)));
  });
  it('transposing copy (aCol): vᵀ of one head out of qkv rows', async () => {
    // T=5 rows of [q | k | v] with dim 8, 2 heads of hd 4: vᵀ of head 1 is [hd × T], element (j, t) = qkv[t·24 + 16 + 4 + j]
    const T = 5,
      D = 8,
      hd = 4;
    const qkv = randF32(r, T * 3 * D);
    const g = await run(
      createCopyRows(ctx, { rows: hd, cols: T, aRow: 1, aCol: 3 * D, aOff: 2 * D + hd, outRow: T }),
      qkv,
      null,
      new Float32Array(hd * T),
    );
    const want = Array.from({ length: hd * T }, (_, i) => qkv[Math.floor(i / T) + (i % T) * 3 * D + 2 * D + hd]);
    expect(Array.from(g)).toEqual(want);
  });
  it('rejects aliasing and short buffers', () => {
    const op = createAdd(ctx, { n: 8 });
    const buf = GpuBuffer.f32(ctx, 8),
      small = GpuBuffer.f32(ctx, 2);
    const enc = ctx.device.createCommandEncoder();
    expect(() => op.encode(enc, { a: buf, b: buf, out: buf })).toThrow(KernelError);
    expect(() => op.encode(enc, { a: small, b: buf, out: GpuBuffer.f32(ctx, 8) })).toThrow(/needs 8/);
    op.destroy();
  });
});
