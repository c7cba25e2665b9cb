/**
 * Small elementwise ops (shaders/elementwise.wgsl) for the ViT forward.
 *
 * API (each returns an op: encode(target, buffers), destroy()):
 *   createAdd(ctx, { n, bPeriod?, aOff?, bOff?, outOff? })       out = a + b[i mod bPeriod]  (out may not alias a/b)
 *   createAddInPlace(ctx, { n, aOff?, outOff? })                  out += a
 *   createGelu(ctx, { n, aOff?, outOff? })                        out = gelu(a)  (tanh form)
 *   createScale(ctx, { n, alpha, aOff?, outOff? })                out = a·alpha
 *   createCopyRows(ctx, { rows, cols, aRow, outRow, aCol?, aOff?, outOff? })  strided gather/scatter (aCol ≠ 1: a transposing view)
 *   buffers: { a, b?, out }   (b only for add)
 *   gelu(x) — the CPU mirror of the kernel's formula
 */
import src from '../../shaders/elementwise.wgsl?raw';
import { composeWgsl } from './wgsl';
import type { BufArg } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { dummyBuffer, getPipeline } from '../gpu/pipelineCache';
import { type PassTarget, KernelError, bindGroup, checkDim, checkFits, dispatch, grid, uniform, withPass } from './common';

export interface ElementwiseOp {
  encode(target: PassTarget, b: { a: BufArg; b?: BufArg; out: BufArg }, timestampWrites?: GPUComputePassTimestampWrites): void;
  destroy(): void;
}

interface Spec {
  op: number;
  n: number;
  aOff?: number;
  bOff?: number;
  outOff?: number;
  bPeriod?: number;
  cols?: number;
  aRow?: number;
  outRow?: number;
  alpha?: number;
  aCol?: number;
  /** elements each buffer must hold */
  need: { a: number; b: number; out: number };
}

function make(ctx: GpuContext, s: Spec, name: string): ElementwiseOp {
  checkDim(s.n, `${name}: n`);
  const u = uniform(
    ctx,
    [
      [s.n, 'u'],
      [s.op, 'u'],
      [s.aOff ?? 0, 'u'],
      [s.bOff ?? 0, 'u'],
      [s.outOff ?? 0, 'u'],
      [s.bPeriod ?? s.n, 'u'],
      [s.cols ?? 1, 'u'],
      [s.aRow ?? 0, 'u'],
      [s.outRow ?? 0, 'u'],
      [65535, 'u'],
      [s.alpha ?? 1, 'f'],
      [s.aCol ?? 1, 'u'],
    ],
    `${name}.params`,
  );
  const pipeline = getPipeline(ctx, 'elementwise', () => composeWgsl(src));
  let destroyed = false;
  return {
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError(`${name}: op used after destroy()`);
      if (s.need.b && !b.b) throw new KernelError(`${name}: needs a 'b' buffer`);
      const a = checkFits(b.a, s.need.a, `${name} a`);
      const out = checkFits(b.out, s.need.out, `${name} out`);
      const bb = s.need.b ? checkFits(b.b!, s.need.b, `${name} b`) : dummyBuffer(ctx);
      if (a === out || bb === out) throw new KernelError(`${name}: the output buffer may not be an input (use createAddInPlace)`);
      withPass(target, (p) => dispatch(p, pipeline, bindGroup(ctx, pipeline, [u, a, bb, out]), ...grid(Math.ceil(s.n / 64))), tsw);
    },
    destroy() {
      if (!destroyed) u.destroy();
      destroyed = true;
    },
  };
}

export function createAdd(
  ctx: GpuContext,
  c: { n: number; bPeriod?: number; aOff?: number; bOff?: number; outOff?: number },
): ElementwiseOp {
  const p = c.bPeriod ?? c.n;
  checkDim(p, 'add: bPeriod');
  return make(ctx, { op: 0, ...c, bPeriod: p, need: { a: (c.aOff ?? 0) + c.n, b: (c.bOff ?? 0) + p, out: (c.outOff ?? 0) + c.n } }, 'add');
}

export function createAddInPlace(ctx: GpuContext, c: { n: number; aOff?: number; outOff?: number }): ElementwiseOp {
  return make(ctx, { op: 4, ...c, need: { a: (c.aOff ?? 0) + c.n, b: 0, out: (c.outOff ?? 0) + c.n } }, 'addInPlace');
}

export function createGelu(ctx: GpuContext, c: { n: number; aOff?: number; outOff?: number }): ElementwiseOp {
  return make(ctx, { op: 1, ...c, need: { a: (c.aOff ?? 0) + c.n, b: 0, out: (c.outOff ?? 0) + c.n } }, 'gelu');
}

export function createScale(ctx: GpuContext, c: { n: number; alpha: number; aOff?: number; outOff?: number }): ElementwiseOp {
  return make(ctx, { op: 2, ...c, need: { a: (c.aOff ?? 0) + c.n, b: 0, out: (c.outOff ?? 0) + c.n } }, 'scale');
}

export function createCopyRows(
  ctx: GpuContext,
  c: { rows: number; cols: number; aRow: number; outRow: number; aCol?: number; aOff?: number; outOff?: number },
): ElementwiseOp {
  checkDim(c.rows, 'copyRows: rows');
  checkDim(c.cols, 'copyRows: cols');
  const aCol = c.aCol ?? 1;
  return make(
    ctx,
    {
      op: 3,
      n: c.rows * c.cols,
      cols: c.cols,
      aRow: c.aRow,
      aCol,
      outRow: c.outRow,
      aOff: c.aOff,
      outOff: c.outOff,
      need: {
        a: (c.aOff ?? 0) + (c.rows - 1) * c.aRow + (c.cols - 1) * aCol + 1,
        b: 0,
        out: (c.outOff ?? 0) + (c.rows - 1) * c.outRow + c.cols,
      },
    },
    'copyRows',
  );
}

/** CPU mirror of the kernels' GELU (tanh form): the reference's, not a copy. */
export { geluTanh as gelu } from './rowOps.ref';
