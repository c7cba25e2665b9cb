/**
 * The CPU kernel benchmark (src/cpu/cpuBench.ts) as a program, not a timing: the cases the Kernels
 * view and `npm run bench:kernels` show, ratios computed from its own rows, explanation from its
 * figures. Speeds are not asserted (a shared machine).
 */
import { describe, expect, it } from 'vitest';
import {
  ceilingsFor,
  DOT32_SUFFIX,
  exactInt8Ceiling,
  explainCpuRatios,
  formatCpuBenchTable,
  runCpuKernelBench,
  type SimdCeilings,
  simdCeilings,
} from './cpuBench';
import simdJson from '../../results/simd.json';
import { isWasmKernels, loadCpuKernels } from './cpuKernels';

describe('runCpuKernelBench', () => {
  it('times every kernel at the ViT shapes and derives the ratios from those rows', async () => {
    const k = await loadCpuKernels();
    if (!isWasmKernels(k)) throw new Error(`wasm kernels needed: ${k.fallbackReason}`);
    const top = k.arena.top;
    const seen: string[] = [];
    const r = runCpuKernelBench(k, { images: 1, runs: 1, warmup: 0, minMs: 1, onProgress: (_d, _t, l) => seen.push(l) });
    expect(k.arena.top).toBe(top); // scoped: nothing left allocated
    // the relaxed build also times the int32 dot routes: W4A8 g=32 and per channel, W8A8 (3 rows a layer)
    expect(r.rows.length).toBe(k.wasmFeatures === 'simd128' ? 17 : 29);
    for (const g of ['vit:qkv', 'vit:out', 'vit:fc1', 'vit:fc2'])
      for (const kernel of ['gemm_f32', 'gemm_w8a8 (int8 × int8)', 'gemm_w4a8 g=32', 'gemm_w4a8 per-channel']) {
        const row = r.rows.find((x) => x.group === g && x.kernel === kernel);
        expect(row, `${kernel} ${g}`).toBeDefined();
        expect(row!.ms).toBeGreaterThan(0);
        expect(row!.gops).toBeCloseTo(row!.ops / (row!.ms * 1e6), 9);
      }
    const ms = (kernel: string) =>
      ['vit:qkv', 'vit:out', 'vit:fc1', 'vit:fc2'].reduce((s, g) => s + r.rows.find((x) => x.group === g && x.kernel === kernel)!.ms, 0);
    const int8 = `gemm_w8a8 (int8 × int8)${r.w8a8Dot!.chosen === 'int32' ? DOT32_SUFFIX : ''}`;
    expect(r.w8a8Dot).toEqual(k.w8a8Dot());
    expect(r.ratios.vit.int8_over_fp32).toBeCloseTo(ms('gemm_f32') / ms(int8), 9);
    expect(r.ratios.int8Routes!.int16).toBeCloseTo(ms('gemm_f32') / ms('gemm_w8a8 (int8 × int8)'), 9);
    expect(r.ratios.int8Routes!.int32).toBeCloseTo(ms('gemm_f32') / ms(`gemm_w8a8 (int8 × int8)${DOT32_SUFFIX}`), 9);
    expect(explainCpuRatios(r).join(' ')).toContain(`split weights ${r.ratios.int8Routes!.int32!.toFixed(2)}×`);
    // the headline INT4 ratios are the route the probe chose: the one the plans run
    const chosen = r.w4a8Dot!.chosen === 'int32' ? DOT32_SUFFIX : '';
    expect(r.w4a8Dot).toEqual(k.w4a8Dot());
    expect(r.ratios.vit.int4_g32_over_fp32).toBeCloseTo(ms('gemm_f32') / ms(`gemm_w4a8 g=32${chosen}`), 9);
    expect(r.ratios.vit.int4_channel_over_fp32).toBeCloseTo(ms('gemm_f32') / ms(`gemm_w4a8 per-channel${chosen}`), 9);
    expect(r.ratios.int4Routes!.int16!.g32_over_fp32).toBeCloseTo(ms('gemm_f32') / ms('gemm_w4a8 g=32'), 9);
    expect(r.ratios.int4Routes!.int32!.g32_over_fp32).toBeCloseTo(ms('gemm_f32') / ms(`gemm_w4a8 g=32${DOT32_SUFFIX}`), 9);
    expect(r.ratios.int4Routes!.int32!.channel_over_fp32).toBeCloseTo(ms('gemm_f32') / ms(`gemm_w4a8 per-channel${DOT32_SUFFIX}`), 9);
    expect(explainCpuRatios(r).join(' ')).toContain(`32-bit dot g=32 ${r.ratios.int4Routes!.int32!.g32_over_fp32.toFixed(2)}×`);
    expect(formatCpuBenchTable(r)).toContain(r.w4a8Dot!.reason);
    expect(r.rows.find((x) => x.group === 'vit:qkv' && x.kernel === 'gemm_f32')!.shape).toBe('65×384×128');
    expect(seen.at(-1)).toBe('done');
    expect(r.features).toBe(k.wasmFeatures);
    const text = explainCpuRatios(r).join(' ');
    expect(text).toContain(r.ratios.vit.int8_over_fp32.toFixed(2));
    expect(formatCpuBenchTable(r)).toContain('gemm_w4a8 g=32');
  });
});

