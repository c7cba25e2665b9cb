import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataNode, loadWeightsNode } from '../runtime/nodeLoad';
import type { VitWeights } from '../model/vitWeights';
import type { Backend } from '../plan/backend';
import * as P from '../plan/presets';
import { Engine, ReferenceBackend, type EngineData } from './engine';
import { placeSteps } from './placement';

let w: VitWeights;
let data: EngineData;
beforeAll(async () => {
  [w, data] = await Promise.all([loadWeightsNode(), loadDataNode(['test'])]);
});

/** a primary that declines the q·kᵀ product of block 0 (site 2) and must then never be run */
function decliningPrimary(fallback: Backend): Backend & { runs: number } {
  return {
    runs: 0,
    info: { kind: 'webgpu', label: 'fake GPU', reason: 'test' },
    supports: (s) => ('site' in s && s.site === 2 ? 'site 2: not on this device' : true),
    fallback: async () => fallback,
    async run() {
      this.runs++;
      throw new Error('the engine ran a backend on a plan it declined');
    },
    dispose() {},
  };
}

describe('step placement (decided before running)', () => {
  it('a declined step sends the whole forward to the fallback, and the result names the step and why', async () => {
    const cpu = new ReferenceBackend(w);
    const primary = decliningPrimary(cpu);
    const eng = new Engine(w, data, primary);
    const r = await eng.score({ plan: P.w8a8PerToken(), set: 'test', limit: 2 });
    expect(primary.runs).toBe(0);
    expect(r.backend.label).toBe(`fake GPU → ${cpu.info.label} for this plan`);
    expect(r.backend.reason).toBe('site 2: not on this device');
    expect(r.steps.filter((s) => s.unsupported)).toEqual([
      { step: r.steps.find((s) => s.site === 2)!.step, kind: 'attnScores', site: 2, on: 'cpu', unsupported: 'site 2: not on this device' },
    ]);
    expect(r.steps.every((s) => s.on === 'cpu')).toBe(true);
    expect(r.steps.length).toBe(eng.reference.lowered.steps.length);
  });

  it('all steps supported: the primary runs, every step on it', async () => {
    const cpu = new ReferenceBackend(w);
    const eng = new Engine(w, data, cpu);
    const r = await eng.score({ plan: P.w8a8PerToken(), set: 'test', limit: 1 });
    expect(r.backend).toEqual(cpu.info);
    expect(new Set(r.steps.map((s) => s.on))).toEqual(new Set(['cpu']));
    expect(r.steps.some((s) => s.unsupported)).toBe(false);
  });

  it('a declined step without a fallback is an error that names it', () => {
    const eng = new Engine(w, data, new ReferenceBackend(w));
    const noFallback: Backend = {
      info: { kind: 'webgpu', label: 'lone GPU', reason: '' },
      supports: (s) => (s.kind === 'softmax' ? 'no softmax here' : true),
      run: async () => new Float32Array(),
      dispose() {},
    };
    expect(() => placeSteps(eng.reference.lowered.steps, eng.prepare(P.w8a8PerToken()), noFallback)).toThrow(
      /lone GPU cannot run step \d+ \(softmax\): no softmax here/,
    );
  });
});
