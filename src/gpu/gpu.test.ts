import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuBuffer, GpuBufferError, checkBufferSize, pooledStagingCount, readBuffer } from './buffers';
import { bindGroup } from '../kernels/common';
import type { GpuContext } from './device';
import { nodeGpuContext } from './nodeGpu';
import { dummyBuffer, getPipeline } from './pipelineCache';
import { GpuTimer } from './timestamps';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

const COPY = `@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@compute @workgroup_size(1) fn main() { a[0] = a[0] + 1.0; }`;

describe('gpu context', () => {
  it('describes the adapter and features', () => {
    expect(ctx.device).toBeTruthy();
    expect(typeof ctx.adapterInfo.vendor).toBe('string');
    expect(typeof ctx.features.packedDot4).toBe('boolean');
    expect(ctx.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    // SwiftShader here: fallback adapter with dot4I8Packed and timestamps
    if (ctx.adapterInfo.architecture === 'swiftshader') {
      expect(ctx.adapterInfo.isFallback).toBe(true);
      expect(ctx.features.packedDot4).toBe(true);
    }
  });

  it('can pretend dot4I8Packed or timestamps are missing', async () => {
    const c = await nodeGpuContext({ disablePackedDot4: true, disableTimestamps: true });
    expect(c.features.packedDot4).toBe(false);
    expect(c.features.timestampQuery).toBe(false);
    const lost: string[] = [];
    c.onLost((i) => lost.push(i.reason));
    c.destroy();
    await c.lost;
    expect(c.isLost).toBe(true);
    expect(lost).toEqual(['destroyed']);
  });
});

describe('buffers', () => {
  it('uploads, reads back and writes at an offset', async () => {
    const b = GpuBuffer.f32(ctx, [1, 2, 3, 4, 5]);
    expect(Array.from(await b.read())).toEqual([1, 2, 3, 4, 5]);
    b.write(Float32Array.from([9, 8]), 3);
    expect(Array.from(await b.read(2, 3))).toEqual([3, 9, 8]);
    expect(() => b.write(new Float32Array(3), 4)).toThrow(GpuBufferError);
    b.destroy();
    b.destroy(); // idempotent
    expect(() => b.buffer).toThrow(/used after destroy/);
    await expect(b.read()).rejects.toThrow(/used after destroy/);
  });

  it('checks sizes against the device limits with a clear error', () => {
    expect(() => checkBufferSize(ctx, ctx.limits.maxStorageBufferBindingSize + 4, 'big')).toThrow(
      /maxStorageBufferBindingSize|maxBufferSize/,
    );
    expect(() => new GpuBuffer(ctx, { dtype: 'f32', length: ctx.limits.maxBufferSize / 4 + 16 })).toThrow(/maxBufferSize/);
    expect(() => new GpuBuffer(ctx, { dtype: 'f32', length: -1 })).toThrow(GpuBufferError);
  });

  it('zero-length buffers are valid (16 bytes allocated)', async () => {
    const b = GpuBuffer.i32(ctx, 0);
    expect(b.byteLength).toBe(16);
    expect((await b.read()).length).toBe(0);
    b.destroy();
  });
});

describe('pipeline cache and timer', () => {
  it('caches pipelines per key and device', () => {
    const p1 = getPipeline(ctx, 'test:copy', () => COPY);
    const p2 = getPipeline(ctx, 'test:copy', () => {
      throw new Error('not compiled twice');
    });
    expect(p1).toBe(p2);
    expect(dummyBuffer(ctx)).toBe(dummyBuffer(ctx));
  });

  for (const ts of [true, false]) {
    it(`times a pass (${ts ? 'timestamp queries' : 'wall-clock'})`, async () => {
      const c = ts ? ctx : await nodeGpuContext({ disableTimestamps: true });
      const timer = new GpuTimer(c, 2);
      expect(timer.source).toBe(c.features.timestampQuery ? 'timestamp' : 'wallclock');
      const p = getPipeline(c, 'test:copy', () => COPY);
      const b = GpuBuffer.f32(c, [0]);
      const bg = c.device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: b.buffer } }] });
      const times = await Promise.all(
        [0, 1, 2, 3].map(() =>
          timer.time((enc, tsw) => {
            const pass = enc.beginComputePass(tsw ? { timestampWrites: tsw } : {});
            pass.setPipeline(p);
            pass.setBindGroup(0, bg);
            pass.dispatchWorkgroups(1);
            pass.end();
          }),
        ),
      );
      for (const t of times) expect(t).toBeGreaterThanOrEqual(0);
      expect(new Float32Array(await readBuffer(c, b.buffer, 0, 4))[0]).toBe(4);
      timer.destroy();
      b.destroy();
      if (!ts) c.destroy();
    });
  }
});

describe('made once, used again', () => {
  it('readback staging buffers are pooled: repeated reads create one, concurrent reads get their own', async () => {
    const c = await nodeGpuContext();
    const real = c.device.createBuffer.bind(c.device);
    let staging = 0;
    c.device.createBuffer = ((d: GPUBufferDescriptor) => {
      if (d.usage & GPUBufferUsage.MAP_READ) staging++;
      return real(d);
    }) as typeof c.device.createBuffer;
    const b = GpuBuffer.f32(c, [1, 2, 3, 4, 5]);
    for (let i = 0; i < 5; i++) expect(Array.from(await b.read())).toEqual([1, 2, 3, 4, 5]);
    expect(staging).toBe(1); // mutation caught: a new staging buffer per read (5)
    expect(pooledStagingCount(c.device)).toBe(1);
    const [x, y] = await Promise.all([b.read(0, 2), b.read(3, 2)]);
    expect(Array.from(x)).toEqual([1, 2]);
    expect(Array.from(y)).toEqual([4, 5]);
    expect(staging).toBe(2); // the second concurrent read could not share the first's buffer
    b.destroy();
    c.destroy();
  });

  it('bind groups are cached per pipeline and buffers', () => {
    const p = getPipeline(ctx, 'test:copy', () => COPY);
    const a = GpuBuffer.f32(ctx, [0]);
    const b = GpuBuffer.f32(ctx, [0]);
    const g1 = bindGroup(ctx, p, [a.buffer]);
    expect(bindGroup(ctx, p, [a.buffer])).toBe(g1); // mutation caught: createBindGroup per encode
    expect(bindGroup(ctx, p, [b.buffer])).not.toBe(g1); // other buffers, other group
    a.destroy();
    b.destroy();
  });
});