describe('simdCeilings', () => {
  it('reads the committed instruction ceilings and the explanation quotes them', () => {
    const c = simdCeilings(simdJson, 'chromium')!;
    const loop = (id: string) => simdJson.chromium.loops.find((l) => l.id === id)!.vsRelaxedMadd;
    expect(c.int16Dot).toBe(loop('i16-dot-add'));
    expect(c.relaxedDotAdd).toBe(loop('i8-relaxed-dot-add-i32'));
    expect(c.relaxedDotI16).toBe(loop('i8-relaxed-dot-i16'));
    expect(c.where).toMatch(/^Chromium \d+ on Intel/);
    expect(simdCeilings({ chromium: { loops: [] } }, 'chromium')).toBeNull();
    const r = {
      features: 'simd128+relaxed',
      ratios: { vit: { int8_over_fp32: 0.8, int4_g32_over_fp32: 1, int4_channel_over_fp32: 1.1 } },
      rows: [],
    } as unknown as Parameters<typeof explainCpuRatios>[0];
    const text = explainCpuRatios(r, c).join(' ');
    expect(text).toContain(`at most ${exactInt8Ceiling(c).rate.toFixed(2)}×`);
    expect(text).toContain(`32-bit sums (${c.relaxedDotAdd.toFixed(2)}×) is slower`);
    expect(explainCpuRatios(r).join(' ')).not.toContain('bench:simd');
    expect(c.fmaGMacs).toBe(simdJson.chromium.loops.find((l) => l.id === 'f32-relaxed-madd')!.gMacsPerSecond);
    expect(c.cpu).toBe(simdJson.machine.cpu);
  });

  it('quotes ceilings only beside a run on the CPU they were measured on', () => {
    const cpu = simdJson.machine.cpu;
    expect(ceilingsFor(simdJson, 'chromium', cpu)).toEqual(simdCeilings(simdJson, 'chromium'));
    // a run that did not record its CPU (the browser's own, older committed runs): the same machine
    expect(ceilingsFor(simdJson, 'chromium', undefined)).not.toBeNull();
    expect(ceilingsFor(simdJson, 'chromium', 'Apple M2')).toBeNull();
  });

  // the exact INT8 bound is the best of the three routes an 8-bit weight can take, over our FP32
  // GEMM's share of the multiply-add rate — not the int16 dot alone, and not the raw loop ratio
  const ceil = (o: Partial<SimdCeilings>): SimdCeilings => ({
    where: 'Chromium 999 on Test CPU',
    cpu: 'Test CPU',
    int16Dot: 1.25,
    relaxedDotAdd: 0.9,
    relaxedDotI16: 2.7,
    fmaGMacs: 26,
    ...o,
  });
  const run = {
    features: 'simd128+relaxed',
    ratios: { vit: { int8_over_fp32: 1.2, int4_g32_over_fp32: 1.24, int4_channel_over_fp32: 1.41 } },
    // 47 GFLOP/s = 23.5 G multiply-adds a second: 90.4% of the 26 G loop
    rows: [{ kernel: 'gemm_f32', gops: 47 }],
  } as unknown as Parameters<typeof explainCpuRatios>[0];
  it('bounds exact INT8 by the fastest exact route, here the split relaxed dot into 16-bit sums', () => {
    const c = ceil({});
    expect(exactInt8Ceiling(c)).toEqual({ rate: 1.35, route: expect.stringContaining('16-bit sums') });
    const text = explainCpuRatios(run, c).join(' ');
    expect(text).toContain('at most 1.35× the float fused multiply-add');
    expect(text).toContain('16-bit operands with dot_i16x8: 1.25×');
    expect(text).toContain('reaches 90% of that multiply-add rate');
    expect(text).toContain(`at most ${(1.35 / (23.5 / 26)).toFixed(2)}× it here`);
    expect(text).toContain('twice FP32 is out of reach on this CPU');
    expect(text).toContain('does not map it to one dot instruction');
  });
  it('on a CPU with a one-instruction dot (VNNI-like figures) it does not claim twice is out of reach', () => {
    const c = ceil({ relaxedDotAdd: 4.2 });
    expect(exactInt8Ceiling(c).rate).toBe(2.1);
    const text = explainCpuRatios(run, c).join(' ');
    expect(text).toContain('32-bit sums');
    expect(text).toContain('twice FP32 is within the instructions’ reach here');
    expect(text).not.toContain('out of reach');
    expect(text).toContain('a one-instruction dot here');
    expect(text).not.toContain('does not map it');
    // a file without the multiply-add loop's rate: no bound against our GEMM is claimed
    expect(explainCpuRatios(run, ceil({ fmaGMacs: null })).join(' ')).not.toContain('it here');
  });
});

