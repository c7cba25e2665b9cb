import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { quantizeMatrix } from '../quant/quantizeMatrix';
import { type Bits, storageOffset } from '../quant/scaleZero';
import { NonFiniteInputError } from './common';
import { runLayerNorm, runLayerNormQuantize } from './layernorm';
import { layernormRef } from './layernorm.ref';
import { firstMismatch, firstOutOfTol, randF32, rng } from './testUtil';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

// f32 reductions in a different order than the float64 reference: |err| ≤ 2e-5·(|γ|·|x̂| + 1).
const TOL = 2e-5;

describe('layernorm', () => {
  for (const rowMode of ['workgroup', 'thread'] as const)
    for (const [rows, c] of [
      [1, 1],
      [3, 7],
      [65, 128],
      [17, 200],
    ] as const) {
      it(`[${rowMode}] ${rows}×${c} matches the reference within ${TOL} (rel. to |y|+1)`, async () => {
        const r = rng(rows * 31 + c);
        const x = randF32(r, rows * c, -3, 5),
          g = randF32(r, c, 0.5, 1.5),
          b = randF32(r, c, -0.2, 0.2);
        if (rows > 2) x.fill(2.5, 0, c); // a constant row: x̂ = 0 → y = β
        const y = await runLayerNorm(ctx, x, rows, c, g, b, 1e-5, rowMode);
        const ref = layernormRef(x, rows, c, g, b);
        expect(firstOutOfTol(y, ref, (i) => TOL * (Math.abs(ref[i]) + 1))).toBe(-1);
      });
    }
  it('reports NaN input', async () => {
    for (const rowMode of ['workgroup', 'thread'] as const)
      await expect(
        runLayerNorm(ctx, Float32Array.from([1, NaN, 3, 4]), 2, 2, new Float32Array([1, 1]), new Float32Array(2), 1e-5, rowMode),
      ).rejects.toThrow(NonFiniteInputError);
  });
});

describe('layernorm_quantize', () => {
  const schemes: [Bits, boolean, 'row' | 'tensor'][] = [
    [8, false, 'row'],
    [8, true, 'tensor'],
    [4, false, 'tensor'],
    [4, true, 'row'],
    [2, false, 'row'],
  ];
  for (const rowMode of ['workgroup', 'thread'] as const)
    for (const [bits, sym, gran] of schemes) {
      it(`[${rowMode}] INT${bits} ${sym ? 'sym' : 'asym'} per-${gran}: integers equal quantizeMatrix(LN output) bit for bit`, async () => {
        const r = rng(bits + (sym ? 50 : 0));
        const rows = 26,
          c = 37,
          T = 13;
        const x = randF32(r, rows * c, -2, 4),
          g = randF32(r, c, 0.5, 1.5),
          b = randF32(r, c, -0.5, 0.5);
        const out = await runLayerNormQuantize(ctx, x, rows, c, g, b, {
          bits,
          symmetric: sym,
          granularity: gran,
          rowsPerTensor: T,
          rowMode,
        });
        const ref = layernormRef(x, rows, c, g, b);
        expect(firstOutOfTol(out.ln, ref, (i) => TOL * (Math.abs(ref[i]) + 1))).toBe(-1);
        const off = storageOffset(bits, sym);
        const blocks =
          gran === 'row'
            ? [[0, rows]]
            : [
                [0, T],
                [T, 2 * T],
              ];
        const q: number[] = [],
          sc: number[] = [],
          zp: number[] = [];
        for (const [r0, r1] of blocks) {
          const m = quantizeMatrix(out.ln.subarray(r0 * c, r1 * c), r1 - r0, c, { bits, symmetric: sym, granularity: gran });
          q.push(...Array.from(m.q, (v) => v - off));
          sc.push(...m.scales);
          zp.push(...Array.from(m.zeros, (v) => v - off));
        }
        expect(firstMismatch(out.scales, Float32Array.from(sc))).toBe(-1);
        expect(firstMismatch(out.zeros, Int32Array.from(zp))).toBe(-1);
        expect(firstMismatch(out.q, Int32Array.from(q))).toBe(-1);
      });
    }
});
