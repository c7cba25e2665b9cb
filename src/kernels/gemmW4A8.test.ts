import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { runGemmW4A8 } from './gemmW4A8';
import { type W4A8Operands, gemmW4A8AccRef, gemmW4A8Ref } from './gemmW4A8.ref';
import type { Int8Variant } from './int8Variant';
import { firstMismatch, firstOutOfTol, randF32, randInt, randIntIn, rng } from './testUtil';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

function operands(
  m: number,
  n: number,
  k: number,
  groupSize: number,
  perRowX: boolean,
  asym: boolean,
  seed: number,
  ends = false,
): W4A8Operands {
  const r = rng(seed);
  const groups = Math.ceil(k / Math.min(groupSize, k));
  const xq = randInt(r, m * k, -128, 127);
  const wq = randInt(r, n * k, -8, 7);
  if (ends) {
    for (let i = 0; i < xq.length; i++) xq[i] = i % 2 ? 127 : -128;
    for (let i = 0; i < wq.length; i++) wq[i] = i % 3 ? -8 : 7;
  }
  return {
    m,
    n,
    k,
    xq,
    wq,
    groupSize: Math.min(groupSize, k),
    sx: randF32(r, perRowX ? m : 1, 1e-3, 0.1),
    zx: asym ? randInt(r, perRowX ? m : 1, -128, 127) : undefined,
    sw: randF32(r, n * groups, 1e-3, 0.1),
    bias: randF32(r, n),
  };
}

// Float tolerance: the per-group sum Σ sw·acc is the same f32 sequence; fused multiply-adds may
// change each step by one rounding → ≤ (groups+2)·2⁻²³·Σ|terms|.
function tol(o: W4A8Operands, acc: Int32Array) {
  const groups = Math.ceil(o.k / o.groupSize);
  return (i: number) => {
    const m = Math.floor(i / o.n),
      n = i % o.n;
    let s = 0;
    for (let g = 0; g < groups; g++) s += Math.abs(o.sw[n * groups + g] * acc[i * groups + g]);
    return (groups + 2) * 1.2e-7 * (Math.abs(o.sx.length === 1 ? o.sx[0] : o.sx[m]) * s + Math.abs(o.bias![n])) + 1e-12;
  };
}

const variants: Int8Variant[] = ['dot4I8Packed', 'unpacked'];
const cases: [string, number, number, number, number, boolean, boolean, boolean?][] = [
  ['per-channel, K=1', 3, 4, 1, 1 << 30, true, true],
  ['per-channel, K=13 (partial word)', 5, 6, 13, 1 << 30, false, true],
  ['g=32, K=100 (ragged last group)', 9, 11, 100, 32, true, true],
  ['g=64, ViT-like 65×128×256, symmetric', 65, 128, 256, 64, true, false],
  ['g=128, K=256, int range ends', 7, 9, 256, 128, false, true, true],
  ['g=32, K=96 (vec4), asym per-token', 33, 35, 96, 32, true, true],
  ['per-channel K=64 (vec4), symmetric', 10, 40, 64, 1 << 30, true, false],
];

describe('gemm_w4a8', () => {
  for (const variant of variants) {
    for (const [ci, [name, m, n, k, g, perRow, asym, ends]] of cases.entries()) {
      it(`[${variant}] ${name}`, async () => {
        const o = operands(m, n, k, g, perRow, asym, 10 + ci, ends);
        const acc = await runGemmW4A8(ctx, o, { output: 'acc', variant });
        const accRef = gemmW4A8AccRef(o);
        expect(acc.vec4).toBe(k % 32 === 0 && o.groupSize % 32 === 0);
        expect(firstMismatch(acc.y, accRef)).toBe(-1);
        if (acc.vec4) expect(firstMismatch((await runGemmW4A8(ctx, o, { output: 'acc', variant, vec4: false })).y, accRef)).toBe(-1);
        const y = await runGemmW4A8(ctx, o, { variant });
        expect(firstOutOfTol(y.y, gemmW4A8Ref(o), tol(o, accRef))).toBe(-1);
      });
    }
    it(`[${variant}] random shapes (seeded)`, async () => {
      const r = rng(variant.length);
      for (let t = 0; t < 4; t++) {
        const k = randIntIn(r, 1, 200);
        const g = [32, 64, 128, 1 << 30][randIntIn(r, 0, 3)];
        const o = operands(randIntIn(r, 1, 50), randIntIn(r, 1, 50), k, g, r() < 0.5, r() < 0.5, 77 + t);
        const acc = await runGemmW4A8(ctx, o, { output: 'acc', variant });
        expect(firstMismatch(acc.y, gemmW4A8AccRef(o))).toBe(-1);
      }
    });
  }
  it('rejects group sizes that split a packed word', async () => {
    await expect(runGemmW4A8(ctx, operands(2, 2, 64, 12, true, false, 1))).rejects.toThrow(/multiple of 8/);
  });
});
