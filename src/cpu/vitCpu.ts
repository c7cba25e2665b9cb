/**
 * The ViT forward pass on the WebAssembly CPU kernels (issue 7): the same computation and the same
 * per-site semantics as src/forward/vitRef.ts (plan paths from src/plan/plan.ts, quantization from
 * src/plan/siteQuant.ts), batched over images:
 *  - weight sites run one GEMM over all images' tokens; a per-tensor dynamic range is still one
 *    range per image (science.md §7), so activations are quantized image by image and the scales
 *    and zero points are expanded to per-row vectors for the GEMM epilogue;
 *  - fc1's GELU and the residual adds after to_out / fc2 are fused into the GEMM epilogue, and a
 *    per-token INT activation after a LayerNorm is quantized inside the LayerNorm kernel;
 *  - weights are packed (f32 panels, int16 rows for W8A8, int4 nibble panels for W4A8) once per prepared plan.
 * SmoothQuant folded into a LayerNorm runs that LayerNorm with the plan's γ/s, β/s (an ordinary
 * quantized GEMM). Sites the fast path does not cover (run-time SmoothQuant scaling, LLM.int8) run
 * runLinearSite image by image on the same kernels; forward hooks (jitter, calibration) run the reference structure on these kernels.
 */
import type { Backend, RunOptions, StepSupport } from '../plan/backend';
import { jitterHooks } from '../plan/backend';
import { throwIfAborted } from '../util/latest';
import type { PreparedPlan, PreparedSite } from '../plan/siteQuant';
import { matrixSpec, needsSiteDefinition, runAttentionSite, runLinearSite } from '../plan/siteQuant';
import type { BackendInfo } from '../plan/types';
import { IMAGE_BYTES } from '../data/cifar';
import type { MatrixQuantSpec } from '../quant/quantizeMatrix';
import { scaleZero, storageOffset } from '../quant/scaleZero';
import { outlierColumns } from '../plan/llmInt8';
import { applySmoothing } from '../quant/smoothquant';
import { embedTokens, patchify, siteLinears, VitReference } from '../forward/vitRef';
import { fuseSteps, type FusedOp } from '../plan/fusion';
import { lowerVit, type LoweredVit, type Step } from '../plan/steps';
import { type Linear, paramsFromWeights, type VitWeights } from '../model/vitWeights';
import {
  centredRows,
  type CpuKernels,
  featuresLabel,
  FLAG_GELU,
  FLAG_RESIDUAL,
  isWasmKernels,
  type KernelExports,
  packW8Planes,
  roundUp,
  type WasmArena,
  type WasmCpuKernelsT,
} from './cpuKernels';

const GRAN = { tensor: 0, row: 1, group: 2 } as const;

/** The int8 activation layout (storage values) of the i8 kernels, else the centred int16 one of gemm_w8a8. */
const takesI8 = (sw: SiteWeights) => sw.kind === 'int4' || sw.kind === 'int8dot';

/** A packed weight operand living in wasm memory for the current plan. */
interface SiteWeights {
  /** int8dot: 8-bit weights on the int32 dot route (gemm_w8a8_dot), chosen when the probe measured it faster */
  kind: 'f32' | 'int8' | 'int8dot' | 'int4' | 'slow';
  /** f32 panels (pack_b_f32) */
  panels?: number;
  /** int8: int16 panels (pack_i16 → panel_i16); int4: nibble panels (pack_w4_nib) */
  ip?: number;
  /** int4: the W4A8 kernel's per-(panel, group) Σw and scales; int8dot: gemm_w8a8_dot's per-channel terms */
  sums?: number;
  /** int8dot: the low-nibble plane (ip holds the high one) */
  ipLo?: number;
  groups?: number;
  gs?: number;
  gp?: number;
  sw?: number;
  swStride?: number;
  bias: number;
}

/** A quantized activation operand in wasm memory. */
interface QuantOperand {
  xp: number;
  sums: number;
  /** per-row storage zero points and scales (expanded from per-image ranges) */
  zx: number;
  sx: number;
}

export class VitCpu {
  readonly ex: KernelExports;
  readonly ar: WasmArena;
  private readonly linears: (Linear | null)[];
  private readonly ref: VitReference;
  private plan?: PreparedPlan;
  private siteW: (SiteWeights | null)[] = [];
  /** per site: the LayerNorm γ, β pointers when the plan folded SmoothQuant into them */
  private siteLn: ({ g: number; b: number } | null)[] = [];
  private constBase = 0;
  private persistentTop = 0;

