/**
 * Writes the study's preset plans (src/plan/presets.ts) as JSON files for tools/ref/quant_ref.py:
 *   npx vite-node tools/ref/make_plans.ts -- /tmp/plans
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REF_PLANS } from './refPlans';
import { validatePlan } from '../../src/plan/plan';

const out = process.argv.slice(2).filter((a) => a !== '--')[0];
if (!out) throw new Error('usage: npx vite-node tools/ref/make_plans.ts -- OUT_DIR');
mkdirSync(out, { recursive: true });

// a preset that plan.ts no longer accepts is reported and skipped, so the other plans still get written
let written = 0;
for (const [k, p] of Object.entries(REF_PLANS)) {
  try {
    writeFileSync(join(out, `${k}.json`), JSON.stringify(validatePlan(p()), null, 1));
    written++;
  } catch (e) {
    console.error(`skipped ${k}: ${(e as Error).message}`);
  }
}
console.log(`wrote ${written} of ${Object.keys(REF_PLANS).length} plans to ${out}`);
if (written === 0) process.exit(1);
