/**
 * Plans used by the study (and offered by the UI as presets). Builders only: plain data out.
 */
import { SITE_COUNT, siteKindAt, smoothFoldable } from './sites';
import { defaultHasWeight, type OperandScheme, type Plan, type SiteScheme, fp32Site, uniformPlan } from './plan';
import { FORMAT_INFO, type NumberFormat } from '../quant/formats';

export const op = (
  bits: OperandScheme['bits'],
  granularity: OperandScheme['granularity'] = 'tensor',
  symmetric = false,
  extra: Partial<OperandScheme> = {},
): OperandScheme => ({
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
export const allNote004 = (bits: 8 | 4 | 2): Plan =>
  uniformPlan(note004Site(bits), `all 38 sites INT${bits} per-tensor dynamic asymmetric`);

/** W8A8: activations per-token dynamic asymmetric, weights per-channel symmetric; attention operands per-token/per-channel. */
export const w8a8PerToken = (): Plan => plan('W8A8 per-token', () => ({ a: op(8, 'token', false), b: op(8, 'channel', true) }));

export const perTensorSym = (bits: 8 | 4): Plan =>
  plan(`INT${bits} per-tensor symmetric`, () => ({ a: op(bits, 'tensor', true), b: op(bits, 'tensor', true) }));
export const perTensorAsym = (bits: 8 | 4): Plan =>
  plan(`INT${bits} per-tensor asymmetric`, () => ({ a: op(bits, 'tensor', false), b: op(bits, 'tensor', false) }));
export const perTokenAsym = (bits: 8 | 4): Plan =>
  plan(`INT${bits} per-token A / per-channel B`, () => ({ a: op(bits, 'token', false), b: op(bits, 'channel', true) }));

/** W4A8: INT4 symmetric per-group weights, INT8 per-token activations; attention products INT8 per-token. */
export const w4a8Group = (g: number): Plan =>
  plan(`W4A8 group ${g}`, (_i, w) =>
    w ? { a: op(8, 'token', false), b: op(4, 'group', true, { groupSize: g }) } : { a: op(8, 'token', false), b: op(8, 'channel', true) },
  );

export const w4a8PerChannel = (): Plan =>
  plan('W4A8 per-channel', (_i, w) =>
    w ? { a: op(8, 'token', false), b: op(4, 'channel', true) } : { a: op(8, 'token', false), b: op(8, 'channel', true) },
  );

/** Static per-tensor INT8 activations calibrated with `calibrator`, INT8 per-channel weights. */
export const staticInt8 = (calibrator: 'minmax' | 'percentile' | 'mse' | 'kl', bits: 8 | 4 = 8): Plan =>
  plan(`A${bits} static (${calibrator}) / W8 per-channel`, (_i, w) => ({
    a: op(bits, 'tensor', false, { range: 'static', calibrator, ...(calibrator === 'percentile' ? { percentile: 99.99 } : {}) }),
    b: w
      ? op(8, 'channel', true)
      : op(bits, 'tensor', false, { range: 'static', calibrator, ...(calibrator === 'percentile' ? { percentile: 99.99 } : {}) }),
  }));

/**
 * Per-tensor W·A (A dynamic per-tensor asymmetric, W per-tensor symmetric) with optional SmoothQuant:
 * 'fold' smooths to_qkv and fc1 only, folded into their LayerNorms (the paper); 'runtime-all' also
 * smooths every other weight site by run-time scaling (not foldable — a division at run time).
 */
export const smoothQuant = (
  alpha: number | 'search' | null,
  bits: 8 | 4 = 8,
  placement: 'fold' | 'runtime-all' = 'fold',
  a: Partial<OperandScheme> = {},
): Plan => {
  const sq =
    alpha === null
      ? ''
      : `SmoothQuant α=${alpha === 'search' ? 'searched' : alpha}${placement === 'runtime-all' ? ' (+ run-time scaling at every other weight site)' : ' (folded)'} `;
  return plan(`${sq}W${bits}A${bits} per-tensor${a.range === 'static' ? ` static ${a.calibrator}` : ''}`, (i, w) => {
    const s: SiteScheme = { a: op(bits, 'tensor', false, a), b: op(bits, 'tensor', true) };
    if (!w || alpha === null) return s;
    const foldable = smoothFoldable(siteKindAt(i));
    if (foldable) s.smoothquant = { alpha, placement: 'fold' };
    else if (placement === 'runtime-all') s.smoothquant = { alpha, placement: 'runtime' };
    return s;
  });
};

export const llmInt8 = (threshold: number): Plan =>
  plan(`LLM.int8() threshold ${threshold}`, (_i, w) => {
    const s: SiteScheme = { a: op(8, 'token', true), b: op(8, 'channel', true) };
    if (w) s.llmInt8 = { threshold };
    return s;
  });

/** true = 'sequential' (the published default) */
export type GptqVariant = boolean | 'fp32-hessians' | 'sequential';

/**
 * Weight-only quantization (activations FP32), RTN or GPTQ (Hessians from the FP32 model, or the
 * published sequential order). grid: 'asym' = min/max (at 2 bits the 4-level INT2), 'sym' =
 * restricted symmetric (at 2 bits the ternary grid {−s, 0, s}, named so).
 */
export const weightOnly = (
  bits: 4 | 3 | 2,
  granularity: 'channel' | 'group',
  gptq: GptqVariant,
  groupSize = 32,
  grid: 'asym' | 'sym' = 'asym',
): Plan => {
  const name = bits === 2 && grid === 'sym' ? 'ternary' : `W${bits}${grid === 'sym' ? ' symmetric' : ''}`;
  const sequential = gptq === true || gptq === 'sequential';
  const how = gptq === false ? 'RTN' : sequential ? 'GPTQ (sequential)' : 'GPTQ (FP32 Hessians)';
  return plan(`${name} ${granularity === 'group' ? `group ${groupSize}` : 'per-channel'} weight-only ${how}`, (_i, w) => {
    if (!w) return fp32Site();
    const s: SiteScheme = { a: op(32), b: op(bits, granularity, grid === 'sym', granularity === 'group' ? { groupSize } : {}) };
    if (gptq) s.gptq = { actOrder: true, damp: 0.01, sequential };
    return s;
  });
};

// ---------------------------------------------------------------------------------------------
// Number formats beside INT and the Hadamard rotation (science.md §9)

/** An operand in a non-INT format (bits, granularity and block set as the format requires). */
export const fmtOp = (format: Exclude<NumberFormat, 'int'>): OperandScheme => {
  const info = FORMAT_INFO[format];
  return info.block === 0
    ? { bits: info.bits, granularity: 'tensor', symmetric: true, range: 'dynamic', format }
    : { bits: info.bits, granularity: 'group', groupSize: info.block, symmetric: true, range: 'dynamic', format };
};

/**
 * All 38 sites in `format`, both operands (q·kᵀ and attn·v too); NF4 is a weight format: W-NF4 at
 * the weight sites, activations and attention products FP32.
 */
export const formatPlan = (format: Exclude<NumberFormat, 'int'>): Plan =>
  format === 'nf4'
    ? plan('W-NF4 (weights NF4 blocks of 64, activations FP32)', (_i, w) =>
        w ? { a: op(32, 'tensor', true), b: fmtOp('nf4') } : fp32Site(),
      )
    : plan(`all sites ${FORMAT_INFO[format].label}`, () => ({ a: fmtOp(format), b: fmtOp(format) }));

/** The sites the rotation is offered at: every block's to_qkv, fc1 and fc2 (18 sites). */
export const ROTATABLE_SITES: number[] = Array.from({ length: SITE_COUNT }, (_, i) => i).filter((i) =>
  ['to_qkv', 'fc1', 'fc2'].includes(siteKindAt(i)),
);

/** `p` with the Hadamard rotation (seed) at the listed sites (default: all rotatable ones). */
export function withRotation(p: Plan, seed = 1, sites: number[] = ROTATABLE_SITES): Plan {
  const out = structuredClone(p);
  for (const i of sites) out.sites[i].rotation = { seed };
  out.name = `${p.name ?? 'plan'} + Hadamard rotation`;
  return out;
}

/**
 * The rotation study's plans, on the 18 rotatable sites only (the rest FP32, so the rotation's
 * effect is not hidden by sites it cannot reach): 'int4-tensor' = INT4 per-tensor symmetric on A
 * and W; 'w4a4' = A INT4 per-token asymmetric, W INT4 per-channel symmetric (QuaRot's W4A4);
 * 'w4a8' = A INT8 per-token, W INT4 per-channel.
 */
export function rotationStudyPlan(kind: 'int4-tensor' | 'w4a4' | 'w4a8', rotate: boolean, seed = 1): Plan {
  const scheme: SiteScheme =
    kind === 'int4-tensor'
      ? { a: op(4, 'tensor', true), b: op(4, 'tensor', true) }
      : kind === 'w4a4'
        ? { a: op(4, 'token', false), b: op(4, 'channel', true) }
        : { a: op(8, 'token', false), b: op(4, 'channel', true) };
  const label = { 'int4-tensor': 'INT4 per-tensor', w4a4: 'W4A4 (per-token / per-channel)', w4a8: 'W4A8 (per-token / per-channel)' }[kind];
  const p = sitesPlan(`${label} at to_qkv, fc1, fc2`, ROTATABLE_SITES, scheme);
  return rotate ? withRotation(p, seed) : p;
}