  constructor(
    readonly weights: VitWeights,
    readonly kernels: WasmCpuKernelsT,
  ) {
    this.ex = kernels.ex;
    this.ar = kernels.arena;
    this.linears = siteLinears(weights);
    this.ref = new VitReference(weights, kernels);
    // model constants (LayerNorm parameters) live at the bottom of the arena for good
    const ar = this.ar;
    if (ar.owner) throw new Error('VitCpu: these kernels already serve another VitCpu (one per wasm instance: loadCpuKernels() again)');
    ar.owner = this;
    ar.top = ar.base;
    this.lowered = lowerVit(weights.config, undefined, 'infer');
    this.fused = fuseSteps(this.lowered.steps);
    this.params = paramsFromWeights(weights, false);
    for (const st of this.lowered.steps)
      if (st.kind === 'layerNorm') for (const n of [st.g, st.b]) this.paramPtr.set(n, ar.putF32(this.params.get(n)!));
    this.constBase = ar.top;
    this.persistentTop = ar.top;
  }
  /** the forward as steps (src/plan/steps.ts) and the fused ops this backend runs them as */
  readonly lowered: LoweredVit;
  readonly fused: FusedOp[];
  private readonly params: Map<string, Float32Array>;
  /** LayerNorm γ, β in the arena, by parameter name */
  private readonly paramPtr = new Map<string, number>();
  /** quantize per-token INT activations inside the LayerNorm kernel (same numbers either way) */
  fuseLayerNormQuant = true;

  /** Packs every site's weights for `plan` (once per prepared plan; replaces the previous plan's). */
  private preparePlan(plan: PreparedPlan): void {
    if (this.plan === plan) return;
    const ar = this.ar;
    ar.top = this.constBase;
    this.siteW = plan.sites.map((ps, i) => this.packSite(ps, this.linears[i]));
    // the W4A8 kernel's dot route is measured once per instance, before a forward is timed
    if (this.siteW.some((w) => w?.kind === 'int4')) this.kernels.w4a8Dot();
    this.siteLn = plan.sites.map((ps) => (ps.lnFold ? { g: ar.putF32(ps.lnFold.g), b: ar.putF32(ps.lnFold.b) } : null));
    this.persistentTop = ar.top;
    this.plan = plan;
  }

  private packSite(ps: PreparedSite, lin: Linear | null): SiteWeights | null {
    if (!lin) return null;
    const ar = this.ar;
    const ex = this.ex;
    const { path } = ps.path;
    const bias = ar.putF32(lin.b);
    const wt = ps.weight;
    if ((wt?.smooth && wt.smoothPlacement === 'runtime') || ps.scheme.llmInt8 || needsSiteDefinition(ps)) return { kind: 'slow', bias };
    const panels = (w: Float32Array) => {
      const p = ar.alloc(roundUp(lin.out, 8) * lin.in * 4);
      ar.scoped(() => ex.pack_b_f32(ar.putF32(w), lin.out, lin.in, p));
      return p;
    };
    if (path === 'fp32') return { kind: 'f32', panels: panels(lin.w), bias };
    if (path === 'weight-only') return { kind: 'f32', panels: panels(wt!.deq!), bias };
    if (path === 'fake-quant') return { kind: 'f32', panels: panels(wt!.deq ?? wt!.w), bias };
    const q = wt!.q!;
    const st = wt!.storage!;
    const k = lin.in;
    if (path === 'int4-gemm') {
      // int4 nibbles (w + 8) in the W4A8 kernel's panels; `sums` holds its per-(panel, group) Σw and scales
      const gs = Math.min(q.groupSize, k);
      const groups = Math.ceil(k / gs);
      const gp = roundUp(gs, 8);
      const ip = ar.alloc(ex.packedW4Size(lin.out, gp, groups));
      const consts = ar.alloc(ex.w4ConstsSize(lin.out, groups));
      ar.scoped(() =>
        ex.pack_w4_nib(ar.putI32(st.values), lin.out, k, gs, gp, groups, ar.putF32(q.scales), ip, ar.alloc(lin.out * groups * 4), consts),
      );
      return { kind: 'int4', ip, sums: consts, groups, gs, gp, bias };
    }
    const gp = roundUp(k, 8);
    const sw = ar.putF32(q.scales);
    const swStride = q.scales.length > 1 ? 1 : 0;
    if (this.kernels.w8a8Dot().chosen === 'int32') {
      // storage weights split into two 4-bit planes for the int32 dot (zero points applied in the kernel)
      const W = packW8Planes(ar, ex, st.values, st.zeros, lin.out, k);
      return { kind: 'int8dot', ip: W.wh, ipLo: W.wl, sums: W.wc, groups: 1, gs: k, gp, sw, swStride, bias };
    }
    // int8 weights centred (w − zw) in the W8A8 kernel's int16 panels (dot_i16x8 on k pairs)
    const ip = ar.alloc(ex.panelI16Size(lin.out, gp));
    ar.scoped(() => {
      const rowsI16 = ar.alloc(lin.out * gp * 2);
      ex.pack_i16(ar.putI32(centredRows(st.values, lin.out, k, st.zeros)), lin.out, k, k, gp, 1, lin.out, 0, rowsI16, 0);
      ex.panel_i16(rowsI16, lin.out, gp, ip);
    });
    return { kind: 'int8', ip, groups: 1, gs: k, gp, sw, swStride, bias };
  }

