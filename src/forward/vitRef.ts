/**
 * The ViT forward pass in plain TypeScript — the CPU reference of the WebGPU forward
 * (src/forward/vitGpu.ts) and the structure the CPU backend runs on faster kernels.
 * Layout (tools/train/vit.py): normalize → patches (c,py,px) → patch_embed → [cls; patches] + pos
 * → 6 × pre-LN blocks (to_qkv → per-head softmax(q·kᵀ/√hd)·v → to_out; fc1 → tanh-GELU → fc2)
 * → LayerNorm of the class token → head.  Sites follow science.md §6.
 */
import type { MatOps, PreparedPlan } from '../plan/siteQuant';
import { runAttentionSite, runLinearSite } from '../plan/siteQuant';
import { gemmF32Ref } from '../kernels/gemmF32.ref';
import { gemmW8A8Ref } from '../kernels/gemmW8A8.ref';
import { gemmW4A8Ref } from '../kernels/gemmW4A8.ref';
import { quantizeMatrix } from '../quant/quantizeMatrix';
import { buildSites, type SiteInfo } from '../plan/sites';
import { lowerVit, type LoweredVit, type Step } from '../plan/steps';
import { type Linear, paramsFromWeights, type VitWeights } from '../model/vitWeights';
import { geluTanh, layerNormRows, softmaxRows } from '../kernels/rowOps.ref';

export { geluTanh, layerNormRows, softmaxRows };

export const refOps: MatOps = {
  gemmF32: gemmF32Ref,
  gemmW8A8: gemmW8A8Ref,
  gemmW4A8: gemmW4A8Ref,
  quantize: quantizeMatrix,
};

// the hooks a forward calls are declared beside calibration, their main user (no import circle)
export type { ForwardHooks } from '../plan/calibration';
import type { ForwardHooks } from '../plan/calibration';

/** The Linear of every weight site (null for q·kᵀ and attn·v), found by the site table's parameter names. */
export function siteLinears(w: VitWeights): (Linear | null)[] {
  const byParam = new Map<string, Linear>([
    ['patch_embed', w.patchEmbed],
    ['head', w.head],
  ]);
  w.blocks.forEach((b, i) => {
    byParam
      .set(`blocks.${i}.to_qkv`, b.toQkv)
      .set(`blocks.${i}.to_out`, b.toOut)
      .set(`blocks.${i}.fc1`, b.fc1)
      .set(`blocks.${i}.fc2`, b.fc2);
  });
  return buildSites(w.config).map((s) => {
    if (!s.param) return null;
    const l = byParam.get(s.param);
    if (!l) throw new Error(`site ${s.index}: no weights named ${s.param}`);
    return l;
  });
}

/** [cls; E] + pos for each of `images` images: E [np × d] per image → out [(np + 1) × d] per image. */
export function embedTokens(
  e: Float32Array,
  cls: Float32Array,
  pos: Float32Array,
  images: number,
  np: number,
  d: number,
  out: Float32Array,
): void {
  const T = np + 1;
  for (let i = 0; i < images; i++) {
    const xo = i * T * d;
    for (let j = 0; j < d; j++) out[xo + j] = cls[j] + pos[j];
    for (let p = 0; p < np; p++) {
      const eo = (i * np + p) * d;
      const o = xo + (p + 1) * d;
      for (let j = 0; j < d; j++) out[o + j] = e[eo + j] + pos[(p + 1) * d + j];
    }
  }
}

/** Image bytes (CHW planes) → normalized patches [P × 3·p·p], order (c, py, px). */
export function patchify(pixels: Uint8Array, w: VitWeights): Float32Array {
  const { patch, image, mean, std } = w.config;
  const g = image / patch;
  const pd = 3 * patch * patch;
  const out = new Float32Array(g * g * pd);
  for (let gy = 0; gy < g; gy++)
    for (let gx = 0; gx < g; gx++) {
      const p = gy * g + gx;
      for (let c = 0; c < 3; c++)
        for (let py = 0; py < patch; py++)
          for (let px = 0; px < patch; px++) {
            const v = pixels[c * image * image + (gy * patch + py) * image + gx * patch + px] / 255;
            out[p * pd + c * patch * patch + py * patch + px] = (v - mean[c]) / std[c];
          }
    }
  return out;
}

export class VitReference {
  readonly sites: SiteInfo[];
  readonly linears: (Linear | null)[];
  /** the forward as steps (src/plan/steps.ts), run one by one for one image */
  readonly lowered: LoweredVit;
  /** parameters by their safetensors names (not copied) */
  readonly params: Map<string, Float32Array>;
  constructor(
    readonly weights: VitWeights,
    readonly ops: MatOps = refOps,
  ) {
    this.sites = buildSites(weights.config);
    this.linears = siteLinears(weights);
    this.lowered = lowerVit(weights.config, undefined, 'infer');
    this.params = paramsFromWeights(weights, false);
  }

  /** Logits [classes] for one image (3072 bytes). */
  forward(pixels: Uint8Array, plan: PreparedPlan, hooks?: ForwardHooks): Float32Array {
    const t = new Map<string, Float32Array>([[this.lowered.input, patchify(pixels, this.weights)]]);
    for (const s of this.lowered.steps) runStep(s, t, this, plan, hooks);
    return t.get(this.lowered.output)!;
  }
}

