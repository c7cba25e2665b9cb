/**
 * Swapping the engine's model (issue 13 item 3): trained weights become the model the engine
 * scores, the shipped weights come back exactly, and weights that do not fit are refused with the
 * previous model still scoring. CPU backend (WASM kernels), a few test images.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataNode, loadWeightsNode } from './nodeLoad';
import { createCpuBackend } from './cpuBackendFactory';
import { Engine, type EngineData } from '../engine/engine';
import { paramsFromWeights, type VitWeights } from '../model/vitWeights';
import { ModelError } from '../model/safetensors';
import { fp32Plan, validatePlan, type Plan } from '../plan/plan';
import type { ScoreResult } from '../plan/types';
import { ModelHost, modelLabel } from './modelHost';

let shipped: VitWeights;
let data: EngineData;
let host: ModelHost;
const N = 24;

/** a W8A8 per-tensor plan whose activation ranges are explicit clips (no calibration asked) */
function clippedPlan(): Plan {
  const p = fp32Plan();
  p.sites = p.sites.map(() => ({
    a: { bits: 8, granularity: 'tensor', symmetric: false, range: 'static', clip: { min: -8, max: 8 } },
    b: { bits: 8, granularity: 'tensor', symmetric: true, range: 'dynamic' },
  }));
  return validatePlan(p);
}

const score = (plan: Plan = fp32Plan()): Promise<ScoreResult> =>
  host.engine.score({ plan, set: 'test', offset: 0, limit: N, keepPredictions: true });
const summary = (r: ScoreResult) => ({ correct: r.correct, predictions: r.predictions });

/** trained-like parameters: the shipped ones with the head's bias pushed towards class 3 */
function trained(): Map<string, Float32Array> {
  const p = paramsFromWeights(shipped);
  const b = p.get('head.bias')!;
  b[3] += 6;
  return p;
}

beforeAll(async () => {
  [shipped, data] = await Promise.all([loadWeightsNode(), loadDataNode(['test'])]);
  const make = (w: VitWeights) => createCpuBackend(w, 'test');
  host = new ModelHost(shipped, new Engine(shipped, data, await make(shipped)), make);
}, 120_000);

describe('ModelHost: apply / restore / refuse', () => {
  it('apply makes the trained weights the model that is scored; restore gives the shipped score exactly', async () => {
    const before = summary(await score());
    const beforeQ = summary(await score(clippedPlan()));
    const oldEngine = host.engine;
    const id = await host.apply(trained(), { step: 7 }, new Date(2026, 0, 1, 9, 5).getTime());
    expect(id).toMatchObject({ kind: 'trained', step: 7 });
    expect(modelLabel(id)).toBe('QAT-trained (step 7, applied 09:05)');
    expect(host.engine).not.toBe(oldEngine); // a new engine: nothing cached on the old model survives
    const after = summary(await score());
    expect(after.predictions).not.toEqual(before.predictions);
    expect(after.predictions!.filter((c) => c === 3).length).toBeGreaterThan(before.predictions!.filter((c) => c === 3).length);
    // a plan prepared on the shipped model is prepared again on the trained one
    expect(summary(await score(clippedPlan())).predictions).not.toEqual(beforeQ.predictions);
    expect(await host.restore()).toEqual({ kind: 'shipped', label: 'shipped' });
    expect(host.engine.weights).toBe(shipped);
    expect(summary(await score())).toEqual(before);
    expect(summary(await score(clippedPlan()))).toEqual(beforeQ);
  }, 120_000);

  it.each([
    [
      'a wrong shape',
      (p: Map<string, Float32Array>) => p.set('blocks.0.fc1.weight', new Float32Array(10)),
      /blocks\.0\.fc1\.weight has 10 values/,
    ],
    ['a NaN', (p: Map<string, Float32Array>) => (p.get('blocks.2.to_qkv.weight')![5] = NaN), /blocks\.2\.to_qkv\.weight\[5\] is NaN/],
    ['a missing tensor', (p: Map<string, Float32Array>) => p.delete('norm.bias'), /norm\.bias is missing/],
    [
      'an unknown tensor',
      (p: Map<string, Float32Array>) => p.set('blocks.9.fc1.weight', new Float32Array(4)),
      /blocks\.9\.fc1\.weight is not a parameter/,
    ],
  ])(
    'refuses %s with a ModelError; the previous model stays and scores the same',
    async (_, spoil, msg) => {
      await host.apply(trained(), { step: 3 });
      const engine = host.engine;
      const id = host.identity;
      const before = summary(await score());
      const p = trained();
      spoil(p);
      await expect(host.apply(p, { step: 4 })).rejects.toThrow(ModelError);
      await expect(host.apply(p, { step: 4 })).rejects.toThrow(msg);
      expect(host.engine).toBe(engine);
      expect(host.identity).toBe(id);
      expect(summary(await score())).toEqual(before);
      await host.restore();
    },
    120_000,
  );

  it('a backend that fails to build for the new weights leaves the old model in place', async () => {
    let fail = false;
    const h = new ModelHost(shipped, host.engine, async (w) => {
      if (fail) throw new Error('no backend');
      return createCpuBackend(w, 'test');
    });
    fail = true;
    const engine = h.engine;
    await expect(h.apply(trained(), { step: 1 })).rejects.toThrow('no backend');
    expect(h.engine).toBe(engine);
    expect(h.identity.kind).toBe('shipped');
  });
});
