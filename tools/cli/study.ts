/**
 * npm run study -- [--backend auto|webgpu|cpu] [--set test|val|both] [--limit N]
 *                  [--rows fp32,int4_all,sensitivity_scan,greedy,int4_share,int2_best6,int2_all,beyond,…]
 *                  [--sites 0,1,2] [--bands 3] [--out results] [--threads N]
 * Writes <out>/study.json and <out>/study.md; a full scan also updates
 * public/models/vit-cifar10/study-summary.json (best sites for the UI's INT2-best-6 preset).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from './args';
import { createNodeEngine } from '../../src/engine/nodeEngine';
import { runStudy, studyMarkdown, type StudyResult } from '../../src/engine/study';
import { modelDir } from '../../src/data/nodeReader';
import type { BackendChoice, EvalSetName } from '../../src/engine/types';

async function main() {
  const a = parseArgs(process.argv.slice(2), { backend: 'string', set: 'string', limit: 'number', rows: 'string', sites: 'string', bands: 'number', out: 'string', threads: 'number' });
  if (a.threads) process.env.QP_CPU_THREADS = String(a.threads); // CPU backend: a pool of N workers
  const backend = (a.backend ?? 'auto') as BackendChoice;
  const sets: EvalSetName[] = a.set === 'val' ? ['val'] : a.set === 'both' ? ['test', 'val'] : ['test'];
  const rows = a.rows ? String(a.rows).split(',') : undefined;
  const sites = a.sites ? String(a.sites).split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 37) throw new Error(`--sites: '${s}' is not a site number 0..37`);
    return n;
  }) : undefined;
  const out = String(a.out ?? 'results');
  const t0 = performance.now();
  const { engine, dispose } = await createNodeEngine(backend, sets);
  const info = engine.backend.info;
  console.log(`backend: ${info.label} — ${info.reason}`);
  const results: Record<string, StudyResult> = {};
  try {
    for (const set of sets) {
      const r = await runStudy(engine, {
        set,
        limit: (a.limit as number | undefined) ?? Infinity,
        rows,
        sites,
        bandSeeds: (a.bands as number | undefined) ?? 0,
        log: (s) => console.log(s),
      });
      r.adapter = info.adapter ? `${info.adapter.vendor} ${info.adapter.architecture} ${info.adapter.description}`.trim() : undefined;
      results[set] = r;
    }
  } finally {
    dispose();
  }
  const wall = (performance.now() - t0) / 1000;
  mkdirSync(out, { recursive: true });
  const date = new Date().toISOString();
  const json = { engine: info, date, wall_s: wall, command: `npm run study -- ${process.argv.slice(2).join(' ')}`.trim(), ...results };
  writeFileSync(join(out, 'study.json'), JSON.stringify(json, null, 2));
  const md = Object.values(results)
    .map((r) => studyMarkdown(r, { engine: `${info.label} (${info.reason})`, adapter: r.adapter, date }))
    .join('\n');
  writeFileSync(join(out, 'study.md'), md + `\nTotal wall time: ${wall.toFixed(1)} s. Command: \`${json.command}\`\n`);
  const full = Object.values(results).find((r) => r.sensitivity_scan?.length === 38);
  if (full?.best_sites) {
    writeFileSync(join(modelDir(), 'study-summary.json'), JSON.stringify({ set: full.set, images: full.images, best_sites: full.best_sites, date }, null, 2));
    // the playground's Study view shows the full table when it finds it beside the model
    writeFileSync(join(modelDir(), 'study.json'), JSON.stringify(json, null, 2));
  }
  console.log(`wrote ${join(out, 'study.json')} and ${join(out, 'study.md')} in ${wall.toFixed(1)} s`);
}

await main().catch((e) => {
  console.error(`study: ${e.message}${e.fix ? `\nfix: ${e.fix}` : ''}`);
  process.exit(1);
});
