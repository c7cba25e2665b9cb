/**
 * Typed GPU buffers with one owner.
 *
 * API:
 *   new GpuBuffer(ctx, {dtype, length, usage?, label?})   storage buffer (+COPY_SRC/DST); size-checked
 *   GpuBuffer.from(ctx, typedArray, opts?)                 create and upload
 *   buf.buffer (throws after destroy), buf.write(data, elemOffset?), buf.read() → typed array copy
 *   buf.destroy()                                          frees what this object created (idempotent)
 *   readBuffer(ctx, gpuBuffer, byteOffset, byteLength)     → ArrayBuffer copy (one staging buffer)
 *   BufArg = GPUBuffer | GpuBuffer;  gpuBufferOf(arg)       what kernels accept as inputs/outputs
 */
import type { GpuContext } from './device';

export type DType = 'f32' | 'u32' | 'i32';
export type TypedFor<D extends DType> = D extends 'f32' ? Float32Array : D extends 'u32' ? Uint32Array : Int32Array;

export class GpuBufferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuBufferError';
  }
}

export interface GpuBufferOptions<D extends DType> {
  dtype: D;
  length: number;
  usage?: GPUBufferUsageFlags;
  label?: string;
}

const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Throws a clear error when `bytes` exceeds what one storage binding / buffer may hold. */
export function checkBufferSize(ctx: GpuContext, bytes: number, label: string, binding = true): void {
  if (!Number.isFinite(bytes) || bytes < 0) throw new GpuBufferError(`${label}: invalid size ${bytes} bytes`);
  const maxBuf = ctx.limits.maxBufferSize;
  const maxBind = ctx.limits.maxStorageBufferBindingSize;
  if (bytes > maxBuf)
    throw new GpuBufferError(`${label}: ${fmt(bytes)} exceeds the device's maxBufferSize (${fmt(maxBuf)}); use a smaller batch`);
  if (binding && bytes > maxBind)
    throw new GpuBufferError(
      `${label}: ${fmt(bytes)} exceeds the device's maxStorageBufferBindingSize (${fmt(maxBind)}); use a smaller batch`,
    );
}

