/**
 * npm run eval -- [--backend auto|webgpu|cpu] [--set test|val|all] [--limit N] [--plan plan.json] [--cpu] [--threads N]
 * Accuracy per eval set (95% Wilson interval, n) and images per second, with agreement against
 * PyTorch's predictions (predictions.json); a quantized plan also gets its paired Δ vs FP32 on the
 * same images (exact McNemar interval, science.md §8).
 */
import { ArgError, BACKEND_ARG, LIMIT_ARG, parseArgs, readPlanArg, THREADS_ARG } from './args';
import { createNodeEngine } from '../../src/runtime/nodeEngine';
import { fp32Plan } from '../../src/plan/plan';
import { correctness, formatAccuracy, formatDelta, pairedDelta, wilson } from '../../src/quant/intervals';
import { loadReferenceNode } from '../../src/runtime/nodeLoad';
import type { BackendChoice, EvalSetName } from '../../src/plan/types';

const EVAL_ARGS = {
  backend: BACKEND_ARG,
  set: { oneOf: ['test', 'val', 'all'] },
  limit: LIMIT_ARG,
  plan: 'string',
  cpu: 'boolean',
  threads: THREADS_ARG,
} as const;

async function main() {
  const args = parseArgs(process.argv.slice(2), EVAL_ARGS);
  if (args.cpu && args.backend !== undefined && args.backend !== 'cpu')
    throw new ArgError(`--cpu and --backend ${args.backend} contradict each other; give one`);
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
      const isFp32 = plan.sites.every((x) => x.a.bits === 32 && x.b.bits === 32);
      let delta = '';
      if (!isFp32) {
        const fp = await engine.score({ plan: fp32Plan(), set, limit, keepPredictions: true });
        delta = ` · Δ vs FP32 ${formatDelta(pairedDelta(correctness(fp.predictions!, fp.labels!), correctness(r.predictions!, r.labels!)), 2)} (paired, exact McNemar)`;
      }
      console.log(
        `${set}: accuracy ${formatAccuracy(wilson(r.correct, r.count), 2)}${delta} · ${r.imagesPerSecond.toFixed(1)} images/s · ` +
          (isFp32
            ? `agrees with PyTorch's FP32 on ${((100 * agree) / r.count).toFixed(2)}% of predictions`
            : `differs from PyTorch's FP32 on ${((100 * (r.count - agree)) / r.count).toFixed(2)}% of predictions`) +
          (isFp32 && r.count === count ? ` · PyTorch accuracy ${torchAcc.toFixed(2)}%` : ''),
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
