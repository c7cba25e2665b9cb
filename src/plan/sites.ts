/**
 * The 38 matrix-product sites of the ViT (science.md §6): 0 patch embedding; block b (0..5):
 * 1+6b to_qkv, 2+6b q·kᵀ, 3+6b attn·v, 4+6b to_out, 5+6b fc1, 6+6b fc2; 37 head.
 *
 * Every site is Y = A · Bᵀ in GEMM terms: A is the activation operand (rows = tokens), B the
 * weight operand (rows = output channels). For the activation×activation sites, B is k (q·kᵀ)
 * or vᵀ (attn·v), per head.
 */
import type { VitShape } from '../model/vitWeights';

export type { VitShape };

export type SiteKind = 'patch_embed' | 'to_qkv' | 'qk' | 'av' | 'to_out' | 'fc1' | 'fc2' | 'head';

export interface SiteInfo {
  index: number;
  kind: SiteKind;
  /** block index, or -1 for patch embedding / head */
  block: number;
  name: string;
  /** true when B is a learned weight; false for q·kᵀ and attn·v */
  hasWeight: boolean;
  /** GEMM shape per image: M rows of A, N rows of B, K reduction; `batch` products (heads) */
  m: number;
  n: number;
  k: number;
  batch: number;
  /** multiply-accumulates per image */
  macs: number;
  /** safetensors name prefix of the Linear, for weight sites */
  param?: string;
}

export const SITE_COUNT = 38;

const BLOCK_KINDS: SiteKind[] = ['to_qkv', 'qk', 'av', 'to_out', 'fc1', 'fc2'];
/** sites in one transformer block */
export const SITES_PER_BLOCK = BLOCK_KINDS.length;

/** The kind of site `index` in the standard numbering (science.md §6), for plans without a model. */
export function siteKindAt(index: number): SiteKind {
  if (index === 0) return 'patch_embed';
  if (index === SITE_COUNT - 1) return 'head';
  return BLOCK_KINDS[(index - 1) % SITES_PER_BLOCK];
}

/**
 * Sites whose input is a LayerNorm output with nothing in between: SmoothQuant's 1/s folds into
 * that LayerNorm's γ and β (the paper's QKV and FC1 projections). Every other weight site would
 * need a run-time division.
 */
export function smoothFoldable(kind: SiteKind): boolean {
  return kind === 'to_qkv' || kind === 'fc1';
}

export function siteKindLabel(kind: SiteKind): string {
  return {
    patch_embed: 'patch embedding',
    to_qkv: 'to_qkv',
    qk: 'q·kᵀ',
    av: 'attn·v',
    to_out: 'to_out',
    fc1: 'fc1',
    fc2: 'fc2',
    head: 'head',
  }[kind];
}

export function buildSites(c: VitShape): SiteInfo[] {
  const p = (c.image / c.patch) ** 2;
  const t = p + 1;
  const hd = c.dim / c.heads;
  const sites: SiteInfo[] = [];
  const add = (kind: SiteKind, block: number, m: number, n: number, k: number, batch: number, param?: string) => {
    const index = sites.length;
    const name = block < 0 ? siteKindLabel(kind) : `block ${block} · ${siteKindLabel(kind)}`;
    sites.push({ index, kind, block, name, hasWeight: param !== undefined, m, n, k, batch, macs: m * n * k * batch, param });
  };
  add('patch_embed', -1, p, c.dim, 3 * c.patch * c.patch, 1, 'patch_embed');
  for (let b = 0; b < c.depth; b++) {
    for (const kind of BLOCK_KINDS) {
      if (kind === 'to_qkv') add(kind, b, t, 3 * c.dim, c.dim, 1, `blocks.${b}.to_qkv`);
      else if (kind === 'qk') add(kind, b, t, t, hd, c.heads);
      else if (kind === 'av') add(kind, b, t, hd, t, c.heads);
      else if (kind === 'to_out') add(kind, b, t, c.dim, c.dim, 1, `blocks.${b}.to_out`);
      else if (kind === 'fc1') add(kind, b, t, c.mlp, c.dim, 1, `blocks.${b}.fc1`);
      else add(kind, b, t, c.dim, c.mlp, 1, `blocks.${b}.fc2`);
    }
  }
  add('head', -1, 1, c.classes, c.dim, 1, 'head');
  if (sites.length !== SITE_COUNT && c.depth === 6) throw new Error('site table broken');
  return sites;
}
