/**
 * The engine: config (plan) → prepared plan (paths, weight quantization, calibration) →
 * a backend's forward passes → scores and statistics. Used by the Web Worker behind the UI and
 * by the command-line tools, so every figure the UI shows can be reproduced from a terminal.
 */
import { CLASS_NAMES, type ImageSet, IMAGE_BYTES } from '../data/cifar';
import { buildSites, type SiteInfo } from '../plan/sites';
import type { VitWeights } from '../model/vitWeights';
import { siteLinears, VitReference, refOps } from '../forward/vitRef';
import { type Calibration, calibrate } from '../plan/calibration';
import { errorStats, operandStats } from '../plan/operandStats';
import { type Plan, fp32Plan, validatePlan } from '../plan/plan';
import {
  type MatOps,
  type PrepareContext,
  type PreparedPlan,
  type PreparedSite,
  planNeedsCalibration,
  preparePlan,
  runAttentionSite,
  runLinearSite,
  matrixSpec,
  operandFormat,
} from '../plan/siteQuant';
import { RangeHistogram } from '../quant/calibrate';
import { accumulateOuter } from '../plan/calibration';
import { placeSteps } from './placement';
import type { BackendInfo, EvalSetName, StepRunInfo, OperandStats, Progress, ScoreRequest, ScoreResult, SiteStats } from '../plan/types';
import { intRange } from '../quant/scaleZero';
import { dequantizeMatrix, type QuantizedMatrix } from '../quant/quantizeMatrix';
import { formatSiteStats } from '../plan/formatStats';

import { type Backend, type CapturedOperands, jitterHooks, type RunOptions } from '../plan/backend';
import { throwIfAborted } from '../util/latest';

/** The CPU reference backend: the plain-TypeScript forward, one image at a time (or faster MatOps). */
export class ReferenceBackend implements Backend {
  readonly info: BackendInfo;
  private vit: VitReference;
  constructor(weights: VitWeights, ops: MatOps = refOps, info?: Partial<BackendInfo>) {
    this.vit = new VitReference(weights, ops);
    this.info = { kind: 'cpu', label: 'CPU · TypeScript reference', reason: 'reference forward', ...info };
  }
  async run(plan: PreparedPlan, pixels: Uint8Array, count: number, opts: RunOptions = {}): Promise<Float32Array> {
    const classes = this.vit.weights.config.classes;
    const out = new Float32Array(count * classes);
    for (let i = 0; i < count; i++) {
      throwIfAborted(opts.signal);
      const hooks = opts.jitter ? jitterHooks(opts.jitter.scale, opts.jitter.seed, i) : undefined;
      out.set(this.vit.forward(pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), plan, hooks), i * classes);
      opts.onProgress?.(i + 1, count);
      // let the event loop breathe (abort messages, progress) every few images
      if (i % 4 === 3) await new Promise((r) => setTimeout(r, 0));
    }
    return out;
  }
  dispose() {}
}

export class NonFiniteLogitsError extends Error {
  constructor(readonly image: number) {
    super(
      `image ${image}: the forward pass produced non-finite logits (NaN or ±Inf), so there is no prediction to score; no accuracy is reported`,
    );
    this.name = 'NonFiniteLogitsError';
  }
}

/** Predicted class per row; a row holding NaN/±Inf is an error, never class 0 (issue 11 item 10). */
export function argmaxRows(logits: Float32Array, classes: number): number[] {
  const n = logits.length / classes;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) if (!Number.isFinite(logits[i * classes + c])) throw new NonFiniteLogitsError(i);
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

export interface EngineData {
  test: ImageSet;
  val?: ImageSet;
  /** calibration images from the training set (never an eval set) */
  calib?: ImageSet;
}

export class Engine {
  readonly sites: SiteInfo[];
  /** the plain-TypeScript forward (calibration, CPU captures) and the step list every backend runs */
  readonly reference: VitReference;
  private calibration?: Calibration;
  private prepared = new Map<string, PreparedPlan>();
  private alphaInputs?: Map<number, { x: Float32Array; rows: number; perImage: number }>;
  private readonly ops: MatOps;

