/**
 * The ViT forward pass in plain TypeScript — the CPU reference of the WebGPU forward
 * (src/model/vitGpu.ts) and the structure the CPU backend runs on faster kernels.
 * Layout (tools/train/vit.py): normalize → patches (c,py,px) → patch_embed → [cls; patches] + pos
 * → 6 × pre-LN blocks (to_qkv → per-head softmax(q·kᵀ/√hd)·v → to_out; fc1 → tanh-GELU → fc2)
 * → LayerNorm of the class token → head.  Sites follow science.md §6.
 */
import type { MatOps, PreparedPlan } from '../engine/siteQuant';
import { runAttentionSite, runLinearSite } from '../engine/siteQuant';
import { gemmF32Ref } from '../kernels/gemmF32.ref';
import { gemmW8A8Ref } from '../kernels/gemmW8A8.ref';
import { gemmW4A8Ref } from '../kernels/gemmW4A8.ref';
import { quantizeMatrix } from '../quant/quantizeMatrix';
import { buildSites, type SiteInfo } from './sites';
import type { Linear, VitWeights } from './vitWeights';
import { geluTanh, layerNormRows, softmaxRows } from './rowOps.ref';

export { geluTanh, layerNormRows, softmaxRows };

export const refOps: MatOps = {
  gemmF32: gemmF32Ref,
  gemmW8A8: gemmW8A8Ref,
  gemmW4A8: gemmW4A8Ref,
  quantize: quantizeMatrix,
};

// the hooks a forward calls are declared beside calibration, their main user (no import circle)
export type { ForwardHooks } from '../engine/calibration';
import type { ForwardHooks } from '../engine/calibration';

export function siteLinears(w: VitWeights): (Linear | null)[] {
  const out: (Linear | null)[] = [w.patchEmbed];
  for (const b of w.blocks) out.push(b.toQkv, null, null, b.toOut, b.fc1, b.fc2);
  out.push(w.head);
  return out;
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
  constructor(
    readonly weights: VitWeights,
    readonly ops: MatOps = refOps,
  ) {
    this.sites = buildSites(weights.config);
    this.linears = siteLinears(weights);
  }

  /** Logits [classes] for one image (3072 bytes). */
  forward(pixels: Uint8Array, plan: PreparedPlan, hooks?: ForwardHooks): Float32Array {
    const W = this.weights;
    const { dim, heads, layer_norm_eps: eps } = W.config;
    const hd = dim / heads;
    const ops = this.ops;
    const site = (i: number, a: Float32Array, m: number): Float32Array => {
      hooks?.operands?.(i, a, m, null, 0, this.linears[i]!.in);
      const y = runLinearSite(plan.sites[i], this.linears[i]!, a, m, ops);
      return (hooks?.output?.(i, y) as Float32Array | undefined) ?? y;
    };

    const patches = patchify(pixels, W);
    const np = patches.length / W.patchEmbed.in;
    const t = np + 1;
    const emb = site(0, patches, np);
    let x = new Float32Array(t * dim);
    for (let j = 0; j < dim; j++) x[j] = W.cls[j] + W.pos[j];
    for (let p = 0; p < np; p++) for (let j = 0; j < dim; j++) x[(p + 1) * dim + j] = emb[p * dim + j] + W.pos[(p + 1) * dim + j];

    const q = new Float32Array(heads * t * hd);
    const k = new Float32Array(heads * t * hd);
    const vT = new Float32Array(heads * hd * t);
    const scale = 1 / Math.sqrt(hd);
    W.blocks.forEach((blk, b) => {
      const base = 1 + 6 * b;
      const ln1 = plan.sites[base].lnFold ?? blk.ln1; // SmoothQuant folded into γ, β
      const y1 = layerNormRows(x, t, dim, ln1.g, ln1.b, eps);
      const qkv = site(base, y1, t);
      for (let h = 0; h < heads; h++)
        for (let r = 0; r < t; r++)
          for (let j = 0; j < hd; j++) {
            const o = r * 3 * dim + h * hd + j;
            q[(h * t + r) * hd + j] = qkv[o];
            k[(h * t + r) * hd + j] = qkv[o + dim];
            vT[(h * hd + j) * t + r] = qkv[o + 2 * dim];
          }
      hooks?.operands?.(base + 1, q, heads * t, k, heads * t, hd);
      let s = runAttentionSite(plan.sites[base + 1], q, k, heads, t, t, hd, ops);
      s = (hooks?.output?.(base + 1, s) as Float32Array | undefined) ?? s;
      for (let i = 0; i < s.length; i++) s[i] *= scale;
      softmaxRows(s, heads * t, t);
      hooks?.operands?.(base + 2, s, heads * t, vT, heads * hd, t);
      let o = runAttentionSite(plan.sites[base + 2], s, vT, heads, t, hd, t, ops);
      o = (hooks?.output?.(base + 2, o) as Float32Array | undefined) ?? o;
      const cat = new Float32Array(t * dim);
      for (let h = 0; h < heads; h++) for (let r = 0; r < t; r++) for (let j = 0; j < hd; j++) cat[r * dim + h * hd + j] = o[(h * t + r) * hd + j];
      const att = site(base + 3, cat, t);
      const x2 = new Float32Array(t * dim);
      for (let i = 0; i < x2.length; i++) x2[i] = x[i] + att[i];
      x = x2;
      const ln2 = plan.sites[base + 4].lnFold ?? blk.ln2;
      const y2 = layerNormRows(x, t, dim, ln2.g, ln2.b, eps);
      const h1 = site(base + 4, y2, t);
      for (let i = 0; i < h1.length; i++) h1[i] = geluTanh(h1[i]);
      const h2 = site(base + 5, h1, t);
      for (let i = 0; i < x.length; i++) x[i] += h2[i];
    });
    const cls = layerNormRows(x.subarray(0, dim), 1, dim, W.norm.g, W.norm.b, eps);
    return site(37, cls, 1);
  }
}
