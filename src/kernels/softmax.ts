/**
 * Row softmax in place (shaders/softmax.wgsl).
 * API: createSoftmax(ctx, { rows, cols, rowMode? }) → { encode(target, { x }), destroy() };  runSoftmax(ctx, x, rows, cols)
 */
import src from '../../shaders/softmax.wgsl?raw';
import { composeWgsl } from './wgsl';
import { type BufArg, GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { getPipeline } from '../gpu/pipelineCache';
import { type RowMode, chooseRowMode, rowGroups } from './rowMode';
import {
  type PassTarget,
  KernelError,
  NonFiniteFlag,
  bindGroup,
  checkDim,
  checkFits,
  checkLength,
  dispatch,
  grid,
  submitAndWait,
  uniform,
  withPass,
} from './common';

export interface SoftmaxOp {
  encode(target: PassTarget, b: { x: BufArg }, timestampWrites?: GPUComputePassTimestampWrites): void;
  /** NonFiniteInputError if a row had no finite result (all −∞, NaN, +Inf) since the last check */
  checkFlags(): Promise<void>;
  destroy(): void;
}

export function createSoftmax(ctx: GpuContext, cfg: { rows: number; cols: number; rowMode?: RowMode }): SoftmaxOp {
  const mode = chooseRowMode(ctx, cfg.rowMode);
  checkDim(cfg.rows, 'softmax: rows');
  checkDim(cfg.cols, 'softmax: cols');
  const u = uniform(
    ctx,
    [
      [cfg.rows, 'u'],
      [cfg.cols, 'u'],
      [65535, 'u'],
      [0, 'u'],
    ],
    'softmax.params',
  );
  const pipeline = getPipeline(ctx, 'softmax', () => composeWgsl(src), mode === 'workgroup' ? 'main' : 'main_serial');
  const flag = new NonFiniteFlag(ctx, 'softmax');
  let destroyed = false;
  return {
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError('softmax: op used after destroy()');
      const bg = bindGroup(ctx, pipeline, [u, checkFits(b.x, cfg.rows * cfg.cols, 'softmax x'), flag.buffer]);
      withPass(target, (p) => dispatch(p, pipeline, bg, ...grid(rowGroups(mode, cfg.rows))), tsw);
    },
    checkFlags: () => flag.check(),
    destroy() {
      if (!destroyed) {
        u.destroy();
        flag.destroy();
      }
      destroyed = true;
    },
  };
}

export function softmaxRef(x: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const y = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c] - m);
    for (let c = 0; c < cols; c++) y[r * cols + c] = Math.exp(x[r * cols + c] - m) / s;
  }
  return y;
}

export async function runSoftmax(ctx: GpuContext, x: Float32Array, rows: number, cols: number, rowMode?: RowMode): Promise<Float32Array> {
  checkLength('runSoftmax x', x, rows * cols, `softmax ${rows}×${cols}`);
  const op = createSoftmax(ctx, { rows, cols, rowMode });
  const b = GpuBuffer.f32(ctx, x);
  try {
    await submitAndWait(ctx, (enc) => op.encode(enc, { x: b }));
    await op.checkFlags();
    return await b.read();
  } finally {
    b.destroy();
    op.destroy();
  }
}
