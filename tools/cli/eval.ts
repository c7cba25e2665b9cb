/**
 * npm run eval -- [--backend auto|webgpu|cpu] [--set test|val|all] [--limit N] [--plan plan.json] [--cpu] [--threads N]
 * Accuracy per eval set and images per second, with agreement against PyTorch's predictions
 * (predictions.json) for the FP32 plan.
 */
import { ArgError, BACKEND_ARG, LIMIT_ARG, parseArgs, readPlanArg, THREADS_ARG } from './args';
import { createNodeEngine } from '../../src/engine/nodeEngine';
import { fp32Plan } from '../../src/engine/plan';
import { loadReferenceNode } from '../../src/engine/nodeLoad';
import type { BackendChoice, EvalSetName } from '../../src/engine/types';

const EVAL_ARGS = { backend: BACKEND_ARG, set: { oneOf: ['test', 'val', 'all'] }, limit: LIMIT_ARG, plan: 'string', cpu: 'boolean', threads: THREADS_ARG } as const;

async function main() {
  const args = parseArgs(process.argv.slice(2), EVAL_ARGS);
  if (args.cpu && args.backend !== undefined && args.backend !== 'cpu') throw new ArgError(`--cpu and --backend ${args.backend} contradict each other; give one`);
  if (args.threads) process.env.QP_CPU_THREADS = String(args.threads);
  const backend = (args.cpu ? 'cpu' : (args.backend ?? 'auto')) as BackendChoice;
  const sets: EvalSetName[] = args.set === 'test' ? ['test'] : args.set === 'val' ? ['val'] : ['test', 'val'];
  const plan = args.plan ? readPlanArg('plan', String(args.plan)) : fp32Plan();
  const { engine, dispose } = await createNodeEngine(backend, sets);
  console.log(`backend: ${engine.backend.info.label} — ${engine.backend.info.reason}`);
  const { predictions, metrics } = loadReferenceNode();
  try {
    for (const set of sets) {
      const count = engine.evalSet(set).count;
      const limit = Math.min(count, (args.limit as number | undefined) ?? count);
      let last = 0;
      const r = await engine.score({ plan, set, limit, keepPredictions: true }, (p) => {
        if (p.done - last >= 50 || p.done === p.total) {
          last = p.done;
          process.stderr.write(`\r  ${set}: ${p.done}/${p.total}`);
        }
      });
      process.stderr.write('\n');
      const ref = predictions[set] as number[];
      const agree = r.predictions!.filter((p, i) => p === ref[i]).length;
      const torchAcc = (metrics[set]?.accuracy ?? NaN) * 100;
      console.log(
        `${set}: accuracy ${(r.accuracy * 100).toFixed(2)}% on ${r.count} images · ${r.imagesPerSecond.toFixed(1)} images/s · ` +
          `agrees with PyTorch on ${((100 * agree) / r.count).toFixed(2)}% of predictions` +
          (plan.name === 'FP32' && r.count === count ? ` · PyTorch accuracy ${torchAcc.toFixed(2)}%` : ''),
      );
    }
  } finally {
    dispose();
  }
}

await main().catch((e) => {
  console.error(`eval: ${e.message}${e.fix ? `\nfix: ${e.fix}` : ''}`);
  process.exit(1);
});
