/**
 * Per-image predictions of the TS engine (CPU backend by default) for plan files, to compare with
 * tools/ref/quant_ref.py --predictions:
 *   node tools/cli/gpu-env.mjs npx vite-node tools/ref/ts_preds.ts -- --out /tmp/ts.json --limit 200 [--set val --offset 2500] --plans a.json,b.json [--model DIR]
 *   /usr/bin/python3 tools/ref/compare_preds.py /tmp/ts.json /tmp/py.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from '../cli/args';
import { createNodeEngine } from '../../src/runtime/nodeEngine';
import { Engine } from '../../src/engine/engine';
import { loadDataNode } from '../../src/runtime/nodeLoad';
import { createCpuBackend } from '../../src/runtime/cpuBackendFactory';
import { nodeReader } from '../../src/data/nodeReader';
import { loadVit } from '../../src/model/vitWeights';
import { validatePlan } from '../../src/plan/plan';
import type { BackendChoice } from '../../src/plan/types';

async function main() {
  const args = parseArgs(process.argv.slice(2), {
    plans: 'string',
    out: 'string',
    limit: 'number',
    offset: 'number',
    set: 'string',
    backend: 'string',
    model: 'string',
  });
  const set = (args.set as 'test' | 'val' | undefined) ?? 'test';
  // --model DIR: a snapshot of public/models/vit-cifar10 (training re-exports it every epoch), CPU backend
  const { engine, dispose } = args.model
    ? await (async () => {
        const weights = await loadVit(nodeReader(String(args.model)));
        const backend = await createCpuBackend(weights, 'ts_preds --model');
        return { engine: new Engine(weights, await loadDataNode([set, 'calib']), backend), dispose: () => backend.dispose() };
      })()
    : await createNodeEngine(((args.backend as string) ?? 'cpu') as BackendChoice, [set]);
  const results = [];
  try {
    for (const path of String(args.plans).split(',')) {
      const plan = validatePlan(JSON.parse(readFileSync(path, 'utf8')));
      const t0 = Date.now();
      const offset = (args.offset as number | undefined) ?? 0;
      const r = await engine.score({ plan, set, offset, limit: (args.limit as number) ?? 1000, keepPredictions: true });
      results.push({ plan: path, name: plan.name, set, offset, count: r.count, accuracy: r.accuracy, predictions: r.predictions });
      console.log(`${plan.name}: ${(100 * r.accuracy).toFixed(2)}% on ${r.count} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    dispose();
  }
  writeFileSync(String(args.out), JSON.stringify({ backend: engine.backend.info.label, results }));
}
await main().catch((e) => {
  console.error(e);
  process.exit(1);
});