  private quantError(rc: number, what: string): void {
    if (rc === 1) throw new RangeError(`${what}: element ${this.ex.quantErrorIndex()} is NaN/Inf (NaN/Inf input)`);
    if (rc === 2) throw new RangeError(`${what}: scaleZero range overflows float32`);
  }

  /**
   * Quantizes A [rows × k] (rows = images × perImage) into the group layout of the integer GEMMs —
   * int8 elements for W4A8 (i8), int16 for W8A8 — with per-row storage zero points and scales. A
   * 'tensor' dynamic range is one range per image. At least one zero row follows the last (the
   * kernels read rows in pairs).
   */
  private quantizeA(
    a: number,
    rows: number,
    perImage: number,
    k: number,
    spec: MatrixQuantSpec,
    gs: number,
    gp: number,
    i8: boolean,
  ): QuantOperand {
    const ar = this.ar;
    const off = storageOffset(spec.bits, spec.symmetric);
    const groups = Math.ceil(k / gs);
    const rowsP = roundUp(rows + 1, 4);
    const xp = ar.alloc(rowsP * groups * gp * (i8 ? 1 : 2));
    const sums = ar.alloc(rows * groups * 4);
    const sx = ar.alloc(rows * 4);
    const zx = ar.alloc(rows * 4);
    let mode = spec.granularity === 'row' ? 1 : 0;
    let fs = 1;
    let fz = 0;
    if (spec.clip) {
      const sz = scaleZero(spec.clip.min, spec.clip.max, spec.bits, spec.symmetric);
      mode = 2;
      fs = sz.scale;
      fz = sz.zero;
    }
    const rc = this.ex.quantize_i16(
      a,
      rows,
      k,
      perImage,
      mode,
      spec.bits,
      spec.symmetric ? 1 : 0,
      fs,
      fz,
      gs,
      gp,
      groups,
      rowsP,
      off,
      xp,
      sums,
      sx,
      zx,
      i8 ? 1 : 0,
    );
    this.quantError(rc, 'quantize');
    return { xp, sums, zx, sx };
  }

  /** In place fake quantization of [rows × k] (dequantize(quantize(x))), per image for a 'tensor' range. */
  private fakeQuant(a: number, rows: number, perImage: number, k: number, spec: MatrixQuantSpec): void {
    const ar = this.ar;
    ar.scoped(() => {
      const q = ar.alloc(rows * k * 4);
      const gran = GRAN[spec.granularity];
      const groupsPerRow = spec.granularity === 'group' ? Math.ceil(k / spec.groupSize!) : 1;
      const sc = ar.alloc(Math.max(1, rows * groupsPerRow) * 4);
      const zr = ar.alloc(Math.max(1, rows * groupsPerRow) * 4);
      const sym = spec.symmetric ? 1 : 0;
      let fixed = 0;
      let fs = 1;
      let fz = 0;
      if (spec.clip) {
        const sz = scaleZero(spec.clip.min, spec.clip.max, spec.bits, spec.symmetric);
        fixed = 1;
        fs = sz.scale;
        fz = sz.zero;
      }
      const chunks = gran === GRAN.tensor && !spec.clip ? rows / perImage : 1;
      const cr = rows / chunks;
      for (let c = 0; c < chunks; c++) {
        const o = c * cr * k * 4;
        this.quantError(
          this.ex.quantize(a + o, cr, k, gran, spec.groupSize ?? k, spec.bits, sym, fixed, fs, fz, q + o, sc, zr, a + o),
          'fake quantize',
        );
      }
    });
  }

