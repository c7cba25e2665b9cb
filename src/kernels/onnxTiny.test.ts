import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { matMulModel, matMulNBitsModel, ortDp4aRule, packInt4Blocks } from './onnxTiny';

// The models are run by ONNX Runtime Web itself (wasm EP in Node) against a plain reference, so a
// wrong protobuf field, a swapped nibble, a wrong zero point or scale layout fails here.
ort.env.wasm.numThreads = 1;

const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => (((i + seed) * 2654435761) >>> 0) / 2 ** 32 - 0.5);

describe('onnxTiny', () => {
  it('packInt4Blocks: value + 8, element 2j in the low nibble', () => {
    expect([...packInt4Blocks(Int8Array.from([-8, 7, 0, -1]), 1, 4, 4)]).toEqual([0 | (15 << 4), 8 | (7 << 4)]);
    expect(() => packInt4Blocks(Int8Array.from([8, 0]), 1, 2, 2)).toThrow(/out of/);
  });

  it('MatMul model: ONNX Runtime computes A·B', async () => {
    const m = 3,
      k = 8,
      n = 5;
    const a = rnd(m * k, 1),
      b = rnd(k * n, 2);
    const s = await ort.InferenceSession.create(matMulModel(k, n, b), { executionProviders: ['wasm'] });
    const y = (await s.run({ A: new ort.Tensor('float32', a, [m, k]) })).Y;
    expect(y.dims).toEqual([m, n]);
    const out = y.data as Float32Array;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += a[i * k + t] * b[t * n + j];
        expect(out[i * n + j]).toBeCloseTo(acc, 5);
      }
  });

  it('MatMulNBits model: ONNX Runtime computes A·Wᵀ with W = scale(block)·q', async () => {
    const m = 2,
      k = 64,
      n = 3,
      block = 32;
    const a = rnd(m * k, 3);
    const q = Int8Array.from({ length: n * k }, (_, i) => ((i * 7 + (i >> 5) * 3) % 16) - 8);
    const scales = Float32Array.from({ length: n * (k / block) }, (_, i) => 0.01 * (i + 1));
    const s = await ort.InferenceSession.create(matMulNBitsModel(k, n, q, scales), { executionProviders: ['wasm'] });
    const out = (await s.run({ A: new ort.Tensor('float32', a, [m, k]) })).Y.data as Float32Array;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += a[i * k + t] * scales[j * (k / block) + Math.floor(t / block)] * q[j * k + t];
        // accuracy_level 4 on the CPU EP quantizes A to int8 per block: a loose tolerance
        expect(Math.abs(out[i * n + j] - acc)).toBeLessThan(0.02 * Math.max(1, Math.abs(acc)));
      }
  });

  it('ortDp4aRule restates ONNX Runtime WebGPU DP4A condition', () => {
    const gpu = { features: ['subgroups', 'timestamp-query'], vendor: 'nvidia' };
    expect(ortDp4aRule(gpu, 384, 128).dp4a).toBe(true);
    expect(ortDp4aRule({ ...gpu, features: [] }, 384, 128).reason).toMatch(/subgroups/);
    expect(ortDp4aRule(gpu, 384, 96).reason).toMatch(/K = 96/);
    expect(ortDp4aRule(gpu, 8, 128).reason).toMatch(/N = 8/);
    expect(ortDp4aRule({ ...gpu, vendor: 'apple' }, 384, 128).dp4a).toBe(false);
    expect(ortDp4aRule(gpu, 384, 128, 0).reason).toMatch(/accuracy_level 0/);
  });
});
