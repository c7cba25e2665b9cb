/**
 * The ViT forward pass on WebGPU, for a prepared plan (src/plan/siteQuant.ts semantics), on the
 * kernel library (src/kernels). The CPU reference is src/forward/vitRef.ts.
 *
 * One compiled forward per (plan, batch size): every op, weight buffer and activation buffer is
 * created once and re-encoded for each batch; one command buffer and one readback per batch.
 *
 * Per site, by path:
 *  - fp32 / weight-only: gemm_f32 (weights FP32 or dequantized), bias, GELU and residual fused;
 *  - int8-gemm / int4-gemm: activations quantized per token or per image (fused into the
 *    LayerNorm for to_qkv, fc1 and head), then gemm_w8a8 / gemm_w4a8 with the dequant epilogue;
 *  - fake-quant: quantize_rows → dequantize_rows → gemm_f32 (simulated; the UI says so);
 *  - attention: shaders of src/kernels/attention.ts (FP32, or both operands quantized).
 * SmoothQuant: s folds into the LayerNorm's γ, β for LayerNorm-fed sites and into the patches on
 * the CPU for the patch embedding; to_out and fc2 divide at run time (scale_columns).
 * Patch embedding: the class-token slot of each image is a zero patch row and the bias is folded
 * into the position rows, so one GEMM with a residual writes the whole embedded sequence.
 */
import { GpuBuffer, readBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { createCopyRows } from '../kernels/elementwise';
import { submitAndWait } from '../kernels/common';
import { createAttention, type AttentionOp, type AttnQuant } from '../kernels/attention';
import { type FakeQuantOp, createDequantizeRows, createScaleColumns } from '../kernels/fakeQuant';
import { createGemmF32, type GemmF32Op } from '../kernels/gemmF32';
import { createGemmW4A8 } from '../kernels/gemmW4A8';
import { createGemmW8A8 } from '../kernels/gemmW8A8';
import { createLayerNorm, createLayerNormQuantize } from '../kernels/layernorm';
import { createQuantizeRows } from '../kernels/quantizeRows';
import { packInt4Rows, packInt8Rows } from '../quant/pack';
import type { OperandScheme } from '../plan/plan';
import { type Clip, needsSiteDefinition, type PreparedPlan, type PreparedSite } from '../plan/siteQuant';
import { IMAGE_BYTES } from '../data/cifar';
import { patchify, siteLinears } from './vitRef';
import { type FusedOp, fusedSteps, fuseSteps, stepInputs } from '../plan/fusion';
import { type LoweredVit, lowerVit, type Step } from '../plan/steps';
import { type Linear, paramsFromWeights, type VitWeights } from '../model/vitWeights';

/**
 * Whether the WebGPU kernels run `step` of the inference list under `plan` (the engine asks before
 * running; the CPU backend takes what is declined): true, or the reason.
 */
export function gpuSupportsStep(step: Step, plan: PreparedPlan): true | string {
  if (step.kind === 'fakeQuant') return 'fake-quant steps with learnable (s, z) belong to training (src/train/)';
  if (!('site' in step)) return true;
  const ps = plan.sites[step.site];
  if (ps.scheme.llmInt8 && ps.path.path !== 'fp32') return `site ${ps.info.index}: LLM.int8() runs on the CPU backend only`;
  if (needsSiteDefinition(ps))
    return `site ${ps.info.index}: FP8 / MX / NVFP4 activations and the Hadamard rotation run on the CPU backend only (no WGSL kernels for them; weight formats are decoded into the FP32 GEMM)`;
  const g = ps.weight?.q?.groupSize;
  if (ps.path.path === 'int4-gemm' && g !== undefined && g < ps.info.k && g % 8 !== 0)
    return `site ${ps.info.index}: W4A8 groups must be a multiple of 8 columns (got ${g})`;
  if (!ps.info.hasWeight && ps.path.path !== 'fp32' && ps.path.path !== 'int8-gemm')
    return `site ${ps.info.index}: ${ps.path.reason} — the WebGPU attention kernels quantize both operands or neither`;
  return true;
}

/** The sites whose activation quantization runs inside the LayerNorm before them (the integer GEMM paths of a LayerNorm-fed site). */
export function gpuFusedQuantSites(fused: FusedOp[], plan: PreparedPlan): Set<number> {
  const out = new Set<number>();
  for (const op of fused) {
    if (op.kind !== 'linear' || !op.ln) continue;
    const p = plan.sites[op.step.site].path.path;
    if (p === 'int8-gemm' || p === 'int4-gemm') out.add(op.step.site);
  }
  return out;
}

export class UnsupportedOnWebGpu extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedOnWebGpu';
  }
}

