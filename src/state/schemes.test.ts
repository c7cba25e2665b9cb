import { describe, expect, it } from 'vitest';
import { validatePlan, type OperandScheme, type SiteScheme } from '../plan/plan';
import { fitSite } from './schemes';
import { DEFAULT_SITES } from './presets';

// Every combination a control can produce, fitted to each kind of site, is a plan the engine accepts.
describe('fitSite', () => {
  const ops: OperandScheme[] = [];
  for (const bits of [32, 8, 4, 2] as const)
    for (const granularity of ['tensor', 'token', 'channel', 'group'] as const)
      for (const range of ['dynamic', 'static'] as const)
        ops.push({ bits, granularity, symmetric: bits % 4 === 0, range, groupSize: granularity === 'group' ? 64 : undefined });

  it('always yields valid sites (weight and attention sites)', () => {
    for (const site of [DEFAULT_SITES[0], DEFAULT_SITES[1], DEFAULT_SITES[2], DEFAULT_SITES[3], DEFAULT_SITES[5], DEFAULT_SITES[37]]) {
      for (const a of ops)
        for (const b of ops) {
          const s: SiteScheme = { a, b, smoothquant: { alpha: 0.5 }, llmInt8: { threshold: 6 }, gptq: { actOrder: true, damp: 0.01 } };
          const fitted = fitSite(s, site.hasWeight, site.kind);
          // SmoothQuant is folded where a LayerNorm feeds the site, never silently turned into run-time scaling
          if (site.hasWeight)
            expect(fitted.smoothquant?.placement).toBe(site.kind === 'to_qkv' || site.kind === 'fc1' ? 'fold' : undefined);
          const sites = DEFAULT_SITES.map((x) =>
            x.index === site.index
              ? fitted
              : {
                  a: { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' },
                  b: { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' },
                },
          );
          expect(() => validatePlan({ version: 1, sites })).not.toThrow();
          if (!site.hasWeight) expect(fitted.smoothquant ?? fitted.llmInt8 ?? fitted.gptq).toBeUndefined();
        }
    }
  });
});
