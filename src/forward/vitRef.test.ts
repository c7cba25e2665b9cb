import { describe, expect, it } from 'vitest';
import { loadDataNode, loadReferenceNode, loadWeightsNode } from '../runtime/nodeLoad';
import { fp32Plan } from '../plan/plan';
import { preparePlan } from '../plan/siteQuant';
import { IMAGE_BYTES } from '../data/cifar';
import { siteLinears, VitReference } from './vitRef';

// Parity of the TypeScript reference forward with PyTorch's logits (reference.json, exported with the weights).
describe('VitReference (FP32) vs PyTorch', () => {
  it('logits within 1e-3 of reference.json on 16 images', async () => {
    const [w, data] = await Promise.all([loadWeightsNode(), loadDataNode(['test'])]);
    const { reference } = loadReferenceNode();
    const vit = new VitReference(w);
    const plan = preparePlan(fp32Plan(), vit.sites, siteLinears(w));
    let maxDiff = 0;
    for (let i = 0; i < 16; i++) {
      const idx = reference.indices[i];
      const y = vit.forward(data.test.pixels.subarray(idx * IMAGE_BYTES, (idx + 1) * IMAGE_BYTES), plan);
      reference.logits[i].forEach((v, c) => (maxDiff = Math.max(maxDiff, Math.abs(v - y[c]))));
    }
    expect(maxDiff).toBeLessThan(1e-3);
  });
});
