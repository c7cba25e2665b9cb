/**
 * One declarative table of kernel cases (cases/kernelCases.jsonc: inputs → expected, worked out by
 * hand) run against every implementation: the TypeScript references, the WASM kernels (the CPU
 * backend) and the WGSL kernels (Dawn on SwiftShader here). A new backend adds one runner below;
 * a new case is one entry of the table. Mutations caught: a dropped zero-point term (the
 * asymmetric cases), a bias added before GELU or not at all, a K tail not multiple of 4 or 8, a
 * softmax without the max subtraction (the 1000-logit row), an unbiased LayerNorm variance.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { isWasmKernels, loadCpuKernels, type WasmCpuKernelsT } from '../cpu/cpuKernels';
import { gemmF32Ref } from './gemmF32.ref';
import { gemmW8A8Ref } from './gemmW8A8.ref';
import { gemmW4A8Ref } from './gemmW4A8.ref';
import { layernormRef } from './layernorm.ref';
import { geluTanh } from './rowOps.ref';
import { runGemmF32 } from './gemmF32';
import { runGemmW8A8 } from './gemmW8A8';
import { runGemmW4A8 } from './gemmW4A8';
import { runSoftmax, softmaxRef } from './softmax';
import { runLayerNorm } from './layernorm';
import { createGelu } from './elementwise';
import { GpuBuffer } from '../gpu/buffers';
import { submitAndWait } from './common';

type Case = { op: string; name: string; expected: number[] } & Record<string, unknown>;

/** JSON with // comments (the .jsonc of ONNX Runtime Web's op tests) */
function parseJsonc(text: string): unknown {
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ''));
}

const CASES = parseJsonc(readFileSync(new URL('./cases/kernelCases.jsonc', import.meta.url), 'utf8')) as Case[];

const f32 = (v: unknown) => Float32Array.from(v as number[]);
const i32 = (v: unknown) => Int32Array.from(v as number[]);
const opt = <T>(v: unknown, f: (v: unknown) => T): T | undefined => (v === undefined ? undefined : f(v));
const num = (c: Case, k: string) => c[k] as number;

function w8a8(c: Case) {
  return {
    m: num(c, 'm'),
    n: num(c, 'n'),
    k: num(c, 'k'),
    xq: i32(c.xq),
    wq: i32(c.wq),
    sx: f32(c.sx),
    sw: f32(c.sw),
    zx: opt(c.zx, i32),
    zw: opt(c.zw, i32),
    bias: opt(c.bias, f32) ?? null,
  };
}
function w4a8(c: Case) {
  return {
    m: num(c, 'm'),
    n: num(c, 'n'),
    k: num(c, 'k'),
    groupSize: num(c, 'groupSize'),
    xq: i32(c.xq),
    wq: i32(c.wq),
    sx: f32(c.sx),
    sw: f32(c.sw),
    zx: opt(c.zx, i32),
    bias: opt(c.bias, f32) ?? null,
  };
}

/** One implementation of every op of the table. */
type Runner = (c: Case) => Promise<ArrayLike<number>> | ArrayLike<number>;
type Backend = Record<string, Runner>;

const tsRef: Backend = {
  gemm_f32: (c) => {
    const y = gemmF32Ref(f32(c.x), f32(c.w), opt(c.bias, f32) ?? null, num(c, 'm'), num(c, 'n'), num(c, 'k'));
    return c.gelu ? y.map(geluTanh) : y;
  },
  gemm_w8a8: (c) => gemmW8A8Ref(w8a8(c)),
  gemm_w4a8: (c) => gemmW4A8Ref(w4a8(c)),
  softmax: (c) => softmaxRef(f32(c.x), num(c, 'rows'), num(c, 'cols')),
  layernorm: (c) => layernormRef(f32(c.x), num(c, 'rows'), num(c, 'c'), f32(c.gamma), f32(c.beta), num(c, 'eps')),
  gelu: (c) => f32(c.x).map(geluTanh),
};

let wasm: WasmCpuKernelsT;
const wasmBackend: Backend = {
  gemm_f32: (c) => wasm.gemmF32(f32(c.x), f32(c.w), opt(c.bias, f32) ?? null, num(c, 'm'), num(c, 'n'), num(c, 'k'), { gelu: !!c.gelu }),
  gemm_w8a8: (c) => wasm.gemmW8A8(w8a8(c)),
  gemm_w4a8: (c) => wasm.gemmW4A8(w4a8(c)),
  softmax: (c) => {
    const x = f32(c.x);
    wasm.softmaxRows(x, num(c, 'rows'), num(c, 'cols'));
    return x;
  },
  layernorm: (c) => wasm.layerNorm(f32(c.x), num(c, 'rows'), num(c, 'c'), f32(c.gamma), f32(c.beta), num(c, 'eps')),
  gelu: (c) => wasm.gelu(f32(c.x)),
};

let ctx: GpuContext;
const webgpu: Backend = {
  gemm_f32: (c) => runGemmF32(ctx, f32(c.x), f32(c.w), opt(c.bias, f32) ?? null, num(c, 'm'), num(c, 'n'), num(c, 'k'), { gelu: !!c.gelu }),
  gemm_w8a8: async (c) => (await runGemmW8A8(ctx, w8a8(c))).y,
  gemm_w4a8: async (c) => (await runGemmW4A8(ctx, w4a8(c))).y,
  softmax: (c) => runSoftmax(ctx, f32(c.x), num(c, 'rows'), num(c, 'cols')),
  layernorm: (c) => runLayerNorm(ctx, f32(c.x), num(c, 'rows'), num(c, 'c'), f32(c.gamma), f32(c.beta), num(c, 'eps')),
  gelu: async (c) => {
    const x = f32(c.x);
    const op = createGelu(ctx, { n: x.length });
    const a = GpuBuffer.f32(ctx, x);
    const out = GpuBuffer.f32(ctx, x.length);
    try {
      await submitAndWait(ctx, (enc) => op.encode(enc, { a, out }));
      return await out.read();
    } finally {
      op.destroy();
      a.destroy();
      out.destroy();
    }
  },
};

beforeAll(async () => {
  const k = await loadCpuKernels();
  if (!isWasmKernels(k)) throw new Error(`WASM kernels unavailable: ${k.fallbackReason}`);
  wasm = k;
  ctx = await nodeGpuContext();
}, 60_000);
afterAll(() => ctx?.destroy());

describe('the case table', () => {
  it('covers every op every backend implements, and nothing else', () => {
    const ops = new Set(CASES.map((c) => c.op));
    for (const b of [tsRef, wasmBackend, webgpu]) expect(new Set(Object.keys(b))).toEqual(ops);
    expect(CASES.length).toBeGreaterThanOrEqual(14);
  });
});

for (const [name, backend] of [
  ['TypeScript reference', tsRef],
  ['WASM (CPU backend)', wasmBackend],
  ['WGSL (WebGPU)', webgpu],
] as const) {
  describe(name, () => {
    it.each(CASES.map((c) => [`${c.op}: ${c.name}`, c] as const))('%s', async (_label, c) => {
      const got = Array.from(await backend[c.op](c));
      expect(got).toHaveLength(c.expected.length);
      // f32 arithmetic against values worked out in decimals: 2e-6 relative, 1e-6 absolute
      got.forEach((v, i) =>
        expect(Math.abs(v - c.expected[i]), `${c.op} ${c.name} [${i}]: got ${v}, expected ${c.expected[i]}`).toBeLessThanOrEqual(
          1e-6 + 2e-6 * Math.abs(c.expected[i]),
        ),
      );
    });
  });
}
