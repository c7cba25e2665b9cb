import { describe, expect, it } from 'vitest';
import { explainYardsticks, firstRowError, RESULT_TOLERANCE, summarizeYardsticks, yardstickCases, type YardstickRow } from './yardsticks';

describe('library yardsticks (pure parts)', () => {
  it('the shapes are the main table GEMMs: the ViT linear layers at M = 65·images and the square', () => {
    expect(yardstickCases(16, 512).map((c) => `${c.group} ${c.m}×${c.n}×${c.k}`)).toEqual([
      'vit:qkv 1040×384×128',
      'vit:out 1040×128×128',
      'vit:fc1 1040×256×128',
      'vit:fc2 1040×128×256',
      'square 512×512×512',
    ]);
  });

  const row = (library: YardstickRow['library'], op: string, group: string, ms?: number, skipped?: string): YardstickRow => ({
    library,
    op,
    group,
    shape: '',
    ops: 1,
    ms,
    skipped,
  });
  const vit = ['vit:qkv', 'vit:out', 'vit:fc1', 'vit:fc2'];

  it('summary: ViT block = our summed time / its summed time; square alone; a missing layer gives NaN', () => {
    const rows = [
      ...vit.map((g) => row('ours', 'gemm_f32 (WGSL)', g, 1)),
      row('ours', 'gemm_f32 (WGSL)', 'square', 4),
      ...vit.map((g, i) => row('tfjs', 'matMul (FP32)', g, i === 0 ? 5 : 1)),
      row('tfjs', 'matMul (FP32)', 'square', 2),
      ...vit.map((g) => row('onnxruntime-web', 'MatMul (FP32)', g, g === 'vit:out' ? undefined : 1, g === 'vit:out' ? 'x' : undefined)),
    ];
    const s = summarizeYardsticks(rows);
    expect(s.map((x) => `${x.library} ${x.op}`)).toEqual(['tfjs matMul (FP32)', 'onnxruntime-web MatMul (FP32)']);
    expect(s[0].vit).toBeCloseTo(4 / 8, 12);
    expect(s[0].square).toBeCloseTo(2, 12);
    expect(s[1].vit).toBeNaN();
    expect(s[1].square).toBeNaN();
  });

  it('explanation names the dispatch overhead and every skip reason', () => {
    const rows = [
      row('ours', 'gemm_f32 (WGSL)', 'square', 1),
      row('tfjs', 'matMul (FP32)', 'square', undefined, 'TensorFlow.js failed to initialise: no adapter'),
    ];
    const text = explainYardsticks({ timing: 'wall', versions: {}, rows, summary: summarizeYardsticks(rows) }).join('\n');
    expect(text).toContain('dispatch overhead');
    expect(text).toContain('TensorFlow.js failed to initialise: no adapter');
  });

  it('firstRowError: ~0 for the true product, large for a wrong one (FP32 and 4-bit weights)', () => {
    const c = { group: 'g', m: 2, n: 16, k: 64 };
    // the reference computed independently here, with the operands' definition (A row 0, B K×N)
    const det = (n: number, scale: number, seed: number) =>
      Array.from({ length: n }, (_, i) => ((((i + seed) * 2654435761) >>> 0) / 2 ** 32 - 0.5) * scale);
    const a = det(c.m * c.k, 1, 1),
      b = det(c.k * c.n, 0.1, 3);
    const y = Array.from({ length: c.n }, (_, j) => a.slice(0, c.k).reduce((s, v, t) => s + v * b[t * c.n + j], 0));
    expect(firstRowError(c, false, y)).toBeLessThan(1e-6);
    expect(
      firstRowError(
        c,
        false,
        y.map((v) => v * 1.2),
      ),
    ).toBeGreaterThan(RESULT_TOLERANCE);
    expect(firstRowError(c, false, new Array(c.n).fill(0))).toBeGreaterThan(RESULT_TOLERANCE);
    // 4-bit: the FP32 product is not the 4-bit one
    expect(firstRowError(c, true, y)).toBeGreaterThan(RESULT_TOLERANCE);
  });
});
