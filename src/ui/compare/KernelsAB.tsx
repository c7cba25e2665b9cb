/**
 * The Kernels view's A/B card: which kernel each of the 38 sites runs under the pinned plan A and
 * the live plan B (integer GEMM, weight-only, simulated, FP32), the sites where they differ, and
 * both plans' throughput on the live subset as this backend measured it — one end-to-end run each,
 * so a ratio near 1 is not a difference (the card says so).
 */
import type { SitePath } from '../../plan/plan';
import type { ScoreResult } from '../../plan/types';
import { useStore } from '../../state/store';
import { useLiveTrio } from './usePairs';
import { planLabel } from './compareModel';
import { useSites } from '../engine/useSites';

const PATH_LABEL: Record<SitePath, string> = {
  'int8-gemm': 'integer GEMM (int8 lanes)',
  'int4-gemm': 'W4A8 GEMM (packed INT4 weights)',
  'weight-only': 'weight-only (dequantized weights, FP32 GEMM)',
  'fake-quant': 'simulated (fake-quant, FP32 GEMM)',
  fp32: 'FP32 GEMM',
};
const PATHS = Object.keys(PATH_LABEL) as SitePath[];

export function pathCounts(r: Pick<ScoreResult, 'sites'>): Record<SitePath, number> {
  const c = Object.fromEntries(PATHS.map((p) => [p, 0])) as Record<SitePath, number>;
  for (const s of r.sites) c[s.path] = (c[s.path] ?? 0) + 1;
  return c;
}

/** Sites whose kernel differs between the two results. */
export function pathDiffs(a: Pick<ScoreResult, 'sites'>, b: Pick<ScoreResult, 'sites'>): { site: number; a: SitePath; b: SitePath }[] {
  const out: { site: number; a: SitePath; b: SitePath }[] = [];
  for (const sb of b.sites) {
    const sa = a.sites.find((s) => s.site === sb.site);
    if (sa && sa.path !== sb.path) out.push({ site: sb.site, a: sa.path, b: sb.path });
  }
  return out;
}

export function KernelsAB() {
  const pinned = useStore((s) => s.pinned);
  const plan = useStore((s) => s.plan);
  const sites = useSites();
  const { a, b, aRunning } = useLiveTrio();
  if (!pinned) return null;
  const names = sites.map((s) => s.name);
  const diffs = a && b ? pathDiffs(a, b) : [];
  const ca = a ? pathCounts(a) : null;
  const cb = b ? pathCounts(b) : null;
  return (
    <section className="card span-2" data-testid="kernels-ab">
      <header className="card-head">
        <h3>A / B · the kernels each plan runs on this backend</h3>
        <div className="card-sub">
          <span className="ab-tag ab-a">A</span> {planLabel(pinned)} · <span className="ab-tag ab-b">B</span> {planLabel(plan)}
          {aRunning ? ' · scoring A…' : ''}
        </div>
      </header>
      {!ca || !cb ? (
        <div className="muted">waiting for both plans' live scores</div>
      ) : (
        <>
          <table className="kernels-table">
            <thead>
              <tr>
                <th>kernel</th>
                <th>A sites</th>
                <th>B sites</th>
              </tr>
            </thead>
            <tbody>
              {PATHS.filter((p) => ca[p] || cb[p]).map((p) => (
                <tr key={p} data-path={p}>
                  <td>{PATH_LABEL[p]}</td>
                  <td>{ca[p]}</td>
                  <td>{cb[p]}</td>
                </tr>
              ))}
              <tr>
                <td>live subset: images/s (one end-to-end run each, n = {b!.count})</td>
                <td>{a!.imagesPerSecond.toFixed(0)}</td>
                <td>{b!.imagesPerSecond.toFixed(0)}</td>
              </tr>
            </tbody>
          </table>
          <div className="muted small-note" data-testid="kernels-ab-diff">
            {diffs.length === 0
              ? 'A and B run the same kernel at every site.'
              : `Different kernels at ${diffs.length} site${diffs.length > 1 ? 's' : ''}: ${diffs
                  .slice(0, 8)
                  .map((d) => `${names[d.site] ?? `site ${d.site}`} (A ${d.a}, B ${d.b})`)
                  .join('; ')}${diffs.length > 8 ? '; …' : ''}.`}{' '}
            Throughput is one run of each plan on a shared machine (other work, caches, the first run's packing): read a ratio under about
            1.2× as no difference; the benchmark above times kernels with repetitions.
          </div>
        </>
      )}
    </section>
  );
}