describe('explainCpuRatios', () => {
  it('says what each build has: FMA in the browsers, the relaxed dot without FMA in Node, neither in SIMD128', () => {
    const r = (features: string) =>
      ({
        features,
        ratios: { vit: { int8_over_fp32: 2.05, int4_g32_over_fp32: 2.28, int4_channel_over_fp32: 2.74 } },
        rows: [],
      }) as unknown as Parameters<typeof explainCpuRatios>[0];
    const browser = explainCpuRatios(r('simd128+relaxed')).join(' ');
    expect(browser).toContain('one fused multiply-add per 4 products');
    expect(browser).toContain('INT4 weights use the relaxed int8 dot');
    const node = explainCpuRatios(r('simd128+relaxed-dot')).join(' ');
    expect(node).toContain('no fused multiply-add');
    expect(node).toContain('INT4 weights use the relaxed int8 dot');
    expect(node).toContain('INT8 runs at 2.05× FP32');
    const plain = explainCpuRatios(r('simd128')).join(' ');
    expect(plain).toContain('no int8 dot instruction');
    expect(plain).not.toContain('relaxed int8 dot: one instruction');
  });
  it('on a machine whose probe chose the split int32 route, the 16-bit sentence quotes the 16-bit route, the split one its own', () => {
    const r = {
      features: 'simd128+relaxed',
      ratios: {
        vit: { int8_over_fp32: 1.9, int4_g32_over_fp32: 2.2, int4_channel_over_fp32: 2.6 },
        int8Routes: { int16: 1.2, int32: 1.9 },
      },
      w8a8Dot: { chosen: 'int32', reason: 'the int32 dot measured 1.58× the int16 route here' },
      rows: [],
    } as unknown as Parameters<typeof explainCpuRatios>[0];
    const text = explainCpuRatios(r).join(' ');
    expect(text).toContain('INT8 runs at 1.20× FP32 that way');
    expect(text).toContain('split weights 1.90×; the backend runs the int32 route');
  });
});
