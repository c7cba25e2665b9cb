import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { createAttention } from './attention';
import { KernelError, NonFiniteInputError, submitAndWait } from './common';
import { runDequantizeRows, runScaleColumns } from './fakeQuant';
import { createGemmF32, runGemmF32 } from './gemmF32';
import { runGemmW4A8 } from './gemmW4A8';
import { runGemmW8A8 } from './gemmW8A8';
import { runLayerNorm, runLayerNormQuantize } from './layernorm';
import { runQuantizeRows } from './quantizeRows';
import { createSoftmax, runSoftmax } from './softmax';
import { runStats } from './stats';

// Issue 11 items 11 and 12. Inputs shorter than their shape are refused with a RangeError naming
// the operand (before, the check compared against the GPU buffer, rounded up to 16 bytes, and the
// gap read as zeros); and F32 GEMM, softmax and the W8A8 epilogue raise the sticky NaN/Inf flag.

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

const f32 = (...v: number[]) => Float32Array.from(v);
const i32 = (...v: number[]) => Int32Array.from(v);

/** 3×4 X times W = first two unit rows: Y row m = (x[m,0], x[m,1]) */
const w8 = {
  m: 3,
  n: 2,
  k: 4,
  xq: i32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
  wq: i32(1, 0, 0, 0, 0, 1, 0, 0),
  sx: f32(1, 1, 1),
  sw: f32(1, 1),
};

