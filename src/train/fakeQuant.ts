/**
 * Fake quantization with a learnable scale s and zero z (science.md §5; LSQ — Esser et al.,
 * "Learned Step Size Quantization", ICLR 2020, arXiv:1902.08153 — with the learnable offset of
 * LSQ+, Bhalgat et al. 2020, arXiv:2004.09576, kept as an integer zero point by rounding):
 *
 *   q̂ = s · (clamp(⌊x/s⌉ + ⌊z⌉, qmin, qmax) − ⌊z⌉)
 *
 * ⌊·⌉ rounds half to even (the project's rule) with the straight-through estimator (its
 * gradient is 1). Hence, per element, with v = x/s and r = ⌊v⌉ + ⌊z⌉:
 *   inside (qmin ≤ r ≤ qmax): ∂q̂/∂x = 1, ∂q̂/∂s = ⌊v⌉ − v,        ∂q̂/∂z = 0
 *   clamped:                  ∂q̂/∂x = 0, ∂q̂/∂s = clamp(r) − ⌊z⌉, ∂q̂/∂z = −s
 * and the gradients of s and z are multiplied by LSQ's gradient scale g = 1/√(n·qmax), n the
 * number of elements one (s, z) covers (weights: per tensor / channel / group; activations: the
 * elements of one image's tensor, the paper's N_F). Symmetric operands keep z = 0 (not learned).
 */
import type { OperandScheme } from '../plan/plan';
import { intRange, roundHalfEven, scaleZero, type Bits } from '../quant/scaleZero';
import { type FqArgs, type TrainKernels, tsTrainKernels } from './trainKernels';

/** How the elements of a [rows × cols] operand map to (s, z) groups. */
export interface QuantLayout {
  rows: number;
  cols: number;
  /** columns per group along a row (cols for per-channel, 0 = one group for the whole tensor) */
  groupCols: number;
}

export class LearnedQuantizer {
  readonly qmin: number;
  readonly qmax: number;
  readonly groups: number;
  /** groups along one row (per-channel: 1; per-group: ⌈cols/gs⌉); 0 for per-tensor */
  readonly groupsPerRow: number;
  s: Float32Array;
  z: Float32Array;
  gs: Float32Array;
  gz: Float32Array;
  /** LSQ gradient scale 1/√(n·qmax) */
  readonly gradScale: number;
  constructor(
    readonly scheme: OperandScheme,
    readonly layout: QuantLayout,
    /** elements one (s, z) covers, for the gradient scale */
    perGroupCount: number,
  ) {
    const r = intRange(scheme.bits as Bits, scheme.symmetric);
    this.qmin = r.qmin;
    this.qmax = r.qmax;
    if (scheme.granularity === 'tensor') this.groupsPerRow = 0;
    else if (scheme.granularity === 'channel') this.groupsPerRow = 1;
    else if (scheme.granularity === 'group') this.groupsPerRow = Math.ceil(layout.cols / scheme.groupSize!);
    else throw new Error(`LearnedQuantizer: granularity '${scheme.granularity}' has no learned (s, z)`);
    this.groups = this.groupsPerRow === 0 ? 1 : layout.rows * this.groupsPerRow;
    this.s = new Float32Array(this.groups).fill(1);
    this.z = new Float32Array(this.groups);
    this.gs = new Float32Array(this.groups);
    this.gz = new Float32Array(this.groups);
    this.gradScale = 1 / Math.sqrt(perGroupCount * this.qmax);
  }

  get learnsZero(): boolean {
    return !this.scheme.symmetric;
  }

  /** (s, z) from the project's min/max rule (scaleZero) over each group's [min, max] */
  initFromRanges(lo: ArrayLike<number>, hi: ArrayLike<number>): void {
    for (let g = 0; g < this.groups; g++) {
      const sz = scaleZero(lo[g], hi[g], this.scheme.bits as Bits, this.scheme.symmetric);
      this.s[g] = sz.scale;
      this.z[g] = sz.zero;
    }
  }

