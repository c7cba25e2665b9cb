/**
 * Dynamic / static quantization of float rows on the GPU (shaders/quantize_rows.wgsl), equal
 * bit for bit to src/quant/quantizeMatrix.ts (integers, scales, zeros).
 *
 * API:
 *   const op = createQuantizeRows(ctx, { rows, cols, batch?, batchInner?, view?, bits, symmetric,
 *                                        granularity: 'row' | 'tensor', rowsPerTensor?, clip? })
 *   op.encode(encoderOrPass, { input, q, scales, zeros }, timestampWrites?)
 *   op.wordsPerRow, op.totalRows, op.groups           (q: totalRows × wordsPerRow u32 words)
 *   await op.checkFlags()  → throws NonFiniteInputError on NaN/Inf inputs or an overflowing range
 *   op.destroy()
 *   runQuantizeRows(ctx, x, rows, cols, spec) → { q (storage ints), scales, zeros (storage) }
 *
 * Output integers are *storage* values: asymmetric q − 2^(bits−1) (int8 lanes for bits 8/4/2), and
 * storage zeros z − 2^(bits−1) — what gemm_w8a8 / gemm_w4a8 consume.
 * 'tensor' = one (s, z) per `rowsPerTensor` consecutive logical rows (default: all rows; use T for
 * one range per image). A view maps logical row R = (batch item z, row r) and column c to
 *   off + outer·⌊z/batchInner⌋ + inner·(z mod batchInner) + row·r + col·c   (col ≠ 1: transposed).
 */
import src from '../../shaders/quantize_rows.wgsl?raw';
import common from '../../shaders/quant_common.wgsl?raw';
import { composeWgsl } from './wgsl';
import { type BufArg, GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { getPipeline } from '../gpu/pipelineCache';
import type { Bits } from '../quant/scaleZero';
import { int8WordsPerRow, unpackInt8Rows } from '../quant/pack';
import { type RowMode, chooseRowMode, rowGroups } from './rowMode';
import {
  type PassTarget,
  FlagBuffer,
  KernelError,
  NonFiniteInputError,
  bindGroupAt,
  checkDim,
  checkFits,
  checkLength,
  checkLengthAtLeast,
  dispatch,
  grid,
  submitAndWait,
  uniform,
  withPass,
} from './common';

export interface RowView {
  off?: number;
  row: number;
  col?: number;
  outer?: number;
  inner?: number;
}

export interface QuantizeRowsConfig {
  rows: number;
  cols: number;
  batch?: number;
  batchInner?: number;
  view?: RowView;
  bits: Bits;
  symmetric: boolean;
  granularity: 'row' | 'tensor';
  rowsPerTensor?: number;
  clip?: { min: number; max: number };
  /** rows → threads of the min/max pass (default: by adapter, see rowMode.ts) */
  rowMode?: RowMode;
}

export interface QuantizeRowsBuffers {
  input: BufArg;
  q: BufArg;
  scales: BufArg;
  zeros: BufArg;
}

export interface QuantizeRowsOp {
  readonly wordsPerRow: number;
  readonly totalRows: number;
  readonly groups: number;
  /** elements of the input the op reads (highest index + 1) */
  readonly inputExtent: number;
  encode(target: PassTarget, b: QuantizeRowsBuffers, timestampWrites?: GPUComputePassTimestampWrites): void;
  checkFlags(): Promise<void>;
  destroy(): void;
}

export const QUANT_SOURCE = () => composeWgsl(common + '\n' + src);

export function createQuantizeRows(ctx: GpuContext, cfg: QuantizeRowsConfig): QuantizeRowsOp {
  const { rows, cols, bits, symmetric } = cfg;
  checkDim(rows, 'quantizeRows: rows');
  checkDim(cols, 'quantizeRows: cols');
  if (![8, 4, 2].includes(bits)) throw new KernelError(`quantizeRows: bits ${bits} is not 8, 4 or 2`);
  const batch = cfg.batch ?? 1;
  const batchInner = cfg.batchInner ?? batch;
  checkDim(batch, 'quantizeRows: batch');
  checkDim(batchInner, 'quantizeRows: batchInner');
  if (batch % batchInner) throw new KernelError(`quantizeRows: batch ${batch} is not a multiple of batchInner ${batchInner}`);
  const totalRows = rows * batch;
  const rowsPerGroup = cfg.granularity === 'row' ? 1 : (cfg.rowsPerTensor ?? totalRows);
  checkDim(rowsPerGroup, 'quantizeRows: rowsPerTensor');
  const groups = Math.ceil(totalRows / rowsPerGroup);
  const wpr = int8WordsPerRow(cols);
  const v = cfg.view;
  const sRow = v?.row ?? cols,
    sCol = v?.col ?? 1,
    off = v?.off ?? 0;
  const sInner = v?.inner ?? rows * sRow;
  const sOuter = v?.outer ?? sInner * batchInner;
  if (cfg.clip) {
    if (!Number.isFinite(cfg.clip.min) || !Number.isFinite(cfg.clip.max) || cfg.clip.min > cfg.clip.max)
      throw new KernelError(`quantizeRows: bad static range [${cfg.clip.min}, ${cfg.clip.max}]`);
  }
  const inExtent = off + (batch / batchInner - 1) * sOuter + (batchInner - 1) * sInner + (rows - 1) * sRow + (cols - 1) * sCol + 1;
  const u = uniform(
    ctx,
    [
      [rows, 'u'],
      [cols, 'u'],
      [batch, 'u'],
      [batchInner, 'u'],
      [off, 'u'],
      [sOuter, 'u'],
      [sInner, 'u'],
      [sRow, 'u'],
      [sCol, 'u'],
      [totalRows, 'u'],
      [wpr, 'u'],
      [bits, 'u'],
      [symmetric ? 1 : 0, 'u'],
      [rowsPerGroup, 'u'],
      [groups, 'u'],
      [cfg.clip ? 1 : 0, 'u'],
      [cfg.clip?.min ?? 0, 'f'],
      [cfg.clip?.max ?? 0, 'f'],
      [65535, 'u'],
      [0, 'u'],
    ],
    'quantize_rows.params',
  );
  const mode = chooseRowMode(ctx, cfg.rowMode);
  const pMinMax = getPipeline(ctx, 'quantize_rows', QUANT_SOURCE, mode === 'workgroup' ? 'row_minmax' : 'row_minmax_serial');
  const pParams = getPipeline(ctx, 'quantize_rows', QUANT_SOURCE, 'params');
  const pQuant = getPipeline(ctx, 'quantize_rows', QUANT_SOURCE, 'quantize');
  const mm = new GpuBuffer(ctx, { dtype: 'f32', length: 2 * totalRows, label: 'quantize_rows.minmax' });
  const flags = new FlagBuffer(ctx, 'quantize_rows.flags');
  let destroyed = false;
  return {
    wordsPerRow: wpr,
    totalRows,
    groups,
    inputExtent: inExtent,
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError('quantizeRows: op used after destroy()');
      const input = checkFits(b.input, inExtent, 'quantizeRows input');
      const q = checkFits(b.q, totalRows * wpr, 'quantizeRows q (packed words)');
      const sc = checkFits(b.scales, groups, 'quantizeRows scales');
      const zp = checkFits(b.zeros, groups, 'quantizeRows zeros');
      const bg1 = bindGroupAt(ctx, pMinMax, [
        [0, u],
        [1, input],
        [2, mm.buffer],
        [6, flags.buffer],
      ]);
      const bg2 = bindGroupAt(ctx, pParams, [
        [0, u],
        [2, mm.buffer],
        [3, sc],
        [4, zp],
        [6, flags.buffer],
      ]);
      const bg3 = bindGroupAt(ctx, pQuant, [
        [0, u],
        [1, input],
        [3, sc],
        [4, zp],
        [5, q],
      ]);
      withPass(
        target,
        (p) => {
          dispatch(p, pMinMax, bg1, ...grid(rowGroups(mode, totalRows)));
          dispatch(p, pParams, bg2, ...grid(Math.ceil(groups / 64)));
          dispatch(p, pQuant, bg3, ...grid(Math.ceil((totalRows * wpr) / 64)));
        },
        tsw,
      );
    },
    async checkFlags() {
      const f = await flags.readAndReset();
      if (f & 1) throw new NonFiniteInputError('quantizeRows: NaN/Inf in the input');
      if (f & 2) throw new NonFiniteInputError('quantizeRows: a range overflows float32 (max − min is not finite)');
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      u.destroy();
      mm.destroy();
      flags.destroy();
    },
  };
}