/** where an operand of image 0 lies in the forward's buffers: strided pieces gathered into one [rows × cols] matrix */
interface OperandView {
  from: GpuBuffer<'f32'>;
  rows: number;
  cols: number;
  pieces: { rows: number; cols: number; aOff: number; aRow: number; aCol: number; outOff: number; outRow: number }[];
}

type Encodable = { encode(target: GPUCommandEncoder, b: any): void; destroy(): void };
/** one recorded piece of the command stream */
type Encode = (enc: GPUCommandEncoder) => void;

/** Which activation quantization each site uses, as the kernels take it. */
function actQuant(o: OperandScheme, clip: Clip | undefined, rowsPerImage: number) {
  return {
    bits: o.bits as 8 | 4 | 2,
    symmetric: o.symmetric,
    granularity: o.granularity === 'tensor' ? ('tensor' as const) : ('row' as const),
    rowsPerTensor: rowsPerImage,
    clip,
  };
}

function attnQuant(o: OperandScheme, clip: Clip | undefined, role: 'q' | 'k' | 'p' | 'v'): AttnQuant {
  const g = o.granularity === 'tensor' ? 'tensor' : role === 'v' ? 'channel' : 'token';
  return { bits: o.bits as 8 | 4 | 2, symmetric: o.symmetric, granularity: g, clip };
}

export class CompiledForward {
  private owned: { destroy(): void }[] = [];
  private commands: Encode[] = [];
  private patches: GpuBuffer<'f32'>;
  private logits!: GpuBuffer<'f32'>;
  private smoothPatches?: Float32Array;
  readonly fusedSites = new Set<number>();
  /** where each site's operands can be read, and after how many steps (statistics) */
  private taps = new Map<number, { step: number; operands: () => OperandView[] }>();
  private checkedFlags = false;
  private flagOps: { checkFlags(): Promise<void> }[] = [];

