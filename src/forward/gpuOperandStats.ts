/**
 * OperandStats (src/plan/operandStats.ts) computed on the GPU with shaders/stats.wgsl:
 * tensor min/max/mean/σ and the count beyond 6σ, a histogram over [min, max], per-row min/max
 * and per-column absmax. Only the deterministic value sample is taken on the CPU.
 *
 * `x` is either the operand already on the device (the forward's gathered operand: statistics where
 * it lives, nothing uploaded) or an array that is uploaded first; `values` are its values on the
 * CPU for the sample (the engine reads the operand back once for its CPU-side error figures).
 */
import { GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { createStats, STATS_STRIDE } from '../kernels/stats';
import { submitAndWait } from '../kernels/common';
import { HISTOGRAM_BINS, valueSample } from '../plan/operandStats';
import type { OperandStats } from '../plan/types';

export async function gpuOperandStats(
  ctx: GpuContext,
  role: 'a' | 'b',
  x: Float32Array | GpuBuffer<'f32'>,
  rows: number,
  cols: number,
  values?: Float32Array,
  bins = HISTOGRAM_BINS,
): Promise<OperandStats> {
  const n = rows * cols;
  const owned: { destroy(): void }[] = [];
  const own = <T extends { destroy(): void }>(t: T) => (owned.push(t), t);
  const vals = x instanceof Float32Array ? x : values;
  if (!vals || vals.length < n) throw new RangeError(`gpuOperandStats: the ${n} values of the operand are needed for its sample`);
  try {
    const input = x instanceof Float32Array ? own(GpuBuffer.f32(ctx, x, 'stats input')) : x;
    // pass 1: the whole tensor as one row → min, max, absmax, mean, σ, and #beyond 6σ
    const tensor = own(createStats(ctx, { rows: 1, cols: n, k: 6 }));
    const tStats = own(GpuBuffer.f32(ctx, STATS_STRIDE, 'tensor stats'));
    const tBeyond = own(GpuBuffer.u32(ctx, 1, 'beyond'));
    await submitAndWait(ctx, (enc) => tensor.encode(enc, { input, stats: tStats, beyond: tBeyond }));
    const t = await tStats.read();
    const beyond = (await tBeyond.read())[0];
    const [min, max, absmax, mean, std, nonFinite] = t;
    if (nonFinite > 0) throw new RangeError(`operand ${role}: ${nonFinite} NaN/Inf values`);
    // pass 2: histogram over [min, max], per-row and per-column statistics
    const hi = max > min ? max : min + 1;
    const hist = own(createStats(ctx, { rows: 1, cols: n, bins, range: { lo: min, hi } }));
    const histBuf = own(GpuBuffer.u32(ctx, bins + 3, 'histogram'));
    const histStats = own(GpuBuffer.f32(ctx, STATS_STRIDE, 'hist stats'));
    const perRow = own(createStats(ctx, { rows, cols }));
    const rowStats = own(GpuBuffer.f32(ctx, rows * STATS_STRIDE, 'row stats'));
    const perCol = own(createStats(ctx, { rows: cols, cols: rows, view: { row: 1, col: cols } }));
    const colStats = own(GpuBuffer.f32(ctx, cols * STATS_STRIDE, 'column stats'));
    await submitAndWait(ctx, (enc) => {
      hist.encode(enc, { input, stats: histStats, histogram: histBuf });
      perRow.encode(enc, { input, stats: rowStats });
      perCol.encode(enc, { input, stats: colStats });
    });
    const h = await histBuf.read();
    const rs = await rowStats.read();
    const cs = await colStats.read();
    const sample = valueSample(vals, n, min, max);
    return {
      role,
      rows,
      cols,
      min,
      max,
      mean,
      std,
      absmax,
      beyond6Sigma: n ? beyond / n : 0,
      maxSigma: std > 0 ? Math.max(max - mean, mean - min) / std : 0,
      histogram: { lo: min, hi: max, counts: Array.from(h.subarray(0, bins)) },
      colAbsMax: Array.from({ length: cols }, (_, c) => cs[c * STATS_STRIDE + 2]),
      rowMin: Array.from({ length: rows }, (_, r) => rs[r * STATS_STRIDE]),
      rowMax: Array.from({ length: rows }, (_, r) => rs[r * STATS_STRIDE + 1]),
      sample,
    };
  } finally {
    owned.forEach((o) => o.destroy());
  }
}
