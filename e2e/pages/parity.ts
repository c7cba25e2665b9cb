/**
 * Bare page for e2e/parity.spec.ts: the ViT forward on the browser's WebGPU (FP32 and W8A8) against
 * PyTorch's logits (reference.json) and the TypeScript reference. Publishes window.__parity.
 */
import { browserGpuContext } from '../../src/gpu/device';
import { fetchReader, IMAGE_BYTES, loadEvalSet } from '../../src/data/cifar';
import { loadVit } from '../../src/model/vitWeights';
import { siteLinears, VitReference } from '../../src/forward/vitRef';
import { VitGpu } from '../../src/forward/vitGpu';
import { fp32Plan } from '../../src/plan/plan';
import { w8a8PerToken } from '../../src/plan/presets';
import { preparePlan } from '../../src/plan/siteQuant';

declare global {
  interface Window {
    __parity?: { fp32MaxDiff: number; w8a8MaxDiff: number; predsAgree: boolean; adapter: string; error?: string };
  }
}

const IMAGES = 2;

async function main() {
  const status = document.getElementById('status')!;
  try {
    const ctx = await browserGpuContext();
    const w = await loadVit(fetchReader('/models/vit-cifar10/'));
    const ref = (await (await fetch('/models/vit-cifar10/reference.json')).json()) as { logits: number[][] };
    const test = await loadEvalSet(fetchReader('/data/cifar10/'), 'test');
    const pixels = test.pixels.subarray(0, IMAGES * IMAGE_BYTES);
    const cpu = new VitReference(w);
    const vit = new VitGpu(ctx, w, IMAGES);
    const fp = preparePlan(fp32Plan(), cpu.sites, siteLinears(w));
    const y = await vit.compiled(fp, IMAGES).run(pixels, IMAGES);
    let fp32MaxDiff = 0;
    for (let i = 0; i < IMAGES; i++)
      for (let c = 0; c < 10; c++) fp32MaxDiff = Math.max(fp32MaxDiff, Math.abs(y[i * 10 + c] - ref.logits[i][c]));
    const q = preparePlan(w8a8PerToken(), cpu.sites, siteLinears(w));
    const yq = await vit.compiled(q, IMAGES).run(pixels, IMAGES);
    let w8a8MaxDiff = 0;
    let predsAgree = true;
    for (let i = 0; i < IMAGES; i++) {
      const r = cpu.forward(pixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), q);
      const g = yq.subarray(i * 10, i * 10 + 10);
      for (let c = 0; c < 10; c++) w8a8MaxDiff = Math.max(w8a8MaxDiff, Math.abs(g[c] - r[c]));
      predsAgree &&= g.indexOf(Math.max(...g)) === r.indexOf(Math.max(...r));
    }
    vit.destroy();
    window.__parity = { fp32MaxDiff, w8a8MaxDiff, predsAgree, adapter: `${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture}` };
  } catch (e) {
    window.__parity = { fp32MaxDiff: NaN, w8a8MaxDiff: NaN, predsAgree: false, adapter: '', error: (e as Error).stack ?? String(e) };
  }
  status.textContent = JSON.stringify(window.__parity, null, 2);
}
void main();