function fmt(b: number): string {
  return b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${b} B`;
}

function makeTyped<D extends DType>(dtype: D, buf: ArrayBuffer): TypedFor<D> {
  return (dtype === 'f32' ? new Float32Array(buf) : dtype === 'u32' ? new Uint32Array(buf) : new Int32Array(buf)) as TypedFor<D>;
}

export class GpuBuffer<D extends DType = DType> {
  readonly dtype: D;
  readonly length: number;
  readonly byteLength: number;
  readonly label: string;
  private buf: GPUBuffer | null;

  constructor(
    private readonly ctx: GpuContext,
    opts: GpuBufferOptions<D>,
  ) {
    if (!Number.isInteger(opts.length) || opts.length < 0) throw new GpuBufferError(`GpuBuffer: bad length ${opts.length}`);
    this.dtype = opts.dtype;
    this.length = opts.length;
    this.label = opts.label ?? `${opts.dtype}[${opts.length}]`;
    // Zero-length bindings are invalid: keep at least 16 bytes (also the uniform/array alignment).
    this.byteLength = Math.max(16, Math.ceil((opts.length * 4) / 16) * 16);
    checkBufferSize(ctx, this.byteLength, this.label);
    this.buf = ctx.device.createBuffer({ size: this.byteLength, usage: opts.usage ?? STORAGE_USAGE(), label: this.label });
  }

  static from<D extends DType>(ctx: GpuContext, data: TypedFor<D>, dtype: D, label?: string): GpuBuffer<D> {
    const b = new GpuBuffer(ctx, { dtype, length: data.length, label });
    b.write(data);
    return b;
  }
  static f32(ctx: GpuContext, data: ArrayLike<number> | number, label?: string): GpuBuffer<'f32'> {
    return typeof data === 'number'
      ? new GpuBuffer(ctx, { dtype: 'f32', length: data, label })
      : GpuBuffer.from(ctx, Float32Array.from(data), 'f32', label);
  }
  static u32(ctx: GpuContext, data: ArrayLike<number> | number, label?: string): GpuBuffer<'u32'> {
    return typeof data === 'number'
      ? new GpuBuffer(ctx, { dtype: 'u32', length: data, label })
      : GpuBuffer.from(ctx, Uint32Array.from(data), 'u32', label);
  }
  static i32(ctx: GpuContext, data: ArrayLike<number> | number, label?: string): GpuBuffer<'i32'> {
    return typeof data === 'number'
      ? new GpuBuffer(ctx, { dtype: 'i32', length: data, label })
      : GpuBuffer.from(ctx, Int32Array.from(data), 'i32', label);
  }

  get destroyed(): boolean {
    return this.buf === null;
  }

  /** The GPUBuffer; throws after destroy() (use after free). */
  get buffer(): GPUBuffer {
    if (!this.buf) throw new GpuBufferError(`GpuBuffer '${this.label}' used after destroy()`);
    return this.buf;
  }

  write(data: ArrayBufferView & ArrayLike<number>, elemOffset = 0): void {
    if (elemOffset + data.length > this.length)
      throw new GpuBufferError(
        `GpuBuffer '${this.label}': write of ${data.length} elements at ${elemOffset} overruns length ${this.length}`,
      );
    if (data.length === 0) return;
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.length * 4);
    // writeBuffer wants a multiple of 4 bytes: always true for 32-bit elements.
    this.ctx.device.queue.writeBuffer(this.buffer, elemOffset * 4, bytes);
  }

  async read(elemOffset = 0, length = this.length - elemOffset): Promise<TypedFor<D>> {
    if (elemOffset < 0 || elemOffset + length > this.length) throw new GpuBufferError(`GpuBuffer '${this.label}': read out of range`);
    const ab = await readBuffer(this.ctx, this.buffer, elemOffset * 4, length * 4);
    return makeTyped(this.dtype, ab);
  }

  destroy(): void {
    this.buf?.destroy();
    this.buf = null;
  }
}

export type BufArg = GPUBuffer | GpuBuffer;

export function gpuBufferOf(b: BufArg): GPUBuffer {
  return b instanceof GpuBuffer ? b.buffer : b;
}

/**
 * Readback staging buffers, pooled per device by size class (powers of two from 256 B): a buffer
 * is taken for one copy + map, unmapped and handed back, so reading the logits of every batch does
 * not create and destroy a MAP_READ buffer each time. A few per class are kept; a buffer whose map
 * failed (device lost) is destroyed, not returned.
 */
const stagingPools = new WeakMap<GPUDevice, Map<number, GPUBuffer[]>>();
const STAGING_PER_CLASS = 4;

function stagingClass(bytes: number): number {
  let c = 256;
  while (c < bytes) c *= 2;
  return c;
}

/** How many staging buffers the pool of `device` holds now (tests). */
export function pooledStagingCount(device: GPUDevice): number {
  let n = 0;
  for (const list of stagingPools.get(device)?.values() ?? []) n += list.length;
  return n;
}

/** Copy [byteOffset, byteOffset+byteLength) of a buffer to the CPU (after queued work finishes). */
export async function readBuffer(
  ctx: GpuContext,
  src: GPUBuffer,
  byteOffset = 0,
  byteLength = src.size - byteOffset,
): Promise<ArrayBuffer> {
  if (byteLength === 0) return new ArrayBuffer(0);
  const size = Math.ceil(byteLength / 4) * 4;
  const cls = stagingClass(size);
  let pool = stagingPools.get(ctx.device);
  if (!pool) stagingPools.set(ctx.device, (pool = new Map()));
  const free = pool.get(cls) ?? [];
  pool.set(cls, free);
  const staging =
    free.pop() ??
    ctx.device.createBuffer({ size: cls, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `readback ${cls} B` });
  let reusable = false;
  try {
    const enc = ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, byteOffset, staging, 0, size);
    ctx.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ, 0, size);
    const out = staging.getMappedRange(0, size).slice(0, byteLength);
    staging.unmap();
    reusable = true;
    return out;
  } finally {
    if (reusable && free.length < STAGING_PER_CLASS) free.push(staging);
    else staging.destroy();
  }
}

/** Small uniform buffer built from 32-bit words (u32/i32/f32 mixed via DataView). */
export function createUniform(ctx: GpuContext, words: ArrayLike<number>, types: string, label: string): GPUBuffer {
  // types: one char per word, 'u' | 'i' | 'f'
  const n = Math.max(4, Math.ceil(words.length / 4) * 4);
  const ab = new ArrayBuffer(n * 4);
  const dv = new DataView(ab);
  for (let i = 0; i < words.length; i++) {
    const t = types[i] ?? 'u';
    if (t === 'f') dv.setFloat32(i * 4, words[i], true);
    else if (t === 'i') dv.setInt32(i * 4, words[i], true);
    else dv.setUint32(i * 4, words[i] >>> 0, true);
  }
  const buf = ctx.device.createBuffer({ size: ab.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label });
  ctx.device.queue.writeBuffer(buf, 0, ab);
  return buf;
}
