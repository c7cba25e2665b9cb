import { describe, expect, test, vi } from 'vitest';
import type { EngineClient, EngineStatus } from '../../runtime/client';
import type { BackendChoice, BackendInfo, ScoreRequest, ScoreResult } from '../../plan/types';
import { useStore } from '../../state/store';
import { applyTrainedModel, restoreShippedModel, startEngine } from './controller';
import { fp32Plan } from '../../plan/plan';
import { useResults } from './results';

// Issue 11 item 1: after a backend switch (any choice, also one that fails or falls back) and
// after device-loss recovery, the UI must return to a scoring state. A fake engine client emits
// the worker's status sequence (loading → ready) so the controller's own logic is under test.

const info = (kind: 'cpu' | 'webgpu', reason: string): BackendInfo => ({
  kind,
  label: kind === 'cpu' ? 'CPU · fake' : 'WebGPU · fake',
  reason,
});

function fakeClient() {
  const listeners = new Set<(s: EngineStatus) => void>();
  const emit = (s: EngineStatus) => listeners.forEach((l) => l(s));
  let backend = info('cpu', 'auto: no WebGPU');
  const scored: ScoreRequest[] = [];
  let failNextSwitch: string | null = null;
  const client: EngineClient = {
    ready: async () => {
      emit({ state: 'ready', backend });
      return { backend, model: { name: 'fake', config: {}, metrics: {} }, dataset: { sets: { test: 100, val: 100 }, classNames: [] } };
    },
    status: () => ({ state: 'ready', backend }),
    onStatus(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async setBackend(choice: BackendChoice) {
      emit({ state: 'loading', message: `switching backend (${choice})…` });
      await new Promise((r) => setTimeout(r, 5));
      if (failNextSwitch) {
        const msg = failNextSwitch;
        failNextSwitch = null;
        emit({ state: 'ready', backend });
        throw new Error(msg);
      }
      // like createBackend: WebGPU where none exists falls back to the CPU, with the reason
      backend =
        choice === 'webgpu' ? info('cpu', 'WebGPU requested but unavailable; running on the CPU') : info('cpu', 'chosen by the user');
      emit({ state: 'ready', backend });
      return backend;
    },
    async score(req) {
      scored.push(req);
      const r: ScoreResult = {
        set: req.set,
        count: req.limit ?? 0,
        correct: scored.length,
        accuracy: scored.length / 100,
        confusion: [],
        perClassAccuracy: [],
        sites: [],
        backend,
        steps: [],
        wallMs: 1,
        imagesPerSecond: 1,
      };
      return r;
    },
    siteStats: async () => {
      throw new Error('not needed');
    },
    images: async () => ({ pixels: [], labels: [] }),
    setWeights: async (_params, step) => ({ kind: 'trained', label: `QAT-trained (step ${step})`, step, appliedAt: 0 }),
    restoreWeights: async () => ({ kind: 'shipped', label: 'shipped' }),
    dispose() {},
  };
  return { client, emit, scored, failSwitch: (m: string) => (failNextSwitch = m), backend: () => backend };
}

async function settled() {
  await vi.waitFor(
    () => {
      const r = useResults.getState();
      expect(r.status.state).toBe('ready');
      expect(r.live.running).toBe(false);
      expect(r.live.result).not.toBeNull();
    },
    { timeout: 3000, interval: 10 },
  );
}

describe('controller: backend switches and device loss return to scoring', () => {
  const fake = fakeClient();
  startEngine(async () => fake.client);

  test('first score arrives', async () => {
    await settled();
  });

  // starts on 'auto' (running the CPU): 'cpu' is the backend already running
  test.each(['cpu', 'webgpu', 'auto', 'cpu'] as const)('choosing %s re-scores with a fresh number', async (choice) => {
    const before = fake.scored.length;
    useResults.setState((r) => ({ baselines: {}, live: { ...r.live, result: null } }));
    useStore.getState().setBackend(choice);
    await settled();
    expect(fake.scored.length).toBeGreaterThan(before);
    if (choice === 'webgpu') expect(useResults.getState().backend?.reason).toMatch(/unavailable/);
  });

  test('a failed switch keeps scoring on the old backend and says why', async () => {
    fake.failSwitch('adapter exploded');
    useResults.setState((r) => ({ baselines: {}, live: { ...r.live, result: null } }));
    useStore.getState().setBackend(useStore.getState().backend === 'cpu' ? 'webgpu' : 'cpu');
    await settled();
    expect(useResults.getState().backend?.reason).toMatch(/could not switch to .*adapter exploded/);
  });

  test('device loss: loading then ready re-scores', async () => {
    const before = fake.scored.length;
    fake.emit({ state: 'loading', message: 'GPU device lost — recreating it…' });
    expect(useResults.getState().status.state).toBe('loading');
    useResults.setState((r) => ({ baselines: {}, live: { ...r.live, result: null } }));
    fake.emit({ state: 'ready', backend: fake.backend() });
    await settled();
    expect(fake.scored.length).toBeGreaterThan(before);
  });

  // issue 13 item 3: figures of the old model (the FP32 baseline behind every Δ) are not reused
  test('applying trained weights drops the old baselines, sets the plan and re-scores FP32 on the new model', async () => {
    await settled();
    expect(Object.keys(useResults.getState().baselines).length).toBeGreaterThan(0);
    const plan = { ...fp32Plan(), name: 'QAT step 2 (learned ranges)' };
    plan.sites[1] = {
      a: { bits: 8, granularity: 'tensor', symmetric: false, range: 'static', clip: { min: -1, max: 2 } },
      b: { bits: 8, granularity: 'channel', symmetric: true, range: 'dynamic' },
    };
    const before = fake.scored.length;
    const id = await applyTrainedModel({}, 2, plan);
    expect(id.kind).toBe('trained');
    expect(useResults.getState().current).toEqual(id);
    expect(useStore.getState().plan).toBe(plan);
    expect(useResults.getState().baselines).toEqual({});
    await settled();
    const after = fake.scored.slice(before);
    expect(after.some((r) => r.plan.sites.every((x) => x.a.bits === 32 && x.b.bits === 32))).toBe(true); // the FP32 baseline again
    expect(after.some((r) => r.plan === plan)).toBe(true);
    const restoredBefore = fake.scored.length;
    await restoreShippedModel();
    expect(useResults.getState().current.kind).toBe('shipped');
    expect(useResults.getState().baselines).toEqual({});
    await settled();
    expect(fake.scored.length).toBeGreaterThan(restoredBefore);
  });
});
