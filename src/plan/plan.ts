/**
 * Quantization plans: the serializable configuration of all 38 sites (what the UI puts in the
 * URL, what `npm run study` and tools/ref/quant_ref.py read). Validation throws explicit errors.
 */
import { SITE_COUNT, siteKindAt, smoothFoldable } from './sites';
import { FORMAT_INFO, NUMBER_FORMATS, type NumberFormat } from '../quant/formats';

/** 3: weight operands only (weight-only W3, GPTQ rows) */
export type OperandBits = 32 | 8 | 4 | 3 | 2;
/** activations: tensor | token; weights (and the B operand of attention products): tensor | channel | group */
export type Granularity = 'tensor' | 'token' | 'channel' | 'group';
export type RangeMode = 'dynamic' | 'static';
export type Calibrator = 'minmax' | 'percentile' | 'mse' | 'kl';

export interface OperandScheme {
  bits: OperandBits;
  granularity: Granularity;
  /** columns (along K) per group, for 'group' */
  groupSize?: number;
  symmetric: boolean;
  /** dynamic: range recomputed on every call (per image / per token); static: calibrated once */
  range: RangeMode;
  calibrator?: Calibrator;
  /** percentile calibrator: the kept share in percent, e.g. 99.99 */
  percentile?: number;
  /**
   * Number format (science.md §9); absent or 'int' = the integer grid above. FP8 (E4M3, E5M2):
   * per-tensor scale, granularity 'tensor'. MXFP8/MXFP4 (blocks of 32 along K), NVFP4 (16),
   * NF4 (64, weights only): granularity 'group' with the format's block as groupSize. `bits` says
   * the element width (8 or 4), `symmetric` is true, ranges are dynamic.
   */
  format?: NumberFormat;
  /**
   * An explicit static range (range 'static', INT grid, granularity 'tensor'): used as is instead
   * of calibrating — e.g. the real range [s·(qmin − z), s·(qmax − z)] a QAT run learned
   * (`clipFromScaleZero`). Finite, min < max and min ≤ 0 ≤ max (zero is on the grid, science.md
   * §1), so that scaleZero(min, max) gives back the learned (s, z). Allowed on weights too (a
   * learned per-tensor weight range); weights otherwise take their range from the data.
   */
  clip?: { min: number; max: number };
}

export interface SiteScheme {
  /** left operand A (activations; q for q·kᵀ; attn for attn·v) */
  a: OperandScheme;
  /** right operand B (weights; k for q·kᵀ; v for attn·v) */
  b: OperandScheme;
  /**
   * SmoothQuant (science.md §3): α fixed, or 'search' = per site over {0, 0.05, …, 1} by output
   * MSE on calibration images. 'fold' (to_qkv, fc1): 1/s folds into the preceding LayerNorm and s
   * into W — an ordinary quantized GEMM at run time. 'runtime' (any other weight site, on request):
   * A is divided by s at run time, because nothing before it can absorb s.
   */
  smoothquant?: { alpha: number | 'search'; placement?: 'fold' | 'runtime' };
  /** LLM.int8(): input columns with any |x| > threshold stay FP32 */
  llmInt8?: { threshold: number };
  /**
   * GPTQ weight rounding (weight sites). sequential (default, the published opt_sequential): each
   * site's Hessian comes from its inputs in the model whose earlier sites are already quantized as
   * the plan says; false: every Hessian from the FP32 model.
   */
  gptq?: { actOrder: boolean; damp: number; sequential?: boolean };
  /**
   * Randomized Hadamard rotation R (QuaRot; science.md §9), to_qkv / fc1 / fc2 only: W·R folded
   * into the weights once; A·R computed online before A is quantized (for to_qkv and fc1 the
   * LayerNorm's γ is folded into W and β into the bias first, so A is the normalized x̂).
   * The FP32 function is unchanged: (A·R)(W·R)ᵀ = A·Wᵀ.
   */
  rotation?: { seed: number };
}

export interface Plan {
  version: 1;
  name?: string;
  sites: SiteScheme[];
}

