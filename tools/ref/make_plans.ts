/**
 * Writes the study's preset plans (src/engine/presets.ts) as JSON files for tools/ref/quant_ref.py:
 *   npx vite-node tools/ref/make_plans.ts -- /tmp/plans
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REF_PLANS } from './refPlans';
import { validatePlan } from '../../src/engine/plan';

const out = process.argv.slice(2).filter((a) => a !== '--')[0];
if (!out) throw new Error('usage: npx vite-node tools/ref/make_plans.ts -- OUT_DIR');
mkdirSync(out, { recursive: true });

for (const [k, p] of Object.entries(REF_PLANS)) writeFileSync(join(out, `${k}.json`), JSON.stringify(validatePlan(p()), null, 1));
console.log(`wrote ${Object.keys(REF_PLANS).length} plans to ${out}`);
