/**
 * The selected site's output error under A and under B side by side (inspector): SQNR and MSE
 * of the site's output against FP32 operands, on the image the statistics are taken on.
 */
import { useStore } from '../../state/store';
import type { SiteStats } from '../../plan/types';
import { useResults } from '../engine/results';
import { fmtNum } from '../common/format';
import { useCompare } from './compareController';
import { planLabel } from './compareModel';

const sqnr = (d: SiteStats) => (Number.isFinite(d.outputSqnrDb) ? `${d.outputSqnrDb.toFixed(1)} dB` : '∞ (exact)');

export function SiteErrorAB() {
  const pinned = useStore((s) => s.pinned);
  const plan = useStore((s) => s.plan);
  const site = useStore((s) => s.selectedSite);
  const image = useStore((s) => s.image);
  const b = useResults((r) => r.stats);
  const a = useCompare((c) => c.stats);
  if (!pinned) return null;
  const cell = (st: { data: SiteStats | null; loading: boolean; error: string | null }, testid: string) =>
    st.error ? (
      <span className="muted">{st.error}</span>
    ) : st.data && st.data.site === site ? (
      <span data-testid={testid} className={st.loading ? 'stale-wrap' : ''}>
        <strong>{sqnr(st.data)}</strong> <span className="muted">MSE {fmtNum(st.data.outputMse, 3)}</span>
      </span>
    ) : (
      <span className="muted">…</span>
    );
  return (
    <div className="site-ab" data-testid="site-error-ab" role="group" aria-label="Site output error, A vs B">
      <div className="field-label">
        site {site} output error vs FP32 · image #{image}
      </div>
      <div className="ab-grid">
        <span>
          <span className="ab-tag ab-a">A</span>{' '}
          <span className="ab-name" title={planLabel(pinned)}>
            {planLabel(pinned)}
          </span>
          <span className="k">{cell(a, 'site-error-a')}</span>
        </span>
        <span>
          <span className="ab-tag ab-b">B</span>{' '}
          <span className="ab-name" title={planLabel(plan)}>
            {planLabel(plan)}
          </span>
          <span className="k">{cell(b, 'site-error-b')}</span>
        </span>
      </div>
    </div>
  );
}
