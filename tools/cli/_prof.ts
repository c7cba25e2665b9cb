import { loadDataNode, loadWeightsNode } from '../../src/engine/nodeLoad';
import { fp32Plan, uniformPlan, type SiteScheme } from '../../src/engine/plan';
import { preparePlan } from '../../src/engine/siteQuant';
import { buildSites } from '../../src/model/sites';
import { siteLinears } from '../../src/model/vitRef';
import { isWasmKernels, loadCpuKernels } from '../../src/cpu/cpuKernels';
import { VitCpu } from '../../src/cpu/vitCpu';
const [w, d] = await Promise.all([loadWeightsNode(), loadDataNode(['test'])]);
const k = await loadCpuKernels();
if (!isWasmKernels(k)) throw new Error('no wasm');
const which = process.argv[2] ?? 'w8a8';
const plan = which === 'fp32' ? fp32Plan() : which === 'w4a8' ? uniformPlan({ a: { bits: 8, granularity: 'token', symmetric: false, range: 'dynamic' }, b: { bits: 4, granularity: 'group', groupSize: 32, symmetric: true, range: 'dynamic' } } as SiteScheme) : uniformPlan({ a: { bits: 8, granularity: 'token', symmetric: false, range: 'dynamic' }, b: { bits: 8, granularity: 'channel', symmetric: true, range: 'dynamic' } } as SiteScheme);
// time every export
const orig = k.ex as unknown as Record<string, unknown>;
const ex: Record<string, unknown> = { ...orig };
(k as unknown as { ex: unknown }).ex = ex;
const times: Record<string, number> = {};
for (const [name, f] of Object.entries(orig)) {
  if (typeof f !== 'function' || name === 'heapBase') continue;
  ex[name] = (...a: unknown[]) => {
    const t = performance.now();
    const r = (f as (...x: unknown[]) => unknown)(...a);
    times[name] = (times[name] ?? 0) + performance.now() - t;
    return r;
  };
}
const vit = new VitCpu(w, k);
const pp = preparePlan(plan, buildSites(w.config), siteLinears(w));
vit.forward(pp, d.test.pixels, 32, 32);
for (const key of Object.keys(times)) times[key] = 0;
const N = 256;
const t = performance.now();
vit.forward(pp, d.test.pixels, N, 32);
const total = performance.now() - t;
console.log(which, 'total', (total / N).toFixed(3), 'ms/img');
for (const [n, v] of Object.entries(times).sort((a, b) => b[1] - a[1])) console.log(n.padEnd(14), (v / N).toFixed(3), 'ms/img', ((100 * v) / total).toFixed(1) + '%');
