/** Always-visible score strip: live accuracy, Δ vs FP32, progress with cancel, full-set scoring. */
import { useStore } from '../../state/store';
import { LIVE_SIZES } from '../../state/config';
import type { EvalSetName } from '../../engine/types';
import { useResults, type LiveScore } from '../engine/results';
import { cancelFull, cancelLive, scoreFullSet } from '../engine/controller';
import { pct, pp } from '../common/format';

function ProgressBar({ live, onCancel, testid }: { live: LiveScore; onCancel: () => void; testid: string }) {
  if (!live.running || !live.progress) return null;
  const { done, total, phase } = live.progress;
  const f = total > 0 ? done / total : 0;
  return (
    <div className="progress" data-testid={testid}>
      <div className="progress-track" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={done} aria-label={phase}>
        <div className="progress-fill" style={{ width: `${(f * 100).toFixed(1)}%` }} />
      </div>
      <span className="progress-text">
        {phase} {done}/{total}
      </span>
      <button type="button" className="btn ghost small" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

function useBaseline(set: EvalSetName, count: number | undefined) {
  const backend = useResults((r) => r.backend?.kind);
  return useResults((r) => (count ? r.baselines[`${set}:${count}:${backend}`] : undefined));
}

export function AccuracyStrip() {
  const live = useResults((r) => r.live);
  const plan = useStore((s) => s.plan);
  const full = useResults((r) => r.full);
  const dataset = useResults((r) => r.dataset);
  const status = useResults((r) => r.status);
  const evalSet = useStore((s) => s.evalSet);
  const liveSize = useStore((s) => s.liveSize);
  const setEvalSet = useStore((s) => s.setEvalSet);
  const setLiveSize = useStore((s) => s.setLiveSize);
  const res = live.result;
  const base = useBaseline(evalSet, res?.count);
  const fullBase = useBaseline(evalSet, full?.result?.count);
  const delta = res && base ? res.accuracy - base.accuracy : null;
  const sizes = Array.from(new Set([...LIVE_SIZES, liveSize])).sort((a, b) => a - b);
  return (
    <section className="strip" aria-label="Live accuracy">
      <div className="strip-main">
        <div className="metric">
          <div className="metric-label">accuracy · first {res?.count ?? Math.min(liveSize, dataset?.sets[evalSet] ?? liveSize)} {evalSet} images</div>
          <div className={`metric-value ${live.running ? 'stale' : ''}`} data-testid="live-accuracy" aria-live="polite">
            {res ? pct(res.accuracy, 1) : status.state === 'error' ? 'n/a' : '…'}
          </div>
        </div>
        <div className="metric">
          <div className="metric-label">Δ vs FP32</div>
          <div className={`metric-value small ${delta === null ? '' : delta < -0.005 ? 'neg' : delta > 0.005 ? 'pos' : ''}`} data-testid="live-delta">
            {live.isFp32 && res ? 'baseline' : pp(delta, 1)}
          </div>
          <div className="metric-foot">FP32 {pct(base?.accuracy, 1)}</div>
        </div>
        <div className="metric">
          <div className="metric-label">speed</div>
          <div className="metric-value small">{res ? `${res.imagesPerSecond.toFixed(res.imagesPerSecond < 10 ? 1 : 0)} img/s` : '—'}</div>
          <div className="metric-foot">{res ? `${(res.wallMs / 1000).toFixed(2)} s · ${res.backend.kind}` : ''}</div>
        </div>
        <div className="strip-controls">
          <label className="inline-field">
            <span>set</span>
            <select value={evalSet} onChange={(e) => setEvalSet(e.target.value as EvalSetName)} aria-label="Eval set">
              <option value="test">test{dataset ? ` (${dataset.sets.test})` : ''}</option>
              <option value="val">val{dataset ? ` (${dataset.sets.val})` : ''}</option>
            </select>
          </label>
          <label className="inline-field">
            <span>live subset</span>
            <select value={liveSize} onChange={(e) => setLiveSize(Number(e.target.value))} aria-label="Live subset size">
              {sizes.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="btn" disabled={status.state !== 'ready' || !!full?.running} onClick={() => void scoreFullSet()} data-testid="score-full">
            Score the full set
          </button>
        </div>
      </div>
      <ProgressBar live={live} onCancel={cancelLive} testid="live-progress" />
      {live.error && (
        <div className="inline-error" role="alert">
          Scoring failed: {live.error}
        </div>
      )}
      {full && (
        <div className="strip-full">
          <ProgressBar live={full} onCancel={cancelFull} testid="full-progress" />
          {full.result && (
            <span data-testid="full-accuracy">
              Full {full.result.set} set ({full.result.count} images): <strong>{pct(full.result.accuracy, 2)}</strong>
              {fullBase && !full.isFp32 && <> · Δ {pp(full.result.accuracy - fullBase.accuracy, 2)} vs FP32 {pct(fullBase.accuracy, 2)}</>}
              {full.key !== JSON.stringify([plan.sites, evalSet, full.result.count]) && <span className="muted"> (an earlier plan)</span>}
            </span>
          )}
          {full.error && <span className="muted">Full set: {full.error}</span>}
        </div>
      )}
    </section>
  );
}
