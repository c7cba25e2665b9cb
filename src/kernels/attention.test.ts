import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { unpackInt8Rows } from '../quant/pack';
import { type AttnQuant, createAttention } from './attention';
import { type AttnShape, qkvSlice, quantizeSlices, transpose } from './attention.ref';
import { submitAndWait } from './common';
import { gemmW8A8AccRef, gemmW8A8Ref } from './gemmW8A8.ref';
import { runSoftmax, softmaxRef } from './softmax';
import { firstMismatch, firstOutOfTol, randF32, rng } from './testUtil';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

const shape: AttnShape = { images: 2, tokens: 9, heads: 2, headDim: 8 };
const dim = shape.heads * shape.headDim;

describe('softmax', () => {
  it('rows sum to 1 and match the reference within 1e-6 (incl. ±1e30-free large logits)', async () => {
    const r = rng(1);
    const x = randF32(r, 7 * 65, -20, 20);
    x.fill(80, 0, 65); // constant row → uniform
    for (const mode of ['workgroup', 'thread'] as const) {
      const y = await runSoftmax(ctx, x, 7, 65, mode);
      expect(firstOutOfTol(y, softmaxRef(x, 7, 65), () => 1e-6)).toBe(-1);
    }
  });
});

describe('attention', () => {
  it('FP32: scores, softmax and context match a float64 reference', async () => {
    const r = rng(2);
    const { images, tokens: T, heads, headDim: hd } = shape;
    const qkv = randF32(r, images * T * 3 * dim);
    const att = createAttention(ctx, shape);
    const bq = GpuBuffer.f32(ctx, qkv),
      out = GpuBuffer.f32(ctx, images * T * dim);
    await submitAndWait(ctx, (enc) => att.encode(enc, { qkv: bq, out }));
    const P = await att.scores.read(),
      O = await out.read();
    for (let i = 0; i < images; i++)
      for (let h = 0; h < heads; h++) {
        const q = qkvSlice(qkv, shape, i, h, 0),
          k = qkvSlice(qkv, shape, i, h, 1),
          v = qkvSlice(qkv, shape, i, h, 2);
        const s = new Float64Array(T * T);
        for (let a = 0; a < T; a++)
          for (let b = 0; b < T; b++) {
            let acc = 0;
            for (let c = 0; c < hd; c++) acc += q[a * hd + c] * k[b * hd + c];
            s[a * T + b] = acc / Math.sqrt(hd);
          }
        const p = softmaxRef(s, T, T);
        const z = i * heads + h;
        expect(firstOutOfTol(P.subarray(z * T * T, (z + 1) * T * T), p, () => 2e-6)).toBe(-1);
        for (let a = 0; a < T; a++)
          for (let c = 0; c < hd; c++) {
            let acc = 0;
            for (let b = 0; b < T; b++) acc += p[a * T + b] * v[b * hd + c];
            expect(Math.abs(O[(i * T + a) * dim + h * hd + c] - acc)).toBeLessThan(5e-6);
          }
      }
    [bq, out].forEach((b) => b.destroy());
    att.destroy();
  });

  const schemes: [string, AttnQuant, AttnQuant, AttnQuant, AttnQuant][] = [
    [
      "INT8 asym per-tensor (per image), the note's scheme",
      { bits: 8, symmetric: false, granularity: 'tensor' },
      { bits: 8, symmetric: false, granularity: 'tensor' },
      { bits: 8, symmetric: false, granularity: 'tensor' },
      { bits: 8, symmetric: false, granularity: 'tensor' },
    ],
    [
      'INT8 sym per-token / per-channel',
      { bits: 8, symmetric: true, granularity: 'token' },
      { bits: 8, symmetric: true, granularity: 'token' },
      { bits: 8, symmetric: true, granularity: 'token' },
      { bits: 8, symmetric: true, granularity: 'channel' },
    ],
    [
      'INT4 asym per-token, v per-channel asym',
      { bits: 4, symmetric: false, granularity: 'token' },
      { bits: 4, symmetric: true, granularity: 'tensor' },
      { bits: 4, symmetric: false, granularity: 'token' },
      { bits: 4, symmetric: false, granularity: 'channel' },
    ],
  ];
  for (const variant of ['dot4I8Packed', 'unpacked'] as const) {
    for (const [name, qs, ks, ps, vs] of schemes) {
      it(`[${variant}] ${name}: quantized operands and accumulators bit-exact`, async () => {
        const r = rng(name.length);
        const { images, tokens: T, heads, headDim: hd } = shape;
        const qkv = randF32(r, images * T * 3 * dim, -2, 2);
        const att = createAttention(ctx, { ...shape, q: qs, k: ks, p: ps, v: vs, variant });
        const bq = GpuBuffer.f32(ctx, qkv),
          out = GpuBuffer.f32(ctx, images * T * dim);
        await submitAndWait(ctx, (enc) => att.encodeScores(enc, { qkv: bq }));
        const S = await att.scores.read();
        const I = att.internals;
        const slices = (part: 0 | 1 | 2) =>
          Array.from({ length: images }, (_, i) => Array.from({ length: heads }, (_, h) => qkvSlice(qkv, shape, i, h, part)));
        const refQ = quantizeSlices(slices(0), T, hd, qs),
          refK = quantizeSlices(slices(1), T, hd, ks);
        const gq = unpackInt8Rows(await I.q!.packed.read(), images * heads * T, hd),
          gk = unpackInt8Rows(await I.k!.packed.read(), images * heads * T, hd);
        expect(firstMismatch(gq, Int32Array.from(refQ.q.flat().flatMap((a) => Array.from(a))))).toBe(-1);
        expect(firstMismatch(gk, Int32Array.from(refK.q.flat().flatMap((a) => Array.from(a))))).toBe(-1);
        expect(firstMismatch(await I.q!.scales.read(), refQ.scales)).toBe(-1);
        expect(firstMismatch(await I.k!.zeros.read(), refK.zeros)).toBe(-1);
        // scores: the same f32 epilogue as gemmW8A8Ref, then ·1/√hd
        const at = (a: ArrayLike<number>, per: boolean, idx: number, tens: number) => (per ? a[idx] : a[tens]);
        for (let i = 0; i < images; i++)
          for (let h = 0; h < heads; h++) {
            const z = i * heads + h;
            const sel = (s: AttnQuant, ref: { scales: Float32Array; zeros: Int32Array }, rows: number) => ({
              s: Float32Array.from({ length: rows }, (_, t) => at(ref.scales, s.granularity !== 'tensor', z * rows + t, i)),
              z: s.symmetric
                ? undefined
                : Int32Array.from({ length: rows }, (_, t) => at(ref.zeros, s.granularity !== 'tensor', z * rows + t, i)),
            });
            const sq = sel(qs, refQ, T),
              sk = sel(ks, refK, T);
            const o = { m: T, n: T, k: hd, xq: refQ.q[i][h], wq: refK.q[i][h], sx: sq.s, sw: sk.s, zx: sq.z, zw: sk.z };
            const acc = gemmW8A8AccRef(o);
            const ref = gemmW8A8Ref(o).map((v) => v / Math.sqrt(hd));
            expect(
              firstOutOfTol(S.subarray(z * T * T, (z + 1) * T * T), ref, (j) => 1e-6 * Math.abs(ref[j]) + 1e-9),
              `acc ${acc[0]}`,
            ).toBe(-1);
          }
        // context from the GPU's own softmax output
        await submitAndWait(ctx, (enc) => att.encodeSoftmax(enc));
        const P = await att.scores.read();
        await submitAndWait(ctx, (enc) => att.encodeContext(enc, { qkv: bq, out }));
        const O = await out.read();
        const pSlices = Array.from({ length: images }, (_, i) =>
          Array.from({ length: heads }, (_, h) => P.slice((i * heads + h) * T * T, (i * heads + h + 1) * T * T)),
        );
        const vT = Array.from({ length: images }, (_, i) =>
          Array.from({ length: heads }, (_, h) => transpose(qkvSlice(qkv, shape, i, h, 2), T, hd)),
        );
        const refP = quantizeSlices(pSlices, T, T, ps),
          refV = quantizeSlices(vT, hd, T, vs);
        const gp = unpackInt8Rows(await I.p!.packed.read(), images * heads * T, T);
        expect(firstMismatch(gp, Int32Array.from(refP.q.flat().flatMap((a) => Array.from(a))))).toBe(-1);
        const gv = unpackInt8Rows(await I.v!.packed.read(), images * heads * hd, T);
        expect(firstMismatch(gv, Int32Array.from(refV.q.flat().flatMap((a) => Array.from(a))))).toBe(-1);
        for (let i = 0; i < images; i++)
          for (let h = 0; h < heads; h++) {
            const z = i * heads + h;
            const sp = Float32Array.from({ length: T }, (_, t) => at(refP.scales, ps.granularity !== 'tensor', z * T + t, i));
            const zp = ps.symmetric
              ? undefined
              : Int32Array.from({ length: T }, (_, t) => at(refP.zeros, ps.granularity !== 'tensor', z * T + t, i));
            const sv = Float32Array.from({ length: hd }, (_, c) => at(refV.scales, vs.granularity !== 'tensor', z * hd + c, i));
            const zv = vs.symmetric
              ? undefined
              : Int32Array.from({ length: hd }, (_, c) => at(refV.zeros, vs.granularity !== 'tensor', z * hd + c, i));
            const ref = gemmW8A8Ref({ m: T, n: hd, k: T, xq: refP.q[i][h], wq: refV.q[i][h], sx: sp, sw: sv, zx: zp, zw: zv });
            for (let t = 0; t < T; t++)
              for (let c = 0; c < hd; c++) {
                const g = O[(i * T + t) * dim + h * hd + c],
                  e = ref[t * hd + c];
                expect(Math.abs(g - e)).toBeLessThanOrEqual(1e-6 * Math.abs(e) + 1e-9);
              }
          }
        await att.checkFlags();
        [bq, out].forEach((b) => b.destroy());
        att.destroy();
      });
    }
  }
});
