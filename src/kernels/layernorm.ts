/**
 * LayerNorm (shaders/layernorm.wgsl) and LayerNorm fused with token-wise / per-image quantization.
 *
 * API:
 *   const ln = createLayerNorm(ctx, { rows, c, eps?, inRow?, inOff? })
 *   ln.encode(encoderOrPass, { input, gamma, beta, output })        float out [rows × c]
 *   const lq = createLayerNormQuantize(ctx, { rows, c, eps?, inRow?, inOff?, bits, symmetric,
 *                                             granularity: 'row' | 'tensor', rowsPerTensor?, clip? })
 *   lq.encode(encoderOrPass, { input, gamma, beta, q, scales, zeros })   packed int8 [rows × ⌈c/4⌉]
 *   lq.lnOutput  the float LayerNorm output it quantized (scratch owned by the op)
 *   await op.checkFlags()  → NonFiniteInputError on NaN/Inf inputs;  op.destroy()
 *   runLayerNorm / runLayerNormQuantize(ctx, typed arrays…)  (tests)
 *
 * inRow/inOff read rows from a strided input (e.g. only the class-token rows: inRow = T·c).
 * The fused op computes the row min/max inside the LayerNorm pass, then runs quantize_rows'
 * params and quantize passes on the result: the same integers as quantizeMatrix(lnOutput).
 */
import src from '../../shaders/layernorm.wgsl?raw';
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
  dispatch,
  grid,
  submitAndWait,
  uniform,
  withPass,
} from './common';
import { QUANT_SOURCE } from './quantizeRows';

export interface LayerNormConfig {
  rows: number;
  c: number;
  eps?: number;
  inRow?: number;
  inOff?: number;
  /** rows → threads (default: by adapter, see rowMode.ts) */
  rowMode?: RowMode;
}

export interface LayerNormBuffers {
  input: BufArg;
  gamma: BufArg;
  beta: BufArg;
}

interface LnCore {
  encodeLn(p: GPUComputePassEncoder, b: LayerNormBuffers, out: GPUBuffer): void;
  flags: FlagBuffer;
  mm: GpuBuffer<'f32'> | null;
  u: GPUBuffer;
}

function lnCore(ctx: GpuContext, cfg: LayerNormConfig, minmax: boolean): LnCore {
  const { rows, c } = cfg;
  checkDim(rows, 'layernorm: rows');
  checkDim(c, 'layernorm: C');
  const inRow = cfg.inRow ?? c,
    inOff = cfg.inOff ?? 0;
  const u = uniform(
    ctx,
    [
      [rows, 'u'],
      [c, 'u'],
      [inRow, 'u'],
      [inOff, 'u'],
      [cfg.eps ?? 1e-5, 'f'],
      [minmax ? 1 : 0, 'u'],
      [65535, 'u'],
      [0, 'u'],
    ],
    'layernorm.params',
  );
  const mode = chooseRowMode(ctx, cfg.rowMode);
  const pipeline = getPipeline(ctx, 'layernorm', () => composeWgsl(src), mode === 'workgroup' ? 'main' : 'main_serial');
  const flags = new FlagBuffer(ctx, 'layernorm.flags');
  const mm = new GpuBuffer(ctx, { dtype: 'f32', length: minmax ? 2 * rows : 4, label: 'layernorm.minmax' });
  return {
    u,
    flags,
    mm,
    encodeLn(p, b, out) {
      const entries: [number, GPUBuffer][] = [
        [0, u],
        [1, checkFits(b.input, inOff + (rows - 1) * inRow + c, 'layernorm input')],
        [2, checkFits(b.gamma, c, 'layernorm gamma')],
        [3, checkFits(b.beta, c, 'layernorm beta')],
        [4, checkFits(out, rows * c, 'layernorm output')],
        [5, mm.buffer],
        [6, flags.buffer],
      ];
      dispatch(p, pipeline, bindGroupAt(ctx, pipeline, entries), ...grid(rowGroups(mode, rows)));
    },
  };
}

async function checkLnFlags(flags: FlagBuffer, what: string): Promise<void> {
  const f = await flags.readAndReset();
  if (f & 1) throw new NonFiniteInputError(`${what}: NaN/Inf in the input`);
  if (f & 2) throw new NonFiniteInputError(`${what}: a range overflows float32`);
}

export interface LayerNormOp {
  encode(target: PassTarget, b: LayerNormBuffers & { output: BufArg }, timestampWrites?: GPUComputePassTimestampWrites): void;
  checkFlags(): Promise<void>;
  destroy(): void;
}

export function createLayerNorm(ctx: GpuContext, cfg: LayerNormConfig): LayerNormOp {
  const core = lnCore(ctx, cfg, false);
  let destroyed = false;
  return {
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError('layernorm: op used after destroy()');
      withPass(target, (p) => core.encodeLn(p, b, checkFits(b.output, cfg.rows * cfg.c, 'layernorm output')), tsw);
    },
    checkFlags: () => checkLnFlags(core.flags, 'layernorm'),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      core.u.destroy();
      core.flags.destroy();
      core.mm?.destroy();
    },
  };
}

export interface LayerNormQuantizeConfig extends LayerNormConfig {
  bits: Bits;
  symmetric: boolean;
  granularity: 'row' | 'tensor';
  rowsPerTensor?: number;
  clip?: { min: number; max: number };
}

