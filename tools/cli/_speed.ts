import { loadDataNode, loadWeightsNode } from '../../src/engine/nodeLoad';
import { fp32Plan, uniformPlan } from '../../src/engine/plan';
import { preparePlan } from '../../src/engine/siteQuant';
import { buildSites } from '../../src/model/sites';
import { siteLinears } from '../../src/model/vitRef';
import { isWasmKernels, loadCpuKernels } from '../../src/cpu/cpuKernels';
import { VitCpu } from '../../src/cpu/vitCpu';
const [w, d] = await Promise.all([loadWeightsNode(), loadDataNode(['test'])]);
const k = await loadCpuKernels();
if (!isWasmKernels(k)) throw new Error('no wasm');
const vit = new VitCpu(w, k);
const sites = buildSites(w.config);
const plans = {
  fp32: fp32Plan(),
  w8a8: uniformPlan({ a: { bits: 8, granularity: 'token', symmetric: false, range: 'dynamic' }, b: { bits: 8, granularity: 'channel', symmetric: true, range: 'dynamic' } }),
};
const N = 128;
for (const [name, p] of Object.entries(plans)) {
  const pp = preparePlan(p, sites, siteLinears(w));
  vit.forward(pp, d.test.pixels, 32, 32);
  for (const chunk of [8, 32]) {
    const t = performance.now();
    const c = process.cpuUsage();
    vit.forward(pp, d.test.pixels, N, chunk);
    const dt = performance.now() - t;
    const cu = process.cpuUsage(c);
    console.log(name, 'chunk', chunk, (N / dt * 1000).toFixed(1), 'img/s wall', (N / ((cu.user + cu.system) / 1000) * 1000).toFixed(1), 'img/s cpu');
  }
}
