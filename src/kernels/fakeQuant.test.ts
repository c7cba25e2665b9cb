import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { packInt8Rows } from '../quant/pack';
import { createDequantizeRows, runDequantizeRows, runScaleColumns } from './fakeQuant';
import { dequantizeRowsRef, scaleColumnsRef } from './fakeQuant.ref';
import { randF32, randInt, rng } from './testUtil';
import { KernelError } from './common';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

describe('fake_quant: dequantize_rows (bit-exact)', () => {
  it.each([
    { rows: 1, cols: 1, rpg: 1 },
    { rows: 5, cols: 7, rpg: 1 },
    { rows: 13, cols: 33, rpg: 13 },
    { rows: 130, cols: 128, rpg: 65 },
  ])('$rows×$cols, rowsPerGroup $rpg', async ({ rows, cols, rpg }) => {
    const r = rng(rows * 31 + cols);
    const q = randInt(r, rows * cols, -128, 127);
    q[0] = -128; // range ends
    q[q.length - 1] = 127;
    const groups = Math.ceil(rows / rpg);
    const scales = randF32(r, groups, 0, 0.1);
    scales[0] = 1e-30;
    const zeros = randInt(r, groups, -128, 127);
    const packed = packInt8Rows(q, rows, cols);
    const got = await runDequantizeRows(ctx, packed, scales, zeros, rows, cols, rpg);
    expect(Array.from(got)).toEqual(Array.from(dequantizeRowsRef(packed, scales, zeros, rows, cols, rpg)));
  });
  it('rejects a short buffer and use after destroy', () => {
    const op = createDequantizeRows(ctx, { rows: 2, cols: 2, rowsPerGroup: 1 });
    op.destroy();
    const enc = ctx.device.createCommandEncoder();
    expect(() =>
      op.encode(enc, {
        q: ctx.device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE }),
        scales: ctx.device.createBuffer({ size: 8, usage: GPUBufferUsage.STORAGE }),
        zeros: ctx.device.createBuffer({ size: 8, usage: GPUBufferUsage.STORAGE }),
        out: ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }),
      }),
    ).toThrow(KernelError);
    expect(() => createDequantizeRows(ctx, { rows: 0, cols: 2, rowsPerGroup: 1 })).toThrow(/rows/);
  });
});

describe('fake_quant: scale_columns', () => {
  it('divides each column by its SmoothQuant scale (float32, ≤ 1 ulp)', async () => {
    const r = rng(9);
    const rows = 9;
    const cols = 11;
    const a = randF32(r, rows * cols, -5, 5);
    const d = randF32(r, cols, 0.1, 10);
    const got = await runScaleColumns(ctx, a, d, rows, cols);
    const want = scaleColumnsRef(a, d, rows, cols);
    // WGSL division is accurate to 2.5 ulp
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(3 * 1.2e-7 * Math.abs(want[i]) + 1e-30);
  });
});
