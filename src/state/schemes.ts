/**
 * Scheme edits that keep a site valid (validatePlan's rules): a control never produces a plan
 * the engine would reject. Used by the per-site controls and the "apply to all" actions.
 */
import type { OperandScheme, SiteScheme } from '../plan/plan';
import { type SiteKind, smoothFoldable } from '../plan/sites';
import { FORMAT_INFO } from '../quant/formats';

/** Make an operand valid for its role (A: tensor|token; B: tensor|channel|group). */
export function fitOperand(o: OperandScheme, role: 'a' | 'b', hasWeight: boolean): OperandScheme {
  const r: OperandScheme = { ...o };
  // a non-INT format fixes bits, scale layout and sign handling; FP32 or a weight format on an
  // activation falls back to INT
  if (r.format && r.format !== 'int' && r.bits !== 32 && !(FORMAT_INFO[r.format].weightOnly && !(role === 'b' && hasWeight))) {
    const info = FORMAT_INFO[r.format];
    const out: OperandScheme = {
      bits: info.bits,
      granularity: info.block ? 'group' : 'tensor',
      symmetric: true,
      range: 'dynamic',
      format: r.format,
    };
    if (info.block) out.groupSize = info.block;
    return out;
  }
  delete r.format;
  if (role === 'a' && (r.granularity === 'channel' || r.granularity === 'group')) r.granularity = 'token';
  if (role === 'b' && r.granularity === 'token') r.granularity = 'channel';
  if (r.granularity === 'group') r.groupSize = r.groupSize && r.groupSize > 0 ? r.groupSize : 128;
  else delete r.groupSize;
  // an explicit (learned) clip lives on a static, quantized, per-tensor operand only
  if (r.clip && (r.range !== 'static' || r.bits === 32 || r.granularity !== 'tensor')) delete r.clip;
  if (r.range === 'static' && role === 'b' && hasWeight && !r.clip) r.range = 'dynamic';
  if (r.range === 'static' && r.clip) {
    delete r.calibrator;
    delete r.percentile;
  } else if (r.range === 'static') {
    r.granularity = 'tensor';
    r.calibrator = r.calibrator ?? 'minmax';
    if (r.calibrator === 'percentile') r.percentile = r.percentile ?? 99.99;
    else delete r.percentile;
  } else {
    delete r.calibrator;
    delete r.percentile;
  }
  return r;
}

/** The site without its explicit (learned) ranges: they belong to the operands they were learned on. */
export function withoutClips(s: SiteScheme): SiteScheme {
  const strip = (o: OperandScheme): OperandScheme => {
    const { clip: _clip, ...rest } = o;
    return rest;
  };
  return { ...s, a: strip(s.a), b: strip(s.b) };
}

/**
 * SmoothQuant copied to a site keeps its meaning: folded where a LayerNorm can absorb s; run-time
 * scaling only where it was asked for explicitly — a folded setting is never turned into a
 * run-time division behind the user's back.
 */
export function fitSite(s: SiteScheme, hasWeight: boolean, kind?: SiteKind): SiteScheme {
  const out: SiteScheme = { a: fitOperand(s.a, 'a', hasWeight), b: fitOperand(s.b, 'b', hasWeight) };
  if (hasWeight) {
    if (s.smoothquant) {
      const foldable = kind !== undefined && smoothFoldable(kind);
      if (foldable) out.smoothquant = { alpha: s.smoothquant.alpha, placement: 'fold' };
      else if (s.smoothquant.placement === 'runtime') out.smoothquant = { ...s.smoothquant };
    }
    const fmt = out.a.format !== undefined || out.b.format !== undefined;
    if (fmt) {
      delete out.smoothquant;
      return withRotation(out, s, kind);
    }
    if (s.llmInt8) out.llmInt8 = { ...s.llmInt8 };
    if (s.gptq && out.b.bits !== 32) out.gptq = { ...s.gptq };
    return withRotation(out, s, kind);
  }
  return out;
}

/** Bits actually used by a site's operands, weighted by MACs (for "share of multiplications"). */
export function siteBitOps(s: SiteScheme, macs: number): number {
  return macs * s.a.bits * s.b.bits;
}

/** The rotation is kept where it is offered (to_qkv, fc1, fc2) and nothing it excludes is set. */
function withRotation(out: SiteScheme, s: SiteScheme, kind?: SiteKind): SiteScheme {
  if (s.rotation && (kind === 'to_qkv' || kind === 'fc1' || kind === 'fc2') && !out.smoothquant && !out.llmInt8 && !out.gptq)
    out.rotation = { ...s.rotation };
  return out;
}