  /** A weight site over a batch: A [rows × k] → Y [rows × n], with the fused epilogue flags. */
  private linear(site: number, a: number, rows: number, perImage: number, y: number, flags: number, res: number): void {
    const ps = this.plan!.sites[site];
    const lin = this.linears[site]!;
    const sw = this.siteW[site]!;
    const { k, n } = { k: lin.in, n: lin.out };
    const ex = this.ex;
    const ar = this.ar;
    ar.scoped(() => {
      switch (sw.kind) {
        case 'f32': {
          let x = a;
          if (ps.path.path === 'fake-quant' && ps.scheme.a.bits !== 32) {
            x = ar.alloc(rows * k * 4);
            ar.f32(x, rows * k).set(ar.f32(a, rows * k));
            this.fakeQuant(x, rows, perImage, k, matrixSpec(ps.scheme.a, ps.clipA));
          }
          ex.gemm_f32(x, sw.panels!, sw.bias, y, rows, n, k, flags, res);
          return;
        }
        case 'int8':
        case 'int8dot':
        case 'int4':
          this.gemmInt(
            site,
            this.quantizeA(a, rows, perImage, k, matrixSpec(ps.scheme.a, ps.clipA), sw.gs!, sw.gp!, takesI8(sw)),
            rows,
            y,
            flags,
            res,
          );
          return;
        case 'slow': {
          // run-time SmoothQuant / LLM.int8: the shared per-image definition (siteQuant.ts) on these kernels
          if (flags & FLAG_GELU && res) throw new Error('vitCpu: GELU then residual is not an op of this ViT');
          for (const { images: group, mask } of this.slowGroups(ps, a, rows, perImage, k)) {
            const ai = new Float32Array(group.length * perImage * k);
            group.forEach((img, j) => ai.set(ar.f32(a + img * perImage * k * 4, perImage * k), j * perImage * k));
            const yg = runLinearSite(ps, lin, ai, group.length * perImage, this.kernels, { llmMask: mask });
            group.forEach((img, j) => {
              const yi = yg.subarray(j * perImage * n, (j + 1) * perImage * n);
              const yv = ar.f32(y + img * perImage * n * 4, perImage * n);
              if (!res) yv.set(yi);
              else {
                // y may be the residual buffer itself: element by element is safe
                const rv = ar.f32(res + img * perImage * n * 4, perImage * n);
                for (let i = 0; i < yi.length; i++) yv[i] = rv[i] + yi[i];
              }
            });
          }
          // the same GELU as the fused epilogue of the fast path (fc1 has no residual)
          if (flags & FLAG_GELU) ex.gelu(y, rows * n);
          return;
        }
      }
    });
  }

  /**
   * The images of a batch that a 'slow' site may run as one matrix. LLM.int8() decides its outlier
   * columns per image (per matrix in the paper) and otherwise works row by row (per-token X,
   * per-channel W), so images with the same outlier columns give the same numbers stacked as one
   * matrix — one integer GEMM and one W pack per group instead of per image. Run-time SmoothQuant
   * with a per-tensor range is one range per image: one image per group.
   */
  private slowGroups(ps: PreparedSite, a: number, rows: number, perImage: number, k: number): { images: number[]; mask?: Uint8Array }[] {
    const images = rows / perImage;
    const llm = ps.scheme.llmInt8;
    if (!llm) return Array.from({ length: images }, (_, i) => ({ images: [i] }));
    const groups = new Map<string, { images: number[]; mask: Uint8Array }>();
    const smooth = ps.weight?.smoothPlacement === 'runtime' ? ps.weight.smooth : undefined;
    for (let img = 0; img < images; img++) {
      let x: Float32Array = this.ar.f32(a + img * perImage * k * 4, perImage * k);
      // the mask is taken on the operand LLM.int8() sees (after run-time smoothing, as runLinearSite does)
      if (smooth) x = applySmoothing(x, perImage, k, smooth);
      // the mask (and the finiteness check) LLM.int8() would compute, once per image, handed on
      const mask = outlierColumns(x, perImage, k, llm.threshold);
      const key = mask.join('');
      (groups.get(key) ?? groups.set(key, { images: [], mask }).get(key)!).images.push(img);
    }
    this.slowMatrices.images += images;
    this.slowMatrices.matrices += groups.size;
    return [...groups.values()];
  }
  /** LLM.int8() sites run so far: image operands and the stacked matrices they ran as (diagnostics, tests) */
  readonly slowMatrices = { images: 0, matrices: 0 };

