/**
 * The stage's re-score benchmark (issue 11): how long the CPU backend takes to prepare a stage
 * step's plan and score the live subset (100 test images, 1 thread), twice per plan — the first run
 * pays calibration / smoothing / weight packing, the second is what a re-visit costs (prepared plans
 * are cached). Prints a table and writes results/rescore.json; the machine's load average is recorded
 * beside the figures because everything here runs on shared cores.
 *   npm run bench:rescore -- [--images 100] [--reps 2]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type ArgSpec, parseArgs, LIMIT_ARG } from './args';
import { createNodeEngine } from '../../src/runtime/nodeEngine';
import * as P from '../../src/plan/presets';

const ARGS: Record<string, ArgSpec> = { images: LIMIT_ARG, reps: { int: [1, 10] }, out: 'string' };

async function main() {
  const args = parseArgs(process.argv.slice(2), ARGS);
  const images = (args.images as number | undefined) ?? 100;
  const reps = (args.reps as number | undefined) ?? 2;
  const out = (args.out as string | undefined) ?? 'results/rescore.json';
  const { engine, dispose } = await createNodeEngine('cpu', ['test']);
  const label = engine.backend.info.label;
  console.log(`backend: ${label}; ${images} test images; load average before: ${loadavg()[0].toFixed(2)}`);
  const plans = [
    ['FP32', P.fp32()],
    ['W8A8 per-token', P.w8a8PerToken()],
    ['SmoothQuant α=0.5 W8A8 (folded)', P.smoothQuant(0.5, 8)],
    ['LLM.int8() threshold 6', P.llmInt8(6)],
  ] as const;
  const rows: { plan: string; run: number; prepare_ms: number; score_ms: number; total_ms: number; accuracy: number; load: number }[] = [];
  try {
    for (const [name, plan] of plans)
      for (let run = 1; run <= reps; run++) {
        const t0 = performance.now();
        engine.prepare(plan);
        const t1 = performance.now();
        const r = await engine.score({ plan, set: 'test', offset: 0, limit: images });
        const t2 = performance.now();
        const row = {
          plan: name,
          run,
          prepare_ms: Math.round(t1 - t0),
          score_ms: Math.round(t2 - t1),
          total_ms: Math.round(t2 - t0),
          accuracy: r.accuracy,
          load: +loadavg()[0].toFixed(2),
        };
        rows.push(row);
        console.log(
          `${name.padEnd(34)} run ${run}: prepare ${String(row.prepare_ms).padStart(6)} ms, score ${String(row.score_ms).padStart(5)} ms, total ${String(row.total_ms).padStart(6)} ms, acc ${(r.accuracy * 100).toFixed(1)}% (n = ${r.count}), load ${row.load}`,
        );
      }
  } finally {
    dispose();
  }
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), backend: label, images, set: 'test', rows }, null, 1)}\n`);
  console.log(`wrote ${out}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
