/**
 * preparePlan's use of the engine's context: SmoothQuant folded into the LayerNorm (function
 * unchanged), the α search, static ranges calibrated on A/s with the plan's calibrator, and GPTQ
 * sequential Hessians taken from the model whose earlier sites are already quantized.
 */
import { describe, expect, it } from 'vitest';
import { buildSites } from './sites';
import { layerNormRows, refOps } from '../forward/vitRef';
import type { Linear } from '../model/vitWeights';
import { RangeHistogram } from '../quant/calibrate';
import { applySmoothing } from '../quant/smoothquant';
import type { Calibration } from './calibration';
import { fp32Plan, type Plan, validatePlan } from './plan';
import { op } from './presets';
import { type PrepareContext, type PreparedPlan, preparePlan, runLinearSite, searchSmoothAlpha } from './siteQuant';

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
const D = 16;
const sites = buildSites({ dim: D, depth: 6, heads: 2, mlp: 32, patch: 4, classes: 10, image: 32 });
const r = rng(3);
const lin = (n: number, k: number): Linear => ({
  w: Float32Array.from({ length: n * k }, r),
  b: Float32Array.from({ length: n }, r),
  out: n,
  in: k,
});
const linears = sites.map((s) => (s.hasWeight ? lin(s.n, s.k) : null));
// activations with two outlier channels (the case SmoothQuant exists for)
const rows = 40;
const x = Float32Array.from({ length: rows * D }, (_, i) => r() * (i % D === 3 ? 30 : i % D === 7 ? 12 : 1));
const gamma = Float32Array.from({ length: D }, () => 1 + 0.2 * r());
const beta = Float32Array.from({ length: D }, () => 0.1 * r());

function calibration(): Calibration {
  const colAbsMax = new Float32Array(D);
  for (let i = 0; i < x.length; i++) colAbsMax[i % D] = Math.max(colAbsMax[i % D], Math.abs(x[i]));
  const hist = new RangeHistogram();
  hist.observeRange(x);
  hist.freeze();
  hist.observe(x);
  const site = { a: { hist, colAbsMax, colMin: new Float32Array(D), colMax: new Float32Array(D) }, hessianRows: 0 };
  return { images: 1, source: 'test', sites: sites.map(() => site) };
}

function context(log: { site: number; partial: PreparedPlan }[] = [], hists: Float32Array[] = []): PrepareContext {
  return {
    ops: refOps,
    layerNorm: () => ({ g: gamma, b: beta }),
    siteInputs: () => ({ x, rows, perImage: 20 }),
    smoothedHistograms: (scales) => {
      const out = new Map<number, RangeHistogram>();
      for (const [site, s] of scales) {
        hists.push(s);
        const h = new RangeHistogram();
        const d = applySmoothing(x, rows, D, s);
        h.observeRange(d);
        h.freeze();
        h.observe(d);
        out.set(site, h);
      }
      return out;
    },
    sequentialHessian: (site, partial) => {
      log.push({ site, partial });
      const k = sites[site].k;
      const sum = new Float64Array(k * k);
      for (let i = 0; i < k; i++) sum[i * k + i] = 1 + i;
      return { sum, rows: 10 };
    },
  };
}

function planWith(site: number, scheme: object): Plan {
  const p = fp32Plan() as unknown as { sites: object[] };
  p.sites[site] = scheme;
  return validatePlan(p);
}

