import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, modelDir } from '../data/nodeReader';
import { REF_PLANS } from '../../tools/ref/refPlans';
import { createNodeEngine } from './nodeEngine';
import type { Engine } from './engine';

/**
 * The TS engine (CPU backend) against the independent PyTorch fake-quant reference
 * (tools/ref/quant_ref.py), on the first 200 test images, plan by plan (science.md §7: stable plans
 * agree on ≥ 99% of predictions). The fixture comes from tools/ref/make_fixture.sh for the
 * committed weights; a re-exported model must regenerate it.
 */
const FIXTURE = join(REPO_ROOT, 'tools', 'ref', 'fixtures', 'torch-slice.json');
interface Fixture {
  model_sha256_16: string;
  results: { plan: string; name: string; count: number; accuracy: number; predictions: number[] }[];
}
const fixture: Fixture = JSON.parse(readFileSync(FIXTURE, 'utf8'));

let engine: Engine;
beforeAll(async () => {
  engine = (await createNodeEngine('cpu', ['test'])).engine;
});

describe('TS engine vs PyTorch reference (tools/ref/quant_ref.py)', () => {
  it('the fixture belongs to the committed weights', () => {
    expect(existsSync(FIXTURE)).toBe(true);
    const digest = createHash('sha256').update(readFileSync(join(modelDir(), 'model.safetensors'))).digest('hex').slice(0, 16);
    expect(digest, 'model.safetensors changed: run tools/ref/make_fixture.sh').toBe(fixture.model_sha256_16);
  });
  for (const r of fixture.results) {
    const key = r.plan.replace(/^.*\//, '').replace(/\.json$/, '');
    it(`${key}: predictions agree on ≥ 99%, accuracy within 1 image`, async () => {
      const build = REF_PLANS[key];
      expect(build, `unknown plan ${key}`).toBeDefined();
      const s = await engine.score({ plan: build(), set: 'test', limit: r.count, keepPredictions: true });
      const agree = s.predictions!.filter((p, i) => p === r.predictions[i]).length / r.count;
      expect(agree).toBeGreaterThanOrEqual(0.99);
      expect(Math.abs(s.accuracy - r.accuracy)).toBeLessThanOrEqual(1 / r.count + 1e-9);
    });
  }
});