describe('kernel wrappers: input lengths against the shape', () => {
  it('runGemmF32: X of 2 values for a 2×2 X (the issue: it returned [3, 3, 0, 0])', async () => {
    await expect(runGemmF32(ctx, f32(1, 1), f32(1, 2, 1, 2), null, 2, 2, 2)).rejects.toThrow(RangeError);
    await expect(runGemmF32(ctx, f32(1, 1), f32(1, 2, 1, 2), null, 2, 2, 2)).rejects.toThrow(
      'runGemmF32 x: 2 values given; gemmF32 2×2×2 (X is M×K) needs exactly 4',
    );
    await expect(runGemmF32(ctx, f32(1, 1, 1, 1), f32(1, 2, 1), null, 2, 2, 2)).rejects.toThrow(
      /runGemmF32 w: 3 values given.*needs exactly 4/,
    );
    await expect(runGemmF32(ctx, f32(1, 1, 1, 1), f32(1, 2, 1, 2), f32(1), 2, 2, 2)).rejects.toThrow(
      /runGemmF32 bias: 1 values given.*needs exactly 2/,
    );
    await expect(runGemmF32(ctx, f32(1, 1, 1, 1, 9), f32(1, 2, 1, 2), null, 2, 2, 2)).rejects.toThrow(/runGemmF32 x: 5 values given/);
    expect(Array.from(await runGemmF32(ctx, f32(1, 1, 1, 1), f32(1, 2, 1, 2), null, 2, 2, 2))).toEqual([3, 3, 3, 3]);
  });

  it('gemmF32 encode: a GpuBuffer shorter than the shape (but within its 16-byte allocation) is refused', () => {
    const op = createGemmF32(ctx, { m: 2, n: 2, k: 2 });
    const x = GpuBuffer.f32(ctx, 2); // 2 elements, 16 bytes on the GPU
    const ok = GpuBuffer.f32(ctx, 4);
    try {
      const enc = ctx.device.createCommandEncoder();
      expect(() => op.encode(enc, { x, w: ok, y: ok })).toThrow(KernelError);
      expect(() => op.encode(enc, { x, w: ok, y: ok })).toThrow('gemmF32 X: needs 4 32-bit elements but the buffer holds 2');
    } finally {
      [x, ok].forEach((b) => b.destroy());
      op.destroy();
    }
  });

  it.each([
    [
      'sx of 2 for m = 3 (the issue: row 2 became 0)',
      { sx: f32(1, 1) },
      /runGemmW8A8 sx: 2 values given; gemmW8A8 3×2×4 \(per tensor or per row of X\) needs 1 or 3/,
    ],
    ['xq short', { xq: i32(1, 2, 3) }, /runGemmW8A8 xq: 3 values given.*needs exactly 12/],
    ['wq short', { wq: i32(1, 0, 0, 0) }, /runGemmW8A8 wq: 4 values given.*needs exactly 8/],
    ['sw of 3 for n = 2', { sw: f32(1, 1, 1) }, /runGemmW8A8 sw: 3 values given.*needs 1 or 2/],
    ['zx of 2', { zx: i32(0, 0) }, /runGemmW8A8 zx: 2 values given/],
    ['zw of 3', { zw: i32(0, 0, 0) }, /runGemmW8A8 zw: 3 values given/],
    ['bias of 1', { bias: f32(1) }, /runGemmW8A8 bias: 1 values given.*needs exactly 2/],
  ])('runGemmW8A8: %s', async (_name, patch, message) => {
    await expect(runGemmW8A8(ctx, { ...w8, ...patch })).rejects.toThrow(RangeError);
    await expect(runGemmW8A8(ctx, { ...w8, ...patch })).rejects.toThrow(message);
  });

  it('runGemmW8A8: the exact shapes run (row 2 is not zero)', async () => {
    const { y } = await runGemmW8A8(ctx, w8);
    expect(Array.from(y)).toEqual([1, 2, 5, 6, 9, 10]);
  });

  const w4 = {
    m: 2,
    n: 2,
    k: 8,
    groupSize: 8,
    xq: new Int32Array(16).fill(1),
    wq: new Int32Array(16).fill(1),
    sx: f32(1, 1),
    sw: f32(1, 1),
  };
  it.each([
    ['xq short', { xq: new Int32Array(15) }, /runGemmW4A8 xq: 15 values given.*needs exactly 16/],
    ['wq short', { wq: new Int32Array(8) }, /runGemmW4A8 wq: 8 values given/],
    ['sx of 3 for m = 2', { sx: f32(1, 1, 1) }, /runGemmW4A8 sx: 3 values given.*needs 1 or 2/],
    ['sw of 1 for N × groups = 2', { sw: f32(1) }, /runGemmW4A8 sw: 1 values given.*\(N × groups\) needs exactly 2/],
    ['bias of 3', { bias: f32(1, 2, 3) }, /runGemmW4A8 bias: 3 values given/],
  ])('runGemmW4A8: %s', async (_name, patch, message) => {
    await expect(runGemmW4A8(ctx, { ...w4, ...patch })).rejects.toThrow(RangeError);
    await expect(runGemmW4A8(ctx, { ...w4, ...patch })).rejects.toThrow(message);
  });

  it('runQuantizeRows, runLayerNorm(+Quantize), runSoftmax, runStats, runDequantizeRows, runScaleColumns', async () => {
    const spec = { bits: 8 as const, symmetric: true, granularity: 'row' as const };
    await expect(runQuantizeRows(ctx, f32(1, 2, 3), 2, 2, spec)).rejects.toThrow(
      /runQuantizeRows x: 3 values given; quantizeRows 2×2 needs exactly 4/,
    );
    await expect(runLayerNorm(ctx, f32(1, 2, 3), 2, 2, f32(1, 1), f32(0, 0))).rejects.toThrow(
      /runLayerNorm x: 3 values given; layernorm 2×2 needs exactly 4/,
    );
    await expect(runLayerNorm(ctx, f32(1, 2, 3, 4), 2, 2, f32(1), f32(0, 0))).rejects.toThrow(
      /runLayerNorm gamma: 1 values given.*needs exactly 2/,
    );
    await expect(runLayerNorm(ctx, f32(1, 2, 3, 4), 2, 2, f32(1, 1), f32(0))).rejects.toThrow(/runLayerNorm beta: 1 values given/);
    await expect(runLayerNormQuantize(ctx, f32(1, 2, 3), 2, 2, f32(1, 1), f32(0, 0), spec)).rejects.toThrow(
      /runLayerNormQuantize x: 3 values given/,
    );
    await expect(runSoftmax(ctx, f32(1, 2, 3), 2, 2)).rejects.toThrow(/runSoftmax x: 3 values given; softmax 2×2 needs exactly 4/);
    await expect(runStats(ctx, f32(1, 2, 3), 2, 2)).rejects.toThrow(/runStats x: 3 values given; stats 2×2 needs exactly 4/);
    await expect(runDequantizeRows(ctx, new Uint32Array(1), f32(1, 1), i32(0, 0), 2, 4, 1)).rejects.toThrow(
      /runDequantizeRows q: 1 values given.*needs exactly 2/,
    );
    await expect(runDequantizeRows(ctx, new Uint32Array(2), f32(1), i32(0, 0), 2, 4, 1)).rejects.toThrow(
      /runDequantizeRows scales: 1 values given/,
    );
    await expect(runScaleColumns(ctx, f32(1, 2, 3, 4), f32(1), 2, 2)).rejects.toThrow(/runScaleColumns d: 1 values given.*needs exactly 2/);
    for (const p of [runSoftmax(ctx, f32(1, 2, 3), 2, 2), runStats(ctx, f32(1), 2, 2)]) await expect(p).rejects.toThrow(RangeError);
  });

  it('attention encode: a qkv buffer shorter than images × tokens × 3·dim is refused', () => {
    const op = createAttention(ctx, { images: 1, tokens: 4, heads: 2, headDim: 4 });
    const qkv = GpuBuffer.f32(ctx, 4 * 24 - 1);
    const out = GpuBuffer.f32(ctx, 4 * 8);
    try {
      expect(() => op.encode(ctx.device.createCommandEncoder(), { qkv, out })).toThrow(
        /attention qkv \[1 images × 4 tokens × 24\]: needs 96 32-bit elements but the buffer holds 95/,
      );
    } finally {
      [qkv, out].forEach((b) => b.destroy());
      op.destroy();
    }
  });
});

