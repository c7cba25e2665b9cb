/**
 * node tools/cli/gpu-env.mjs vite-node --config tools/cli/vite-node.config.ts tools/cli/rotationSites.ts -- [--images 16] [--offset 2500] [--seed 1] [--out results/formats/rotation_sites.json]
 *
 * Site by site, at the 18 to_qkv / fc1 / fc2 sites: the A operand the plan quantizes without the
 * rotation (LayerNorm output with γ, β; the GELU output at fc2) and with it (x̂·R: γ-free LayerNorm
 * output rotated; GELU output rotated) — kurtosis and max|x−μ|/σ — and the site's output SQNR
 * when only that site is INT4 per-tensor symmetric (A and W), without and with the rotation.
 * Mean over `images` val-report images with a 95% t-interval over images. CPU backend.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cliArgs } from './args';
import { createNodeEngine } from '../../src/runtime/nodeEngine';
import * as P from '../../src/plan/presets';
import { siteKindLabel, siteKindAt } from '../../src/plan/sites';

/** Student t 0.975 quantiles by degrees of freedom (n − 1) */
const T975: Record<number, number> = {
  1: 12.706,
  2: 4.303,
  3: 3.182,
  4: 2.776,
  5: 2.571,
  7: 2.365,
  9: 2.262,
  15: 2.131,
  19: 2.093,
  31: 2.04,
  63: 1.998,
};
function meanCi(v: number[]): { mean: number; lo: number; hi: number; n: number } {
  const n = v.length;
  const m = v.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, n - 1));
  const t = T975[n - 1] ?? 1.96 + 2.5 / (n - 1);
  return { mean: m, lo: m - (t * sd) / Math.sqrt(n), hi: m + (t * sd) / Math.sqrt(n), n };
}

async function main() {
  const a = cliArgs('rotation-sites', {
    images: { int: [2, 256] },
    offset: { int: [0, 4999] },
    seed: { int: [0, 2 ** 31] },
    out: 'string',
  });
  const images = (a.images as number | undefined) ?? 16;
  const offset = (a.offset as number | undefined) ?? 2500;
  const seed = (a.seed as number | undefined) ?? 1;
  const out = String(a.out ?? 'results/formats/rotation_sites.json');
  const { engine, dispose } = await createNodeEngine('cpu', ['val']);
  const rows = [];
  try {
    for (const site of P.ROTATABLE_SITES) {
      const int4 = P.sitesPlan('INT4 per-tensor at one site', [site], { a: P.op(4, 'tensor', true), b: P.op(4, 'tensor', true) });
      const rot = P.withRotation(int4, seed, [site]);
      const acc = {
        kb: [] as number[],
        ka: [] as number[],
        mb: [] as number[],
        ma: [] as number[],
        sb: [] as number[],
        sa: [] as number[],
      };
      for (let i = 0; i < images; i++) {
        const s0 = await engine.siteStats(int4, site, 'val', offset + i);
        const s1 = await engine.siteStats(rot, site, 'val', offset + i);
        acc.kb.push(s0.formats!.rotation!.before.kurtosis);
        acc.mb.push(s0.formats!.rotation!.before.maxOverSigma);
        acc.ka.push(s1.formats!.rotation!.after.kurtosis);
        acc.ma.push(s1.formats!.rotation!.after.maxOverSigma);
        acc.sb.push(s0.outputSqnrDb);
        acc.sa.push(s1.outputSqnrDb);
      }
      const r = {
        site,
        kind: siteKindLabel(siteKindAt(site)),
        block: Math.floor((site - 1) / 6),
        kurtosis: { before: meanCi(acc.kb), after: meanCi(acc.ka) },
        maxOverSigma: { before: meanCi(acc.mb), after: meanCi(acc.ma) },
        int4TensorOutputSqnrDb: { before: meanCi(acc.sb), after: meanCi(acc.sa) },
      };
      rows.push(r);
      const f = (c: { mean: number; lo: number; hi: number }, d = 1) => `${c.mean.toFixed(d)} [${c.lo.toFixed(d)}, ${c.hi.toFixed(d)}]`;
      console.log(
        `site ${String(site).padStart(2)} ${r.kind.padEnd(7)} kurtosis ${f(r.kurtosis.before)} → ${f(r.kurtosis.after)} · max/σ ${f(r.maxOverSigma.before)} → ${f(r.maxOverSigma.after)} · INT4 output SQNR ${f(r.int4TensorOutputSqnrDb.before)} → ${f(r.int4TensorOutputSqnrDb.after)} dB`,
      );
    }
  } finally {
    dispose();
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        what: 'per site: A as quantized without rotation (LayerNorm output with γ, β / GELU output) vs with it (γ-free LayerNorm output · R / GELU output · R); INT4 per-tensor symmetric at that site only (A and W), output SQNR vs the FP32 site output; mean over images with a 95% t-interval',
        images: { set: 'val', offset, count: images },
        seed,
        command: `vite-node tools/cli/rotationSites.ts -- ${process.argv.slice(2).join(' ')}`.trim(),
        rows,
      },
      null,
      1,
    ),
  );
  console.log(`wrote ${out}`);
}

await main().catch((e) => {
  console.error(`rotation-sites: ${e.message}`);
  process.exit(1);
});