  /** The integer GEMM of a weight site on an already quantized activation operand. */
  private gemmInt(site: number, A: QuantOperand, rows: number, y: number, flags: number, res: number): void {
    const sw = this.siteW[site]!;
    const n = this.linears[site]!.out;
    if (sw.kind === 'int8')
      // A is centred (quantize_i16's int16 elements), as are the weights: no zero-point terms
      this.ex.gemm_w8a8(A.xp, sw.ip!, rows, n, sw.gp!, A.sx, 1, sw.sw!, sw.swStride!, sw.bias, y, flags, res);
    else if (sw.kind === 'int8dot')
      // A in int8 storage with its row sums and zero points; the kernel applies both zero points
      this.ex.gemm_w8a8_dot(
        A.xp,
        A.sums,
        sw.ip!,
        sw.ipLo!,
        sw.sums!,
        rows,
        n,
        sw.gp!,
        A.zx,
        1,
        A.sx,
        1,
        sw.sw!,
        sw.swStride!,
        sw.bias,
        y,
        flags,
        res,
      );
    else
      this.ex.gemm_w4a8_i8(
        A.xp,
        A.sums,
        sw.ip!,
        rows,
        n,
        sw.groups!,
        sw.gp!,
        sw.sums!,
        A.zx,
        1,
        A.sx,
        1,
        sw.bias,
        y,
        flags | this.kernels.w4a8DotFlag(),
        res,
      );
  }

  /**
   * LayerNorm then a weight site. A per-token dynamic INT operand is quantized inside the LayerNorm
   * kernel (layernorm_quant_i16: the row is quantized while in cache); otherwise LayerNorm, then the site.
   */
  private lnLinear(
    site: number,
    x: number,
    rows: number,
    perImage: number,
    g: number,
    b: number,
    yBuf: number,
    out: number,
    flags: number,
    res: number,
  ): void {
    const ps = this.plan!.sites[site];
    const sw = this.siteW[site]!;
    const { dim } = this.weights.config;
    const eps = this.weights.config.layer_norm_eps;
    const folded = this.siteLn[site];
    if (folded) {
      g = folded.g;
      b = folded.b;
    }
    const fusable =
      this.fuseLayerNormQuant &&
      (sw.kind === 'int8' || sw.kind === 'int8dot' || sw.kind === 'int4') &&
      ps.scheme.a.granularity === 'token' &&
      ps.scheme.a.range === 'dynamic';
    if (!fusable) {
      this.ex.layernorm(x, rows, dim, g, b, eps, yBuf);
      this.linear(site, yBuf, rows, perImage, out, flags, res);
      return;
    }
    const ar = this.ar;
    ar.scoped(() => {
      const spec = matrixSpec(ps.scheme.a);
      const gs = sw.gs!;
      const groups = Math.ceil(dim / gs);
      const gp = sw.gp!;
      const rowsP = roundUp(rows + 1, 4);
      const i8 = takesI8(sw);
      const A: QuantOperand = {
        xp: ar.alloc(rowsP * groups * gp * (i8 ? 1 : 2)),
        sums: ar.alloc(rows * groups * 4),
        sx: ar.alloc(rows * 4),
        zx: ar.alloc(rows * 4),
      };
      const rc = this.ex.layernorm_quant_i16(
        x,
        rows,
        dim,
        g,
        b,
        eps,
        yBuf,
        spec.bits,
        spec.symmetric ? 1 : 0,
        gs,
        gp,
        groups,
        rowsP,
        storageOffset(spec.bits, spec.symmetric),
        A.xp,
        A.sums,
        A.sx,
        A.zx,
        i8 ? 1 : 0,
      );
      this.quantError(rc, 'LayerNorm + quantize');
      this.gemmInt(site, A, rows, out, flags, res);
    });
  }

