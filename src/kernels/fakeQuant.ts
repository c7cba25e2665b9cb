/**
 * Fake-quantization helpers (shaders/fake_quant.wgsl).
 *
 * API:
 *   createDequantizeRows(ctx, { rows, cols, rowsPerGroup }) → op.encode(target, { q, scales, zeros, out })
 *   createScaleColumns(ctx, { rows, cols })                 → op.encode(target, { a, d, out })
 *   runDequantizeRows / runScaleColumns(ctx, typed arrays…)  (tests)
 * `rowsPerGroup`: 1 = per-row scales (per token), rows = one scale, T = one per image.
 */
import src from '../../shaders/fake_quant.wgsl?raw';
import { type BufArg, GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { getPipeline } from '../gpu/pipelineCache';
import {
  type PassTarget,
  KernelError,
  bindGroupAt,
  checkDim,
  checkFits,
  checkLength,
  dispatch,
  grid,
  submitAndWait,
  uniform,
  withPass,
} from './common';

export interface FakeQuantOp<B> {
  encode(target: PassTarget, b: B): void;
  destroy(): void;
}

function params(ctx: GpuContext, rows: number, cols: number, wordsPerRow: number, rowsPerGroup: number) {
  const [gx] = grid(Math.ceil((rows * cols) / 64));
  return {
    u: uniform(
      ctx,
      [
        [rows, 'u'],
        [cols, 'u'],
        [wordsPerRow, 'u'],
        [rowsPerGroup, 'u'],
        [gx, 'u'],
        [0, 'u'],
        [0, 'u'],
        [0, 'u'],
      ],
      'fakeQuant params',
    ),
    groups: grid(Math.ceil((rows * cols) / 64)),
  };
}

export function createDequantizeRows(
  ctx: GpuContext,
  c: { rows: number; cols: number; rowsPerGroup: number },
): FakeQuantOp<{ q: BufArg; scales: BufArg; zeros: BufArg; out: BufArg }> {
  checkDim(c.rows, 'dequantizeRows: rows');
  checkDim(c.cols, 'dequantizeRows: cols');
  checkDim(c.rowsPerGroup, 'dequantizeRows: rowsPerGroup');
  const wpr = Math.ceil(c.cols / 4);
  const ngroups = Math.ceil(c.rows / c.rowsPerGroup);
  const { u, groups } = params(ctx, c.rows, c.cols, wpr, c.rowsPerGroup);
  const pipeline = getPipeline(ctx, 'fake_quant', () => src, 'dequantize_rows');
  let destroyed = false;
  return {
    encode(target, b) {
      if (destroyed) throw new KernelError('dequantizeRows: op used after destroy()');
      const bg = bindGroupAt(ctx, pipeline, [
        [0, u],
        [1, checkFits(b.q, c.rows * wpr, 'dequantizeRows q')],
        [2, checkFits(b.scales, ngroups, 'dequantizeRows scales')],
        [3, checkFits(b.zeros, ngroups, 'dequantizeRows zeros')],
        [4, checkFits(b.out, c.rows * c.cols, 'dequantizeRows out')],
      ]);
      withPass(target, (p) => dispatch(p, pipeline, bg, groups[0], groups[1]));
    },
    destroy() {
      if (!destroyed) u.destroy();
      destroyed = true;
    },
  };
}

export function createScaleColumns(ctx: GpuContext, c: { rows: number; cols: number }): FakeQuantOp<{ a: BufArg; d: BufArg; out: BufArg }> {
  checkDim(c.rows, 'scaleColumns: rows');
  checkDim(c.cols, 'scaleColumns: cols');
  const { u, groups } = params(ctx, c.rows, c.cols, 0, 1);
  const pipeline = getPipeline(ctx, 'fake_quant', () => src, 'scale_columns');
  let destroyed = false;
  return {
    encode(target, b) {
      if (destroyed) throw new KernelError('scaleColumns: op used after destroy()');
      const bg = bindGroupAt(ctx, pipeline, [
        [0, u],
        [4, checkFits(b.out, c.rows * c.cols, 'scaleColumns out')],
        [5, checkFits(b.a, c.rows * c.cols, 'scaleColumns a')],
        [6, checkFits(b.d, c.cols, 'scaleColumns d')],
      ]);
      withPass(target, (p) => dispatch(p, pipeline, bg, groups[0], groups[1]));
    },
    destroy() {
      if (!destroyed) u.destroy();
      destroyed = true;
    },
  };
}

export async function runDequantizeRows(
  ctx: GpuContext,
  q: Uint32Array,
  scales: Float32Array,
  zeros: Int32Array,
  rows: number,
  cols: number,
  rowsPerGroup: number,
): Promise<Float32Array> {
  const shape = `dequantizeRows ${rows}×${cols}, ${rowsPerGroup} row${rowsPerGroup > 1 ? 's' : ''} a group`;
  checkLength('runDequantizeRows q', q, rows * Math.ceil(cols / 4), `${shape} (packed: rows × ⌈cols/4⌉ words)`);
  checkLength('runDequantizeRows scales', scales, Math.ceil(rows / rowsPerGroup), `${shape} (one a group)`);
  checkLength('runDequantizeRows zeros', zeros, Math.ceil(rows / rowsPerGroup), `${shape} (one a group)`);
  const bufs = [
    GpuBuffer.from(ctx, q, 'u32'),
    GpuBuffer.from(ctx, scales, 'f32'),
    GpuBuffer.from(ctx, zeros, 'i32'),
    new GpuBuffer(ctx, { dtype: 'f32', length: rows * cols }),
  ] as const;
  const op = createDequantizeRows(ctx, { rows, cols, rowsPerGroup });
  try {
    await submitAndWait(ctx, (enc) => op.encode(enc, { q: bufs[0], scales: bufs[1], zeros: bufs[2], out: bufs[3] }));
    return (await bufs[3].read()) as Float32Array;
  } finally {
    op.destroy();
    bufs.forEach((b) => b.destroy());
  }
}

export async function runScaleColumns(
  ctx: GpuContext,
  a: Float32Array,
  d: Float32Array,
  rows: number,
  cols: number,
): Promise<Float32Array> {
  checkLength('runScaleColumns a', a, rows * cols, `scaleColumns ${rows}×${cols}`);
  checkLength('runScaleColumns d', d, cols, `scaleColumns ${rows}×${cols} (d is one a column)`);
  const bufs = [
    GpuBuffer.from(ctx, a, 'f32'),
    GpuBuffer.from(ctx, d, 'f32'),
    new GpuBuffer(ctx, { dtype: 'f32', length: rows * cols }),
  ] as const;
  const op = createScaleColumns(ctx, { rows, cols });
  try {
    await submitAndWait(ctx, (enc) => op.encode(enc, { a: bufs[0], d: bufs[1], out: bufs[2] }));
    return (await bufs[2].read()) as Float32Array;
  } finally {
    op.destroy();
    bufs.forEach((b) => b.destroy());
  }
}
