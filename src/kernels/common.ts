/**
 * Shared plumbing of the kernel wrappers.
 *
 * Every kernel is an *op*: created once for its shapes (pipeline + uniform buffer), then encoded
 * any number of times into a caller's GPUCommandEncoder (one compute pass per call) or into an
 * already open GPUComputePassEncoder, with GPU buffers as inputs/outputs. `op.destroy()` frees
 * what the op created (its uniforms), never the caller's buffers.
 */
import { type BufArg, GpuBuffer, createUniform, gpuBufferOf, readBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';

export type PassTarget = GPUCommandEncoder | GPUComputePassEncoder;

export class KernelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelError';
  }
}

function isPass(t: PassTarget): t is GPUComputePassEncoder {
  return typeof (t as GPUComputePassEncoder).dispatchWorkgroups === 'function';
}

/** Runs `fn` in `target` if it is a pass, else in a new pass of the encoder (timestamps optional). */
export function withPass(
  target: PassTarget,
  fn: (pass: GPUComputePassEncoder) => void,
  timestampWrites?: GPUComputePassTimestampWrites,
): void {
  if (isPass(target)) {
    fn(target);
    return;
  }
  const pass = target.beginComputePass(timestampWrites ? { timestampWrites } : {});
  fn(pass);
  pass.end();
}

/**
 * Bind groups are made once per (pipeline, buffers): an op encoded again on the same buffers (every
 * forward of a compiled model, every benchmark repetition) reuses its group instead of creating one
 * per encode. Buffers are told apart by identity; a pipeline keeps its most recent groups only.
 */
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
const groupCache = new WeakMap<GPUComputePipeline, Map<string, GPUBindGroup>>();
const GROUPS_PER_PIPELINE = 64;

function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
}

function cachedGroup(ctx: GpuContext, pipeline: GPUComputePipeline, entries: [number, GPUBuffer][], label?: string): GPUBindGroup {
  let perPipeline = groupCache.get(pipeline);
  if (!perPipeline) groupCache.set(pipeline, (perPipeline = new Map()));
  const key = entries.map(([binding, b]) => `${binding}:${bufferId(b)}`).join(',');
  let bg = perPipeline.get(key);
  if (!bg) {
    bg = ctx.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: entries.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
      label,
    });
    // oldest first out: groups of buffers long destroyed are not kept forever
    if (perPipeline.size >= GROUPS_PER_PIPELINE) perPipeline.delete(perPipeline.keys().next().value!);
    perPipeline.set(key, bg);
  }
  return bg;
}

/** Bind group 0 with binding i = entries[i] (uniform or storage, whole buffer); cached per pipeline and buffers. */
export function bindGroup(ctx: GpuContext, pipeline: GPUComputePipeline, entries: GPUBuffer[], label?: string): GPUBindGroup {
  return cachedGroup(
    ctx,
    pipeline,
    entries.map((b, i) => [i, b]),
    label,
  );
}

export function dispatch(pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, bg: GPUBindGroup, x: number, y = 1, z = 1): void {
  if (x === 0 || y === 0 || z === 0) return;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bg);
  pass.dispatchWorkgroups(x, y, z);
}

/**
 * Checks that `needElems` 32-bit elements fit the buffer: a GpuBuffer's own length (not its GPU
 * allocation, which is rounded up to 16 bytes), a raw GPUBuffer's size.
 */
export function checkFits(b: BufArg, needElems: number, what: string): GPUBuffer {
  const g = gpuBufferOf(b);
  if (b instanceof GpuBuffer) {
    if (needElems > b.length) throw new KernelError(`${what}: needs ${needElems} 32-bit elements but the buffer holds ${b.length}`);
  } else if (needElems * 4 > g.size)
    throw new KernelError(`${what}: needs ${needElems} 32-bit elements (${needElems * 4} B) but the buffer has ${g.size} B`);
  return g;
}

/**
 * Length check of a run* helper's typed-array input against its shape: exactly `expected`
 * (or one of several allowed lengths). A shorter array would otherwise be read as zeros past its end.
 */
export function checkLength(what: string, arr: ArrayLike<number> | null | undefined, expected: number | number[], shape: string): void {
  if (!arr) return;
  const allowed = Array.isArray(expected) ? expected : [expected];
  if (!allowed.includes(arr.length))
    throw new RangeError(
      `${what}: ${arr.length} values given; ${shape} needs ${allowed.length > 1 ? `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}` : `exactly ${allowed[0]}`}`,
    );
}

/** As checkLength, for an input read through a view: at least the view's extent. */
export function checkLengthAtLeast(what: string, arr: ArrayLike<number>, extent: number, shape: string): void {
  if (arr.length < extent) throw new RangeError(`${what}: ${arr.length} values given; ${shape} reads ${extent}`);
}

