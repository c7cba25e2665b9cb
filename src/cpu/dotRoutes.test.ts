/**
 * The integer GEMMs' int32 dot routes (asm/kernels.ts: gemm_w4a8_i8 with FLAG_DOT32, gemm_w8a8_dot)
 * against the references and against the int16 routes, kernel by kernel and over whole plans.
 * Runs with V8's optimizing tier only (vitest.config.ts, project 'turbofan': node --no-liftoff):
 * Node 20's baseline compiler computes i32x4.relaxed_dot_i8x16_i7x16_add_s wrongly, which the
 * route probes detect and refuse (the last test here; e2e/pages/relaxed.ts checks both routes in
 * Chromium, baseline tier included).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gemmW8A8AccRef, gemmW8A8Ref, type W8A8Operands } from '../kernels/gemmW8A8.ref';
import { gemmW4A8AccRef, gemmW4A8Ref, type W4A8Operands } from '../kernels/gemmW4A8.ref';
import { randF32, randInt, rng } from '../kernels/testUtil';
import { loadDataNode, loadWeightsNode } from '../runtime/nodeLoad';
import { type SiteScheme, uniformPlan } from '../plan/plan';
import { preparePlan } from '../plan/siteQuant';
import { IMAGE_BYTES } from '../data/cifar';
import { siteLinears, VitReference } from '../forward/vitRef';
import { isWasmKernels, loadCpuKernels, timeRoutes, type WasmCpuKernelsT } from './cpuKernels';
import { VitCpu } from './vitCpu';

async function kernels(route: 'int16' | 'int32'): Promise<WasmCpuKernelsT> {
  const k = await loadCpuKernels();
  if (!isWasmKernels(k) || k.wasmFeatures === 'simd128')
    throw new Error(`the relaxed-SIMD wasm build must load: ${k.fallbackReason ?? k.relaxedUnavailable}`);
  k.forceDot(route);
  return k;
}

let k32: WasmCpuKernelsT;
let k16: WasmCpuKernelsT;
beforeAll(async () => {
  k32 = await kernels('int32');
  k16 = await kernels('int16');
});

describe('int32 dot routes, optimizing tier (node --no-liftoff)', () => {
  it('runs with the baseline compiler off', () => {
    expect(process.execArgv).toContain('--no-liftoff');
    expect(k32.w8a8Dot().chosen).toBe('int32');
    expect(k32.w4a8Dot().chosen).toBe('int32');
  });

  const SHAPES: [number, number, number][] = [
    [1, 1, 1],
    [5, 3, 7],
    [7, 9, 13],
    [17, 10, 33],
    [65, 13, 32],
    [9, 31, 130],
    [130, 384, 128],
    [67, 20, 256],
  ];
  it('W8A8 (split weights): accumulators and outputs bit-exact, every zero-point and scale layout', () => {
    const r = rng(21);
    for (const [m, n, k] of SHAPES)
      for (const mode of ['sym-tensor', 'asym-row', 'asym-tensor-x-row-w'] as const) {
        const o: W8A8Operands = {
          m,
          n,
          k,
          xq: randInt(r, m * k, -128, 127),
          wq: randInt(r, n * k, -128, 127),
          sx: randF32(r, mode === 'asym-row' ? m : 1, 1e-3, 0.1),
          sw: randF32(r, mode === 'sym-tensor' ? 1 : n, 1e-3, 0.1),
          bias: mode === 'sym-tensor' ? null : randF32(r, n),
        };
        if (mode !== 'sym-tensor') {
          o.zx = randInt(r, mode === 'asym-row' ? m : 1, -128, 127);
          o.zw = randInt(r, n, -128, 127);
        }
        expect(k32.gemmW8A8Acc(o), `${m}×${n}×${k} ${mode}`).toEqual(gemmW8A8AccRef(o));
        expect(k32.gemmW8A8(o), `${m}×${n}×${k} ${mode}`).toEqual(gemmW8A8Ref(o));
        // the fused GELU epilogue is the int16 route's code: same bits
        expect(k32.gemmW8A8(o, { gelu: true }), `${m}×${n}×${k} ${mode} gelu`).toEqual(k16.gemmW8A8(o, { gelu: true }));
      }
  });
  it('W8A8 (split weights) at the extremes: every weight −128 or 127, x = −128, |acc| ≥ 2^24', () => {
    const r = rng(22);
    const [m, n, k] = [5, 9, 700];
    for (const w of [-128, 127]) {
      const o: W8A8Operands = {
        m,
        n,
        k,
        xq: new Int32Array(m * k).fill(-128),
        wq: new Int32Array(n * k).fill(w),
        zx: new Int32Array(m).fill(127),
        zw: randInt(r, n, -128, 127),
        sx: randF32(r, m, 1e-5, 1e-3),
        sw: randF32(r, n, 1e-5, 1e-3),
        bias: randF32(r, n),
      };
      const acc = gemmW8A8AccRef(o);
      expect(Math.max(...Array.from(acc, Math.abs))).toBeGreaterThan(2 ** 24);
      expect(k32.gemmW8A8Acc(o)).toEqual(acc);
      expect(k32.gemmW8A8(o)).toEqual(gemmW8A8Ref(o));
    }
  });
  it('W4A8 (int32 dot): per-group accumulators and outputs bit-exact', () => {
    const r = rng(23);
    for (const [m, n, k] of SHAPES)
      for (const groupSize of m * n * k > 50000 ? [32, k] : [1, 3, 8, 32, k, k + 5]) {
        const groups = Math.ceil(k / groupSize);
        const o: W4A8Operands = {
          m,
          n,
          k,
          groupSize,
          xq: randInt(r, m * k, -128, 127),
          wq: randInt(r, n * k, -8, 7),
          sx: randF32(r, m, 0, 0.1),
          zx: randInt(r, m, -128, 127),
          sw: randF32(r, n * groups, 0, 0.1),
          bias: randF32(r, n),
        };
        expect(k32.gemmW4A8Acc(o), `${m}×${n}×${k} g${groupSize}`).toEqual(gemmW4A8AccRef(o));
        expect(k32.gemmW4A8(o), `${m}×${n}×${k} g${groupSize}`).toEqual(gemmW4A8Ref(o));
      }
  });

  it('whole plans: the same logits on the int32 and the int16 routes (W8A8 per channel and per tensor, W4A8 g=32)', async () => {
    const [w, data] = await Promise.all([loadWeightsNode(), loadDataNode(['test'])]);
    const images = 4;
    const pixels = data.test.pixels.subarray(0, images * IMAGE_BYTES);
    const ref = new VitReference(w);
    const [v16, v32] = [new VitCpu(w, await kernels('int16')), new VitCpu(w, await kernels('int32'))];
    const a = (bits: number, granularity: string, symmetric: boolean, groupSize?: number) => ({
      bits,
      granularity,
      symmetric,
      range: 'dynamic',
      groupSize,
    });
    for (const scheme of [
      { a: a(8, 'token', false), b: a(8, 'channel', true) },
      { a: a(8, 'tensor', false), b: a(8, 'tensor', false) },
      { a: a(8, 'token', false), b: a(4, 'group', true, 32) },
    ] as SiteScheme[]) {
      const prepared = preparePlan(uniformPlan(scheme), ref.sites, siteLinears(w));
      expect(v32.forward(prepared, pixels, images)).toEqual(v16.forward(prepared, pixels, images));
    }
  });
});

describe('the route probes refuse a route that disagrees', () => {
  // fake routes: the int32 one wrong on its first call (as under Node 20's baseline compiler), or
  // wrong after tier-up, or right; times from a fake clock are not needed: a wrong route loses anyway
  const probe = (wrongAt: 'first' | 'later' | 'never') => {
    let calls32 = 0;
    const out: [number, number] = [0, 0];
    return timeRoutes(
      (route, raw) => {
        if (route === 1) calls32++;
        out[route] = raw && route === 1 && (wrongAt === 'first' ? calls32 === 1 : wrongAt === 'later' && calls32 > 1) ? 1 : 0;
      },
      () => out[0] === out[1],
      2,
      1,
      'fake',
    );
  };
  it('wrong on the first (unoptimized) call, or later: int16, saying why', () => {
    expect(probe('first')).toMatchObject({ chosen: 'int16', reason: expect.stringMatching(/different results .*first, unoptimized code/) });
    expect(probe('later')).toMatchObject({ chosen: 'int16', reason: expect.stringMatching(/different results .*optimized code/) });
    expect(probe('never').reason).toMatch(/measured \d+\.\d\d× the int16 route/);
  });
});
