// The chain the ViT forward runs for a quantized linear site: quantize_rows (dynamic, per token or
// per image) → gemm_w8a8 / gemm_w4a8 with weights prepared once on the CPU. Compared with the same
// chain on the CPU (quantizeMatrix + the GEMM references).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { quantizeMatrix } from '../quant/quantizeMatrix';
import { submitAndWait } from './common';
import { createGemmW4A8, prepareW4Weights } from './gemmW4A8';
import { gemmW4A8Ref } from './gemmW4A8.ref';
import { createGemmW8A8, prepareW8Weights } from './gemmW8A8';
import { gemmW8A8Ref } from './gemmW8A8.ref';
import { createQuantizeRows } from './quantizeRows';
import { firstOutOfTol, randF32, rng } from './testUtil';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

describe('quantize → integer GEMM chain', () => {
  const T = 13,
    images = 2,
    M = T * images,
    K = 64,
    N = 24;
  for (const gran of ['row', 'tensor'] as const) {
    it(`W8A8: activations asym INT8 per-${gran === 'row' ? 'token' : 'image'}, weights sym per-channel`, async () => {
      const r = rng(gran.length);
      const x = randF32(r, M * K, -2, 3),
        w = randF32(r, N * K, -0.3, 0.3),
        b = randF32(r, N);
      const pw = prepareW8Weights(w, N, K, { bits: 8, symmetric: true, granularity: 'row' });
      const qr = createQuantizeRows(ctx, { rows: M, cols: K, bits: 8, symmetric: false, granularity: gran, rowsPerTensor: T });
      const sxGroup = gran === 'row' ? 1 : T;
      const gemm = createGemmW8A8(ctx, { m: M, n: N, k: K, sxGroup, zxGroup: sxGroup, swGroup: pw.swGroup, bias: true });
      const bx = GpuBuffer.f32(ctx, x),
        q = GpuBuffer.u32(ctx, M * qr.wordsPerRow),
        sx = GpuBuffer.f32(ctx, qr.groups),
        zx = GpuBuffer.i32(ctx, qr.groups);
      const bw = GpuBuffer.u32(ctx, pw.packed),
        sw = GpuBuffer.f32(ctx, pw.scales),
        bb = GpuBuffer.f32(ctx, b),
        y = GpuBuffer.f32(ctx, M * N);
      await submitAndWait(ctx, (enc) => {
        const pass = enc.beginComputePass();
        qr.encode(pass, { input: bx, q, scales: sx, zeros: zx });
        gemm.encode(pass, { x: q, w: bw, sx, zx, sw, bias: bb, y });
        pass.end();
      });
      await qr.checkFlags();
      const got = await y.read();
      // CPU chain
      const blocks = gran === 'row' ? 1 : images;
      const xq = new Int32Array(M * K),
        sxr: number[] = [],
        zxr: number[] = [];
      for (let i = 0; i < blocks; i++) {
        const rows = M / blocks;
        const m = quantizeMatrix(x.subarray(i * rows * K, (i + 1) * rows * K), rows, K, { bits: 8, symmetric: false, granularity: gran });
        m.q.forEach((v, j) => (xq[i * rows * K + j] = v - 128));
        for (let t = 0; t < rows; t++) {
          sxr.push(m.scales[gran === 'row' ? t : 0]);
          zxr.push(m.zeros[gran === 'row' ? t : 0] - 128);
        }
      }
      const wq = quantizeMatrix(w, N, K, { bits: 8, symmetric: true, granularity: 'row' });
      const ref = gemmW8A8Ref({
        m: M,
        n: N,
        k: K,
        xq,
        wq: wq.q,
        sx: Float32Array.from(sxr),
        zx: Int32Array.from(zxr),
        sw: wq.scales,
        bias: b,
      });
      expect(firstOutOfTol(got, ref, (i) => 1e-6 * (Math.abs(ref[i]) + Math.abs(b[i % N])) + 1e-12)).toBe(-1);
      [bx, q, sx, zx, bw, sw, bb, y].forEach((t) => t.destroy());
      qr.destroy();
      gemm.destroy();
    });
  }

  it('W4A8 g=32: activations asym INT8 per-token, weights sym INT4 per group', async () => {
    const r = rng(77);
    const x = randF32(r, M * K, -2, 3),
      w = randF32(r, N * K, -0.3, 0.3);
    const pw = prepareW4Weights(w, N, K, 32);
    const qr = createQuantizeRows(ctx, { rows: M, cols: K, bits: 8, symmetric: false, granularity: 'row' });
    const gemm = createGemmW4A8(ctx, { m: M, n: N, k: K, groupSize: pw.groupSize, sxGroup: 1, zxGroup: 1 });
    const bx = GpuBuffer.f32(ctx, x),
      q = GpuBuffer.u32(ctx, M * qr.wordsPerRow),
      sx = GpuBuffer.f32(ctx, M),
      zx = GpuBuffer.i32(ctx, M);
    const bw = GpuBuffer.u32(ctx, pw.packed),
      sw = GpuBuffer.f32(ctx, pw.scales),
      y = GpuBuffer.f32(ctx, M * N);
    await submitAndWait(ctx, (enc) => {
      qr.encode(enc, { input: bx, q, scales: sx, zeros: zx });
      gemm.encode(enc, { x: q, w: bw, sx, zx, sw, y });
    });
    const got = await y.read();
    const mx = quantizeMatrix(x, M, K, { bits: 8, symmetric: false, granularity: 'row' });
    const mw = quantizeMatrix(w, N, K, { bits: 4, symmetric: true, granularity: 'group', groupSize: 32 });
    const ref = gemmW4A8Ref({
      m: M,
      n: N,
      k: K,
      xq: mx.q.map((v) => v - 128),
      zx: mx.zeros.map((z) => z - 128),
      sx: mx.scales,
      wq: mw.q,
      sw: mw.scales,
      groupSize: 32,
    });
    expect(firstOutOfTol(got, ref, (i) => 4e-6 * Math.abs(ref[i]) + 1e-9)).toBe(-1);
    [bx, q, sx, zx, bw, sw, y].forEach((t) => t.destroy());
    qr.destroy();
    gemm.destroy();
  });
});
