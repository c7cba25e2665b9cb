import { describe, expect, it } from 'vitest';
import { fusedSteps, fuseSteps, stepInputs } from './fusion';
import { buildSites } from './sites';
import { lowerVit, type Step } from './steps';

// the committed model's shape (public/models/vit-cifar10/config.json)
const shape = { dim: 128, depth: 6, heads: 4, mlp: 256, patch: 4, classes: 10, image: 32, layer_norm_eps: 1e-5 };

describe('the inference step list and its fusion', () => {
  const lowered = lowerVit(shape, undefined, 'infer');
  const fused = fuseSteps(lowered.steps);

  it('inference lowering: one product step per site, no fakeQuant, every LayerNorm names the site it feeds', () => {
    const sites = buildSites(shape);
    const products = lowered.steps.filter((s) => s.kind === 'linear' || s.kind === 'attnScores' || s.kind === 'attnValues') as Extract<
      Step,
      { site: number }
    >[];
    expect(products.map((s) => s.site)).toEqual(sites.map((s) => s.index));
    expect(lowered.steps.some((s) => s.kind === 'fakeQuant')).toBe(false);
    const lns = lowered.steps.filter((s) => s.kind === 'layerNorm') as Extract<Step, { kind: 'layerNorm' }>[];
    expect(lns.map((s) => sites[s.feeds!].kind)).toEqual([...Array(shape.depth).fill(['to_qkv', 'fc1']).flat(), 'head']);
  });

  it('covers every step exactly once, in order', () => {
    expect(fused.flatMap(fusedSteps)).toEqual(lowered.steps);
  });

  it('groups the ViT into its fused ops: embedding GEMM, per block LN→qkv, attention, to_out+residual, LN→fc1+GELU, fc2+residual, head', () => {
    const desc = fused.map((op) =>
      op.kind === 'linear'
        ? `linear${op.cls ? '+cls' : ''}${op.ln ? '+ln' : ''}${op.gelu ? '+gelu' : ''}${op.residual ? '+residual' : ''}${op.embed ? '+embed' : ''}`
        : op.kind === 'attention'
          ? 'attention'
          : op.step.kind,
    );
    const block = ['linear+ln', 'attention', 'linear+residual', 'linear+ln+gelu', 'linear+residual'];
    expect(desc).toEqual(['linear+embed', ...Array(shape.depth).fill(block).flat(), 'linear+cls+ln']);
  });

  it('does not fuse a product whose output another step also reads (the check can fail)', () => {
    const steps = lowered.steps.slice();
    // a second reader of fc1's output: GELU may no longer consume it inside the GEMM
    const fc1 = steps.findIndex((s) => s.kind === 'linear' && s.site === 5) as number;
    const y = (steps[fc1] as Extract<Step, { kind: 'linear' }>).y;
    steps.push({ kind: 'gelu', x: y, y: 'extra' });
    const ops = fuseSteps(steps);
    const op = ops.find((o) => o.kind === 'linear' && o.step.site === 5)!;
    expect(op.kind === 'linear' && op.gelu).toBeFalsy();
    expect(ops.flatMap(fusedSteps)).toEqual(steps);
  });

  it('stepInputs names what each step reads', () => {
    const ln = lowered.steps.find((s) => s.kind === 'layerNorm')!;
    expect(stepInputs(ln)).toEqual(['x0', 'blocks.0.ln1.weight', 'blocks.0.ln1.bias']);
  });

  it('training lowering still inserts fakeQuant steps (and needs a plan)', () => {
    expect(() => lowerVit(shape, undefined, 'train')).toThrow(/need a plan/);
  });
});
