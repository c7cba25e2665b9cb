/**
 * How row-wise kernels (softmax, layernorm, quantize_rows' min/max pass) map rows to threads:
 * 'workgroup' = 64 threads a row with tree reductions (real GPUs, long rows); 'thread' = one thread
 * a row, no barriers (CPU-emulated adapters such as SwiftShader, where barriers are expensive).
 */
import type { GpuContext } from '../gpu/device';

export type RowMode = 'workgroup' | 'thread';

export function chooseRowMode(ctx: GpuContext, forced?: RowMode): RowMode {
  return forced ?? (ctx.adapterInfo.isFallback ? 'thread' : 'workgroup');
}

/** Workgroup counts for `rows` rows in a mode (thread mode: 64 rows a workgroup). */
export function rowGroups(mode: RowMode, rows: number): number {
  return mode === 'workgroup' ? rows : Math.ceil(rows / 64);
}