  constructor(
    readonly weights: VitWeights,
    readonly data: EngineData,
    public backend: Backend,
    /** arithmetic of the engine's own reference passes (calibration, CPU captures): fast kernels when available */
    ops: MatOps = refOps,
  ) {
    this.sites = buildSites(weights.config);
    this.reference = new VitReference(weights, ops);
    this.ops = ops;
  }

  /** Images the α search and the smoothed histograms use (the first of the calibration images). */
  static readonly ALPHA_SEARCH_IMAGES = 32;

  /**
   * Runs the reference forward of `plan` over the first `images` calibration images and hands the
   * A operand of each site in `sites` (as the forward computes it, before the site's own
   * quantization) to `see`; each image's forward stops right after site `last`.
   */
  private observeSites(
    plan: PreparedPlan,
    sites: Set<number>,
    last: number,
    images: number,
    see: (site: number, a: Float32Array, rows: number, k: number) => void,
  ): number {
    const calib = this.data.calib;
    if (!calib) throw new Error('no calibration images loaded (public/data/cifar10/calib.bin: run `npm run data`)');
    const n = Math.min(images, calib.count);
    const stop = new Error('observed');
    for (let i = 0; i < n; i++) {
      try {
        this.reference.forward(calib.pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), plan, {
          operands(j, a, aRows, _b, _bRows, k) {
            if (sites.has(j)) see(j, a, aRows, k);
            if (j === last) throw stop;
          },
        });
      } catch (e) {
        if (e !== stop) throw e;
      }
    }
    return n;
  }

  /** What preparing SmoothQuant (folding, α search, smoothed ranges) and GPTQ sequential needs. */
  private prepareContext(): PrepareContext {
    const fp = () => preparePlan(fp32Plan(), this.sites, siteLinears(this.weights));
    return {
      ops: this.ops,
      layerNorm: (site) => {
        const info = this.sites[site];
        const blk = this.weights.blocks[info.block];
        if (!blk || (info.kind !== 'to_qkv' && info.kind !== 'fc1'))
          throw new Error(`site ${site} (${info.name}) has no LayerNorm to fold into`);
        return info.kind === 'to_qkv' ? blk.ln1 : blk.ln2;
      },
      siteInputs: (site) => {
        // FP32 inputs of every weight site on the α-search images, gathered in one pass
        if (!this.alphaInputs) {
          const got = new Map<number, Float32Array[]>();
          const calib = this.data.calib;
          if (!calib) throw new Error('no calibration images loaded (public/data/cifar10/calib.bin: run `npm run data`)');
          const plan = fp();
          const n = Math.min(Engine.ALPHA_SEARCH_IMAGES, calib.count);
          for (let i = 0; i < n; i++)
            this.reference.forward(calib.pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), plan, {
              operands: (j, a, _r, b) => {
                if (b === null) (got.get(j) ?? got.set(j, []).get(j)!).push(a.slice());
              },
            });
          this.alphaInputs = new Map();
          for (const [j, parts] of got) {
            const x = new Float32Array(parts.reduce((t, p) => t + p.length, 0));
            let o = 0;
            for (const p of parts) {
              x.set(p, o);
              o += p.length;
            }
            const k = this.sites[j].k;
            this.alphaInputs.set(j, { x, rows: x.length / k, perImage: parts[0].length / k });
          }
        }
        const r = this.alphaInputs.get(site);
        if (!r) throw new Error(`site ${site} has no inputs on the calibration images`);
        return r;
      },
      smoothedHistograms: (scales) => {
        // each listed site's FP32 input over the calibration images, divided by its s: one pass for
        // the ranges, one for the histograms
        const hists = new Map([...scales.keys()].map((i) => [i, new RangeHistogram()]));
        const last = Math.max(...scales.keys());
        const pass = (see: (h: RangeHistogram, d: Float32Array) => void) =>
          this.observeSites(fp(), new Set(scales.keys()), last, 256, (site, a, rows, k) => {
            const s = scales.get(site)!;
            const d = new Float32Array(rows * k);
            for (let i = 0; i < d.length; i++) d[i] = a[i] / s[i % k];
            see(hists.get(site)!, d);
          });
        pass((h, d) => h.observeRange(d));
        for (const h of hists.values()) h.freeze();
        pass((h, d) => h.observe(d));
        return hists;
      },
      sequentialHessian: (site, partial) => {
        const k = this.sites[site].k;
        const sum = new Float64Array(k * k);
        let rows = 0;
        this.observeSites(partial, new Set([site]), site, 256, (_j, a, r) => {
          accumulateOuter(sum, a, r, k);
          rows += r;
        });
        return { sum, rows };
      },
    };
  }

  evalSet(name: EvalSetName): ImageSet {
    const s = name === 'val' ? this.data.val : this.data.test;
    if (!s) throw new Error(`eval set '${name}' is not loaded`);
    return s;
  }

  /** FP32 statistics over the calibration images (computed once, on the CPU reference). */
  getCalibration(images = 256, withHessian = false): Calibration {
    // Hessians (GPTQ only) cost O(K²) per token: gathered only when a plan asks for them
    if (this.calibration && (!withHessian || this.calibration.sites.some((c) => c?.hessian))) return this.calibration;
    const calib = this.data.calib;
    if (!calib) throw new Error('no calibration images loaded (public/data/cifar10/calib.bin: run `npm run data`)');
    const n = Math.min(images, calib.count);
    const fp = preparePlan(fp32Plan(), this.sites, siteLinears(this.weights));
    this.calibration = calibrate(
      this.sites,
      n,
      `first ${n} training images (data_batch_1)`,
      (hooks) => {
        for (let i = 0; i < n; i++) this.reference.forward(calib.pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), fp, hooks);
      },
      withHessian,
    );
    return this.calibration;
  }

  prepare(plan: Plan): PreparedPlan {
    const key = JSON.stringify(plan.sites);
    let p = this.prepared.get(key);
    if (!p) {
      const valid = validatePlan(plan, (i) => this.sites[i].hasWeight);
      // FP32 Hessians only for GPTQ without the sequential order (sequential gathers its own)
      const cal = planNeedsCalibration(valid).length
        ? this.getCalibration(
            256,
            valid.sites.some((x) => x.gptq && x.gptq.sequential === false),
          )
        : undefined;
      p = preparePlan(valid, this.sites, siteLinears(this.weights), cal, this.prepareContext());
      if (this.prepared.size > 32) this.prepared.clear();
      this.prepared.set(key, p);
    }
    return p;
  }

  async logits(
    plan: Plan,
    set: EvalSetName,
    offset: number,
    limit: number,
    opts: RunOptions = {},
  ): Promise<{ logits: Float32Array; labels: Uint8Array; backend: BackendInfo; steps: StepRunInfo[]; fused: Set<number> }> {
    const s = this.evalSet(set);
    const lo = Math.max(0, Math.min(offset, s.count));
    const n = Math.max(0, Math.min(limit, s.count - lo));
    const prepared = this.prepare(plan);
    const ran = await this.run(prepared, s.pixels.subarray(lo * IMAGE_BYTES, (lo + n) * IMAGE_BYTES), n, opts);
    return { ...ran, labels: s.labels.subarray(lo, lo + n) };
  }

  /** Places the steps (placement.ts), then runs the forward on the backend that takes them all. */
  async run(
    prepared: PreparedPlan,
    pixels: Uint8Array,
    count: number,
    opts: RunOptions = {},
  ): Promise<{ logits: Float32Array; backend: BackendInfo; steps: StepRunInfo[]; fused: Set<number> }> {
    const placed = placeSteps(this.reference.lowered.steps, prepared, this.backend, opts);
    const runner = placed.useFallback ? await this.backend.fallback!() : this.backend;
    const logits = await runner.run(prepared, pixels, count, opts);
    const backend = placed.useFallback
      ? { ...this.backend.info, label: `${this.backend.info.label} → ${runner.info.label} for this plan`, reason: placed.reason! }
      : this.backend.info;
    return { logits, backend, steps: placed.steps(runner.info.kind), fused: runner.fusedSites?.(prepared) ?? new Set<number>() };
  }

  async score(
    req: ScoreRequest,
    onProgress?: (p: Progress) => void,
    signal?: AbortSignal,
    jitter?: RunOptions['jitter'],
  ): Promise<ScoreResult> {
    const t0 = performance.now();
    const prepared = this.prepare(req.plan);
    const s = this.evalSet(req.set);
    const offset = req.offset ?? 0;
    const limit = req.limit ?? s.count;
    const { logits, labels, backend, steps, fused } = await this.logits(req.plan, req.set, offset, limit, {
      signal,
      jitter,
      onProgress: (done, total) => onProgress?.({ done, total, phase: 'scoring' }),
    });
    const classes = this.weights.config.classes;
    const preds = argmaxRows(logits, classes);
    const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    let correct = 0;
    preds.forEach((p, i) => {
      confusion[labels[i]][p]++;
      if (p === labels[i]) correct++;
    });
    const perClassAccuracy = confusion.map((row, c) => {
      const tot = row.reduce((a, b) => a + b, 0);
      return tot ? row[c] / tot : 0;
    });
    const wallMs = performance.now() - t0;
    return {
      set: req.set,
      count: preds.length,
      correct,
      accuracy: preds.length ? correct / preds.length : 0,
      predictions: req.keepPredictions ? preds : undefined,
      labels: req.keepPredictions ? Array.from(labels) : undefined,
      confusion,
      perClassAccuracy,
      sites: prepared.sites.map((p) => ({
        site: p.info.index,
        path: p.path.path,
        reason: p.path.reason,
        fusedQuant: fused.has(p.info.index),
        ...(p.notes ? { notes: p.notes } : {}),
      })),
      backend,
      steps,
      wallMs,
      imagesPerSecond: preds.length / (wallMs / 1000),
    };
  }

  /** The operands of a site on one image, captured by the CPU reference forward. */
  private captureOnCpu(prepared: PreparedPlan, site: number, pixels: Uint8Array): CapturedOperands {
    let captured: CapturedOperands | undefined;
    this.reference.forward(pixels, prepared, {
      operands(i, a, aRows, b, bRows, k) {
        if (i === site) captured = { a: a.slice(), aRows, b: b ? b.slice() : null, bRows, k, device: 'CPU' };
      },
    });
    if (!captured) throw new Error(`site ${site} did not run`);
    // A as the site quantizes it: a folded smoothing already divided it (in the LayerNorm)
    const wt = prepared.sites[site].weight;
    const smooth = wt?.smoothPlacement === 'runtime' ? wt.smooth : undefined;
    if (smooth) for (let i = 0; i < captured.a.length; i++) captured.a[i] /= smooth[i % captured.k];
    return captured;
  }

  /**
   * Statistics of one site's operands on one image under a plan: captured and measured on the
   * backend's device when it can (WebGPU: the forward's own buffers, shaders/stats.wgsl), else on
   * the CPU; the site's output error under the plan is computed from those operands.
   */
  async siteStats(plan: Plan, site: number, set: EvalSetName, image: number): Promise<SiteStats & { device: string }> {
    const prepared = this.prepare(plan);
    const ps = prepared.sites[site];
    if (!ps) throw new RangeError(`site ${site} out of range (0..${prepared.sites.length - 1})`);
    const s = this.evalSet(set);
    if (!(image >= 0 && image < s.count)) throw new RangeError(`image ${image} out of range (0..${s.count - 1})`);
    const pixels = s.pixels.subarray(image * IMAGE_BYTES, (image + 1) * IMAGE_BYTES);
    let cap: CapturedOperands;
    try {
      cap = this.backend.captureOperands
        ? await this.backend.captureOperands(prepared, site, pixels)
        : this.captureOnCpu(prepared, site, pixels);
    } catch {
      cap = this.captureOnCpu(prepared, site, pixels);
    }
    const info = this.sites[site];
    const lin = siteLinears(this.weights)[site];
    const k = cap.k;
    const bOp = cap.b ?? ps.weight?.w ?? lin!.w;
    const bRows = cap.b ? cap.bRows : lin!.out;
    // statistics where the operands live: on the device when the capture computed them there, else here
    const measure = (role: 'a' | 'b', x: Float32Array, rows: number) => {
      const onDevice = cap.stats?.[role];
      return onDevice ? { stats: onDevice, device: cap.device } : { stats: operandStats(role, x, rows, k), device: 'CPU' };
    };
    const [ma, mb] = [measure('a', cap.a, cap.aRows), measure('b', bOp, bRows)];
    ma.stats.granularityError = granularityError(cap.a, cap.aRows, k, ps.scheme.a);
    mb.stats.granularityError = granularityError(bOp, bRows, k, ps.scheme.b);
    const quant: SiteStats['quant'] = {};
    const qinfo = (o: typeof ps.scheme.a, x: Float32Array, rows: number, clip?: { min: number; max: number }, pre?: QuantizedMatrix) => {
      if (o.bits === 32 || operandFormat(o)) return undefined; // a format's scales: see the format views
      const q = pre ?? refOps.quantize(x, rows, k, matrixSpec(o, clip));
      const r = intRange(q.spec.bits, q.spec.symmetric);
      return { scales: Array.from(q.scales.subarray(0, 256)), zeros: Array.from(q.zeros.subarray(0, 256)), qmin: r.qmin, qmax: r.qmax };
    };
    quant.a = qinfo(ps.scheme.a, cap.a, cap.aRows, ps.clipA);
    quant.b = qinfo(ps.scheme.b, bOp, bRows, ps.clipB, ps.weight?.q);
    // the site's output under the plan vs the FP32 product of the same (unquantized) operands
    // (a rotated site keeps its folded weights and rotation: cap.a is the γ-free LayerNorm output it multiplies)
    const fpSite: PreparedSite = {
      ...ps,
      path: { path: 'fp32', reason: '' },
      scheme: { a: { ...ps.scheme.a, bits: 32 }, b: { ...ps.scheme.b, bits: 32 } },
      weight: ps.rotation ? ps.weight : undefined,
    };
    let yq: Float32Array;
    let yf: Float32Array;
    if (info.hasWeight) {
      // cap.a is the smoothed operand; FP32 multiplies the unsmoothed one by the original W
      const smooth = ps.weight?.smooth;
      const aRaw = smooth ? cap.a.map((v, i) => v * smooth[i % k]) : cap.a;
      yq = runLinearSite(ps, lin!, ps.weight?.smoothPlacement === 'runtime' ? aRaw : cap.a, cap.aRows, refOps);
      yf = runLinearSite(fpSite, lin!, aRaw, cap.aRows, refOps);
    } else {
      const heads = this.weights.config.heads;
      const m = cap.aRows / heads;
      const n = cap.bRows / heads;
      yq = runAttentionSite(ps, cap.a, cap.b!, heads, m, n, k, refOps);
      yf = runAttentionSite(fpSite, cap.a, cap.b!, heads, m, n, k, refOps);
    }
    const err = errorStats(yf, yq);
    return {
      site,
      image,
      a: ma.stats,
      b: mb.stats,
      quant,
      outputMse: err.mse,
      outputSqnrDb: err.sqnrDb,
      path: { site, path: ps.path.path, reason: ps.path.reason },
      formats: formatSiteStats(site, info.kind, cap.a, cap.aRows, bOp, bRows, k, info.hasWeight, ps.scheme.rotation?.seed),
      device: ma.device === mb.device ? ma.device : `${ma.device} (A), ${mb.device} (B)`,
    };
  }
}

