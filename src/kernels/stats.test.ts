import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { STATS_STRIDE, runStats } from './stats';
import { countBeyondRef, histogramRef, rowStatsRef } from './stats.ref';
import { randF32, rng } from './testUtil';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

function expectStats(got: Float32Array, ref: ReturnType<typeof rowStatsRef>) {
  ref.forEach((s, r) => {
    const g = got.subarray(r * STATS_STRIDE, r * STATS_STRIDE + 6);
    expect(g[0]).toBe(Math.fround(s.min));
    expect(g[1]).toBe(Math.fround(s.max));
    expect(g[2]).toBe(Math.fround(s.absmax));
    // f32 tree sums vs float64: relative 1e-5 of the data's scale
    const scale = s.absmax + 1e-30;
    expect(Math.abs(g[3] - s.mean)).toBeLessThanOrEqual(1e-5 * scale);
    expect(Math.abs(g[4] - s.std)).toBeLessThanOrEqual(1e-5 * scale);
    expect(g[5]).toBe(0);
  });
}

describe('stats', () => {
  for (const rowMode of ['workgroup', 'thread'] as const)
    it(`[${rowMode}] per-row, per-column (transposed view) and per-tensor statistics`, async () => {
      const r = rng(4);
      const rows = 37,
        cols = 130;
      const x = randF32(r, rows * cols, -3, 5);
      x.fill(0, 0, cols); // all-zero row
      x.fill(2.5, cols, 2 * cols); // constant row: σ = 0
      x[5 * cols + 3] = 1e30;
      x[6 * cols + 3] = -1e30;
      expectStats((await runStats(ctx, x, rows, cols, { rowMode })).stats, rowStatsRef(x, rows, cols));
      const colStats = await runStats(ctx, x, cols, rows, { view: { row: 1, col: cols }, rowMode });
      expectStats(
        colStats.stats,
        rowStatsRef(x, cols, rows, (c, rr) => x[rr * cols + c]),
      );
      const y = randF32(r, 5000, -1, 1);
      expectStats((await runStats(ctx, y, 1, y.length, { rowMode })).stats, rowStatsRef(y, 1, y.length));
    });

  it('histogram counts equal the reference exactly (incl. out-of-range and NaN/Inf)', async () => {
    const r = rng(5);
    const x = randF32(r, 3000, -1.2, 1.2);
    x[0] = NaN;
    x[1] = Infinity;
    x[2] = 1; // == hi
    x[3] = -1; // == lo
    const got = await runStats(ctx, x, 30, 100, { bins: 64, range: { lo: -1, hi: 1 } });
    expect(Array.from(got.histogram!)).toEqual(Array.from(histogramRef(x, 64, -1, 1)));
    expect(got.stats[5]).toBe(2); // non-finite count of row 0
  });

  it("counts values beyond k·σ (two-pass) like the reference on the kernel's mean and σ", async () => {
    const r = rng(6);
    const n = 4096;
    const x = randF32(r, n, -1, 1);
    for (let i = 0; i < n; i += 97) x[i] = 40 * (r() - 0.5); // outliers
    for (const k of [2, 3, 6]) {
      const got = await runStats(ctx, x, 1, n, { k });
      expect(got.beyond![0]).toBe(countBeyondRef(x, got.stats[3], got.stats[4], k));
      expect(got.beyond![0]).toBeGreaterThan(0);
    }
  });
});
