/**
 * Statistics of activations / weights on the GPU (shaders/stats.wgsl).
 *
 * API:
 *   const st = createStats(ctx, { rows, cols, view?: { off?, row?, col? }, bins?, range?: { lo, hi }, k?, rowMode? })
 *     rows of the view: per-row stats; per-column stats = a transposed view { row: 1, col: ld };
 *     per-tensor stats = one row over all elements ({ rows: 1, cols: n } on dense data)
 *   st.encode(encoderOrPass, { input, stats, histogram?, beyond? })
 *     stats:     f32 [rows × 8]: min, max, absmax, mean, σ (population), non-finite count, 0, 0
 *     histogram: u32 [bins + 3]: bins over [lo, hi] (x == hi in the last), below, above, NaN/Inf
 *     beyond:    u32 [rows]: #{|x − mean| > k·σ} per row (two-pass: uses the stats just computed)
 *   st.destroy();  runStats(ctx, x, rows, cols, opts) → { stats, histogram?, beyond? }
 * Histogram bin: floor(f32(x − lo) · f32(bins / (hi − lo))) (mirrored by stats.ref.ts).
 */
import src from '../../shaders/stats.wgsl?raw';
import { composeWgsl } from './wgsl';
import { type BufArg, GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { getPipeline } from '../gpu/pipelineCache';
import { type RowMode, chooseRowMode, rowGroups } from './rowMode';
import {
  type PassTarget,
  KernelError,
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

export interface StatsConfig {
  rows: number;
  cols: number;
  view?: { off?: number; row?: number; col?: number };
  bins?: number;
  range?: { lo: number; hi: number };
  /** k of the k·σ count */
  k?: number;
  /** rows → threads of the row statistics (default: by adapter, see rowMode.ts; 'thread' suits
   * many short rows, 'workgroup' few long ones such as a whole tensor) */
  rowMode?: RowMode;
}

export interface StatsBuffers {
  input: BufArg;
  stats: BufArg;
  histogram?: BufArg;
  beyond?: BufArg;
}

export interface StatsOp {
  /** elements of the input the op reads (highest index + 1) */
  readonly inputExtent: number;
  encode(target: PassTarget, b: StatsBuffers, timestampWrites?: GPUComputePassTimestampWrites): void;
  destroy(): void;
}

export const STATS_STRIDE = 8;

export function histInvWidth(bins: number, lo: number, hi: number): number {
  return Math.fround(bins / Math.fround(hi - lo));
}

export function createStats(ctx: GpuContext, cfg: StatsConfig): StatsOp {
  const { rows, cols } = cfg;
  checkDim(rows, 'stats: rows');
  checkDim(cols, 'stats: cols');
  const bins = cfg.bins ?? 0;
  if (bins) {
    checkDim(bins, 'stats: bins');
    if (!cfg.range || !(cfg.range.hi > cfg.range.lo) || !Number.isFinite(cfg.range.hi - cfg.range.lo))
      throw new KernelError('stats: a histogram needs a finite range with hi > lo');
  }
  const off = cfg.view?.off ?? 0,
    sRow = cfg.view?.row ?? cols,
    sCol = cfg.view?.col ?? 1;
  const lo = cfg.range?.lo ?? 0,
    hi = cfg.range?.hi ?? 1;
  const u = uniform(
    ctx,
    [
      [rows, 'u'],
      [cols, 'u'],
      [off, 'u'],
      [sRow, 'u'],
      [sCol, 'u'],
      [bins, 'u'],
      [65535, 'u'],
      [0, 'u'],
      [lo, 'f'],
      [hi, 'f'],
      [bins ? histInvWidth(bins, lo, hi) : 0, 'f'],
      [cfg.k ?? 6, 'f'],
    ],
    'stats.params',
  );
  const mode = chooseRowMode(ctx, cfg.rowMode ?? (rows < 64 ? 'workgroup' : undefined));
  const pRow = getPipeline(ctx, 'stats', () => composeWgsl(src), mode === 'workgroup' ? 'row_stats' : 'row_stats_serial');
  const pHist = getPipeline(ctx, 'stats', () => composeWgsl(src), 'histogram');
  const pBeyond = getPipeline(ctx, 'stats', () => composeWgsl(src), 'count_beyond');
  const extent = off + (rows - 1) * sRow + (cols - 1) * sCol + 1;
  const elemGroups = grid(Math.ceil((rows * cols) / 64));
  let destroyed = false;
  return {
    inputExtent: extent,
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError('stats: op used after destroy()');
      const input = checkFits(b.input, extent, 'stats input');
      const stats = checkFits(b.stats, rows * STATS_STRIDE, 'stats output');
      if (b.histogram && !bins) throw new KernelError('stats: histogram buffer given but the op has no bins');
      withPass(
        target,
        (p) => {
          dispatch(
            p,
            pRow,
            bindGroupAt(ctx, pRow, [
              [0, u],
              [1, input],
              [2, stats],
            ]),
            ...grid(rowGroups(mode, rows)),
          );
          if (b.histogram) {
            const h = checkFits(b.histogram, bins + 3, 'stats histogram');
            dispatch(
              p,
              pHist,
              bindGroupAt(ctx, pHist, [
                [0, u],
                [1, input],
                [3, h],
              ]),
              ...elemGroups,
            );
          }
          if (b.beyond) {
            const c = checkFits(b.beyond, rows, 'stats beyond');
            dispatch(
              p,
              pBeyond,
              bindGroupAt(ctx, pBeyond, [
                [0, u],
                [1, input],
                [2, stats],
                [3, c],
              ]),
              ...elemGroups,
            );
          }
        },
        tsw,
      );
    },
    destroy() {
      if (!destroyed) u.destroy();
      destroyed = true;
    },
  };
}

/** Convenience (tests): histogram and beyond counters start at zero (fresh buffers). */
export async function runStats(
  ctx: GpuContext,
  x: Float32Array,
  rows: number,
  cols: number,
  opts: Omit<StatsConfig, 'rows' | 'cols'> = {},
): Promise<{ stats: Float32Array; histogram?: Uint32Array; beyond?: Uint32Array }> {
  const op = createStats(ctx, { ...opts, rows, cols });
  try {
    if (opts.view) checkLengthAtLeast('runStats x', x, op.inputExtent, `stats ${rows}×${cols} through a view`);
    else checkLength('runStats x', x, rows * cols, `stats ${rows}×${cols}`);
  } catch (e) {
    op.destroy();
    throw e;
  }
  const input = GpuBuffer.f32(ctx, x);
  const stats = GpuBuffer.f32(ctx, rows * STATS_STRIDE);
  const histogram = opts.bins ? GpuBuffer.u32(ctx, opts.bins + 3) : undefined;
  const beyond = opts.k !== undefined ? GpuBuffer.u32(ctx, rows) : undefined;
  try {
    await submitAndWait(ctx, (enc) => op.encode(enc, { input, stats, histogram, beyond }));
    return { stats: await stats.read(), histogram: await histogram?.read(), beyond: await beyond?.read() };
  } finally {
    [input, stats, histogram, beyond].forEach((b) => b?.destroy());
    op.destroy();
  }
}
