/**
 * The ViT described once as a list of typed steps (issue 12's "one description", started by the
 * training of issue 13). `lowerVit(shape, plan)` turns the model shape and a plan into the steps
 * of one forward pass over a batch. Two modes over the same steps:
 *  - 'train': every quantized operand gets a fakeQuant step (LSQ); the trainer (src/train/) runs the
 *    list forward and, in reverse, backward — each step kind has both;
 *  - 'infer': no fakeQuant steps — a product step names its site and the backend runs that site as
 *    the prepared plan says (integer GEMM, simulated format, SmoothQuant, LLM.int8(), …). The
 *    reference (src/forward/vitRef.ts) runs the list step by step; the WASM CPU and WebGPU backends
 *    run it through fuseSteps (src/plan/fusion.ts), which groups steps into the fused ops they have.
 *
 * Tensors are named: a step reads and writes names, parameters are names too ('blocks.0.fc1.weight'
 * as in model.safetensors). Every tensor is a batch of row-major matrices, [batch · rows × cols].
 * Site numbers come from src/plan/sites.ts (science.md §6), never from arithmetic here.
 */
import { buildSites, type SiteInfo, type VitShape } from './sites';
import type { OperandScheme, Plan } from './plan';

/** a tensor's per-image shape: rows × cols (the batch multiplies rows) */
export interface TensorShape {
  rows: number;
  cols: number;
  /** a parameter, or a function of parameters only (a fake-quantized weight): one copy, not one per image */
  constant?: boolean;
}

export type Step =
  /** Y = X·Wᵀ + b at a weight site (patch embedding, to_qkv, to_out, fc1, fc2, head) */
  | { kind: 'linear'; site: number; x: string; w: string; b: string; y: string }
  /** fake quantization of one operand of a site with learnable scale and zero (LSQ, science.md §5) */
  | { kind: 'fakeQuant'; site: number; operand: 'a' | 'b'; x: string; y: string; scheme: OperandScheme; isWeight: boolean }
  /** [cls; X] + pos, per image */
  | { kind: 'embed'; x: string; cls: string; pos: string; y: string }
  /** `feeds`: the site whose A operand this LayerNorm produces (SmoothQuant folds into γ, β; a backend may quantize inside the LayerNorm) */
  | { kind: 'layerNorm'; x: string; g: string; b: string; y: string; eps: number; feeds?: number }
  /** [T × 3·dim] → q, k, v as [heads · T × hd] per image */
  | { kind: 'splitHeads'; x: string; q: string; k: string; v: string; heads: number }
  /** per head S = (Q·Kᵀ)·scale: the q·kᵀ site; `scale` applied after the product */
  | { kind: 'attnScores'; site: number; q: string; k: string; y: string; heads: number; scale: number }
  | { kind: 'softmax'; x: string; y: string }
  /** per head O = P·V: the attn·v site (B = vᵀ in GEMM terms) */
  | { kind: 'attnValues'; site: number; p: string; v: string; y: string; heads: number }
  /** [heads · T × hd] → [T × dim] */
  | { kind: 'mergeHeads'; x: string; y: string; heads: number }
  | { kind: 'residual'; a: string; b: string; y: string }
  | { kind: 'gelu'; x: string; y: string }
  /** row 0 of every image (the class token) */
  | { kind: 'takeCls'; x: string; y: string };

export type StepKind = Step['kind'];

export interface ParamInfo {
  name: string;
  shape: TensorShape;
}

export interface LoweredVit {
  steps: Step[];
  /** per-image shape of every tensor (inputs, intermediates, parameters) */
  shapes: Map<string, TensorShape>;
  params: ParamInfo[];
  sites: SiteInfo[];
  input: string;
  output: string;
}

export class LoweringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoweringError';
  }
}

/** What QAT can train at a quantized operand; anything else is refused with the reason. */
export function qatOperandSupport(o: OperandScheme, role: 'a' | 'b', isWeight: boolean, where: string): void {
  if (o.bits === 32) return;
  if ((o.format ?? 'int') !== 'int') throw new LoweringError(`${where}: QAT trains INT grids; format ${o.format} is not offered`);
  if (o.bits !== 8 && o.bits !== 4 && o.bits !== 3 && o.bits !== 2) throw new LoweringError(`${where}: ${o.bits} bits is not an INT width`);
  if (!isWeight && o.granularity !== 'tensor')
    throw new LoweringError(
      `${where}: QAT learns one static (s, z) per activation tensor; granularity '${o.granularity}' is offered for weights only (set it to 'tensor')`,
    );
  if (isWeight && o.granularity === 'token') throw new LoweringError(`${where}: 'token' granularity does not apply to weights`);
  void role;
}

/**
 * The forward of the ViT over a batch as steps. Quantized operands (bits < 32) get a fakeQuant
 * step before their product; FP32 operands go straight in. SmoothQuant, GPTQ, LLM.int8() and the
 * rotation are post-training transforms and are refused here with the reason.
 */