/** Convenience for tests: one dense matrix; returns storage integers, scales and storage zeros. */
export async function runQuantizeRows(
  ctx: GpuContext,
  x: Float32Array,
  rows: number,
  cols: number,
  spec: Omit<QuantizeRowsConfig, 'rows' | 'cols'>,
): Promise<{ q: Int32Array; packed: Uint32Array; scales: Float32Array; zeros: Int32Array }> {
  const op = createQuantizeRows(ctx, { ...spec, rows, cols });
  try {
    const shape = `quantizeRows ${rows}×${cols}${op.totalRows > rows ? ` ×${op.totalRows / rows}` : ''}`;
    if (spec.view) checkLengthAtLeast('runQuantizeRows x', x, op.inputExtent, shape);
    else checkLength('runQuantizeRows x', x, op.inputExtent, shape);
  } catch (e) {
    op.destroy();
    throw e;
  }
  const input = GpuBuffer.f32(ctx, x);
  const q = GpuBuffer.u32(ctx, op.totalRows * op.wordsPerRow);
  const scales = GpuBuffer.f32(ctx, op.groups);
  const zeros = GpuBuffer.i32(ctx, op.groups);
  try {
    await submitAndWait(ctx, (enc) => op.encode(enc, { input, q, scales, zeros }));
    await op.checkFlags();
    const packed = await q.read();
    return { q: unpackInt8Rows(packed, op.totalRows, cols), packed, scales: await scales.read(), zeros: await zeros.read() };
  } finally {
    [input, q, scales, zeros].forEach((b) => b.destroy());
    op.destroy();
  }
}