  /**
   * An attention site for one image: A [H·m × k], B [H·n × k] stacked per head → Y [H·m × n].
   * Pointers into wasm memory.
   */
  private attention(site: number, a: number, b: number, heads: number, m: number, n: number, k: number, y: number): void {
    const ps = this.plan!.sites[site];
    const { scheme, path } = ps;
    const ex = this.ex;
    const ar = this.ar;
    if (needsSiteDefinition(ps)) {
      // FP8 / MX / NVFP4 operands: the shared definition (siteQuant.ts) on these kernels
      const yv = runAttentionSite(ps, ar.f32(a, heads * m * k).slice(), ar.f32(b, heads * n * k).slice(), heads, m, n, k, this.kernels);
      ar.f32(y, heads * m * n).set(yv);
      return;
    }
    ar.scoped(() => {
      if (path.path === 'int8-gemm') {
        const sa = matrixSpec(scheme.a, ps.clipA);
        const sb = matrixSpec(scheme.b, ps.clipB);
        const kp = roundUp(k, 8);
        const A = this.quantizeA(a, heads * m, heads * m, k, sa, k, kp, false);
        const B = this.quantizeA(b, heads * n, heads * n, k, sb, k, kp, false);
        // each head's K (or Vᵀ) is the kernel's weight operand: its rows into the kernel's panels
        const bPanels = ar.alloc(ex.panelI16Size(n, kp));
        for (let h = 0; h < heads; h++) {
          ex.panel_i16(B.xp + h * n * kp * 2, n, kp, bPanels);
          ex.gemm_w8a8(A.xp + h * m * kp * 2, bPanels, m, n, kp, A.sx + h * m * 4, 1, B.sx + h * n * 4, 1, 0, y + h * m * n * 4, 0, 0);
        }
        return;
      }
      let ap = a;
      let bp = b;
      if (scheme.a.bits !== 32) {
        ap = ar.alloc(heads * m * k * 4);
        ar.f32(ap, heads * m * k).set(ar.f32(a, heads * m * k));
        this.fakeQuant(ap, heads * m, heads * m, k, matrixSpec(scheme.a, ps.clipA));
      }
      if (scheme.b.bits !== 32) {
        bp = ar.alloc(heads * n * k * 4);
        ar.f32(bp, heads * n * k).set(ar.f32(b, heads * n * k));
        this.fakeQuant(bp, heads * n, heads * n, k, matrixSpec(scheme.b, ps.clipB));
      }
      const panels = ar.alloc(roundUp(n, 8) * k * 4);
      for (let h = 0; h < heads; h++) {
        ex.pack_b_f32(bp + h * n * k * 4, n, k, panels);
        ex.gemm_f32(ap + h * m * k * 4, panels, 0, y + h * m * n * 4, m, n, k, 0, 0);
      }
    });
  }

  /** Logits [count × classes] for `count` images (3072 bytes each), `chunk` images per batch. */
  forward(plan: PreparedPlan, pixels: Uint8Array, count: number, chunk = 16): Float32Array {
    const classes = this.weights.config.classes;
    const out = new Float32Array(count * classes);
    for (let i0 = 0; i0 < count; i0 += chunk) {
      const b = Math.min(chunk, count - i0);
      out.set(this.forwardBatch(plan, pixels.subarray(i0 * IMAGE_BYTES, (i0 + b) * IMAGE_BYTES), b), i0 * classes);
    }
    return out;
  }

