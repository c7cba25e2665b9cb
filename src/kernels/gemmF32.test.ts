import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { createGemmF32, runGemmF32 } from './gemmF32';
import { gemmF32Ref } from './gemmF32.ref';
import { absDot, firstOutOfTol, randF32, randIntIn, rng } from './testUtil';
import { GpuBuffer } from '../gpu/buffers';
import { KernelError } from './common';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
// Tolerance: f32 accumulation over K terms vs the reference's float64 sum: |err| ≤ K·2⁻²³·Σ|x·w| (+ tiny abs).
const tolFor =
  (k: number, ad: Float64Array, extra = 0) =>
  (i: number) =>
    1e-6 + extra + k * 1.2e-7 * ad[i] * 2;

describe('gemm_f32', () => {
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 7],
    [65, 128, 128],
    [17, 33, 1],
    [64, 64, 64],
    [70, 9, 100],
  ];
  for (const variant of ['tiled', 'direct', 'direct4'] as const)
    for (const [m, n, k] of cases) {
      it.skipIf(variant === 'direct4' && k % 4 !== 0)(`[${variant}] matches the reference at ${m}×${n}×${k} with bias`, async () => {
        const r = rng(m * 1000 + n * 10 + k);
        const x = randF32(r, m * k);
        const w = randF32(r, n * k);
        const b = randF32(r, n);
        const y = await runGemmF32(ctx, x, w, b, m, n, k, { variant });
        const ref = gemmF32Ref(x, w, b, m, n, k);
        expect(firstOutOfTol(y, ref, tolFor(k, absDot(x, w, m, n, k)))).toBe(-1);
      });
    }

  for (const variant of ['tiled', 'direct'] as const)
    it(`[${variant}] random shapes (seeded), GELU and residual epilogues`, async () => {
      const r = rng(42);
      for (let t = 0; t < 4; t++) {
        const m = randIntIn(r, 1, 80),
          n = randIntIn(r, 1, 80),
          k = randIntIn(r, 1, 90);
        const x = randF32(r, m * k, -2, 2),
          w = randF32(r, n * k, -0.5, 0.5),
          b = randF32(r, n);
        const res = randF32(r, m * n);
        const ref = gemmF32Ref(x, w, b, m, n, k);
        const ad = absDot(x, w, m, n, k);
        const yg = await runGemmF32(ctx, x, w, b, m, n, k, { gelu: true, variant });
        expect(firstOutOfTol(yg, ref.map(gelu), (i) => 2e-6 + 1.5 * tolFor(k, ad)(i) + 1e-6 * Math.abs(ref[i]))).toBe(-1);
        const yr = await runGemmF32(ctx, x, w, b, m, n, k, { residual: 'buffer', residualData: res, variant });
        expect(
          firstOutOfTol(
            yr,
            ref.map((v, i) => v + res[i]),
            tolFor(k, ad, 1e-6),
          ),
        ).toBe(-1);
        const ya = await runGemmF32(ctx, x, w, b, m, n, k, { residual: 'accumulate', residualData: res, variant });
        expect(
          firstOutOfTol(
            ya,
            ref.map((v, i) => v + res[i]),
            tolFor(k, ad, 1e-6),
          ),
        ).toBe(-1);
      }
    });

  it('zero, constant and ±1e30 inputs stay exact / finite where representable', async () => {
    const m = 5,
      n = 6,
      k = 9;
    const z = await runGemmF32(ctx, new Float32Array(m * k), new Float32Array(n * k).fill(1), null, m, n, k);
    expect(Array.from(z).every((v) => v === 0)).toBe(true);
    const x = new Float32Array(m * k).fill(1e30),
      w = new Float32Array(n * k).fill(1e-30);
    const y = await runGemmF32(ctx, x, w, null, m, n, k);
    for (const v of y) expect(Math.abs(v - 9) / 9).toBeLessThan(1e-5);
  });

  for (const variant of ['tiled', 'direct'] as const)
    it(`[${variant}] batched per-head q·kᵀ and attn·v straight from a qkv buffer`, async () => {
      const imgs = 2,
        T = 9,
        heads = 2,
        hd = 4,
        dim = heads * hd;
      const r = rng(7);
      const qkv = randF32(r, imgs * T * 3 * dim);
      const alpha = 1 / Math.sqrt(hd);
      const s = await runGemmF32(ctx, qkv, qkv, null, T, T, hd, {
        batch: imgs * heads,
        batchInner: heads,
        alpha,
        variant,
        x: { off: 0, row: 3 * dim, outer: T * 3 * dim, inner: hd },
        w: { off: dim, row: 3 * dim, outer: T * 3 * dim, inner: hd },
      });
      const p = randF32(r, imgs * heads * T * T, 0, 1);
      const o = await runGemmF32(ctx, p, qkv, null, T, hd, T, {
        batch: imgs * heads,
        batchInner: heads,
        transB: true,
        variant,
        w: { off: 2 * dim, row: 3 * dim, outer: T * 3 * dim, inner: hd },
        y: { off: 0, row: dim, outer: T * dim, inner: hd },
      });
      for (let im = 0; im < imgs; im++)
        for (let h = 0; h < heads; h++)
          for (let i = 0; i < T; i++) {
            for (let j = 0; j < T; j++) {
              let acc = 0;
              for (let c = 0; c < hd; c++) acc += qkv[(im * T + i) * 3 * dim + h * hd + c] * qkv[(im * T + j) * 3 * dim + dim + h * hd + c];
              expect(Math.abs(s[((im * heads + h) * T + i) * T + j] - acc * alpha)).toBeLessThan(1e-5);
            }
            for (let c = 0; c < hd; c++) {
              let acc = 0;
              for (let j = 0; j < T; j++) acc += p[((im * heads + h) * T + i) * T + j] * qkv[(im * T + j) * 3 * dim + 2 * dim + h * hd + c];
              expect(Math.abs(o[(im * T + i) * dim + h * hd + c] - acc)).toBeLessThan(1e-5);
            }
          }
    });

  it('direct4 on aligned shapes (GELU + residual epilogue) and its alignment check', async () => {
    const r = rng(99);
    const m = 37,
      n = 29,
      k = 64;
    const x = randF32(r, m * k),
      w = randF32(r, n * k),
      b = randF32(r, n),
      res = randF32(r, m * n);
    const ref = gemmF32Ref(x, w, b, m, n, k);
    const ad = absDot(x, w, m, n, k);
    const y = await runGemmF32(ctx, x, w, b, m, n, k, { variant: 'direct4', gelu: true, residual: 'buffer', residualData: res });
    expect(
      firstOutOfTol(
        y,
        ref.map((v, i) => gelu(v) + res[i]),
        (i) => 3e-6 + 1.5 * tolFor(k, ad)(i) + 1e-6 * Math.abs(ref[i]),
      ),
    ).toBe(-1);
    expect(() => createGemmF32(ctx, { m: 2, n: 2, k: 6, variant: 'direct4' })).toThrow(/multiples of 4/);
  });

  it('validates shapes and buffer sizes', async () => {
    expect(() => createGemmF32(ctx, { m: 0, n: 1, k: 1 })).toThrow(KernelError);
    const op = createGemmF32(ctx, { m: 4, n: 4, k: 4 });
    const small = GpuBuffer.f32(ctx, 8);
    const enc = ctx.device.createCommandEncoder();
    expect(() => op.encode(enc, { x: small, w: small, y: small })).toThrow(/needs 16/);
    small.destroy();
    expect(() => small.buffer).toThrow(/after destroy/);
    op.destroy();
    expect(() => op.encode(enc, { x: small, w: small, y: small })).toThrow(/after destroy/);
  });
});
