/**
 * "apply" of a QAT run (issue 13 item 3): the learned (s, z) become explicit clips of a plan that
 * validates, and the engine's quantization with that clip is the trainer's fake quantization.
 */
import { describe, expect, it } from 'vitest';
import { defaultHasWeight, type OperandScheme, type Plan } from '../plan/plan';
import { buildSites, SITE_COUNT } from '../plan/sites';
import { fakeQuantOperand, preparePlan } from '../plan/siteQuant';
import { refOps } from '../forward/vitRef';
import { scaleZero } from '../quant/scaleZero';
import { LearnedQuantizer } from './fakeQuant';
import { learnedPlan } from './learnedPlan';
import { quantKey } from './ops';

const sites = buildSites({ dim: 128, depth: 6, heads: 4, mlp: 256, patch: 4, classes: 10, image: 32 });
const int4 = (granularity: OperandScheme['granularity'] = 'tensor'): OperandScheme => ({
  bits: 4,
  granularity,
  symmetric: false,
  range: 'static',
});
const PER_CHANNEL_SITE = 4;

function trainedRun() {
  const plan: Plan = {
    version: 1,
    sites: Array.from({ length: SITE_COUNT }, (_, i) => ({
      a: int4(),
      b: i === PER_CHANNEL_SITE ? { ...int4('channel'), symmetric: true } : int4(),
    })),
  };
  const qs = new Map<string, LearnedQuantizer>();
  plan.sites.forEach((s, i) => {
    for (const role of ['a', 'b'] as const) {
      const sc = s[role];
      const rows = 8;
      const cols = 16;
      const q = new LearnedQuantizer(sc, { rows, cols, groupCols: 0 }, rows * cols);
      for (let g = 0; g < q.groups; g++) {
        q.s[g] = 0.05 + 0.01 * ((i + g) % 7);
        q.z[g] = sc.symmetric ? 0 : ((i * 3 + g) % 14) + 0.4; // learned z is a float; the grid uses ⌊z⌉
      }
      qs.set(quantKey(i, role), q);
    }
  });
  return { plan, qs };
}

describe('learnedPlan', () => {
  it('turns each learned per-tensor (s, z) into a clip the engine maps back to the same (s, z)', () => {
    const { plan, qs } = trainedRun();
    const { plan: applied, notes } = learnedPlan(plan, qs, 12);
    expect(applied.name).toBe('QAT step 12 (learned ranges)');
    const prepared = preparePlan(
      applied,
      sites,
      sites.map(() => null),
    ); // no calibration data: the clips are given
    for (const i of [1, 2, 3, 8]) {
      const q = qs.get(quantKey(i, 'a'))!;
      const c = prepared.sites[i].clipA!;
      const sz = scaleZero(c.min, c.max, 4, false);
      expect(Math.abs(sz.scale - q.s[0]) / q.s[0]).toBeLessThan(1e-6);
      expect(sz.zero).toBe(Math.round(q.z[0]));
    }
    expect(notes.join(' ')).toMatch(new RegExp(`sites ${PER_CHANNEL_SITE}: the weights learned one range per channel`));
    expect(applied.sites[PER_CHANNEL_SITE].b).toEqual({ bits: 4, granularity: 'channel', symmetric: true, range: 'dynamic' });
    expect(applied.sites[0].b.clip).toBeDefined(); // per-tensor weights: a learned weight clip
  });

  it('the engine quantizes an operand with the clip exactly as the trainer fake-quantizes it', () => {
    const { plan, qs } = trainedRun();
    const { plan: applied } = learnedPlan(plan, qs, 1);
    const site = 2; // q·kᵀ
    const q = qs.get(quantKey(site, 'a'))!;
    const ps = preparePlan(
      applied,
      sites,
      sites.map(() => null),
    ).sites[site];
    const x = Float32Array.from({ length: 8 * 16 }, (_, j) => Math.sin(j * 1.7) * 0.6 + 0.1);
    const engine = fakeQuantOperand(refOps, x, 8, 16, ps.scheme.a, ps.clipA);
    const trainer = q.forward(x);
    for (let j = 0; j < x.length; j++) expect(Math.abs(engine[j] - trainer[j])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(trainer[j])));
  });

  it('the applied plan validates with weight clips (weights are static only with a clip)', () => {
    const { plan, qs } = trainedRun();
    expect(defaultHasWeight(0)).toBe(true);
    const { plan: applied } = learnedPlan(plan, qs, 1);
    expect(applied.sites[0].b.range).toBe('static');
    expect(applied.sites[0].b.calibrator).toBeUndefined();
  });
});
