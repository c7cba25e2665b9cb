import { describe, expect, it } from 'vitest';
import { buildSites } from './sites';
import { refOps } from '../forward/vitRef';
import type { Linear } from '../model/vitWeights';
import { type SiteScheme } from './plan';
import { op } from './presets';
import { preparePlan, runAttentionSite, runLinearSite, type PreparedSite } from './siteQuant';
import { fp32Plan } from './plan';

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
const sites = buildSites({ dim: 16, depth: 6, heads: 2, mlp: 32, patch: 4, classes: 10, image: 32 });

function prepared(site: number, scheme: SiteScheme, lin: Linear | null): PreparedSite {
  const plan = fp32Plan();
  plan.sites[site] = scheme;
  const linears = sites.map((_, i) => (i === site ? lin : null));
  return preparePlan(plan, sites, linears).sites[site];
}

/** the integer path and fake-quant of the same scheme must agree up to float rounding */
describe('integer path ≡ fake-quant path', () => {
  const cases: { name: string; scheme: SiteScheme; path: string }[] = [
    { name: 'W8A8 per-token asym / per-channel sym', scheme: { a: op(8, 'token', false), b: op(8, 'channel', true) }, path: 'int8-gemm' },
    { name: 'note-004 INT4 per-tensor asym both', scheme: { a: op(4), b: op(4) }, path: 'int8-gemm' },
    { name: 'INT2 per-tensor asym both', scheme: { a: op(2), b: op(2) }, path: 'int8-gemm' },
    { name: 'W4A8 group 8', scheme: { a: op(8, 'token', false), b: op(4, 'group', true, { groupSize: 8 }) }, path: 'int4-gemm' },
    { name: 'W4A8 per-channel', scheme: { a: op(8, 'tensor', true), b: op(4, 'channel', true) }, path: 'int4-gemm' },
  ];
  it.each(cases)('linear site: $name', ({ scheme, path }) => {
    const r = rng(11);
    const n = 24;
    const k = 16;
    const m = 13;
    const lin: Linear = { w: Float32Array.from({ length: n * k }, r), b: Float32Array.from({ length: n }, r), out: n, in: k };
    const a = Float32Array.from({ length: m * k }, () => r() * 3 + 0.5);
    const ps = prepared(4, scheme, lin);
    expect(ps.path.path).toBe(path);
    const yInt = runLinearSite(ps, lin, a, m, refOps);
    const yFake = runLinearSite({ ...ps, path: { path: 'fake-quant', reason: '' } }, lin, a, m, refOps);
    for (let i = 0; i < yInt.length; i++) expect(Math.abs(yInt[i] - yFake[i])).toBeLessThan(1e-4 * (1 + Math.abs(yFake[i])));
  });
  it.each(cases.slice(0, 3))('attention site: $name', ({ scheme }) => {
    const r = rng(5);
    const heads = 2;
    const m = 7;
    const n = 7;
    const k = 8;
    const a = Float32Array.from({ length: heads * m * k }, r);
    const b = Float32Array.from({ length: heads * n * k }, r);
    const attnScheme = { a: scheme.a, b: scheme.b.granularity === 'channel' ? scheme.b : scheme.b };
    const ps = prepared(2, attnScheme, null);
    expect(ps.path.path).toBe('int8-gemm');
    const yInt = runAttentionSite(ps, a, b, heads, m, n, k, refOps);
    const yFake = runAttentionSite({ ...ps, path: { path: 'fake-quant', reason: '' } }, a, b, heads, m, n, k, refOps);
    for (let i = 0; i < yInt.length; i++) expect(Math.abs(yInt[i] - yFake[i])).toBeLessThan(1e-5 * (1 + Math.abs(yFake[i])));
  });
  it('per-tensor range of an attention site covers all heads of the image', () => {
    const heads = 2;
    const a = new Float32Array(heads * 2 * 2);
    a.set([0.1, 0.2, 0.3, 0.4], 0); // head 0: small values
    a.set([10, 20, 30, 40], 4); // head 1: large values
    const b = new Float32Array(heads * 2 * 2).fill(1);
    const ps = prepared(2, { a: op(4), b: op(4) }, null);
    const y = runAttentionSite(ps, a, b, heads, 2, 2, 2, refOps);
    // one shared scale (40/15) flushes head 0 to zero: per-tensor is per image, not per head
    expect(Array.from(y.subarray(0, 4))).toEqual([0, 0, 0, 0]);
  });
});
