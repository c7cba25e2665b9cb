import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, modelDir } from '../data/nodeReader';
import { REF_PLANS } from '../../tools/ref/refPlans';
import { createNodeEngine } from '../runtime/nodeEngine';
import { argmaxRows, type Engine } from './engine';

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
    const digest = createHash('sha256')
      .update(readFileSync(join(modelDir(), 'model.safetensors')))
      .digest('hex')
      .slice(0, 16);
    expect(digest, 'model.safetensors changed: run tools/ref/make_fixture.sh').toBe(fixture.model_sha256_16);
  });
  const refFp32 = fixture.results.find((r) => r.plan.endsWith('/fp32.json'))!;
  for (const r of fixture.results) {
    const key = r.plan.replace(/^.*\//, '').replace(/\.json$/, '');
    it(`${key}: predictions agree on ≥ 99%, accuracy within 1 image`, async () => {
      const build = REF_PLANS[key];
      expect(build, `unknown plan ${key}`).toBeDefined();
      const s = await engine.score({ plan: build(), set: 'test', limit: r.count, keepPredictions: true });
      const agree = s.predictions!.filter((p, i) => p === r.predictions[i]).length / r.count;
      expect(agree).toBeGreaterThanOrEqual(0.99);
      expect(Math.abs(s.accuracy - r.accuracy)).toBeLessThanOrEqual(1 / r.count + 1e-9);
    }, 400_000); // preparing sequential GPTQ (Hessians over 256 images) takes ~80 s on one core, more when the cores are shared
    if (key === 'fp32') continue;
    // Agreement alone cannot fail for plans that change ≤ 2 of 200 predictions ("no quantization
    // runs" would agree on ≥ 99%): the plan must also move the TS engine where it moves PyTorch,
    // and change the logits far beyond float rounding.
    it(`${key}: quantization runs — TS changes the predictions PyTorch changes, and the logits`, async () => {
      const plan = REF_PLANS[key]();
      const [q, fp] = await Promise.all([engine.logits(plan, 'test', 0, r.count), engine.logits(REF_PLANS.fp32(), 'test', 0, r.count)]);
      const classes = 10;
      const tsPlan = argmaxRows(q.logits, classes);
      const tsFp32 = argmaxRows(fp.logits, classes);
      const movedByTorch = r.predictions.map((_, i) => i).filter((i) => r.predictions[i] !== refFp32.predictions[i]);
      const movedByTsToo = movedByTorch.filter((i) => tsPlan[i] !== tsFp32[i]);
      // the same 1% budget as the agreement test (2 of 200 images may sit on a near-tie)
      expect(movedByTsToo.length, `images PyTorch moves: ${movedByTorch}; TS moves ${movedByTsToo}`).toBeGreaterThanOrEqual(
        movedByTorch.length - Math.floor(0.01 * r.count),
      );
      let maxDiff = 0;
      for (let i = 0; i < q.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(q.logits[i] - fp.logits[i]));
      expect(maxDiff, 'the quantized logits equal FP32: quantization did not run').toBeGreaterThan(1e-2);
    });
  }
});

describe('per-tensor ranges are per image, not per batch', () => {
  // science.md: a per-tensor dynamic range belongs to one image's tensor. Taking it over the
  // backend's batch would make an image's score depend on its neighbours: scored alone and in a
  // batch of 32 the logits must be the same.
  it.each([
    ['all INT4 per-tensor (note 004)', () => REF_PLANS.int4_note004()],
    [
      'INT8 per-tensor, one site INT2',
      () => ({
        ...REF_PLANS.int8_note004(),
        sites: REF_PLANS.int8_note004().sites.map((s, i) => (i === 3 ? REF_PLANS.int2_note004().sites[3] : s)),
      }),
    ],
  ])('%s: 32 images in one batch = each image alone', async (_name, build) => {
    const plan = build();
    const n = 32;
    const batch = await engine.logits(plan, 'test', 0, n);
    const alone = new Float32Array(batch.logits.length);
    for (let i = 0; i < n; i++) alone.set((await engine.logits(plan, 'test', i, 1)).logits, i * 10);
    let worst = 0;
    for (let i = 0; i < alone.length; i++) worst = Math.max(worst, Math.abs(alone[i] - batch.logits[i]));
    expect(worst, "an image's logits depend on the other images of its batch").toBeLessThanOrEqual(1e-5);
    expect(argmaxRows(alone, 10)).toEqual(argmaxRows(batch.logits, 10));
  });
});
