/**
 * Bare test page for e2e/kernels.spec.ts: runs the kernels in the browser (Chromium's WebGPU) against
 * the CPU references and publishes the verdicts as window.__kernelChecks (and in #status).
 */
import { browserGpuContext, describeAdapter } from '../../src/gpu/device';
import { runGemmF32 } from '../../src/kernels/gemmF32';
import { gemmF32Ref } from '../../src/kernels/gemmF32.ref';
import { runGemmW8A8 } from '../../src/kernels/gemmW8A8';
import { gemmW8A8AccRef } from '../../src/kernels/gemmW8A8.ref';
import { runGemmW4A8 } from '../../src/kernels/gemmW4A8';
import { gemmW4A8AccRef } from '../../src/kernels/gemmW4A8.ref';
import { runQuantizeRows } from '../../src/kernels/quantizeRows';
import { quantizeMatrix } from '../../src/quant/quantizeMatrix';
import { absDot, firstMismatch, firstOutOfTol, randF32, randInt, rng } from '../../src/kernels/testUtil';

export interface KernelCheck {
  name: string;
  ok: boolean;
  detail: string;
}

declare global {
  interface Window {
    __kernelChecks?: { adapter: string; packedDot4: boolean; checks: KernelCheck[]; error?: string };
  }
}

async function main() {
  const status = document.getElementById('status')!;
  const checks: KernelCheck[] = [];
  const ctx = await browserGpuContext();
  const r = rng(2024);
  try {
    // W8A8: asymmetric per-token × per-channel, odd shapes, both int8 variants — bit-exact accumulators
    const [m, n, k] = [37, 29, 70];
    const o = {
      m,
      n,
      k,
      xq: randInt(r, m * k, -128, 127),
      wq: randInt(r, n * k, -128, 127),
      sx: randF32(r, m, 0.001, 0.1),
      sw: randF32(r, n, 0.001, 0.1),
      zx: randInt(r, m, -128, 127),
      zw: randInt(r, n, -128, 127),
    };
    const accRef = gemmW8A8AccRef(o);
    for (const variant of ctx.features.packedDot4 ? (['dot4I8Packed', 'unpacked'] as const) : (['unpacked'] as const)) {
      const got = await runGemmW8A8(ctx, o, { output: 'acc', variant });
      const bad = firstMismatch(got.y, accRef);
      checks.push({ name: `w8a8-${variant}`, ok: bad === -1, detail: bad === -1 ? `${m}×${n}×${k} bit-exact` : `mismatch at ${bad}` });
    }
    // W4A8 g=32 — bit-exact per-group accumulators
    const o4 = {
      m: 9,
      n: 11,
      k: 96,
      xq: randInt(r, 9 * 96, -128, 127),
      wq: randInt(r, 11 * 96, -8, 7),
      sx: randF32(r, 9),
      sw: randF32(r, 11 * 3),
      zx: randInt(r, 9, -128, 127),
      groupSize: 32,
    };
    const g4 = await runGemmW4A8(ctx, o4, { output: 'acc' });
    const bad4 = firstMismatch(g4.y, gemmW4A8AccRef(o4));
    checks.push({ name: 'w4a8', ok: bad4 === -1, detail: bad4 === -1 ? 'g=32 bit-exact' : `mismatch at ${bad4}` });
    // F32 within K·2⁻²²·Σ|x·w|
    const [fm, fn, fk] = [33, 47, 65];
    const x = randF32(r, fm * fk),
      w = randF32(r, fn * fk),
      b = randF32(r, fn);
    const y = await runGemmF32(ctx, x, w, b, fm, fn, fk);
    const ad = absDot(x, w, fm, fn, fk);
    const badF = firstOutOfTol(y, gemmF32Ref(x, w, b, fm, fn, fk), (i) => 1e-6 + fk * 2.4e-7 * ad[i]);
    checks.push({
      name: 'f32',
      ok: badF === -1,
      detail: badF === -1 ? `${fm}×${fn}×${fk} within tolerance` : `out of tolerance at ${badF}`,
    });
    // quantize_rows INT8 asymmetric per-token — integers and scales bit-exact vs quantizeMatrix
    const xr = randF32(r, 13 * 50, -3, 7);
    const q = await runQuantizeRows(ctx, xr, 13, 50, { bits: 8, symmetric: false, granularity: 'row' });
    const ref = quantizeMatrix(xr, 13, 50, { bits: 8, symmetric: false, granularity: 'row' });
    const badQ = Math.max(
      firstMismatch(
        q.q,
        ref.q.map((v) => v - 128),
      ),
      firstMismatch(q.scales, ref.scales),
    );
    checks.push({ name: 'quantize_rows', ok: badQ === -1, detail: badQ === -1 ? 'INT8 asym per-token bit-exact' : `mismatch at ${badQ}` });
    window.__kernelChecks = { adapter: describeAdapter(ctx.adapterInfo), packedDot4: ctx.features.packedDot4, checks };
  } catch (e) {
    window.__kernelChecks = { adapter: describeAdapter(ctx.adapterInfo), packedDot4: ctx.features.packedDot4, checks, error: String(e) };
  } finally {
    ctx.destroy();
  }
  status.textContent = JSON.stringify(window.__kernelChecks, null, 2);
}

main().catch((e) => {
  window.__kernelChecks = { adapter: '', packedDot4: false, checks: [], error: String(e) };
  document.getElementById('status')!.textContent = String(e);
});