export function checkDim(v: number, what: string, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new KernelError(`${what} must be an integer ≥ ${min} (got ${v})`);
}

/** Uniform buffer from (value, type) pairs: 'u' | 'i' | 'f'. */
export function uniform(ctx: GpuContext, fields: [number, 'u' | 'i' | 'f'][], label: string): GPUBuffer {
  return createUniform(
    ctx,
    fields.map((f) => f[0]),
    fields.map((f) => f[1]).join(''),
    label,
  );
}

/** Strided 2-level batch view of a matrix inside a buffer (all strides in elements or words). */
export interface MatView {
  /** base offset */
  off?: number;
  /** row stride */
  row: number;
  /** stride between outer batch items (e.g. images) */
  outer?: number;
  /** stride between inner batch items (e.g. heads) */
  inner?: number;
}

/** Highest element index + 1 a view touches for rows × cols over batch = outerN·innerN. */
export function viewExtent(v: Required<MatView>, rows: number, cols: number, batch: number, batchInner: number, colStride = 1): number {
  if (rows === 0 || cols === 0 || batch === 0) return 0;
  const outerN = Math.ceil(batch / batchInner);
  const innerN = Math.min(batch, batchInner);
  return v.off + (outerN - 1) * v.outer + (innerN - 1) * v.inner + (rows - 1) * v.row + (cols - 1) * colStride + 1;
}

export function fullView(v: MatView | undefined, row: number, outer: number): Required<MatView> {
  return { off: v?.off ?? 0, row: v?.row ?? row, outer: v?.outer ?? outer, inner: v?.inner ?? 0 };
}

/** Submit a one-off encode and wait (tests, convenience helpers). */
export async function submitAndWait(ctx: GpuContext, encode: (enc: GPUCommandEncoder) => void): Promise<void> {
  const enc = ctx.device.createCommandEncoder();
  encode(enc);
  ctx.device.queue.submit([enc.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
}

/** Push an error scope around a block; rethrows validation errors as KernelError. */
export async function withErrorScope<T>(ctx: GpuContext, what: string, fn: () => Promise<T> | T): Promise<T> {
  ctx.device.pushErrorScope('validation');
  let result: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    result = { ok: true, value: await fn() };
  } catch (error) {
    result = { ok: false, error };
  }
  // the scope is always popped; a validation error explains a failure better than what it caused
  const err = await ctx.device.popErrorScope();
  if (err) throw new KernelError(`${what}: WebGPU validation error: ${err.message}`);
  if (!result.ok) throw result.error;
  return result.value;
}

export { gpuBufferOf };

/** Bind group from explicit (binding, buffer) pairs — for entry points that use a subset. */
export function bindGroupAt(ctx: GpuContext, pipeline: GPUComputePipeline, entries: [number, GPUBuffer][], label?: string): GPUBindGroup {
  return cachedGroup(ctx, pipeline, entries, label);
}

/** Workgroup grid for `count` workgroups: x ≤ 65535, kernels use id = wg.x + wg.y·65535. */
export function grid(count: number): [number, number] {
  if (count <= 65535) return [count, 1];
  return [65535, Math.ceil(count / 65535)];
}

/** Sticky error flags a kernel raises (NaN/Inf inputs, overflow); checked by the host. */
export class FlagBuffer {
  readonly buffer: GPUBuffer;
  private destroyed = false;
  constructor(
    private readonly ctx: GpuContext,
    label: string,
  ) {
    this.buffer = ctx.device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label,
    });
  }
  /** Reads and clears the flags. */
  async readAndReset(): Promise<number> {
    if (this.destroyed) throw new KernelError('FlagBuffer used after destroy()');
    const ab = await readBuffer(this.ctx, this.buffer, 0, 4);
    this.ctx.device.queue.writeBuffer(this.buffer, 0, new Uint32Array(4));
    return new Uint32Array(ab)[0];
  }
  destroy(): void {
    if (!this.destroyed) this.buffer.destroy();
    this.destroyed = true;
  }
}

export class NonFiniteInputError extends KernelError {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteInputError';
  }
}

/** The sticky flag of shaders/lib/nonfinite_flag.wgsl (//#include'd by a kernel's source), read by checkFlags(). */
export class NonFiniteFlag {
  readonly flags: FlagBuffer;
  constructor(
    ctx: GpuContext,
    private readonly what: string,
  ) {
    this.flags = new FlagBuffer(ctx, `${what}.flags`);
  }
  get buffer(): GPUBuffer {
    return this.flags.buffer;
  }
  /** Throws NonFiniteInputError if a non-finite value was written since the last check. */
  async check(): Promise<void> {
    if ((await this.flags.readAndReset()) & 1)
      throw new NonFiniteInputError(`${this.what}: a NaN or Inf was produced (non-finite input, scale or overflow)`);
  }
  destroy(): void {
    this.flags.destroy();
  }
}
