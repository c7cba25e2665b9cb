/** The ViT's configuration and weights, loaded from public/models/<name>/ and checked against each other. */
import type { FileReader } from '../data/cifar';
import { ModelError, parseSafetensors, verifySha256, type Tensor } from './safetensors';

/** the ViT's shape: what the site table (src/plan/sites.ts) and the lowering are built from */
export interface VitShape {
  dim: number;
  depth: number;
  heads: number;
  mlp: number;
  patch: number;
  classes: number;
  image: number;
}

export interface VitConfig extends VitShape {
  layer_norm_eps: number;
  mean: number[];
  std: number[];
}

export interface Linear {
  /** [out × in] row-major */
  w: Float32Array;
  b: Float32Array;
  out: number;
  in: number;
}

export interface BlockWeights {
  ln1: { g: Float32Array; b: Float32Array };
  toQkv: Linear;
  toOut: Linear;
  ln2: { g: Float32Array; b: Float32Array };
  fc1: Linear;
  fc2: Linear;
}

export interface VitWeights {
  config: VitConfig;
  patchEmbed: Linear;
  cls: Float32Array;
  pos: Float32Array;
  blocks: BlockWeights[];
  norm: { g: Float32Array; b: Float32Array };
  head: Linear;
}

function need(t: Map<string, Tensor>, key: string, shape: number[]): Float32Array {
  const x = t.get(key);
  if (!x) throw new ModelError(`model.safetensors has no tensor ${key}`);
  if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i]))
    throw new ModelError(`tensor ${key} has shape [${x.shape}], config.json implies [${shape}]`);
  return x.data;
}

export function buildWeights(config: VitConfig, tensors: Map<string, Tensor>): VitWeights {
  const { dim, mlp, patch, classes, image, depth } = config;
  const np = (image / patch) ** 2;
  const lin = (p: string, out: number, inn: number): Linear => ({
    w: need(tensors, `${p}.weight`, [out, inn]),
    b: need(tensors, `${p}.bias`, [out]),
    out,
    in: inn,
  });
  const ln = (p: string) => ({ g: need(tensors, `${p}.weight`, [dim]), b: need(tensors, `${p}.bias`, [dim]) });
  return {
    config,
    patchEmbed: lin('patch_embed', dim, 3 * patch * patch),
    cls: need(tensors, 'cls_token', [dim]),
    pos: need(tensors, 'pos_embed', [np + 1, dim]),
    blocks: Array.from({ length: depth }, (_, b) => ({
      ln1: ln(`blocks.${b}.ln1`),
      toQkv: lin(`blocks.${b}.to_qkv`, 3 * dim, dim),
      toOut: lin(`blocks.${b}.to_out`, dim, dim),
      ln2: ln(`blocks.${b}.ln2`),
      fc1: lin(`blocks.${b}.fc1`, mlp, dim),
      fc2: lin(`blocks.${b}.fc2`, dim, mlp),
    })),
    norm: ln('norm'),
    head: lin('head', classes, dim),
  };
}

/** Name → array of every parameter, as in model.safetensors (the names the step list uses); copies unless `copy` is false. */
export function paramsFromWeights(w: VitWeights, copy = true): Map<string, Float32Array> {
  const m0 = new Map<string, Float32Array>();
  const m = { set: (n: string, a: Float32Array) => m0.set(n, copy ? a.slice() : a) };
  const lin = (p: string, l: { w: Float32Array; b: Float32Array }) => {
    m.set(`${p}.weight`, l.w);
    m.set(`${p}.bias`, l.b);
  };
  lin('patch_embed', w.patchEmbed);
  m.set('cls_token', w.cls);
  m.set('pos_embed', w.pos);
  w.blocks.forEach((b, i) => {
    const p = `blocks.${i}`;
    m.set(`${p}.ln1.weight`, b.ln1.g);
    m.set(`${p}.ln1.bias`, b.ln1.b);
    lin(`${p}.to_qkv`, b.toQkv);
    lin(`${p}.to_out`, b.toOut);
    m.set(`${p}.ln2.weight`, b.ln2.g);
    m.set(`${p}.ln2.bias`, b.ln2.b);
    lin(`${p}.fc1`, b.fc1);
    lin(`${p}.fc2`, b.fc2);
  });
  m.set('norm.weight', w.norm.g);
  m.set('norm.bias', w.norm.b);
  lin('head', w.head);
  return m0;
}

/** The weights with the trained parameters in place (same config). */
export function weightsFromParams(base: VitWeights, p: Map<string, Float32Array>): VitWeights {
  const get = (n: string) => p.get(n)!.slice();
  const lin = (n: string, l: { out: number; in: number }) => ({ w: get(`${n}.weight`), b: get(`${n}.bias`), out: l.out, in: l.in });
  return {
    config: base.config,
    patchEmbed: lin('patch_embed', base.patchEmbed),
    cls: get('cls_token'),
    pos: get('pos_embed'),
    blocks: base.blocks.map((b, i) => ({
      ln1: { g: get(`blocks.${i}.ln1.weight`), b: get(`blocks.${i}.ln1.bias`) },
      toQkv: lin(`blocks.${i}.to_qkv`, b.toQkv),
      toOut: lin(`blocks.${i}.to_out`, b.toOut),
      ln2: { g: get(`blocks.${i}.ln2.weight`), b: get(`blocks.${i}.ln2.bias`) },
      fc1: lin(`blocks.${i}.fc1`, b.fc1),
      fc2: lin(`blocks.${i}.fc2`, b.fc2),
    })),
    norm: { g: get('norm.weight'), b: get('norm.bias') },
    head: lin('head', base.head),
  };
}

export function validateConfig(json: unknown): VitConfig {
  const c = json as Partial<VitConfig>;
  for (const k of ['dim', 'depth', 'heads', 'mlp', 'patch', 'classes', 'image'] as const) {
    if (!Number.isInteger(c?.[k]) || (c[k] as number) <= 0) throw new ModelError(`config.json: ${k} must be a positive integer`);
  }
  if (c.dim! % c.heads! !== 0) throw new ModelError('config.json: dim must be divisible by heads');
  if (!Array.isArray(c.mean) || c.mean.length !== 3 || !Array.isArray(c.std) || c.std.length !== 3)
    throw new ModelError('config.json: mean/std must have 3 entries');
  return { ...(c as VitConfig), layer_norm_eps: c.layer_norm_eps ?? 1e-5 };
}

export async function loadVit(read: FileReader): Promise<VitWeights> {
  let cfgBytes: Uint8Array;
  let wBytes: Uint8Array;
  try {
    cfgBytes = await read('config.json');
    wBytes = await read('model.safetensors');
  } catch (e) {
    throw new ModelError(`model files missing (${(e as Error).message})`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(new TextDecoder().decode(cfgBytes));
  } catch {
    throw new ModelError('config.json is not valid JSON');
  }
  const weights = buildWeights(validateConfig(cfg), parseSafetensors(wBytes));
  await verifySha256(wBytes, (cfg as { model_safetensors_sha256?: unknown }).model_safetensors_sha256);
  return weights;
}
