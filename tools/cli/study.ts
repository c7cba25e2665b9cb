/**
 * npm run study -- [--backend auto|webgpu|cpu] [--threads N] [--report val-report,test] [--limit N]
 *                  [--rows all|note004|granularity|calibration|smoothquant|outliers|gptq|<row keys>|scan,greedy,int4_share,int2_best6]
 *                  [--bands 3] [--out results] [--resume results/study.partial.json]
 *                  [--scan-cells val-report,test] [--greedy-report budgets|all]
 * Held-out selection (science.md §8): ranking, greedy order, best-6 and INT4-share k are chosen on
 * val [0, 2500) and reported on val [2500, 5000) and the test images. Writes <out>/study.json and
 * <out>/study.md; a full run (all 38 sites scanned, no --limit) also publishes study.json and
 * study-summary.json beside the model for the playground.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArgError, BACKEND_ARG, cliArgs, LIMIT_ARG, THREADS_ARG } from './args';
import { createNodeEngine } from '../../src/runtime/nodeEngine';
import { BEYOND_ROWS, CELL_NAMES, type CellName, runStudy, SPLIT, type StudyResult, studyMarkdown } from '../../src/engine/study';
import { modelDir } from '../../src/data/nodeReader';
import type { BackendChoice, EvalSetName } from '../../src/plan/types';

const ROW_WORDS = new Set([
  'all',
  'beyond',
  'note004',
  'fp32',
  'int4_all',
  'int2_all',
  'int8_all',
  'scan',
  'greedy',
  'int4_share',
  'int2_best6',
  ...BEYOND_ROWS.flatMap((r) => [r.key, r.group]),
]);

async function main() {
  const a = cliArgs('study', {
    backend: BACKEND_ARG,
    threads: THREADS_ARG,
    report: 'string',
    limit: LIMIT_ARG,
    rows: 'string',
    bands: { int: [0, 20] },
    out: 'string',
    resume: 'string',
    'scan-cells': 'string',
    'greedy-report': { oneOf: ['budgets', 'all'] },
  });
  if (a.threads) process.env.QP_CPU_THREADS = String(a.threads); // CPU backend: a pool of N workers
  const report = (a.report ? String(a.report).split(',') : ['val-report', 'test']) as CellName[];
  for (const c of report)
    if (!CELL_NAMES.includes(c) || c === 'val-sel')
      throw new ArgError(`--report: '${c}' is not one of val-report, test (val-sel is where choices are made, never reported)`);
  const rows = a.rows ? String(a.rows).split(',') : undefined;
  for (const r of rows ?? [])
    if (!ROW_WORDS.has(r)) throw new ArgError(`--rows: '${r}' is not a row, a group or a part (known: ${[...ROW_WORDS].join(', ')})`);
  const out = String(a.out ?? 'results');
  const scanCells = a['scan-cells'] ? (String(a['scan-cells']).split(',') as CellName[]) : undefined;
  for (const c of scanCells ?? [])
    if (!CELL_NAMES.includes(c) || c === 'val-sel') throw new ArgError(`--scan-cells: '${c}' is not one of val-report, test`);
  let resume: StudyResult | undefined;
  if (a.resume) {
    try {
      resume = JSON.parse(readFileSync(String(a.resume), 'utf8'));
    } catch (e) {
      throw new ArgError(`--resume ${a.resume}: ${(e as Error).message}`);
    }
    if (resume?.version !== 2 || JSON.stringify(resume.split) !== JSON.stringify(SPLIT))
      throw new ArgError(`--resume ${a.resume}: not a study of this split (version 2)`);
  }
  const t0 = performance.now();
  const sets: EvalSetName[] = ['val', 'test'];
  const { engine, dispose } = await createNodeEngine((a.backend ?? 'auto') as BackendChoice, sets);
  const info = engine.backend.info;
  console.log(`backend: ${info.label} — ${info.reason}`);
  let result: StudyResult;
  try {
    mkdirSync(out, { recursive: true });
    // a checkpoint after every row: a long run that is stopped keeps what it measured
    const partial = (r: object) => writeFileSync(join(out, 'study.partial.json'), JSON.stringify({ engine: info, partial: true, ...r }));
    result = await runStudy(engine, {
      report,
      limit: a.limit as number | undefined,
      rows,
      bandSeeds: (a.bands as number | undefined) ?? 0,
      log: (s) => console.log(s),
      onPartial: partial,
      resume,
      scanCells,
      greedyReport: a['greedy-report'] as 'budgets' | 'all' | undefined,
    });
    result.adapter = info.adapter ? `${info.adapter.vendor} ${info.adapter.architecture} ${info.adapter.description}`.trim() : undefined;
  } finally {
    dispose();
  }
  const wall = (performance.now() - t0) / 1000;
  mkdirSync(out, { recursive: true });
  const date = new Date().toISOString();
  const command = `npm run study -- ${process.argv.slice(2).join(' ')}`.trim();
  const json = { engine: info, date, command, ...result, wall_s: { ...result.wall_s, total: wall } };
  writeFileSync(join(out, 'study.json'), JSON.stringify(json));
  writeFileSync(join(out, 'study.md'), studyMarkdown(result, { engine: `${info.label} (${info.reason})`, date, command, wall }));
  if (result.scan?.sites.length === 38 && result.best_sites && a.limit === undefined) {
    writeFileSync(
      join(modelDir(), 'study-summary.json'),
      JSON.stringify({ chosen_on: 'val-sel', split: result.split, best_sites: result.best_sites, date }, null, 2),
    );
    // the playground's Study view and stage read the full table beside the model
    writeFileSync(join(modelDir(), 'study.json'), JSON.stringify(json));
  }
  console.log(`wrote ${join(out, 'study.json')} and ${join(out, 'study.md')} in ${wall.toFixed(1)} s`);
}

await main().catch((e) => {
  console.error(`study: ${e.message}${e.fix ? `\nfix: ${e.fix}` : ''}`);
  process.exit(e instanceof ArgError ? 2 : 1);
});