export function lowerVit(c: VitShape & { layer_norm_eps?: number }, plan: Plan | undefined, mode: 'train' | 'infer' = 'train'): LoweredVit {
  const sites = buildSites(c);
  // inference steps do not depend on the plan: the prepared plan is consulted per site when they run
  if (!plan && mode === 'train') throw new LoweringError('training steps need a plan (which operands are fake-quantized)');
  if (plan && plan.sites.length !== sites.length) throw new LoweringError(`plan has ${plan.sites.length} sites, the model ${sites.length}`);
  const train = mode === 'train' ? plan : undefined;
  const eps = c.layer_norm_eps ?? 1e-5;
  const np = (c.image / c.patch) ** 2;
  const t = np + 1;
  const hd = c.dim / c.heads;
  const steps: Step[] = [];
  const shapes = new Map<string, TensorShape>();
  const params: ParamInfo[] = [];
  const shape = (name: string, rows: number, cols: number) => {
    shapes.set(name, { rows, cols });
    return name;
  };
  const param = (name: string, rows: number, cols: number) => {
    params.push({ name, shape: { rows, cols } });
    shapes.set(name, { rows, cols, constant: true });
    return name;
  };
  for (let i = 0; i < sites.length && train; i++) {
    const s = train.sites[i];
    const where = `plan.sites[${i}] (${sites[i].name})`;
    if (s.smoothquant || s.gptq || s.llmInt8 || s.rotation)
      throw new LoweringError(
        `${where}: SmoothQuant, GPTQ, LLM.int8() and the rotation are post-training transforms; QAT trains plain INT fake-quant`,
      );
    qatOperandSupport(s.a, 'a', false, `${where}.a`);
    qatOperandSupport(s.b, 'b', sites[i].hasWeight, `${where}.b`);
  }
  /** a fakeQuant step when the operand is quantized; returns the name the product reads */
  const fq = (site: number, operand: 'a' | 'b', x: string, isWeight: boolean): string => {
    if (!train) return x;
    const scheme = train.sites[site][operand];
    if (scheme.bits === 32) return x;
    const y = `${x}~q${site}${operand}`;
    const sh = shapes.get(x)!;
    shapes.set(y, { rows: sh.rows, cols: sh.cols, constant: sh.constant });
    steps.push({ kind: 'fakeQuant', site, operand, x, y, scheme, isWeight });
    return y;
  };
  const linear = (site: number, x: string, y: string, rows: number) => {
    const info = sites[site];
    const p = info.param!;
    const w = param(`${p}.weight`, info.n, info.k);
    const b = param(`${p}.bias`, 1, info.n);
    shape(y, rows, info.n);
    steps.push({ kind: 'linear', site, x: fq(site, 'a', x, false), w: fq(site, 'b', w, true), b, y });
  };

  const input = shape('patches', np, 3 * c.patch * c.patch);
  linear(0, input, 'emb', np);
  param('cls_token', 1, c.dim);
  param('pos_embed', t, c.dim);
  steps.push({ kind: 'embed', x: 'emb', cls: 'cls_token', pos: 'pos_embed', y: shape('x0', t, c.dim) });
  let x = 'x0';
  for (let b = 0; b < c.depth; b++) {
    const base = sites.findIndex((s) => s.block === b && s.kind === 'to_qkv');
    const idx = (kind: SiteInfo['kind']) => sites.findIndex((s) => s.block === b && s.kind === kind);
    const p = `blocks.${b}`;
    const ln1 = shape(`${p}.ln1.out`, t, c.dim);
    steps.push({
      kind: 'layerNorm',
      x,
      g: param(`${p}.ln1.weight`, 1, c.dim),
      b: param(`${p}.ln1.bias`, 1, c.dim),
      y: ln1,
      eps,
      feeds: base,
    });
    linear(base, ln1, `${p}.qkv`, t);
    const [q, k, v] = ['q', 'k', 'v'].map((n) => shape(`${p}.${n}`, c.heads * t, hd));
    steps.push({ kind: 'splitHeads', x: `${p}.qkv`, q, k, v, heads: c.heads });
    const qk = idx('qk');
    const scores = shape(`${p}.scores`, c.heads * t, t);
    steps.push({
      kind: 'attnScores',
      site: qk,
      q: fq(qk, 'a', q, false),
      k: fq(qk, 'b', k, false),
      y: scores,
      heads: c.heads,
      scale: 1 / Math.sqrt(hd),
    });
    const attn = shape(`${p}.attn`, c.heads * t, t);
    steps.push({ kind: 'softmax', x: scores, y: attn });
    const av = idx('av');
    const o = shape(`${p}.o`, c.heads * t, hd);
    steps.push({ kind: 'attnValues', site: av, p: fq(av, 'a', attn, false), v: fq(av, 'b', v, false), y: o, heads: c.heads });
    const cat = shape(`${p}.cat`, t, c.dim);
    steps.push({ kind: 'mergeHeads', x: o, y: cat, heads: c.heads });
    linear(idx('to_out'), cat, `${p}.att`, t);
    const x1 = shape(`${p}.x1`, t, c.dim);
    steps.push({ kind: 'residual', a: x, b: `${p}.att`, y: x1 });
    const ln2 = shape(`${p}.ln2.out`, t, c.dim);
    steps.push({
      kind: 'layerNorm',
      x: x1,
      g: param(`${p}.ln2.weight`, 1, c.dim),
      b: param(`${p}.ln2.bias`, 1, c.dim),
      y: ln2,
      eps,
      feeds: idx('fc1'),
    });
    linear(idx('fc1'), ln2, `${p}.h1`, t);
    const g = shape(`${p}.gelu`, t, c.mlp);
    steps.push({ kind: 'gelu', x: `${p}.h1`, y: g });
    linear(idx('fc2'), g, `${p}.h2`, t);
    const x2 = shape(`${p}.x2`, t, c.dim);
    steps.push({ kind: 'residual', a: x1, b: `${p}.h2`, y: x2 });
    x = x2;
  }
  const cls = shape('cls', 1, c.dim);
  steps.push({ kind: 'takeCls', x, y: cls });
  const normed = shape('cls.norm', 1, c.dim);
  const headSite = sites.findIndex((s) => s.kind === 'head');
  steps.push({
    kind: 'layerNorm',
    x: cls,
    g: param('norm.weight', 1, c.dim),
    b: param('norm.bias', 1, c.dim),
    y: normed,
    eps,
    feeds: headSite,
  });
  linear(headSite, normed, 'logits', 1);
  return { steps, shapes, params, sites, input, output: 'logits' };
}
