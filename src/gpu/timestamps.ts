/**
 * GPU timing: timestamp queries through a small pool of resolve/readback buffers, or wall-clock
 * (submit → onSubmittedWorkDone) when the device has no 'timestamp-query'.
 *
 * API:
 *   const t = new GpuTimer(ctx, poolSize = 4)
 *   const ms = await t.time((enc, timestampWrites?) => { … encode one compute pass with timestampWrites … })
 *   t.source  'timestamp' | 'wallclock'
 *   t.destroy()
 * The callback must open exactly one compute pass using `timestampWrites` when given (it brackets
 * that pass); several dispatches may go into it.
 */
import type { GpuContext } from './device';

interface Slot {
  query: GPUQuerySet;
  resolve: GPUBuffer;
  readback: GPUBuffer;
}

export class GpuTimer {
  readonly source: 'timestamp' | 'wallclock';
  private free: Slot[] = [];
  private all: Slot[] = [];
  private waiters: ((s: Slot) => void)[] = [];

  constructor(
    private readonly ctx: GpuContext,
    poolSize = 4,
  ) {
    this.source = ctx.features.timestampQuery ? 'timestamp' : 'wallclock';
    if (this.source === 'timestamp') {
      for (let i = 0; i < poolSize; i++) {
        const d = ctx.device;
        const slot: Slot = {
          query: d.createQuerySet({ type: 'timestamp', count: 2 }),
          resolve: d.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
          readback: d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
        };
        this.all.push(slot);
        this.free.push(slot);
      }
    }
  }

  private acquire(): Promise<Slot> {
    const s = this.free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((res) => this.waiters.push(res));
  }

  private release(s: Slot): void {
    const w = this.waiters.shift();
    if (w) w(s);
    else this.free.push(s);
  }

  /** Encodes with `encode`, submits, and resolves to the pass's GPU time in milliseconds. */
  async time(encode: (enc: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites) => void): Promise<number> {
    const dev = this.ctx.device;
    if (this.source === 'wallclock') {
      const enc = dev.createCommandEncoder();
      encode(enc);
      const t0 = performance.now();
      dev.queue.submit([enc.finish()]);
      await dev.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    }
    const slot = await this.acquire();
    try {
      const enc = dev.createCommandEncoder();
      encode(enc, { querySet: slot.query, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 });
      enc.resolveQuerySet(slot.query, 0, 2, slot.resolve, 0);
      enc.copyBufferToBuffer(slot.resolve, 0, slot.readback, 0, 16);
      dev.queue.submit([enc.finish()]);
      await slot.readback.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(slot.readback.getMappedRange().slice(0));
      slot.readback.unmap();
      const ns = t[1] > t[0] ? Number(t[1] - t[0]) : 0;
      return ns / 1e6;
    } finally {
      this.release(slot);
    }
  }

  destroy(): void {
    for (const s of this.all) {
      s.query.destroy();
      s.resolve.destroy();
      s.readback.destroy();
    }
    this.all = [];
    this.free = [];
  }
}