  forwardBatch(plan: PreparedPlan, pixels: Uint8Array, B: number): Float32Array {
    this.preparePlan(plan);
    const W = this.weights;
    const { shapes } = this.lowered;
    const ar = this.ar;
    ar.top = this.persistentTop;
    // every tensor of the step list lives in the arena for this batch: name → pointer
    const t = new Map<string, number>();
    const rowsOf = (name: string) => shapes.get(name)!.rows;
    const colsOf = (name: string) => shapes.get(name)!.cols;
    const out = (name: string) => {
      const p = ar.alloc(B * rowsOf(name) * colsOf(name) * 4);
      t.set(name, p);
      return p;
    };
    const at = (name: string) => {
      const p = t.get(name) ?? this.paramPtr.get(name);
      if (p === undefined) throw new Error(`vitCpu: tensor ${name} is not computed yet`);
      return p;
    };
    const input = this.lowered.input;
    const pd = colsOf(input);
    const np = rowsOf(input);
    const patches = out(input);
    for (let i = 0; i < B; i++)
      ar.f32(patches + i * np * pd * 4, np * pd).set(patchify(pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), W));
    for (const op of this.fused) {
      if (op.kind === 'linear') this.linearOp(op, B, at, out);
      else if (op.kind === 'attention') this.attentionOp(op, B, at, out);
      else this.stepOp(op.step, B, at, out);
    }
    const y = this.lowered.output;
    const res = ar.f32(at(y), B * rowsOf(y) * colsOf(y)).slice();
    ar.top = this.persistentTop;
    return res;
  }

  /** A fused weight site: [class token →] [LayerNorm →] GEMM [→ GELU | + residual | → embedding]. */
  private linearOp(op: Extract<FusedOp, { kind: 'linear' }>, B: number, at: (n: string) => number, out: (n: string) => number): void {
    const { shapes } = this.lowered;
    const s = op.step;
    const perImage = shapes.get(s.x)!.rows;
    const rows = B * perImage;
    if (op.cls) this.stepOp(op.cls, B, at, out);
    const flags = (op.gelu ? FLAG_GELU : 0) | (op.residual ? FLAG_RESIDUAL : 0);
    const res = op.residual ? at(op.residual.a) : 0;
    // with an embedding after it, the GEMM writes its own output and the embedding step follows
    const y = out(op.embed ? s.y : op.y);
    if (op.ln) this.lnLinear(s.site, at(op.ln.x), rows, perImage, at(op.ln.g), at(op.ln.b), out(op.ln.y), y, flags, res);
    else this.linear(s.site, at(s.x), rows, perImage, y, flags, res);
    if (op.embed) this.stepOp(op.embed, B, at, out);
  }

  /** One block's attention, image by image: split heads, q·kᵀ, softmax (the 1/√d scale fused), attn·v, merge. */
  private attentionOp(op: Extract<FusedOp, { kind: 'attention' }>, B: number, at: (n: string) => number, out: (n: string) => number): void {
    const { shapes } = this.lowered;
    const ar = this.ar;
    const ex = this.ex;
    const heads = op.split.heads;
    const T = shapes.get(op.split.x)!.rows;
    const dim = shapes.get(op.merge.y)!.cols;
    const hd = dim / heads;
    const qkv = at(op.split.x);
    const cat = out(op.y);
    ar.scoped(() => {
      const q = ar.alloc(heads * T * hd * 4);
      const k = ar.alloc(heads * T * hd * 4);
      const vT = ar.alloc(heads * hd * T * 4);
      const sc = ar.alloc(heads * T * T * 4);
      const o = ar.alloc(heads * T * hd * 4);
      for (let img = 0; img < B; img++) {
        ex.split_heads(qkv + img * T * 3 * dim * 4, T, dim, heads, q, k, vT);
        this.attention(op.scores.site, q, k, heads, T, T, hd, sc);
        ex.softmax_rows(sc, heads * T, T, op.scores.scale);
        this.attention(op.values.site, sc, vT, heads, T, hd, T, o);
        ex.merge_heads(o, T, dim, heads, cat + img * T * dim * 4);
      }
    });
  }

  /** A step no fusion took (see supportsStep): the embedding, the class token, a lone LayerNorm / GELU / residual. */
  private stepOp(s: Step, B: number, at: (n: string) => number, out: (n: string) => number): void {
    const { shapes } = this.lowered;
    const ar = this.ar;
    const rows = (n: string) => shapes.get(n)!.rows;
    const cols = (n: string) => shapes.get(n)!.cols;
    switch (s.kind) {
      case 'embed': {
        const np = rows(s.x);
        const T = rows(s.y);
        const d = cols(s.y);
        const y = out(s.y); // allocate before taking views: growing the wasm memory detaches them
        embedTokens(ar.f32(at(s.x), B * np * d), this.params.get(s.cls)!, this.params.get(s.pos)!, B, np, d, ar.f32(y, B * T * d));
        return;
      }
      case 'takeCls': {
        const T = rows(s.x);
        const d = cols(s.x);
        const x = at(s.x);
        const y = out(s.y);
        for (let i = 0; i < B; i++) ar.f32(y + i * d * 4, d).set(ar.f32(x + i * T * d * 4, d));
        return;
      }
      case 'layerNorm':
        this.ex.layernorm(at(s.x), B * rows(s.x), cols(s.x), at(s.g), at(s.b), s.eps, out(s.y));
        return;
      case 'gelu': {
        const n = B * rows(s.x) * cols(s.x);
        const y = out(s.y);
        ar.f32(y, n).set(ar.f32(at(s.x), n));
        this.ex.gelu(y, n);
        return;
      }
      case 'residual': {
        const n = B * rows(s.y) * cols(s.y);
        const yp = out(s.y); // allocate before taking views (growing the memory detaches them)
        const a = ar.f32(at(s.a), n);
        const b = ar.f32(at(s.b), n);
        const y = ar.f32(yp, n);
        for (let i = 0; i < n; i++) y[i] = a[i] + b[i];
        return;
      }
      default:
        throw new Error(`vitCpu: step '${s.kind}' runs only inside a fused op (src/plan/fusion.ts)`);
    }
  }

  /** The reference structure (per image, hooks) on these kernels: calibration, jitter bands. */
  forwardWithHooks(plan: PreparedPlan, pixels: Uint8Array, hooks: Parameters<VitReference['forward']>[2]): Float32Array {
    // the reference allocates through the same arena in scoped calls, above the packed weights
    this.ar.top = Math.max(this.ar.top, this.persistentTop);
    return this.ref.forward(pixels, plan, hooks);
  }
}