  /**
   * Calls f(group, start, end) for every run of consecutive elements of one group in a
   * [rows × cols] tensor (rows may be a multiple of layout.rows: a batch) — the hot loops below
   * then see constant (s, z).
   */
  private segments(len: number, f: (g: number, i0: number, i1: number) => void): void {
    const cols = this.layout.cols;
    if (this.groupsPerRow === 0) {
      f(0, 0, len);
      return;
    }
    const rows = len / cols;
    const gs = this.groupsPerRow === 1 ? cols : this.scheme.groupSize!;
    for (let r = 0; r < rows; r++) {
      const rr = r % this.layout.rows;
      for (let c0 = 0, k = 0; c0 < cols; c0 += gs, k++) f(rr * this.groupsPerRow + k, r * cols + c0, r * cols + Math.min(cols, c0 + gs));
    }
  }

  /** per-group min and max of x (rows may be a multiple of layout.rows: a batch) */
  ranges(
    x: Float32Array,
    lo: Float64Array = new Float64Array(this.groups).fill(Infinity),
    hi: Float64Array = new Float64Array(this.groups).fill(-Infinity),
  ): { lo: Float64Array; hi: Float64Array } {
    this.segments(x.length, (g, i0, i1) => {
      let a = lo[g];
      let b = hi[g];
      for (let i = i0; i < i1; i++) {
        const v = x[i];
        if (v < a) a = v;
        if (v > b) b = v;
      }
      lo[g] = a;
      hi[g] = b;
    });
    return { lo, hi };
  }

  /** the group of every element of a [rows × cols] tensor (rows a multiple of layout.rows): an index for a gather */
  groupIndex(len: number): Int32Array {
    const out = new Int32Array(len);
    this.segments(len, (g, i0, i1) => out.fill(g, i0, i1));
    return out;
  }

  private runsCache?: { len: number; runs: Int32Array };

  /** the runs (group, first, end) of a tensor of `len` elements, as the kernels take them */
  private runs(len: number): Int32Array {
    if (this.runsCache?.len === len) return this.runsCache.runs;
    const r: number[] = [];
    this.segments(len, (g, i0, i1) => r.push(g, i0, i1));
    this.runsCache = { len, runs: Int32Array.from(r) };
    return this.runsCache.runs;
  }

  private args(len: number): FqArgs {
    const zr = new Float32Array(this.groups);
    for (let g = 0; g < this.groups; g++) zr[g] = roundHalfEven(this.z[g]);
    return { runs: this.runs(len), s: this.s, zr, qmin: this.qmin, qmax: this.qmax };
  }

  /**
   * q̂(x) into y. `keep` (training) receives per element what the backward needs: ⌊v⌉ − v inside the
   * grid (in [−½, ½]), FQ_BELOW or FQ_ABOVE where the value was clamped — so the backward does not
   * divide and round again.
   */
  forward(
    x: Float32Array,
    y: Float32Array = new Float32Array(x.length),
    keep?: Float32Array,
    k: TrainKernels = tsTrainKernels,
  ): Float32Array {
    k.fqForward(x, y, keep, this.args(x.length));
    return y;
  }

  /** the backward from what forward() kept: ∂L/∂x into dx, ∂L/∂s and ∂L/∂z (scaled by g) into gs, gz */
  backwardKept(keep: Float32Array, dy: Float32Array, dx: Float32Array, k: TrainKernels = tsTrainKernels): void {
    const gs = new Float64Array(this.groups);
    const gz = new Float64Array(this.groups);
    k.fqBackward(keep, dy, dx, this.args(keep.length), gs, gz);
    this.addGrads(gs, gz);
  }

  /** the backward from the input alone (a forward that kept nothing) */
  backward(x: Float32Array, dy: Float32Array, dx: Float32Array, k: TrainKernels = tsTrainKernels): void {
    const keep = new Float32Array(x.length);
    this.forward(x, new Float32Array(x.length), keep, k);
    this.backwardKept(keep, dy, dx, k);
  }

  private addGrads(gs: Float64Array, gz: Float64Array): void {
    for (let g = 0; g < this.groups; g++) {
      this.gs[g] += gs[g] * this.gradScale;
      if (this.learnsZero) this.gz[g] += gz[g] * this.gradScale;
    }
  }

  zeroGrad(): void {
    this.gs.fill(0);
    this.gz.fill(0);
  }

  /** the real range [s·(qmin − ⌊z⌉), s·(qmax − ⌊z⌉)] of group g: a static clip for the engine */
  clip(g = 0): [number, number] {
    const zr = roundHalfEven(this.z[g]);
    return [this.s[g] * (this.qmin - zr), this.s[g] * (this.qmax - zr)];
  }
}
