import { describe, expect, it } from 'vitest';
import { decodeConfig, encodeConfig } from './urlCodec';
import { defaultConfig, type Config } from './config';
import { PRESETS } from './presets';
import * as P from '../plan/presets';
import { validatePlan } from '../plan/plan';

// The pinned plan A of the A/B compare travels in the link beside plan B.
function wire(h: string): Record<string, unknown> {
  return JSON.parse(atob(h.slice(3).replace(/-/g, '+').replace(/_/g, '/')));
}
function unwire(json: unknown): string {
  return 'v1.' + btoa(JSON.stringify(json)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

describe('URL hash codec: pinned plan A', () => {
  // mutation caught: "A not in URL" (encode drops pinned) or A decoded as B's plan
  it('round-trips every preset as A beside a different B, keeping the full plan', () => {
    // presets the plan validator accepts today (the plan schema is being extended in parallel)
    const valid = PRESETS.map((p) => p.build()).filter((A) => {
      try {
        validatePlan(A);
        return true;
      } catch {
        return false;
      }
    });
    expect(valid.length).toBeGreaterThanOrEqual(5);
    for (const A of valid) {
      const c: Config = { ...defaultConfig(), plan: P.allNote004(2), pinned: A, liveSize: 100 };
      const r = decodeConfig('#' + encodeConfig(c));
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.pinnedError).toBeUndefined();
        expect(r.config.pinned).toEqual(A);
        expect(r.config.plan).toEqual(c.plan);
      }
    }
  });

  it('a plan with per-site extras (LLM.int8, GPTQ, overrides) survives as A', () => {
    // built by the engine's own preset builders, so the test follows the plan schema as it evolves
    const A = P.llmInt8(6);
    const gptq = P.weightOnly(4, 'group', true, 32);
    A.sites[1] = gptq.sites[1];
    A.sites[2] = P.note004Site(4);
    A.name = 'mixed';
    const c: Config = { ...defaultConfig(), pinned: A };
    const r = decodeConfig(encodeConfig(c));
    expect(r.ok && r.pinnedError).toBeUndefined();
    // the validator normalises defaults (e.g. GPTQ's sequential flag): compare with its output
    expect(r.ok && r.config.pinned).toEqual(validatePlan(A));
  });

  // mutation caught: "unpin leaves A in the URL"
  it('no A pinned → no A on the wire, and decoding gives pinned = null', () => {
    const h = encodeConfig(defaultConfig());
    expect(wire(h).A).toBeUndefined();
    const r = decodeConfig(h);
    expect(r.ok && r.config.pinned).toBeNull();
  });

  // mutation caught: "a bad A breaks the whole link" (B lost) or "a bad A is silently accepted"
  it.each([
    [
      'bits out of range',
      (a: Record<string, unknown>) => ({
        ...a,
        d: { ...(a.d as object), a: { bits: 5, granularity: 'tensor', symmetric: true, range: 'dynamic' } },
      }),
      /bits/,
    ],
    ['not an object', () => 'FP32', /object/],
    ['bad override site', (a: Record<string, unknown>) => ({ ...a, o: { 99: a.d } }), /override site/],
    ['wrong plan version', (a: Record<string, unknown>) => ({ ...a, version: 7 }), /version/],
  ])('a bad A (%s) gives a readable error and keeps B and the navigation', (_name, spoil, re) => {
    const c: Config = { ...defaultConfig(), plan: P.w8a8PerToken(), pinned: P.fp32(), selectedSite: 17, view: 'outliers', liveSize: 32 };
    const w = wire(encodeConfig(c));
    w.A = (spoil as (a: Record<string, unknown>) => unknown)(w.A as Record<string, unknown>);
    const r = decodeConfig(unwire(w));
    expect(r.ok).toBe(true);
    if (!r.ok) throw new Error('expected ok (asserted above)'); // narrows the type
    expect(r.pinnedError).toMatch(re);
    expect(r.config.pinned).toBeNull();
    expect(r.config.plan).toEqual(c.plan);
    expect(r.config.selectedSite).toBe(17);
    expect(r.config.view).toBe('outliers');
    expect(r.config.liveSize).toBe(32);
  });
});
