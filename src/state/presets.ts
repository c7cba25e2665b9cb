/**
 * One-click plans (issue 5). Each preset is a full Plan over the 38 sites; names are stable
 * because the URL and stage mode refer to them.
 */
import { buildSites, SITE_COUNT, type SiteInfo } from '../model/sites';
import { fp32Plan, fp32Site, type OperandScheme, type Plan, type SiteScheme } from '../engine/plan';

/** The standard ViT of science.md §6 (the site table does not depend on the trained weights). */
export const DEFAULT_SITES: SiteInfo[] = buildSites({ dim: 128, depth: 6, heads: 4, mlp: 256, patch: 4, classes: 10, image: 32 });

export type PresetId = 'fp32' | 'w8a8' | 'w4a8g128' | 'note004-int4' | 'int2-best6' | 'smoothquant' | 'llmint8';

export interface Preset {
  id: PresetId;
  label: string;
  description: string;
  build: (ctx?: PresetContext) => Plan;
}

export interface PresetContext {
  /** best single sites from study-summary.json (note 004 order when absent) */
  bestSites?: number[];
}

/** note 004's best six INT4 sites, used when study-summary.json is absent */
export const NOTE_BEST_SITES = [18, 13, 12, 1, 2, 5];

const op = (bits: OperandScheme['bits'], granularity: OperandScheme['granularity'], symmetric: boolean, extra: Partial<OperandScheme> = {}): OperandScheme => ({
  bits,
  granularity,
  symmetric,
  range: 'dynamic',
  ...extra,
});

/** Attention products (q·kᵀ, attn·v) have no weight: B is an activation, quantized per tensor. */
function perSite(f: (s: SiteInfo) => SiteScheme, name: string): Plan {
  return { version: 1, name, sites: DEFAULT_SITES.map((s) => f(s)) };
}

export function note004Int4Site(bits: 4 | 2 = 4): SiteScheme {
  return { a: op(bits, 'tensor', false), b: op(bits, 'tensor', false) };
}

export const PRESETS: Preset[] = [
  { id: 'fp32', label: 'FP32', description: 'every site in float32 — the reference', build: () => fp32Plan() },
  {
    id: 'w8a8',
    label: 'W8A8 per-token',
    description: 'activations INT8 per-token dynamic asymmetric; weights INT8 per-channel symmetric',
    build: () =>
      perSite(
        (s) => ({ a: op(8, 'token', false), b: s.hasWeight ? op(8, 'channel', true) : op(8, 'tensor', false) }),
        'W8A8 per-token',
      ),
  },
  {
    id: 'w4a8g128',
    label: 'W4A8 g128',
    description: 'weights INT4 symmetric per-group 128 (dim 128/256: one or two groups per row); activations INT8 per-token',
    build: () =>
      perSite(
        (s) => ({ a: op(8, 'token', false), b: s.hasWeight ? op(4, 'group', true, { groupSize: 128 }) : op(8, 'tensor', false) }),
        'W4A8 g128',
      ),
  },
  {
    id: 'note004-int4',
    label: 'note 004: all INT4',
    description: 'all 38 sites INT4 per-tensor dynamic asymmetric on both operands (the note’s PTQ row)',
    build: () => perSite(() => note004Int4Site(4), 'note 004 all-INT4'),
  },
  {
    id: 'int2-best6',
    label: 'INT2 best 6',
    description: 'INT2 per-tensor asymmetric on the six best single sites, the rest FP32',
    build: (ctx) => {
      const best = new Set((ctx?.bestSites ?? NOTE_BEST_SITES).slice(0, 6));
      return perSite((s) => (best.has(s.index) ? note004Int4Site(2) : fp32Site()), 'INT2 on best 6');
    },
  },
  {
    id: 'smoothquant',
    label: 'SmoothQuant',
    description: 'SmoothQuant α = 0.5 on weight sites, W8A8 per-tensor',
    build: () =>
      perSite((s) => {
        const site: SiteScheme = { a: op(8, 'tensor', false), b: op(8, 'tensor', !s.hasWeight ? false : true) };
        if (s.hasWeight) site.smoothquant = { alpha: 0.5 };
        return site;
      }, 'SmoothQuant α 0.5'),
  },
  {
    id: 'llmint8',
    label: 'LLM.int8()',
    description: 'outlier columns (|x| > 6) stay FP32; the rest INT8 per-token × per-channel',
    build: () =>
      perSite((s) => {
        if (!s.hasWeight) return { a: op(8, 'token', false), b: op(8, 'tensor', false) };
        return { a: op(8, 'token', true), b: op(8, 'channel', true), llmInt8: { threshold: 6 } };
      }, 'LLM.int8() t=6'),
  },
];

export function presetById(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}

/** Fetch study-summary.json's `best_sites` (when the study has been run), else null. */
export async function loadBestSites(url = '/models/vit-cifar10/study-summary.json'): Promise<number[] | null> {
  try {
    const r = await fetch(url);
    if (!r.ok) return null;
    if (!(r.headers.get('content-type') ?? '').includes('json')) return null;
    const j = (await r.json()) as { best_sites?: unknown };
    const b = j.best_sites;
    if (Array.isArray(b) && b.length >= 6 && b.every((x) => Number.isInteger(x) && x >= 0 && x < SITE_COUNT)) return b as number[];
  } catch {
    /* absent or malformed: the note's order is used */
  }
  return null;
}