describe('SmoothQuant folded into the LayerNorm', () => {
  it('LN(x; γ/s, β/s)·(W·s)ᵀ equals LN(x; γ, β)·Wᵀ: the FP32 function is unchanged', () => {
    const plan = planWith(1, { a: op(8), b: op(8, 'tensor', true), smoothquant: { alpha: 0.5 } });
    const ps = preparePlan(plan, sites, linears, calibration(), context()).sites[1];
    expect(ps.weight!.smoothPlacement).toBe('fold');
    expect(ps.lnFold).toBeDefined();
    const L = linears[1]!;
    const yRef = refOps.gemmF32(layerNormRows(x, rows, D, gamma, beta, 1e-5), L.w, L.b, rows, L.out, D);
    const yFold = refOps.gemmF32(layerNormRows(x, rows, D, ps.lnFold!.g, ps.lnFold!.b, 1e-5), ps.weight!.w, L.b, rows, L.out, D);
    let maxRel = 0;
    for (let i = 0; i < yRef.length; i++) maxRel = Math.max(maxRel, Math.abs(yFold[i] - yRef[i]) / (1 + Math.abs(yRef[i])));
    expect(maxRel).toBeLessThan(1e-5);
    // the run-time path does not divide again (a folded site's input already is A/s)
    const a = layerNormRows(x, rows, D, ps.lnFold!.g, ps.lnFold!.b, 1e-5);
    const yq = runLinearSite(ps, L, a, rows, refOps);
    const noSmooth = preparePlan(planWith(1, { a: op(8), b: op(8, 'tensor', true) }), sites, linears, calibration(), context()).sites[1];
    const errSq = (y: Float32Array) => y.reduce((t, v, i) => t + (v - yRef[i]) ** 2, 0);
    expect(errSq(yq)).toBeLessThan(errSq(runLinearSite(noSmooth, L, layerNormRows(x, rows, D, gamma, beta, 1e-5), rows, refOps)));
  });

  it('refuses to fold where nothing can absorb s, and labels run-time scaling', () => {
    // site 4 = to_out: its input is the attention output, not a LayerNorm
    expect(() => planWith(4, { a: op(8), b: op(8, 'tensor', true), smoothquant: { alpha: 0.5 } })).toThrow(/cannot be folded.*runtime/);
    expect(() => planWith(4, { a: op(8), b: op(8, 'tensor', true), smoothquant: { alpha: 0.5, placement: 'fold' } })).toThrow(
      /only to_qkv and fc1/,
    );
    const plan = planWith(4, { a: op(8), b: op(8, 'tensor', true), smoothquant: { alpha: 0.5, placement: 'runtime' } });
    const ps = preparePlan(plan, sites, linears, calibration(), context()).sites[4];
    expect(ps.lnFold).toBeUndefined();
    expect(ps.notes?.join(' ')).toMatch(/run-time scaling \(not foldable\)/);
  });

  it('α search: the grid minimum of the output MSE, reported', () => {
    const scheme = validatePlan(planWith(1, { a: op(4), b: op(4, 'tensor', true), smoothquant: { alpha: 'search' } })).sites[1];
    const cal = calibration();
    const s = searchSmoothAlpha(scheme, linears[1]!, cal.sites[1]!.a.colAbsMax, { x, rows, perImage: 20 }, refOps);
    expect(s.mse).toHaveLength(21);
    expect(s.mse[Math.round(s.alpha * 20)]).toBe(Math.min(...s.mse));
    // with a 30× outlier channel, no smoothing (α = 0) is not the best choice
    expect(s.alpha).toBeGreaterThan(0);
    const ps = preparePlan(
      planWith(1, { a: op(4), b: op(4, 'tensor', true), smoothquant: { alpha: 'search' } }),
      sites,
      linears,
      cal,
      context(),
    ).sites[1];
    expect(ps.weight!.alpha).toBe(s.alpha);
    expect(ps.notes?.[0]).toMatch(/α = .*searched/);
  });

  it('static ranges after smoothing use the plan calibrator on A/s', () => {
    const hists: Float32Array[] = [];
    const mk = (calibrator: string) =>
      preparePlan(
        planWith(1, { a: { ...op(8), range: 'static', calibrator }, b: op(8, 'tensor', true), smoothquant: { alpha: 0.5 } }),
        sites,
        linears,
        calibration(),
        context([], hists),
      ).sites[1];
    const mm = mk('minmax');
    const sm = applySmoothing(x, rows, D, mm.weight!.smooth!);
    expect(mm.clipA!.max).toBeCloseTo(Math.max(...sm), 5);
    expect(mm.clipA!.min).toBeCloseTo(Math.min(...sm), 5);
    const pc = mk('mse');
    expect(pc.clipA!.max).toBeLessThan(mm.clipA!.max); // the calibrator is not ignored
    expect(hists.length).toBe(2);
  });
});

describe('GPTQ sequential', () => {
  it('each Hessian comes from the model whose earlier sites are already quantized', () => {
    const log: { site: number; partial: PreparedPlan }[] = [];
    const p = fp32Plan() as unknown as { sites: object[] };
    for (const i of [1, 4, 5]) p.sites[i] = { a: op(32), b: op(4, 'channel', true), gptq: { actOrder: true, damp: 0.01 } };
    const plan = validatePlan(p);
    expect(plan.sites[1].gptq!.sequential).toBe(true); // the published order is the default
    const prep = preparePlan(plan, sites, linears, calibration(), context(log));
    expect(log.map((l) => l.site)).toEqual([1, 4, 5]);
    const at5 = log[2].partial;
    // earlier GPTQ sites arrive quantized (their prepared weights), the site itself and later ones FP32
    expect(at5.sites[1].weight?.q).toBe(prep.sites[1].weight!.q);
    expect(at5.sites[4].weight?.q).toBe(prep.sites[4].weight!.q);
    expect(at5.sites[5].path.path).toBe('fp32');
    expect(at5.sites[6].path.path).toBe('fp32');
    // sequential: false takes the FP32 statistics and never asks the context
    const p2 = fp32Plan() as unknown as { sites: object[] };
    p2.sites[1] = { a: op(32), b: op(4, 'channel', true), gptq: { actOrder: true, damp: 0.01, sequential: false } };
    const cal = calibration();
    cal.sites[1] = {
      ...cal.sites[1]!,
      hessian: Float64Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 2 : 0)),
      hessianRows: 4,
    };
    const log2: typeof log = [];
    preparePlan(validatePlan(p2), sites, linears, cal, context(log2));
    expect(log2).toHaveLength(0);
  });
});

describe('study rows', () => {
  it('lists each plan once, and every chaotic row is detected by its plan', async () => {
    const { BEYOND_ROWS, isChaotic } = await import('../engine/study');
    const P = await import('./presets');
    const plans = [P.fp32(), P.allNote004(4), P.allNote004(2), P.allNote004(8), ...BEYOND_ROWS.map((r) => r.build())];
    const keys = plans.map((p) => JSON.stringify(validatePlan(p).sites));
    expect(new Set(keys).size).toBe(keys.length);
    const chaotic = BEYOND_ROWS.filter((r) => isChaotic(r.build())).map((r) => r.key);
    expect(chaotic).toEqual([
      'int4_per_tensor_sym',
      'w4a4_per_tensor',
      'smoothquant_w4a4',
      'smoothquant_w4a4_search',
      'smoothquant_w4a4_runtime_all',
    ]);
    expect(isChaotic(P.allNote004(4)) && isChaotic(P.allNote004(2)) && !isChaotic(P.perTokenAsym(4))).toBe(true);
  });
});
