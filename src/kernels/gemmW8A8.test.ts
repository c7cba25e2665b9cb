import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { runGemmW8A8 } from './gemmW8A8';
import { type W8A8Operands, gemmW8A8AccRef, gemmW8A8Ref } from './gemmW8A8.ref';
import type { Int8Variant } from './int8Variant';
import { firstMismatch, firstOutOfTol, randF32, randInt, randIntIn, rng } from './testUtil';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

interface Case {
  name: string;
  m: number;
  n: number;
  k: number;
  perRowX: boolean;
  perColW: boolean;
  asymX: boolean;
  asymW: boolean;
  fill?: 'ends' | 'zeroRows' | 'const';
}

function operands(c: Case, seed: number): W8A8Operands {
  const r = rng(seed);
  const xq = randInt(r, c.m * c.k, -128, 127);
  const wq = randInt(r, c.n * c.k, -127, 127);
  if (c.fill === 'ends') for (let i = 0; i < xq.length; i++) xq[i] = i % 2 ? 127 : -128;
  if (c.fill === 'ends') for (let i = 0; i < wq.length; i++) wq[i] = i % 3 ? -128 : 127;
  if (c.fill === 'zeroRows') for (let i = 0; i < c.k; i++) xq[i] = 0; // first row all zero
  if (c.fill === 'const') xq.fill(-7);
  return {
    m: c.m,
    n: c.n,
    k: c.k,
    xq,
    wq,
    sx: randF32(r, c.perRowX ? c.m : 1, 1e-3, 0.1),
    sw: randF32(r, c.perColW ? c.n : 1, 1e-3, 0.1),
    zx: c.asymX ? randInt(r, c.perRowX ? c.m : 1, -128, 127) : undefined,
    zw: c.asymW ? randInt(r, c.perColW ? c.n : 1, -128, 127) : undefined,
    bias: randF32(r, c.n),
  };
}

const cases: Case[] = [
  { name: 'K=1, symmetric per-tensor', m: 3, n: 2, k: 1, perRowX: false, perColW: false, asymX: false, asymW: false },
  { name: 'odd shape, asym per-token × per-channel', m: 13, n: 7, k: 21, perRowX: true, perColW: true, asymX: true, asymW: true },
  {
    name: 'ViT-like 65×96×128, asym X per-tensor, sym W per-channel',
    m: 65,
    n: 96,
    k: 128,
    perRowX: false,
    perColW: true,
    asymX: true,
    asymW: false,
  },
  {
    name: 'int range ends, asym both per-tensor',
    m: 9,
    n: 10,
    k: 255,
    perRowX: false,
    perColW: false,
    asymX: true,
    asymW: true,
    fill: 'ends',
  },
  { name: 'all-zero row', m: 6, n: 5, k: 17, perRowX: true, perColW: true, asymX: true, asymW: false, fill: 'zeroRows' },
  { name: 'constant X', m: 5, n: 33, k: 40, perRowX: true, perColW: false, asymX: false, asymW: true, fill: 'const' },
  { name: 'K=64 (vec4 loads), asym both per-row/channel', m: 33, n: 34, k: 64, perRowX: true, perColW: true, asymX: true, asymW: true },
  {
    name: 'K=256 (vec4 loads), int range ends',
    m: 7,
    n: 9,
    k: 256,
    perRowX: false,
    perColW: true,
    asymX: true,
    asymW: false,
    fill: 'ends',
  },
];

const variants: Int8Variant[] = ['dot4I8Packed', 'unpacked'];

describe('gemm_w8a8', () => {
  for (const variant of variants) {
    for (const [ci, c] of cases.entries()) {
      it(`[${variant}] ${c.name}: accumulators bit-exact, outputs within 1e-6 rel`, async () => {
        const o = operands(c, 100 + ci);
        const acc = await runGemmW8A8(ctx, o, { output: 'acc', variant });
        expect(acc.variant).toBe(variant);
        expect(acc.vec4).toBe(Math.ceil(c.k / 4) % 4 === 0);
        expect(firstMismatch(acc.y, gemmW8A8AccRef(o))).toBe(-1);
        if (acc.vec4) {
          const scalar = await runGemmW8A8(ctx, o, { output: 'acc', variant, vec4: false });
          expect(scalar.vec4).toBe(false);
          expect(firstMismatch(scalar.y, gemmW8A8AccRef(o))).toBe(-1);
        }
        const y = await runGemmW8A8(ctx, o, { variant });
        const ref = gemmW8A8Ref(o);
        // Same f32 operations; a fused multiply-add in the epilogue may differ by one rounding.
        expect(firstOutOfTol(y.y, ref, (i) => 1e-6 * (Math.abs(ref[i]) + Math.abs(o.bias![i % c.n])) + 1e-12)).toBe(-1);
      });
    }
    it(`[${variant}] random shapes (seeded)`, async () => {
      const r = rng(variant === 'unpacked' ? 5 : 6);
      for (let t = 0; t < 5; t++) {
        const c: Case = {
          name: '',
          m: randIntIn(r, 1, 70),
          n: randIntIn(r, 1, 70),
          k: randIntIn(r, 1, 140),
          perRowX: r() < 0.5,
          perColW: r() < 0.5,
          asymX: r() < 0.5,
          asymW: r() < 0.5,
        };
        const o = operands(c, 1000 + t);
        const acc = await runGemmW8A8(ctx, o, { output: 'acc', variant });
        expect(firstMismatch(acc.y, gemmW8A8AccRef(o))).toBe(-1);
      }
    });
  }
  it('reports the variant chosen from the adapter', async () => {
    const o = operands(cases[0], 1);
    const res = await runGemmW8A8(ctx, o);
    expect(res.variant).toBe(ctx.features.packedDot4 ? 'dot4I8Packed' : 'unpacked');
  });
});