export const FP32_OPERAND: OperandScheme = { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' };

export function fp32Site(): SiteScheme {
  return { a: { ...FP32_OPERAND }, b: { ...FP32_OPERAND } };
}

export function uniformPlan(site: SiteScheme, name?: string): Plan {
  return { version: 1, name, sites: Array.from({ length: SITE_COUNT }, () => structuredClone(site)) };
}

export function fp32Plan(): Plan {
  return uniformPlan(fp32Site(), 'FP32');
}

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

const BITS = [32, 8, 4, 3, 2];
const GRANS = ['tensor', 'token', 'channel', 'group'];
const CALS = ['minmax', 'percentile', 'mse', 'kl'];

function validateOperand(o: unknown, where: string, role: 'a' | 'b', hasWeight: boolean): OperandScheme {
  if (typeof o !== 'object' || o === null) throw new PlanError(`${where}: operand must be an object`);
  const r = o as Record<string, unknown>;
  if (typeof r.bits !== 'number')
    throw new PlanError(
      `${where}.bits: ${JSON.stringify(r.bits)} is a ${r.bits === null ? 'null' : typeof r.bits}; expected a number (32, 8, 4 or 2)`,
    );
  if (!BITS.includes(r.bits)) throw new PlanError(`${where}.bits: ${String(r.bits)} is not one of 32, 8, 4, 3, 2`);
  if (r.bits === 3 && !(role === 'b' && hasWeight))
    throw new PlanError(`${where}.bits: 3 bits are offered for weights only (the activation kernels take 8, 4 or 2)`);
  if (!GRANS.includes(r.granularity as string))
    throw new PlanError(`${where}.granularity: ${String(r.granularity)} is not one of ${GRANS.join(', ')}`);
  if (typeof r.symmetric !== 'boolean') throw new PlanError(`${where}.symmetric must be true or false`);
  if (r.range !== 'dynamic' && r.range !== 'static') throw new PlanError(`${where}.range: ${String(r.range)} is not dynamic or static`);
  const g = r.granularity as Granularity;
  if (r.format !== undefined && !NUMBER_FORMATS.includes(r.format as NumberFormat))
    throw new PlanError(`${where}.format: ${JSON.stringify(r.format)} is not one of ${NUMBER_FORMATS.join(', ')}`);
  const blockFormat =
    r.format !== undefined && r.format !== 'int' && (FORMAT_INFO as Record<string, { block: number }>)[r.format as string]?.block > 0;
  if (role === 'a' && (g === 'channel' || (g === 'group' && !blockFormat)))
    throw new PlanError(`${where}.granularity: '${g}' varies along the reduction dimension for activations — use 'tensor' or 'token'`);
  if (role === 'b' && g === 'token') throw new PlanError(`${where}.granularity: 'token' applies to the A operand; use 'channel' for B`);
  if (g === 'group') {
    if (!Number.isInteger(r.groupSize) || (r.groupSize as number) < 1)
      throw new PlanError(`${where}.groupSize must be a positive integer for per-group`);
  }
  if (r.clip !== undefined) {
    const c = r.clip as Record<string, unknown> | null;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new PlanError(`${where}.clip must be an object { min, max }`);
    if (r.range !== 'static')
      throw new PlanError(`${where}.clip: an explicit range is a static range; set range to 'static' (or remove clip)`);
    if (r.bits === 32)
      throw new PlanError(`${where}.clip: an FP32 operand is not quantized, so it has no range; remove clip or quantize it`);
    if (r.format !== undefined && r.format !== 'int')
      throw new PlanError(`${where}.clip: explicit ranges are offered for the INT grid only (format 'int')`);
    if (typeof c.min !== 'number' || !Number.isFinite(c.min) || typeof c.max !== 'number' || !Number.isFinite(c.max))
      throw new PlanError(
        `${where}.clip: min and max must be finite numbers (got ${JSON.stringify(c.min) ?? 'missing'}, ${JSON.stringify(c.max) ?? 'missing'})`,
      );
    if (!(c.min < c.max)) throw new PlanError(`${where}.clip: min (${c.min}) must be below max (${c.max})`);
    if (c.min > 0 || c.max < 0)
      throw new PlanError(
        `${where}.clip: [${c.min}, ${c.max}] does not hold 0; zero must be on the grid (science.md §1), so min ≤ 0 ≤ max`,
      );
    if (r.calibrator !== undefined || r.percentile !== undefined)
      throw new PlanError(`${where}.clip: an explicit range replaces calibration; remove calibrator/percentile`);
  }
  if (r.range === 'static') {
    if (!(role === 'a' || !hasWeight) && r.clip === undefined)
      throw new PlanError(
        `${where}.range: weights are constant; 'static' applies to activations (or to weights with an explicit learned clip { min, max })`,
      );
    if (g !== 'tensor')
      throw new PlanError(
        `${where}.range: a static range is one ${r.clip !== undefined ? 'explicit' : 'calibrated'} range per tensor; use granularity 'tensor'`,
      );
    const cal = r.calibrator ?? 'minmax';
    if (!CALS.includes(cal as string)) throw new PlanError(`${where}.calibrator: ${String(cal)} is not one of ${CALS.join(', ')}`);
    if (cal === 'percentile') {
      const p = r.percentile;
      if (typeof p !== 'number' || !(p > 50 && p <= 100)) throw new PlanError(`${where}.percentile must be in (50, 100]`);
    }
  }
  const out: OperandScheme = {
    bits: r.bits as OperandBits,
    granularity: g,
    symmetric: r.symmetric as boolean,
    range: r.range as RangeMode,
  };
  if (g === 'group') out.groupSize = r.groupSize as number;
  if (r.format !== undefined && r.format !== 'int') {
    const fmt = r.format as NumberFormat;
    if (!NUMBER_FORMATS.includes(fmt))
      throw new PlanError(`${where}.format: ${JSON.stringify(r.format)} is not one of ${NUMBER_FORMATS.join(', ')}`);
    const info = FORMAT_INFO[fmt as Exclude<NumberFormat, 'int'>];
    if (r.bits !== info.bits) throw new PlanError(`${where}.bits: ${info.label} has ${info.bits}-bit elements; set bits to ${info.bits}`);
    if (info.weightOnly && !(role === 'b' && hasWeight))
      throw new PlanError(`${where}.format: ${info.label} is a weight format (QLoRA); use it on the B operand of a weight site`);
    if (r.symmetric !== true) throw new PlanError(`${where}.symmetric: ${info.label} is sign-magnitude; set symmetric to true`);
    if (r.range !== 'dynamic')
      throw new PlanError(`${where}.range: ${info.label} scales are computed from the data ('dynamic'); static ranges are offered for INT`);
    if (info.block === 0 && g !== 'tensor')
      throw new PlanError(`${where}.granularity: ${info.label} has one per-tensor scale; use 'tensor'`);
    if (info.block > 0 && (g !== 'group' || r.groupSize !== info.block))
      throw new PlanError(
        `${where}.granularity: ${info.label} shares one scale per ${info.block} elements along K; use granularity 'group' with groupSize ${info.block}`,
      );
    out.format = fmt;
  }
  if (r.clip !== undefined) {
    const c = r.clip as { min: number; max: number };
    out.clip = { min: c.min, max: c.max };
  } else if (r.range === 'static') {
    out.calibrator = (r.calibrator as Calibrator) ?? 'minmax';
    if (out.calibrator === 'percentile') out.percentile = r.percentile as number;
  }
  return out;
}

/** Validate and normalize untrusted JSON into a Plan; throws PlanError naming the bad field. */
export function validatePlan(json: unknown, hasWeight: (site: number) => boolean = defaultHasWeight): Plan {
  if (typeof json !== 'object' || json === null) throw new PlanError('plan must be a JSON object');
  const p = json as Record<string, unknown>;
  if (p.version !== 1) throw new PlanError(`plan.version: ${String(p.version)} is not supported (expected 1)`);
  if (!Array.isArray(p.sites) || p.sites.length !== SITE_COUNT) throw new PlanError(`plan.sites must list all ${SITE_COUNT} sites`);
  const sites = p.sites.map((s: unknown, i: number) => {
    const where = `plan.sites[${i}]`;
    if (typeof s !== 'object' || s === null) throw new PlanError(`${where} must be an object`);
    const r = s as Record<string, unknown>;
    const w = hasWeight(i);
    const site: SiteScheme = { a: validateOperand(r.a, `${where}.a`, 'a', w), b: validateOperand(r.b, `${where}.b`, 'b', w) };
    if (r.smoothquant !== undefined) {
      const sq = (r.smoothquant ?? {}) as { alpha?: unknown; placement?: unknown };
      const a = sq.alpha;
      if (!w) throw new PlanError(`${where}.smoothquant applies to weight sites only`);
      if (a !== 'search' && (typeof a !== 'number' || !(a >= 0 && a <= 1)))
        throw new PlanError(`${where}.smoothquant.alpha must be a number in [0, 1] or "search"`);
      const foldable = smoothFoldable(siteKindAt(i));
      const placement = sq.placement ?? (foldable ? 'fold' : undefined);
      if (placement === undefined)
        throw new PlanError(
          `${where}.smoothquant: site ${i}'s input is not a LayerNorm output, so s cannot be folded; set "placement": "runtime" to divide the activations by s at run time`,
        );
      if (placement !== 'fold' && placement !== 'runtime')
        throw new PlanError(`${where}.smoothquant.placement: ${String(placement)} is not fold or runtime`);
      if (placement === 'fold' && !foldable)
        throw new PlanError(`${where}.smoothquant.placement: only to_qkv and fc1 follow a LayerNorm that can absorb s; use "runtime" here`);
      site.smoothquant = { alpha: a as number | 'search', placement };
    }
    if (r.llmInt8 !== undefined) {
      const t = (r.llmInt8 as { threshold?: unknown })?.threshold;
      if (!w) throw new PlanError(`${where}.llmInt8 applies to weight sites only`);
      if (typeof t !== 'number' || !(t > 0)) throw new PlanError(`${where}.llmInt8.threshold must be > 0`);
      site.llmInt8 = { threshold: t };
    }
    if (r.gptq !== undefined) {
      const g = r.gptq as { actOrder?: unknown; damp?: unknown };
      if (!w) throw new PlanError(`${where}.gptq applies to weight sites only`);
      if (site.b.bits === 32) throw new PlanError(`${where}.gptq needs quantized weights (b.bits < 32)`);
      const damp = g.damp ?? 0.01;
      if (typeof damp !== 'number' || !(damp > 0 && damp < 1)) throw new PlanError(`${where}.gptq.damp must be in (0, 1)`);
      const g2 = r.gptq as { sequential?: unknown };
      if (g2.sequential !== undefined && typeof g2.sequential !== 'boolean')
        throw new PlanError(`${where}.gptq.sequential must be true or false`);
      site.gptq = { actOrder: g.actOrder === true, damp, sequential: g2.sequential !== false };
    }
    if ((site.a.clip || site.b.clip) && (site.smoothquant || site.gptq || r.rotation !== undefined))
      throw new PlanError(
        `${where}: an explicit clip is a range of the operand as it is; SmoothQuant, GPTQ and the rotation change the operand — remove them or the clip`,
      );
    const fmtSite = (site.a.format ?? 'int') !== 'int' || (site.b.format ?? 'int') !== 'int';
    if (fmtSite && (site.gptq || site.llmInt8 || site.smoothquant))
      throw new PlanError(`${where}: GPTQ, LLM.int8() and SmoothQuant run on the INT grid here; remove them or use format 'int'`);
    if (r.rotation !== undefined) {
      const rot = r.rotation as { seed?: unknown } | null;
      const kind = siteKindAt(i);
      if (kind !== 'to_qkv' && kind !== 'fc1' && kind !== 'fc2')
        throw new PlanError(
          `${where}.rotation: the Hadamard rotation is offered at to_qkv, fc1 (after a LayerNorm) and fc2 (online), not at ${kind}`,
        );
      if (
        typeof rot !== 'object' ||
        rot === null ||
        !Number.isInteger(rot.seed) ||
        (rot.seed as number) < 0 ||
        (rot.seed as number) > 0xffffffff
      )
        throw new PlanError(`${where}.rotation.seed must be an integer in [0, 2^32)`);
      if (site.smoothquant || site.llmInt8 || site.gptq)
        throw new PlanError(`${where}.rotation: combining the rotation with SmoothQuant, LLM.int8() or GPTQ is not offered`);
      site.rotation = { seed: rot.seed as number };
    }
    return site;
  });
  return { version: 1, name: typeof p.name === 'string' ? p.name : undefined, sites };
}

/** Weight sites in the standard ViT numbering (used when no model is loaded yet). */
export function defaultHasWeight(site: number): boolean {
  const kind = siteKindAt(site);
  return kind !== 'qk' && kind !== 'av';
}

// ---------------------------------------------------------------------------------------------
// Which path runs a site (the "plan" stage of config → plan → execution).

export type SitePath = 'fp32' | 'int8-gemm' | 'int4-gemm' | 'weight-only' | 'fake-quant';

export interface SitePathInfo {
  path: SitePath;
  /** why, in one sentence, for the UI */
  reason: string;
}

/**
 * The kernel a site's scheme maps to (science.md §2): an integer GEMM when both operands are
 * quantized, A per-tensor/per-token and B per-tensor/per-channel (or per-group with symmetric
 * INT4 weights on W4A8), no SmoothQuant-free outlier split. INT4/INT2 values ride in int8 lanes.
 */
export function sitePath(s: SiteScheme, hasWeight: boolean): SitePathInfo {
  const qa = s.a.bits !== 32;
  const qb = s.b.bits !== 32;
  const rot = s.rotation ? ' (Hadamard-rotated operands)' : '';
  if (!qa && !qb) return { path: 'fp32', reason: `both operands FP32${rot}` };
  const fa = qa && (s.a.format ?? 'int') !== 'int';
  const fb = qb && (s.b.format ?? 'int') !== 'int';
  if (fa || fb) {
    const name = (o: OperandScheme) =>
      o.bits === 32 ? 'FP32' : (o.format ?? 'int') === 'int' ? `INT${o.bits}` : FORMAT_INFO[o.format as Exclude<NumberFormat, 'int'>].label;
    if (!qa && hasWeight)
      return { path: 'weight-only', reason: `${name(s.b)} weights decoded once (by lookup table) into FP32 weights; FP32 GEMM${rot}` };
    return {
      path: 'fake-quant',
      reason: `${name(s.a)} × ${name(s.b)}: no GEMM of ours takes these formats — both operands decoded to FP32 and multiplied in FP32 (simulated)${rot}`,
    };
  }
  if (s.llmInt8) return { path: 'fake-quant', reason: 'LLM.int8() mixes an FP32 outlier part with the INT8 part: simulated' };
  if (!qa) return { path: 'weight-only', reason: 'weights quantized, activations FP32: dequantized weights, FP32 GEMM' };
  if (!qb) return { path: 'fake-quant', reason: 'activations quantized but B in FP32: no integer GEMM, simulated' };
  if (s.b.granularity === 'group') {
    if (hasWeight && s.b.bits <= 4 && s.b.symmetric && s.a.bits <= 8)
      return { path: 'int4-gemm', reason: 'INT4 per-group weights × INT8 activations: W4A8 GEMM, per-group partial sums' };
    return { path: 'fake-quant', reason: 'per-group scales need the W4A8 kernel (symmetric ≤4-bit weights): simulated' };
  }
  if (hasWeight && s.b.bits === 4 && s.b.symmetric && s.b.granularity !== 'tensor' && s.a.bits <= 8)
    return { path: 'int4-gemm', reason: 'INT4 per-channel weights × INT8 activations: W4A8 GEMM' };
  return { path: 'int8-gemm', reason: 'both operands on an integer grid with row × column scales: W8A8 GEMM (dot4I8Packed)' };
}
