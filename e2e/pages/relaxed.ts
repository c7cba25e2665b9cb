/**
 * Test page for e2e/relaxedSimd.spec.ts: Node 20 cannot compile src/cpu/generated/kernels-relaxed.wasm,
 * so its checks run here, in Chromium, where the app loads that build. The loader's choice must be
 * the relaxed build; its integer kernels must equal the SIMD128 build and the references bit for
 * bit, and its FMA GEMM must stay within float32 summation error of both. Verdicts go to
 * window.__relaxedChecks.
 */
import { type CpuKernels, isWasmKernels, kernelsFromModule, loadKernelModule } from '../../src/cpu/cpuKernels';
import { gemmF32Ref } from '../../src/kernels/gemmF32.ref';
import { gemmW8A8AccRef, gemmW8A8Ref } from '../../src/kernels/gemmW8A8.ref';
import { gemmW4A8AccRef, gemmW4A8Ref } from '../../src/kernels/gemmW4A8.ref';
import { quantizeMatrix } from '../../src/quant/quantizeMatrix';
import { absDot, firstMismatch, firstOutOfTol, randF32, randInt, rng } from '../../src/kernels/testUtil';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

declare global {
  interface Window {
    __relaxedChecks?: { features: string; checks: Check[]; error?: string };
  }
}

async function main() {
  const checks: Check[] = [];
  const exact = (name: string, a: ArrayLike<number>, b: ArrayLike<number>) => {
    const i = firstMismatch(a, b);
    checks.push({ name, ok: i < 0, detail: i < 0 ? `${a.length} values equal` : `first mismatch at ${i}: ${a[i]} vs ${b[i]}` });
  };
  // the loader as the app calls it: relaxed SIMD first
  const chosen = await loadKernelModule();
  const simd128 = await loadKernelModule(async () =>
    (await fetch(new URL('../../src/cpu/generated/kernels.wasm', import.meta.url))).arrayBuffer(),
  );
  const relaxed: CpuKernels = kernelsFromModule(chosen);
  const plain: CpuKernels = kernelsFromModule(simd128);
  // the integer GEMMs' two dot routes, pinned (the app's probes pick per machine); fresh module
  // code, so the first calls run in the engine's baseline tier
  const dot16 = kernelsFromModule(chosen);
  const dot32 = kernelsFromModule(chosen);
  if (!isWasmKernels(dot16) || !isWasmKernels(dot32)) throw new Error('wasm kernels needed');
  dot16.forceDot('int16');
  dot32.forceDot('int32');
  const routes = [
    ['int16', dot16],
    ['int32', dot32],
  ] as const;
  checks.push({
    name: 'loader picks relaxed',
    ok: chosen.features === 'simd128+relaxed' && relaxed.wasmFeatures === 'simd128+relaxed',
    detail: `features ${chosen.features}`,
  });
  checks.push({ name: 'baseline is SIMD128', ok: simd128.features === 'simd128', detail: `features ${simd128.features}` });

  const r = rng(7);
  for (const [m, n, k] of [
    [1, 1, 1],
    [5, 3, 7],
    [17, 10, 33],
    [65, 384, 128],
    [65, 128, 256],
  ] as [number, number, number][]) {
    const shape = `${m}×${n}×${k}`;
    // W8A8, asymmetric per-row: integer accumulators and float epilogue bit-exact
    const o8 = {
      m,
      n,
      k,
      xq: randInt(r, m * k, -128, 127),
      wq: randInt(r, n * k, -128, 127),
      sx: randF32(r, m, 1e-3, 0.1),
      sw: randF32(r, n, 1e-3, 0.1),
      zx: randInt(r, m, -128, 127),
      zw: randInt(r, n, -128, 127),
      bias: randF32(r, n),
    };
    exact(`w8a8 acc ${shape} relaxed = reference`, relaxed.gemmW8A8Acc(o8), gemmW8A8AccRef(o8));
    exact(`w8a8 ${shape} relaxed = SIMD128`, relaxed.gemmW8A8(o8), plain.gemmW8A8(o8));
    exact(`w8a8 ${shape} relaxed = reference`, relaxed.gemmW8A8(o8), gemmW8A8Ref(o8));
    for (const [route, kk] of routes) {
      exact(`w8a8 acc ${shape} ${route} route = reference`, kk.gemmW8A8Acc(o8), gemmW8A8AccRef(o8));
      exact(`w8a8 ${shape} ${route} route = reference`, kk.gemmW8A8(o8), gemmW8A8Ref(o8));
    }
    // W4A8, per-group 8 (or per row when K < 8)
    const gs = k >= 8 ? 8 : k;
    const o4 = {
      m,
      n,
      k,
      groupSize: gs,
      xq: randInt(r, m * k, -128, 127),
      wq: randInt(r, n * k, -7, 7),
      sx: randF32(r, m, 1e-3, 0.1),
      zx: randInt(r, m, -128, 127),
      sw: randF32(r, n * Math.ceil(k / gs), 1e-3, 0.1),
      bias: randF32(r, n),
    };
    exact(`w4a8 acc ${shape} relaxed = reference`, relaxed.gemmW4A8Acc(o4), gemmW4A8AccRef(o4));
    exact(`w4a8 ${shape} relaxed = reference`, relaxed.gemmW4A8(o4), gemmW4A8Ref(o4));
    for (const [route, kk] of routes) {
      exact(`w4a8 acc ${shape} ${route} dot = reference`, kk.gemmW4A8Acc(o4), gemmW4A8AccRef(o4));
      exact(`w4a8 ${shape} ${route} dot = reference`, kk.gemmW4A8(o4), gemmW4A8Ref(o4));
    }
    // quantizer: storage integers and scales bit-exact
    const x = randF32(r, m * k, -3, 3);
    const spec = { bits: 4 as const, symmetric: false, granularity: 'row' as const };
    const qr = relaxed.quantize(x, m, k, spec);
    const qt = quantizeMatrix(x, m, k, spec);
    exact(`quantize ${shape} q relaxed = reference`, qr.q, qt.q);
    exact(`quantize ${shape} scales relaxed = reference`, qr.scales, qt.scales);
    // FP32 GEMM with FMA: within float32 summation error of the reference and of SIMD128
    const w = randF32(r, n * k);
    const bias = randF32(r, n);
    const yr = relaxed.gemmF32(x, w, bias, m, n, k);
    const scale = absDot(x, w, m, n, k);
    const tol = (i: number) => 1e-6 + 4 * k * 1.2e-7 * (scale[i] + Math.abs(bias[i % n]));
    for (const [name, other] of [
      ['reference', gemmF32Ref(x, w, bias, m, n, k)],
      ['SIMD128', plain.gemmF32(x, w, bias, m, n, k)],
    ] as const) {
      const i = firstOutOfTol(yr, other, tol);
      checks.push({
        name: `f32 ${shape} relaxed ≈ ${name}`,
        ok: i < 0,
        detail: i < 0 ? 'within float32 summation error' : `at ${i}: ${yr[i]} vs ${other[i]}`,
      });
    }
  }
  return { features: chosen.features, checks };
}

main().then(
  (res) => {
    window.__relaxedChecks = res;
    document.getElementById('status')!.textContent = JSON.stringify(res, null, 1);
  },
  (e: Error) => {
    window.__relaxedChecks = { features: '?', checks: [], error: `${e.message}\n${e.stack}` };
    document.getElementById('status')!.textContent = e.message;
  },
);
