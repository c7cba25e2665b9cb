/**
 * One-click plans (issue 5). The plans themselves come from src/plan/presets.ts (the builders
 * the study uses), so a preset clicked in the UI scores exactly the study's row.
 */
import { buildSites, SITE_COUNT, type SiteInfo } from '../plan/sites';
import type { Plan } from '../plan/plan';
import * as P from '../plan/presets';

/** The standard ViT of science.md §6 (the site table does not depend on the trained weights). */
export const DEFAULT_SITES: SiteInfo[] = buildSites({ dim: 128, depth: 6, heads: 4, mlp: 256, patch: 4, classes: 10, image: 32 });

export type PresetId = 'fp32' | 'w8a8' | 'w4a8g128' | 'note004-int4' | 'int2-best6' | 'smoothquant' | 'llmint8';

export interface PresetContext {
  /** best single sites from study-summary.json (note 004 order when absent) */
  bestSites?: number[];
}

export interface Preset {
  id: PresetId;
  label: string;
  description: string;
  build: (ctx?: PresetContext) => Plan;
}

/** note 004's best six INT4 sites, used when study-summary.json is absent */
export const NOTE_BEST_SITES = [18, 13, 12, 1, 2, 5];

export const PRESETS: Preset[] = [
  { id: 'fp32', label: 'FP32', description: 'every site in float32 — the reference', build: () => P.fp32() },
  {
    id: 'w8a8',
    label: 'W8A8 per-token',
    description: 'activations INT8 per-token dynamic asymmetric; weights INT8 per-channel symmetric',
    build: () => P.w8a8PerToken(),
  },
  {
    id: 'w4a8g128',
    label: 'W4A8 g128',
    description: 'weights INT4 symmetric per-group 128 (dim 128/256: one or two groups per row); activations INT8 per-token',
    build: () => P.w4a8Group(128),
  },
  {
    id: 'note004-int4',
    label: 'all INT4 per tensor',
    description:
      'all 38 sites INT4 per-tensor dynamic asymmetric on both operands — an earlier experiment of this project (note 004), the worst case for outliers',
    build: () => P.allNote004(4),
  },
  {
    id: 'int2-best6',
    label: 'INT2 best 6',
    description:
      'INT2 per-tensor asymmetric on the six sites that hurt least alone (chosen by the study, study-summary.json; else the earlier all-INT4 experiment’s order), the rest FP32',
    build: (ctx) => P.sitesPlan('INT2 on the best 6 sites', (ctx?.bestSites ?? NOTE_BEST_SITES).slice(0, 6), P.note004Site(2)),
  },
  {
    id: 'smoothquant',
    label: 'SmoothQuant',
    description: 'SmoothQuant α = 0.5 on weight sites, W8A8 per-tensor',
    build: () => P.smoothQuant(0.5, 8),
  },
  {
    id: 'llmint8',
    label: 'LLM.int8()',
    description: 'input columns with |x| > 6 stay FP32; the rest INT8 per-token × per-channel',
    build: () => P.llmInt8(6),
  },
];

export function presetById(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}

/** Fetch study-summary.json's `best_sites` (when the study has been run), else null. */
export async function loadBestSites(url = '/models/vit-cifar10/study-summary.json'): Promise<number[] | null> {
  try {
    const r = await fetch(url);
    if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) return null;
    const j = (await r.json()) as { best_sites?: unknown };
    const b = j.best_sites;
    if (Array.isArray(b) && b.length >= 6 && b.every((x) => Number.isInteger(x) && x >= 0 && x < SITE_COUNT)) return b as number[];
  } catch {
    /* absent or malformed: the note's order is used */
  }
  return null;
}