/** The CPU backends run every step of the inference list; fake quantization with learned ranges is training's (src/train/). */
export function cpuSupportsStep(s: Step): StepSupport {
  return s.kind === 'fakeQuant' ? 'fake-quant steps with learnable (s, z) belong to training (src/train/), not to inference' : true;
}

/**
 * The CPU backend on these kernels (engine.ts Backend). In this thread; src/cpu/vitCpuPool.ts
 * spreads images over workers. With the TypeScript fallback kernels it runs the reference forward
 * on them, and says so in `info`.
 */
export class VitCpuBackend implements Backend {
  readonly info: BackendInfo;
  private vit?: VitCpu;
  private ref?: VitReference;
  constructor(
    readonly weights: VitWeights,
    readonly kernels: CpuKernels,
    reason: string,
    readonly chunk = 16,
  ) {
    if (isWasmKernels(kernels)) this.vit = new VitCpu(weights, kernels);
    else this.ref = new VitReference(weights, kernels);
    this.info = {
      kind: 'cpu',
      label: isWasmKernels(kernels) ? `CPU · WASM SIMD${featuresLabel(kernels.wasmFeatures)}, 1 thread` : 'CPU · TypeScript kernels',
      reason: kernels.fallbackReason
        ? `${reason}; WASM kernels unavailable: ${kernels.fallbackReason}`
        : kernels.relaxedUnavailable
          ? `${reason}; SIMD128 build (same numbers, slower GEMMs): ${kernels.relaxedUnavailable}`
          : reason,
    };
  }
  supports(s: Step): StepSupport {
    return cpuSupportsStep(s);
  }
  async run(plan: PreparedPlan, pixels: Uint8Array, count: number, opts: RunOptions = {}): Promise<Float32Array> {
    const classes = this.weights.config.classes;
    const out = new Float32Array(count * classes);
    const step = opts.jitter || !this.vit ? 1 : this.chunk;
    for (let i = 0; i < count; i += step) {
      throwIfAborted(opts.signal);
      const b = Math.min(step, count - i);
      const px = pixels.subarray(i * IMAGE_BYTES, (i + b) * IMAGE_BYTES);
      if (opts.jitter) {
        const hooks = jitterHooks(opts.jitter.scale, opts.jitter.seed, i);
        out.set(this.vit ? this.vit.forwardWithHooks(plan, px, hooks) : this.ref!.forward(px, plan, hooks), i * classes);
      } else if (this.vit) out.set(this.vit.forwardBatch(plan, px, b), i * classes);
      else out.set(this.ref!.forward(px, plan), i * classes);
      opts.onProgress?.(i + b, count);
      await new Promise((r) => setTimeout(r, 0));
    }
    return out;
  }
  dispose(): void {}
}