export interface LayerNormQuantizeOp {
  readonly wordsPerRow: number;
  readonly groups: number;
  readonly lnOutput: GpuBuffer<'f32'>;
  encode(
    target: PassTarget,
    b: LayerNormBuffers & { q: BufArg; scales: BufArg; zeros: BufArg },
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void;
  checkFlags(): Promise<void>;
  destroy(): void;
}

export function createLayerNormQuantize(ctx: GpuContext, cfg: LayerNormQuantizeConfig): LayerNormQuantizeOp {
  const { rows, c, bits, symmetric } = cfg;
  const core = lnCore(ctx, cfg, true);
  if (![8, 4, 2].includes(bits)) throw new KernelError(`layernormQuantize: bits ${bits} is not 8, 4 or 2`);
  const rowsPerGroup = cfg.granularity === 'row' ? 1 : (cfg.rowsPerTensor ?? rows);
  checkDim(rowsPerGroup, 'layernormQuantize: rowsPerTensor');
  const groups = Math.ceil(rows / rowsPerGroup);
  const wpr = int8WordsPerRow(c);
  const lnOutput = new GpuBuffer(ctx, { dtype: 'f32', length: rows * c, label: 'layernorm_quantize.ln' });
  const qu = uniform(
    ctx,
    [
      [rows, 'u'],
      [c, 'u'],
      [1, 'u'],
      [1, 'u'],
      [0, 'u'],
      [rows * c, 'u'],
      [rows * c, 'u'],
      [c, 'u'],
      [1, 'u'],
      [rows, 'u'],
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
    'layernorm_quantize.qparams',
  );
  const pParams = getPipeline(ctx, 'quantize_rows', QUANT_SOURCE, 'params');
  const pQuant = getPipeline(ctx, 'quantize_rows', QUANT_SOURCE, 'quantize');
  let destroyed = false;
  return {
    wordsPerRow: wpr,
    groups,
    lnOutput,
    encode(target, b, tsw) {
      if (destroyed) throw new KernelError('layernormQuantize: op used after destroy()');
      const q = checkFits(b.q, rows * wpr, 'layernormQuantize q (packed words)');
      const sc = checkFits(b.scales, groups, 'layernormQuantize scales');
      const zp = checkFits(b.zeros, groups, 'layernormQuantize zeros');
      const mm = core.mm!.buffer;
      const bg2 = bindGroupAt(ctx, pParams, [
        [0, qu],
        [2, mm],
        [3, sc],
        [4, zp],
        [6, core.flags.buffer],
      ]);
      const bg3 = bindGroupAt(ctx, pQuant, [
        [0, qu],
        [1, lnOutput.buffer],
        [3, sc],
        [4, zp],
        [5, q],
      ]);
      withPass(
        target,
        (p) => {
          core.encodeLn(p, b, lnOutput.buffer);
          dispatch(p, pParams, bg2, ...grid(Math.ceil(groups / 64)));
          dispatch(p, pQuant, bg3, ...grid(Math.ceil((rows * wpr) / 64)));
        },
        tsw,
      );
    },
    checkFlags: () => checkLnFlags(core.flags, 'layernormQuantize'),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      core.u.destroy();
      core.flags.destroy();
      core.mm?.destroy();
      qu.destroy();
      lnOutput.destroy();
    },
  };
}

/** Exact lengths of a layernorm run's inputs: x rows×C, gamma and beta C. */
function checkLnInputs(what: string, x: Float32Array, rows: number, c: number, gamma: Float32Array, beta: Float32Array) {
  const shape = `layernorm ${rows}×${c}`;
  checkLength(`${what} x`, x, rows * c, shape);
  checkLength(`${what} gamma`, gamma, c, `${shape} (gamma is C)`);
  checkLength(`${what} beta`, beta, c, `${shape} (beta is C)`);
}

export async function runLayerNorm(
  ctx: GpuContext,
  x: Float32Array,
  rows: number,
  c: number,
  gamma: Float32Array,
  beta: Float32Array,
  eps = 1e-5,
  rowMode?: RowMode,
): Promise<Float32Array> {
  checkLnInputs('runLayerNorm', x, rows, c, gamma, beta);
  const op = createLayerNorm(ctx, { rows, c, eps, rowMode });
  const bufs = [GpuBuffer.f32(ctx, x), GpuBuffer.f32(ctx, gamma), GpuBuffer.f32(ctx, beta), GpuBuffer.f32(ctx, rows * c)];
  try {
    await submitAndWait(ctx, (enc) => op.encode(enc, { input: bufs[0], gamma: bufs[1], beta: bufs[2], output: bufs[3] }));
    await op.checkFlags();
    return await bufs[3].read();
  } finally {
    bufs.forEach((b) => b.destroy());
    op.destroy();
  }
}

export async function runLayerNormQuantize(
  ctx: GpuContext,
  x: Float32Array,
  rows: number,
  c: number,
  gamma: Float32Array,
  beta: Float32Array,
  spec: Omit<LayerNormQuantizeConfig, 'rows' | 'c'>,
): Promise<{ ln: Float32Array; q: Int32Array; scales: Float32Array; zeros: Int32Array }> {
  checkLnInputs('runLayerNormQuantize', x, rows, c, gamma, beta);
  const op = createLayerNormQuantize(ctx, { ...spec, rows, c });
  const bufs = [GpuBuffer.f32(ctx, x), GpuBuffer.f32(ctx, gamma), GpuBuffer.f32(ctx, beta)];
  const q = GpuBuffer.u32(ctx, rows * op.wordsPerRow),
    sc = GpuBuffer.f32(ctx, op.groups),
    zp = GpuBuffer.i32(ctx, op.groups);
  try {
    await submitAndWait(ctx, (enc) => op.encode(enc, { input: bufs[0], gamma: bufs[1], beta: bufs[2], q, scales: sc, zeros: zp }));
    await op.checkFlags();
    return { ln: await op.lnOutput.read(), q: unpackInt8Rows(await q.read(), rows, c), scales: await sc.read(), zeros: await zp.read() };
  } finally {
    [...bufs, q, sc, zp].forEach((b) => b.destroy());
    op.destroy();
  }
}