/** Quantization error of one operand per tensor and per row, measured (not modelled). */
export function granularityError(
  x: Float32Array,
  rows: number,
  cols: number,
  o: { bits: number; symmetric: boolean },
): OperandStats['granularityError'] {
  const bits = (o.bits === 32 ? 8 : o.bits) as 8 | 4 | 2;
  const spec = { bits, symmetric: o.symmetric };
  const t = dequantizeMatrix(refOps.quantize(x, rows, cols, { ...spec, granularity: 'tensor' }));
  const r = dequantizeMatrix(refOps.quantize(x, rows, cols, { ...spec, granularity: 'row' }));
  const perRowMse = new Array<number>(rows).fill(0);
  let seT = 0;
  let seR = 0;
  let sig = 0;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const v = x[i * cols + j];
      const eT = (t[i * cols + j] - v) ** 2;
      const eR = (r[i * cols + j] - v) ** 2;
      seT += eT;
      seR += eR;
      perRowMse[i] += eR / cols;
      sig += v * v;
    }
  const n = rows * cols || 1;
  const db = (se: number) => (se === 0 ? 999 : 10 * Math.log10(sig / se));
  return { bits, symmetric: o.symmetric, perTensorMse: seT / n, perRowMse, perTensorSqnrDb: db(seT), perRowSqnrDb: db(seR) };
}

export { CLASS_NAMES };