/**
 * One step of the inference list for one image, in plain TypeScript (the MatOps of `vit` run the
 * products). Products run their site as the prepared plan says (siteQuant.ts); hooks see each
 * site's operands and output (calibration, jitter).
 */
function runStep(s: Step, t: Map<string, Float32Array>, vit: VitReference, plan: PreparedPlan, hooks?: ForwardHooks): void {
  const { shapes } = vit.lowered;
  const get = (n: string) => {
    const x = t.get(n) ?? vit.params.get(n);
    if (!x) throw new Error(`reference forward: tensor ${n} is not computed yet`);
    return x;
  };
  const rows = (n: string) => shapes.get(n)!.rows;
  const cols = (n: string) => shapes.get(n)!.cols;
  const out = (site: number, y: Float32Array) => (hooks?.output?.(site, y) as Float32Array | undefined) ?? y;
  switch (s.kind) {
    case 'linear': {
      const lin = vit.linears[s.site]!;
      const a = get(s.x);
      const m = rows(s.x);
      hooks?.operands?.(s.site, a, m, null, 0, lin.in);
      t.set(s.y, out(s.site, runLinearSite(plan.sites[s.site], lin, a, m, vit.ops)));
      return;
    }
    case 'embed': {
      const e = get(s.x);
      const cls = get(s.cls);
      const pos = get(s.pos);
      const x = new Float32Array(rows(s.y) * cols(s.y));
      embedTokens(e, cls, pos, 1, rows(s.x), cols(s.y), x);
      t.set(s.y, x);
      return;
    }
    case 'layerNorm': {
      // SmoothQuant folded into γ, β of the LayerNorm that feeds the site
      const fold = s.feeds !== undefined ? plan.sites[s.feeds].lnFold : undefined;
      t.set(s.y, layerNormRows(get(s.x), rows(s.x), cols(s.x), fold?.g ?? get(s.g), fold?.b ?? get(s.b), s.eps));
      return;
    }
    case 'splitHeads': {
      const qkv = get(s.x);
      const T = rows(s.x);
      const hd = cols(s.q);
      const dim = cols(s.x) / 3;
      const q = new Float32Array(s.heads * T * hd);
      const k = new Float32Array(s.heads * T * hd);
      const v = new Float32Array(s.heads * T * hd);
      for (let h = 0; h < s.heads; h++)
        for (let r = 0; r < T; r++)
          for (let j = 0; j < hd; j++) {
            const o = r * 3 * dim + h * hd + j;
            q[(h * T + r) * hd + j] = qkv[o];
            k[(h * T + r) * hd + j] = qkv[o + dim];
            v[(h * T + r) * hd + j] = qkv[o + 2 * dim];
          }
      t.set(s.q, q).set(s.k, k).set(s.v, v);
      return;
    }
    case 'attnScores': {
      const q = get(s.q);
      const k = get(s.k);
      const T = rows(s.q) / s.heads;
      const hd = cols(s.q);
      hooks?.operands?.(s.site, q, s.heads * T, k, s.heads * T, hd);
      const y = out(s.site, runAttentionSite(plan.sites[s.site], q, k, s.heads, T, T, hd, vit.ops));
      for (let i = 0; i < y.length; i++) y[i] *= s.scale;
      t.set(s.y, y);
      return;
    }
    case 'softmax': {
      // in place: the scores are read by this step only
      const x = get(s.x);
      softmaxRows(x, rows(s.x), cols(s.x));
      t.set(s.y, x);
      return;
    }
    case 'attnValues': {
      const p = get(s.p);
      const v = get(s.v);
      const T = cols(s.p);
      const hd = cols(s.v);
      // B = vᵀ per head in GEMM terms
      const vT = new Float32Array(s.heads * hd * T);
      for (let h = 0; h < s.heads; h++)
        for (let r = 0; r < T; r++) for (let j = 0; j < hd; j++) vT[(h * hd + j) * T + r] = v[(h * T + r) * hd + j];
      hooks?.operands?.(s.site, p, s.heads * T, vT, s.heads * hd, T);
      t.set(s.y, out(s.site, runAttentionSite(plan.sites[s.site], p, vT, s.heads, T, hd, T, vit.ops)));
      return;
    }
    case 'mergeHeads': {
      const o = get(s.x);
      const T = rows(s.y);
      const hd = cols(s.x);
      const d = cols(s.y);
      const cat = new Float32Array(T * d);
      for (let h = 0; h < s.heads; h++)
        for (let r = 0; r < T; r++) for (let j = 0; j < hd; j++) cat[r * d + h * hd + j] = o[(h * T + r) * hd + j];
      t.set(s.y, cat);
      return;
    }
    case 'residual': {
      const a = get(s.a);
      const b = get(s.b);
      const y = new Float32Array(a.length);
      for (let i = 0; i < y.length; i++) y[i] = a[i] + b[i];
      t.set(s.y, y);
      return;
    }
    case 'gelu': {
      const x = get(s.x);
      const y = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) y[i] = geluTanh(x[i]);
      t.set(s.y, y);
      return;
    }
    case 'takeCls':
      t.set(s.y, get(s.x).slice(0, cols(s.x)));
      return;
    case 'fakeQuant':
      throw new Error(
        'reference forward: fakeQuant steps belong to training (lowerVit mode "train"); inference quantizes inside the product steps',
      );
  }
}