  constructor(
    private ctx: GpuContext,
    private w: VitWeights,
    readonly plan: PreparedPlan,
    readonly batch: number,
  ) {
    const { dim: D, mlp: MLP } = w.config;
    const B = batch;
    const P = w.patchEmbed.in;
    const np = (w.config.image / w.config.patch) ** 2;
    const T = np + 1;
    const rows = B * T;
    this.lin = siteLinears(w);
    const lowered = lowerVit(w.config, undefined, 'infer');
    for (const st of lowered.steps) {
      const ok = gpuSupportsStep(st, plan);
      if (ok !== true) throw new UnsupportedOnWebGpu(ok);
    }
    // the input and the scratch every site shares
    this.patches = this.buf(rows * P, 'patches');
    const maxK = Math.max(P, D, MLP);
    this.scratch = {
      xinit: this.buf(rows * D, 'cls+pos (+patch bias)'),
      ln: this.buf(rows * D, 'layernorm out'),
      fq: this.buf(rows * maxK, 'fake-quant / smoothed scratch'),
      qA: this.own(new GpuBuffer(ctx, { dtype: 'u32', length: rows * Math.ceil(maxK / 4), label: 'quantized activations' })),
      sA: this.buf(rows, 'activation scales'),
      zA: this.own(new GpuBuffer(ctx, { dtype: 'i32', length: rows, label: 'activation zeros' })),
      clsLn: this.buf(B * D, 'class-token layernorm'),
    };
    // constant embedding rows: [cls + pos0; pos_p + bias] per image
    const e = new Float32Array(rows * D);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let j = 0; j < D; j++) e[(b * T + t) * D + j] = w.pos[t * D + j] + (t === 0 ? w.cls[j] : w.patchEmbed.b[j]);
    this.scratch.xinit.write(e);
    this.compile(lowered);
  }

  private readonly lin: (Linear | null)[];
  private readonly scratch: {
    xinit: GpuBuffer<'f32'>;
    ln: GpuBuffer<'f32'>;
    fq: GpuBuffer<'f32'>;
    qA: GpuBuffer<'u32'>;
    sA: GpuBuffer<'f32'>;
    zA: GpuBuffer<'i32'>;
    clsLn: GpuBuffer<'f32'>;
  };

  private own<X extends { destroy(): void }>(x: X): X {
    this.owned.push(x);
    return x;
  }

  private buf(length: number, label: string): GpuBuffer<'f32'> {
    return this.own(new GpuBuffer(this.ctx, { dtype: 'f32', length, label }));
  }

  private upload<T extends Float32Array | Uint32Array | Int32Array>(a: T, label: string) {
    return this.own(
      GpuBuffer.from(this.ctx, a as never, (a instanceof Float32Array ? 'f32' : a instanceof Uint32Array ? 'u32' : 'i32') as never, label),
    );
  }

  /** `embedBias`: the bias is already in the constant embedding rows (patch embedding) */
  private weightBufs(ps: PreparedSite, L: Linear, embedBias: boolean) {
    const i = ps.info.index;
    const wt = ps.weight;
    const bias = embedBias ? this.upload(new Float32Array(L.out), 'zero bias') : this.upload(L.b, `bias ${i}`);
    if (ps.path.path === 'int8-gemm') {
      const q = wt!.q!;
      const st = wt!.storage!;
      return {
        kind: 'int8' as const,
        bias,
        w: this.upload(packInt8Rows(st.values, L.out, L.in), `w8 ${i}`),
        sw: this.upload(q.scales, `sw ${i}`),
        zw: q.spec.symmetric ? undefined : this.upload(st.zeros, `zw ${i}`),
        swGroup: q.spec.granularity === 'tensor' ? L.out : 1,
      };
    }
    if (ps.path.path === 'int4-gemm') {
      const q = wt!.q!;
      return {
        kind: 'int4' as const,
        bias,
        w: this.upload(packInt4Rows(wt!.storage!.values, L.out, L.in), `w4 ${i}`),
        sw: this.upload(q.scales, `sw ${i}`),
        groupSize: q.groupSize >= L.in ? L.in : q.groupSize,
      };
    }
    const wf = ps.path.path === 'fp32' ? L.w : (wt!.deq ?? wt!.w);
    return { kind: 'f32' as const, bias, w: this.upload(wf, `w ${i}`) };
  }

  /**
   * A weight site: input `inp` [rows × K] (or a fused LayerNorm), output `y` with bias, GELU and
   * residual fused. `lnFused` = the LayerNorm whose output feeds this site (fused quantization).
   */
  private linearSite(
    i: number,
    m: number,
    rowsPerImage: number,
    inp: GpuBuffer<'f32'> | null,
    y: GpuBuffer<'f32'>,
    epi: { gelu?: boolean; residual?: 'accumulate' | 'buffer'; residualBuf?: GpuBuffer<'f32'>; embed?: boolean },
    lnIn?: { input: GpuBuffer<'f32'>; gamma: Float32Array; beta: Float32Array; inRow?: number },
  ) {
    const { ctx, plan } = this;
    const eps = this.w.config.layer_norm_eps;
    const ps = plan.sites[i];
    const L = this.lin[i]!;
    const k = L.in;
    const n = L.out;
    const wb = this.weightBufs(ps, L, epi.embed === true);
    const smooth = ps.weight?.smooth;
    let src = inp;
    let lnOpOutput: GpuBuffer<'f32'> | undefined;
    // LayerNorm-fed: SmoothQuant folds into γ and β
    let lnOp: Encodable | undefined;
    let lnBufs: Record<string, unknown> | undefined;
    if (lnIn) {
      let g = lnIn.gamma;
      let bt = lnIn.beta;
      if (smooth) {
        g = g.map((v, j) => v / smooth[j]);
        bt = bt.map((v, j) => v / smooth[j]);
      }
      const gamma = this.upload(g, `ln γ ${i}`);
      const beta = this.upload(bt, `ln β ${i}`);
      const fusedQuant = ps.path.path === 'int8-gemm' || ps.path.path === 'int4-gemm';
      if (fusedQuant) {
        const lq = this.own(
          createLayerNormQuantize(ctx, { rows: m, c: k, eps, inRow: lnIn.inRow, ...actQuant(ps.scheme.a, ps.clipA, rowsPerImage) }),
        );
        this.flagOps.push(lq);
        lnOp = lq;
        lnOpOutput = lq.lnOutput;
        lnBufs = { input: lnIn.input, gamma, beta, q: this.scratch.qA, scales: this.scratch.sA, zeros: this.scratch.zA };
        this.fusedSites.add(i);
      } else {
        const out = lnIn.inRow !== undefined ? this.scratch.clsLn : this.scratch.ln;
        lnOp = this.own(createLayerNorm(ctx, { rows: m, c: k, eps, inRow: lnIn.inRow }));
        lnBufs = { input: lnIn.input, gamma, beta, output: out };
        src = out;
      }
      const op = lnOp;
      const bufs = lnBufs;
      this.commands.push((enc) => op.encode(enc, bufs));
    } else if (smooth && ps.path.path !== 'fp32' && !epi.embed) {
      const sc = this.own(createScaleColumns(ctx, { rows: m, cols: k }));
      const d = this.upload(smooth, `smooth ${i}`);
      const from = src!;
      this.commands.push((enc) => sc.encode(enc, { a: from, d, out: this.scratch.fq }));
      src = this.scratch.fq;
    }
    const quantizeA = () => {
      if (this.fusedSites.has(i)) return;
      const q = this.own(createQuantizeRows(ctx, { rows: m, cols: k, ...actQuant(ps.scheme.a, ps.clipA, rowsPerImage) }));
      this.flagOps.push(q);
      const from = src!;
      this.commands.push((enc) => q.encode(enc, { input: from, q: this.scratch.qA, scales: this.scratch.sA, zeros: this.scratch.zA }));
    };
    // image 0's A operand is complete here (after LayerNorm / smoothing, before quantization)
    {
      const from = lnOpOutput ?? src!;
      const firstRow = epi.embed ? 1 : 0; // the patch embedding's zero class-token slot
      const r = rowsPerImage - firstRow;
      this.taps.set(i, {
        step: this.commands.length,
        operands: () => [
          { from, rows: r, cols: k, pieces: [{ rows: r, cols: k, aOff: firstRow * k, aRow: k, aCol: 1, outOff: 0, outRow: k }] },
        ],
      });
    }
    const groupOf = ps.scheme.a.granularity === 'tensor' ? rowsPerImage : 1;
    const residual = epi.residual;
    const resBuf = epi.residual === 'buffer' ? epi.residualBuf : undefined;
    if (wb.kind === 'int8') {
      quantizeA();
      const g = this.own(
        createGemmW8A8(ctx, {
          m,
          n,
          k,
          sxGroup: groupOf,
          swGroup: wb.swGroup,
          zxGroup: ps.scheme.a.symmetric ? undefined : groupOf,
          zwGroup: wb.zw ? wb.swGroup : undefined,
          bias: true,
          gelu: epi.gelu,
          residual,
        }),
      );
      this.flagOps.push(g); // NaN/Inf in the epilogue (e.g. a NaN scale) is reported, not passed on
      this.commands.push((enc) =>
        g.encode(enc, {
          x: this.scratch.qA,
          w: wb.w,
          sx: this.scratch.sA,
          sw: wb.sw,
          zx: ps.scheme.a.symmetric ? undefined : this.scratch.zA,
          zw: wb.zw,
          bias: wb.bias,
          residual: resBuf,
          y,
        }),
      );
    } else if (wb.kind === 'int4') {
      quantizeA();
      const g = this.own(
        createGemmW4A8(ctx, {
          m,
          n,
          k,
          groupSize: wb.groupSize,
          sxGroup: groupOf,
          zxGroup: ps.scheme.a.symmetric ? undefined : groupOf,
          bias: true,
          gelu: epi.gelu,
          residual,
        }),
      );
      this.commands.push((enc) =>
        g.encode(enc, {
          x: this.scratch.qA,
          w: wb.w,
          sx: this.scratch.sA,
          sw: wb.sw,
          zx: ps.scheme.a.symmetric ? undefined : this.scratch.zA,
          bias: wb.bias,
          residual: resBuf,
          y,
        }),
      );
    } else {
      let from = src!;
      if (ps.path.path === 'fake-quant' && ps.scheme.a.bits !== 32) {
        quantizeA();
        const dq: FakeQuantOp<any> = this.own(createDequantizeRows(ctx, { rows: m, cols: k, rowsPerGroup: groupOf }));
        this.commands.push((enc) =>
          dq.encode(enc, { q: this.scratch.qA, scales: this.scratch.sA, zeros: this.scratch.zA, out: this.scratch.fq }),
        );
        from = this.scratch.fq;
      }
      const g: GemmF32Op = this.own(createGemmF32(ctx, { m, n, k, bias: true, gelu: epi.gelu, residual: residual ?? 'none' }));
      this.flagOps.push(g);
      const x0 = from;
      this.commands.push((enc) => g.encode(enc, { x: x0, w: wb.w, y, bias: wb.bias, residual: resBuf }));
    }
  }

  /** The forward: the fused ops of the step list (src/plan/fusion.ts) as commands, buffers reused once dead. */
  private compile(lowered: LoweredVit): void {
    const { batch: B } = this;
    const { dim: D } = this.w.config;
    const T = lowered.shapes.get(lowered.input)!.rows + 1;
    const rows = B * T;
    const { xinit } = this.scratch;
    const { shapes } = lowered;
    const fused = fuseSteps(lowered.steps);
    const params = paramsFromWeights(this.w, false);
    const lastUse = new Map<string, number>();
    fused.forEach((op, j) => {
      for (const st of fusedSteps(op)) for (const n of stepInputs(st)) lastUse.set(n, j);
    });
    const pool = new Map<number, GpuBuffer<'f32'>[]>();
    const bufOf = new Map<string, GpuBuffer<'f32'>>();
    const tensor = (name: string) => {
      const sh = shapes.get(name)!;
      const floats = B * sh.rows * sh.cols;
      const b = pool.get(floats)?.pop() ?? this.buf(floats, name);
      bufOf.set(name, b);
      return b;
    };
    const get = (name: string) => {
      const b = bufOf.get(name);
      if (!b) throw new Error(`vitGpu: tensor ${name} has no buffer yet`);
      return b;
    };
    const param = (name: string) => params.get(name)!;
    // the patches arrive with a zero class-token row per image (uploadPatches): T rows, not T − 1
    bufOf.set(lowered.input, this.patches);
    fused.forEach((op, j) => {
      if (op.kind === 'linear') {
        const st = op.step;
        const perImage = shapes.get(st.x)!.rows;
        if (op.embed) {
          // [cls; patches·Wᵀ] + pos as one GEMM over T rows per image: zero class-token rows in, constant rows as the residual
          const x = tensor(op.y);
          this.commands.push((enc) => enc.copyBufferToBuffer(xinit.buffer, 0, x.buffer, 0, rows * D * 4));
          this.linearSite(st.site, rows, T, get(st.x), x, { residual: 'buffer', residualBuf: xinit, embed: true });
        } else if (op.residual) {
          // y = a + GEMM, accumulated in a's buffer (a is read by nothing after this op)
          if ((lastUse.get(op.residual.a) ?? -1) > j)
            throw new Error(`vitGpu: ${op.residual.a} is read after the residual add; it cannot accumulate in place`);
          const y = get(op.residual.a);
          bufOf.delete(op.residual.a);
          bufOf.set(op.y, y);
          this.linearSite(st.site, B * perImage, perImage, get(st.x), y, { residual: 'accumulate' });
        } else {
          const y = tensor(op.y);
          const lnIn = op.ln
            ? {
                input: get(op.cls ? op.cls.x : op.ln.x),
                gamma: param(op.ln.g),
                beta: param(op.ln.b),
                inRow: op.cls ? shapes.get(op.cls.x)!.rows * D : undefined,
              }
            : undefined;
          this.linearSite(st.site, B * perImage, perImage, lnIn ? null : get(st.x), y, { gelu: op.gelu !== undefined }, lnIn);
        }
      } else if (op.kind === 'attention') {
        this.attention(op, get(op.split.x), tensor(op.y), T);
      } else throw new UnsupportedOnWebGpu(`step '${op.step.kind}' has no WebGPU op outside a fused group (src/plan/fusion.ts)`);
      // buffers whose last reader was this op go back to the pool
      for (const [name, b] of bufOf)
        if (lastUse.get(name) === j && name !== lowered.output && b !== this.patches) {
          bufOf.delete(name);
          const n = b.length;
          (pool.get(n) ?? pool.set(n, []).get(n)!).push(b);
        }
    });
    this.logits = get(lowered.output);
  }

  /** One block's attention (split heads → q·kᵀ → softmax → attn·v → merge) as the fused attention op, with the statistics taps of its two sites. */
  private attention(op: Extract<FusedOp, { kind: 'attention' }>, qkv: GpuBuffer<'f32'>, out: GpuBuffer<'f32'>, T: number): void {
    const { ctx, plan, batch: B } = this;
    const { dim: D, heads: H } = this.w.config;
    const qk = plan.sites[op.scores.site];
    const av = plan.sites[op.values.site];
    const quantQK = qk.path.path === 'int8-gemm';
    const quantAV = av.path.path === 'int8-gemm';
    const att: AttentionOp = this.own(
      createAttention(ctx, {
        images: B,
        tokens: T,
        heads: op.split.heads,
        headDim: D / op.split.heads,
        q: quantQK ? attnQuant(qk.scheme.a, qk.clipA, 'q') : undefined,
        k: quantQK ? attnQuant(qk.scheme.b, qk.clipB, 'k') : undefined,
        p: quantAV ? attnQuant(av.scheme.a, av.clipA, 'p') : undefined,
        v: quantAV ? attnQuant(av.scheme.b, av.clipB, 'v') : undefined,
      }),
    );
    // q, k, v of image 0 are the first T rows of qkv; attn of image 0 the first H·T rows of the scores
    // image 0's operands in siteQuant's stacked layout, gathered out of the qkv rows per head
    const hd = D / op.split.heads;
    const heads = (colOff: number, transpose: boolean): OperandView => ({
      from: qkv,
      rows: transpose ? H * hd : H * T,
      cols: transpose ? T : hd,
      pieces: Array.from({ length: H }, (_, h) =>
        transpose
          ? { rows: hd, cols: T, aOff: colOff + h * hd, aRow: 1, aCol: 3 * D, outOff: h * hd * T, outRow: T }
          : { rows: T, cols: hd, aOff: colOff + h * hd, aRow: 3 * D, aCol: 1, outOff: h * T * hd, outRow: hd },
      ),
    });
    this.taps.set(op.scores.site, { step: this.commands.length, operands: () => [heads(0, false), heads(D, false)] });
    this.commands.push((enc) => att.encodeScores(enc, { qkv }));
    this.commands.push((enc) => att.encodeSoftmax(enc));
    const probs: OperandView = {
      from: att.scores,
      rows: H * T,
      cols: T,
      pieces: [{ rows: H * T, cols: T, aOff: 0, aRow: T, aCol: 1, outOff: 0, outRow: T }],
    };
    this.taps.set(op.values.site, { step: this.commands.length, operands: () => [probs, heads(2 * D, true)] });
    this.commands.push((enc) => att.encodeContext(enc, { qkv, out }));
    this.flagOps.push(att);
  }

  private uploadPatches(pixels: Uint8Array, count: number) {
    const P = this.w.patchEmbed.in;
    const T = (this.w.config.image / this.w.config.patch) ** 2 + 1;
    const patches = new Float32Array(this.batch * T * P);
    for (let b = 0; b < count; b++) {
      const p = patchify(pixels.subarray(b * IMAGE_BYTES, (b + 1) * IMAGE_BYTES), this.w);
      if (this.smoothPatches) for (let i = 0; i < p.length; i++) p[i] /= this.smoothPatches[i % P];
      patches.set(p, (b * T + 1) * P); // row 0 of each image: the zero class-token slot
    }
    this.patches.write(patches);
  }

  /**
   * Runs the forward on one image up to `site` and gathers its operands on the device, in
   * siteQuant's stacked layout: A (as the site quantizes it) and, for the attention sites, B (k, or
   * vᵀ per head). The caller owns the returned buffers (statistics run on them in place).
   */
  async captureOnDevice(pixels: Uint8Array, site: number): Promise<{ buffer: GpuBuffer<'f32'>; rows: number; cols: number }[]> {
    const tap = this.taps.get(site);
    if (!tap) throw new Error(`site ${site} has no tap`);
    this.uploadPatches(pixels, 1);
    const views = tap.operands();
    const ops = views.map((v) => v.pieces.map((p) => createCopyRows(this.ctx, p)));
    const outs = views.map(
      (v, i) => new GpuBuffer(this.ctx, { dtype: 'f32', length: v.rows * v.cols, label: `site ${site} operand ${i}` }),
    );
    try {
      await submitAndWait(this.ctx, (enc) => {
        for (const s of this.commands.slice(0, tap.step)) s(enc);
        views.forEach((v, i) => ops[i].forEach((op) => op.encode(enc, { a: v.from, out: outs[i] })));
      });
    } catch (e) {
      outs.forEach((o) => o.destroy());
      throw e;
    } finally {
      ops.flat().forEach((op) => op.destroy());
    }
    return views.map((v, i) => ({ buffer: outs[i], rows: v.rows, cols: v.cols }));
  }

  /** Logits [count × classes] for `count` ≤ batch images (3072 bytes each). */
  async run(pixels: Uint8Array, count: number): Promise<Float32Array> {
    const { classes } = this.w.config;
    this.uploadPatches(pixels, count);
    const enc = this.ctx.device.createCommandEncoder({ label: 'vit forward' });
    for (const s of this.commands) s(enc);
    this.ctx.device.queue.submit([enc.finish()]);
    const ab = await readBuffer(this.ctx, this.logits.buffer, 0, count * classes * 4);
    if (!this.checkedFlags) {
      // NaN/Inf inside the network is reported, never silently propagated (checked on the first batch)
      this.checkedFlags = true;
      for (const op of this.flagOps) await op.checkFlags();
    }
    return new Float32Array(ab);
  }

  destroy() {
    for (const o of this.owned.reverse()) o.destroy();
    this.owned = [];
    this.commands = [];
  }
}

/** Owns compiled forwards (a few, by plan) for one device. */
export class VitGpu {
  private cache = new Map<string, CompiledForward>();
  constructor(
    readonly ctx: GpuContext,
    readonly weights: VitWeights,
    readonly maxBatch: number,
  ) {}

  compiled(plan: PreparedPlan, batch: number): CompiledForward {
    const key = `${batch}|${JSON.stringify(plan.plan.sites)}`;
    let c = this.cache.get(key);
    if (!c) {
      if (this.cache.size >= 4) {
        const [k0, c0] = this.cache.entries().next().value as [string, CompiledForward];
        c0.destroy();
        this.cache.delete(k0);
      }
      c = new CompiledForward(this.ctx, this.weights, plan, batch);
      this.cache.set(key, c);
    }
    return c;
  }

  destroy() {
    this.cache.forEach((c) => c.destroy());
    this.cache.clear();
  }
}