describe('NaN/Inf flag: F32 GEMM, softmax, W8A8', () => {
  it('runGemmF32 with a NaN in X or an overflow raises NonFiniteInputError', async () => {
    await expect(runGemmF32(ctx, f32(1, NaN, 1, 1), f32(1, 2, 1, 2), null, 2, 2, 2)).rejects.toThrow(NonFiniteInputError);
    await expect(runGemmF32(ctx, f32(3e38, 3e38, 1, 1), f32(3e38, 1, 1, 1), null, 2, 2, 2)).rejects.toThrow(
      /gemmF32: a NaN or Inf was produced/,
    );
    for (const variant of ['tiled', 'direct', 'direct4'] as const)
      await expect(runGemmF32(ctx, f32(1, 1, 1, Infinity), f32(1, 2, 3, 4), null, 1, 1, 4, { variant })).rejects.toThrow(
        NonFiniteInputError,
      );
  });

  it('the flag is sticky per op and cleared by checkFlags', async () => {
    const op = createGemmF32(ctx, { m: 1, n: 1, k: 1 });
    const [x, w, y] = [GpuBuffer.f32(ctx, f32(NaN)), GpuBuffer.f32(ctx, f32(1)), GpuBuffer.f32(ctx, 1)];
    try {
      await submitAndWait(ctx, (enc) => op.encode(enc, { x, w, y }));
      await expect(op.checkFlags()).rejects.toThrow(NonFiniteInputError);
      await expect(op.checkFlags()).resolves.toBeUndefined();
    } finally {
      [x, w, y].forEach((b) => b.destroy());
      op.destroy();
    }
  });

  it('softmax of an all −∞ row (both row modes) raises the flag; a row with one −∞ does not', async () => {
    for (const rowMode of ['workgroup', 'thread'] as const) {
      await expect(runSoftmax(ctx, f32(0, 1, -Infinity, -Infinity), 2, 2, rowMode)).rejects.toThrow(/softmax: a NaN or Inf was produced/);
      await expect(runSoftmax(ctx, f32(0, NaN, 1, 2), 2, 2, rowMode)).rejects.toThrow(NonFiniteInputError);
      const y = await runSoftmax(ctx, f32(0, -Infinity, 1, 1), 2, 2, rowMode);
      expect(Array.from(y)).toEqual([1, 0, 0.5, 0.5]);
    }
  });

  it('softmax op: checkFlags reports a bad row once', async () => {
    const op = createSoftmax(ctx, { rows: 1, cols: 3 });
    const x = GpuBuffer.f32(ctx, f32(-Infinity, -Infinity, -Infinity));
    try {
      await submitAndWait(ctx, (enc) => op.encode(enc, { x }));
      await expect(op.checkFlags()).rejects.toThrow(NonFiniteInputError);
    } finally {
      x.destroy();
      op.destroy();
    }
  });

  it('runGemmW8A8 with a NaN scale (sx, sw) or bias raises the flag, in both shader variants', async () => {
    for (const vec4 of [false, true]) {
      await expect(runGemmW8A8(ctx, { ...w8, sx: f32(1, NaN, 1) }, { vec4 })).rejects.toThrow(/gemmW8A8: a NaN or Inf was produced/);
      await expect(runGemmW8A8(ctx, { ...w8, sw: f32(NaN) }, { vec4 })).rejects.toThrow(NonFiniteInputError);
      await expect(runGemmW8A8(ctx, { ...w8, bias: f32(0, Infinity) }, { vec4 })).rejects.toThrow(NonFiniteInputError);
    }
    // integer accumulators (output 'acc') do not use the scales
    const { y } = await runGemmW8A8(ctx, { ...w8, sx: f32(NaN) }, { output: 'acc' });
    expect(Array.from(y)).toEqual([1, 2, 5, 6, 9, 10]);
  });
});
