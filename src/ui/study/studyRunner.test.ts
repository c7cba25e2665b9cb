import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SITES } from '../../state/presets';
import { loadStudyFile, planCost } from './studyRunner';
import * as P from '../../engine/presets';

// A study.json as `npm run study` writes it: { engine, date, …, test: StudyResult }.
const studyJson = {
  engine: { kind: 'cpu', label: 'CPU' },
  date: '2026-11-23',
  test: {
    set: 'test',
    images: 1000,
    backend: 'CPU',
    rows: { fp32: { key: 'fp32', label: 'FP32', accuracy: 79.5 }, int4_all: { key: 'int4_all', label: 'all INT4', accuracy: 60.1 } },
    sensitivity_scan: DEFAULT_SITES.map((s) => ({ site: s.index, name: s.name, accuracy: 79 - (s.index % 5) * 0.1, delta_pp: -0.5 - (s.index % 5) * 0.1, macs: s.macs })),
    greedy: { order: DEFAULT_SITES.map((s) => s.index), accuracy: DEFAULT_SITES.map((s) => 80 - s.index * 0.3) },
    wall_s: {},
  },
};

afterEach(() => vi.unstubAllGlobals());

describe('study.json loading', () => {
  it('reads the CLI format into sensitivity, greedy and Pareto rows', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify(studyJson), { headers: { 'content-type': 'application/json' } }));
    const d = await loadStudyFile(undefined, DEFAULT_SITES);
    expect(d).not.toBeNull();
    expect(d!.fp32).toBe(79.5);
    expect(d!.sensitivity).toHaveLength(38);
    expect(d!.greedy).toHaveLength(38);
    expect(d!.greedy[5]).toEqual({ k: 6, site: 5, accuracy: 80 - 5 * 0.3 });
    expect(d!.pareto.filter((p) => p.kind === 'greedy')).toHaveLength(38);
    expect(d!.source).toMatch(/1000 test/);
  });

  it('absent or HTML (dev-server fallback) → null', async () => {
    vi.stubGlobal('fetch', async () => new Response('<!doctype html>', { headers: { 'content-type': 'text/html' } }));
    expect(await loadStudyFile(undefined, DEFAULT_SITES)).toBeNull();
    vi.stubGlobal('fetch', async () => new Response('nope', { status: 404 }));
    expect(await loadStudyFile(undefined, DEFAULT_SITES)).toBeNull();
  });

  it('bit-ops: FP32 is 1, all-INT4 is 1/64, INT8 per-token 1/16', () => {
    expect(planCost(P.fp32(), DEFAULT_SITES).bitops).toBeCloseTo(1, 12);
    expect(planCost(P.allNote004(4), DEFAULT_SITES).bitops).toBeCloseTo(1 / 64, 12);
    expect(planCost(P.allNote004(8), DEFAULT_SITES).bitops).toBeCloseTo(1 / 16, 12);
    expect(planCost(P.allNote004(4), DEFAULT_SITES).avgBits).toBeCloseTo(4, 12);
  });
});
