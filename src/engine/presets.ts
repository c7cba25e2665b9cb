/**
 * Plans used by the study (and offered by the UI as presets). Builders only: plain data out.
 */
import { SITE_COUNT } from '../model/sites';
import { defaultHasWeight, type OperandScheme, type Plan, type SiteScheme, fp32Site, uniformPlan } from './plan';

export const op = (bits: OperandScheme['bits'], granularity: OperandScheme['granularity'] = 'tensor', symmetric = false, extra: Partial<OperandScheme> = {}): OperandScheme => ({
  bits,
  granularity,
  symmetric,
  range: 'dynamic',
  ...extra,
});

/** note 004: per-tensor, dynamic, asymmetric unsigned min/max on both operands */
export const note004Site = (bits: 8 | 4 | 2): SiteScheme => ({ a: op(bits), b: op(bits) });

export function plan(name: string, schemeFor: (site: number, hasWeight: boolean) => SiteScheme): Plan {
  return { version: 1, name, sites: Array.from({ length: SITE_COUNT }, (_, i) => schemeFor(i, defaultHasWeight(i))) };
}

/** Only the listed sites use `scheme`; the rest stay FP32. */
export function sitesPlan(name: string, sites: number[], scheme: SiteScheme): Plan {
  const set = new Set(sites);
  return plan(name, (i) => (set.has(i) ? structuredClone(scheme) : fp32Site()));
}

export const fp32 = (): Plan => uniformPlan(fp32Site(), 'FP32');
export const allNote004 = (bits: 8 | 4 | 2): Plan => uniformPlan(note004Site(bits), `all 38 sites INT${bits} per-tensor dynamic asymmetric`);

/** W8A8: activations per-token dynamic asymmetric, weights per-channel symmetric; attention operands per-token/per-channel. */
export const w8a8PerToken = (): Plan =>
  plan('W8A8 per-token', () => ({ a: op(8, 'token', false), b: op(8, 'channel', true) }));

export const perTensorSym = (bits: 8 | 4): Plan => plan(`INT${bits} per-tensor symmetric`, () => ({ a: op(bits, 'tensor', true), b: op(bits, 'tensor', true) }));
export const perTensorAsym = (bits: 8 | 4): Plan => plan(`INT${bits} per-tensor asymmetric`, () => ({ a: op(bits, 'tensor', false), b: op(bits, 'tensor', false) }));
export const perTokenAsym = (bits: 8 | 4): Plan =>
  plan(`INT${bits} per-token A / per-channel B`, () => ({ a: op(bits, 'token', false), b: op(bits, 'channel', true) }));

/** W4A8: INT4 symmetric per-group weights, INT8 per-token activations; attention products INT8 per-token. */
export const w4a8Group = (g: number): Plan =>
  plan(`W4A8 group ${g}`, (_i, w) => (w ? { a: op(8, 'token', false), b: op(4, 'group', true, { groupSize: g }) } : { a: op(8, 'token', false), b: op(8, 'channel', true) }));

export const w4a8PerChannel = (): Plan =>
  plan('W4A8 per-channel', (_i, w) => (w ? { a: op(8, 'token', false), b: op(4, 'channel', true) } : { a: op(8, 'token', false), b: op(8, 'channel', true) }));

/** Static per-tensor INT8 activations calibrated with `calibrator`, INT8 per-channel weights. */
export const staticInt8 = (calibrator: 'minmax' | 'percentile' | 'mse' | 'kl', bits: 8 | 4 = 8): Plan =>
  plan(`A${bits} static (${calibrator}) / W8 per-channel`, (_i, w) => ({
    a: op(bits, 'tensor', false, { range: 'static', calibrator, ...(calibrator === 'percentile' ? { percentile: 99.99 } : {}) }),
    b: w ? op(8, 'channel', true) : op(bits, 'tensor', false, { range: 'static', calibrator, ...(calibrator === 'percentile' ? { percentile: 99.99 } : {}) }),
  }));

/** Per-tensor INT8 (A dynamic per-tensor, W per-tensor symmetric) with optional SmoothQuant on weight sites. */
export const smoothQuant = (alpha: number | null, bits: 8 | 4 = 8): Plan =>
  plan(alpha === null ? `W${bits}A${bits} per-tensor` : `SmoothQuant α=${alpha} W${bits}A${bits} per-tensor`, (_i, w) => {
    const s: SiteScheme = { a: op(bits, 'tensor', false), b: op(bits, 'tensor', true) };
    if (w && alpha !== null) s.smoothquant = { alpha };
    return s;
  });

export const llmInt8 = (threshold: number): Plan =>
  plan(`LLM.int8() threshold ${threshold}`, (_i, w) => {
    const s: SiteScheme = { a: op(8, 'token', true), b: op(8, 'channel', true) };
    if (w) s.llmInt8 = { threshold };
    return s;
  });

/** Weight-only quantization (activations FP32), RTN or GPTQ. */
export const weightOnly = (bits: 4 | 2, granularity: 'channel' | 'group', gptq: boolean, groupSize = 32): Plan =>
  plan(`W${bits} ${granularity === 'group' ? `group ${groupSize}` : 'per-channel'} weight-only ${gptq ? 'GPTQ' : 'RTN'}`, (_i, w) => {
    if (!w) return fp32Site();
    const s: SiteScheme = { a: op(32), b: op(bits, granularity, true, granularity === 'group' ? { groupSize } : {}) };
    if (gptq) s.gptq = { actOrder: true, damp: 0.01 };
    return s;
  });
