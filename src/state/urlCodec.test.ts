import { describe, expect, it } from 'vitest';
import { decodeConfig, encodeConfig } from './urlCodec';
import { defaultConfig, type Config } from './config';
import { PRESETS } from './presets';

describe('URL hash codec', () => {
  it('round-trips every preset and the navigation fields exactly', () => {
    for (const p of PRESETS) {
      const c: Config = {
        ...defaultConfig(),
        plan: p.build(),
        selectedSite: 17,
        view: 'outliers',
        evalSet: 'val',
        liveSize: 8,
        image: 42,
        operand: 'b',
        stageStep: 3,
        backend: 'cpu',
      };
      const h = encodeConfig(c);
      expect(h).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
      const r = decodeConfig('#' + h);
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.config).toEqual(c);
    }
  });

  it('keeps per-site overrides and stays short for uniform plans', () => {
    const c = defaultConfig();
    const fp = encodeConfig(c);
    c.plan = structuredClone(c.plan);
    c.plan.sites[5] = {
      a: { bits: 4, granularity: 'token', symmetric: false, range: 'dynamic' },
      b: { bits: 4, granularity: 'group', groupSize: 128, symmetric: true, range: 'dynamic' },
    };
    const h = encodeConfig(c);
    const r = decodeConfig(h);
    expect(r.ok && r.config.plan.sites[5]).toEqual(c.plan.sites[5]);
    expect(r.ok && r.config.plan.sites[4]).toEqual(c.plan.sites[4]);
    expect(fp.length).toBeLessThan(500);
  });

  it('an empty hash gives the defaults', () => {
    expect(decodeConfig('')).toEqual({ ok: true, config: defaultConfig() });
  });

  it.each([
    ['#v2.abc', /version/],
    ['#v1.%%%', /base64url/],
    ['#v1.' + btoa('{"d":{"a":{"bits":5}}}'), /bits/],
    ['#v1.' + btoa('[1]').replace(/=+$/, ''), /sites|object|operand/],
    ['#garbage', /version/],
  ])('rejects %s with a readable error', (hash, re) => {
    const r = decodeConfig(hash);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(re);
  });

  it('rejects out-of-range navigation fields', () => {
    const good = encodeConfig(defaultConfig());
    const json = JSON.parse(atob(good.slice(3).replace(/-/g, '+').replace(/_/g, '/')));
    json.s = 99;
    const bad = 'v1.' + btoa(JSON.stringify(json)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const r = decodeConfig(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/selected site/);
  });
});
