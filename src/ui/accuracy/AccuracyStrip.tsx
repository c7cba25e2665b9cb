/**
 * Always-visible score strip: live accuracy with its 95% interval and n, the paired Δ vs FP32 on
 * the same images, progress with cancel, full-set scoring, and the A/B compare row (pin the
 * current plan as A; the live plan is B; Δ(B − A) paired on the same images).
 */
import { useStore } from '../../state/store';
import { LIVE_SIZES } from '../../state/config';
import type { EvalSetName, ScoreResult } from '../../plan/types';
import { useResults, type LiveScore } from '../engine/results';
import { cancelFull, cancelLive, scoreFullSet } from '../engine/controller';
import { accuracyOf, deltaTone, pairResults, planLabel, type Pairing } from '../compare/compareModel';
import { useCompare } from '../compare/compareController';
import { AccuracyFigure, DeltaFigure } from '../compare/Figures';
import { useBaselineFor, useLiveTrio } from '../compare/usePairs';
import { formatDelta } from '../../quant/intervals';

function ProgressBar({ live, onCancel, testid }: { live: Pick<LiveScore, 'running' | 'progress'>; onCancel?: () => void; testid: string }) {
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
      {onCancel && (
        <button type="button" className="btn ghost small" onClick={onCancel}>
          Cancel
        </button>
      )}
    </div>
  );
}

const f1 = (x: number) => (100 * x).toFixed(1).replace('-', '−');

/** Δ vs FP32 as a strip metric: the value large, its interval and "within noise" underneath. */
function DeltaMetric({ pairing, isFp32 }: { pairing: Pairing; isFp32: boolean }) {
  if (isFp32)
    return (
      <div className="metric-value small" data-testid="live-delta">
        baseline
      </div>
    );
  if (!pairing.ok)
    return (
      <div className="metric-value small" data-testid="live-delta" title={pairing.reason}>
        …
      </div>
    );
  const d = pairing.delta;
  const tone = deltaTone(d);
  return (
    <div
      className={`metric-value small delta-${tone}`}
      data-testid="live-delta"
      data-tone={tone}
      title={`${formatDelta(d)} — exact McNemar, ${d.aOnly} images only FP32 gets right, ${d.bOnly} only this plan`}
    >
      {d.delta > 0 ? '+' : d.delta < 0 ? '−' : '±'}
      {Math.abs(100 * d.delta).toFixed(1)} pp
      <span className="metric-ci">
        [{f1(d.lo)}, {f1(d.hi)}]{d.withinNoise ? ' within noise' : ''}
      </span>
    </div>
  );
}

function AbRow({
  b,
  a,
  n,
  set,
  testid,
  running,
}: {
  b: ScoreResult | null;
  a: ScoreResult | null;
  n: string;
  set: string;
  testid: string;
  running?: boolean;
}) {
  const pinned = useStore((s) => s.pinned);
  const plan = useStore((s) => s.plan);
  if (!pinned) return null;
  return (
    <div className="ab-row" data-testid={testid}>
      <span className="ab-tag ab-a">A</span>
      <span className="ab-name" title={planLabel(pinned)}>
        {planLabel(pinned)}
      </span>
      {a ? (
        <AccuracyFigure p={accuracyOf(a)} showN={false} testid={`${testid}-a`} />
      ) : (
        <span className="muted">{running ? 'scoring…' : '…'}</span>
      )}
      <span className="ab-tag ab-b">B</span>
      <span className="ab-name" title={planLabel(plan)}>
        {planLabel(plan)}
      </span>
      {b ? <AccuracyFigure p={accuracyOf(b)} showN={false} testid={`${testid}-b`} /> : <span className="muted">…</span>}
      <span className="ab-dlabel">Δ(B − A)</span>
      <DeltaFigure pairing={pairResults(a, b)} testid={`${testid}-delta`} />
      <span className="muted ab-n">
        paired · {n} · {set}
      </span>
    </div>
  );
}

export function AccuracyStrip() {
  const live = useResults((r) => r.live);
  const plan = useStore((s) => s.plan);
  const pinned = useStore((s) => s.pinned);
  const pin = useStore((s) => s.pin);
  const unpin = useStore((s) => s.unpin);
  const full = useResults((r) => r.full);
  const fullA = useCompare((c) => c.full);
  const dataset = useResults((r) => r.dataset);
  const status = useResults((r) => r.status);
  const evalSet = useStore((s) => s.evalSet);
  const liveSize = useStore((s) => s.liveSize);
  const setEvalSet = useStore((s) => s.setEvalSet);
  const setLiveSize = useStore((s) => s.setLiveSize);
  const { b: res, fp32: base, a, aRunning, aError } = useLiveTrio();
  const fullBase = useBaselineFor(full?.result);
  const sizes = Array.from(new Set([...LIVE_SIZES, liveSize])).sort((x, y) => x - y);
  const n = res?.count ?? Math.min(liveSize, dataset?.sets[evalSet] ?? liveSize);
  const total = dataset?.sets[evalSet];
  const acc = res ? accuracyOf(res) : null;
  return (
    <section className="strip" aria-label="Live accuracy">
      <div className="strip-main">
        <div className="metric">
          <div className="metric-label">
            accuracy ·{' '}
            <strong title={`the first ${n} images of the ${evalSet} set, re-scored after every change`}>live subset, n = {n}</strong> ·
            first {n} {evalSet} images
            {live.result?.model?.kind === 'trained' && <span data-testid="live-model"> · model: {live.result.model.label}</span>}
          </div>
          <div className={`metric-value ${live.running ? 'stale' : ''}`} data-testid="live-accuracy" aria-live="polite">
            {acc ? `${(100 * acc.p).toFixed(1)}%` : status.state === 'error' ? 'n/a' : '…'}
            {acc && (
              <span className="metric-ci" data-testid="live-accuracy-ci" title="95% Wilson interval">
                [{f1(acc.lo)}, {f1(acc.hi)}] 95% CI
              </span>
            )}
          </div>
        </div>
        <div className="metric">
          <div className="metric-label" title={`paired on the same ${n} images: exact McNemar 95% interval`}>
            Δ vs FP32 · paired, n = {n}
          </div>
          <div className={live.running ? 'stale-wrap' : ''}>
            <DeltaMetric pairing={pairResults(base, res)} isFp32={live.isFp32 && !!res} />
          </div>
          <div className="metric-foot">FP32 {base ? <AccuracyFigure p={accuracyOf(base)} showN={false} /> : '—'}</div>
        </div>
        <div className="strip-controls">
          <span className="metric-foot strip-speed" title="speed of the last live score">
            {res
              ? `${res.imagesPerSecond.toFixed(res.imagesPerSecond < 10 ? 1 : 0)} img/s · ${(res.wallMs / 1000).toFixed(2)} s · ${res.backend.kind}`
              : ''}
          </span>
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
              {sizes.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="btn"
            disabled={status.state !== 'ready' || !!full?.running}
            onClick={() => void scoreFullSet()}
            data-testid="score-full"
          >
            Score the full set{total ? ` (${total})` : ''}
          </button>
          <button
            type="button"
            className="btn ghost small"
            onClick={() => pin(plan)}
            data-testid="pin-a"
            title="Pin the current plan as A; keep editing: the live plan is B, and every view shows A beside B"
          >
            {pinned ? 'Re-pin as A' : 'Pin as A'}
          </button>
          {pinned && (
            <button type="button" className="btn ghost small" onClick={unpin} data-testid="unpin-a">
              Unpin
            </button>
          )}
        </div>
      </div>
      <ProgressBar live={live} onCancel={cancelLive} testid="live-progress" />
      {live.error && (
        <div className="inline-error" role="alert">
          Scoring failed: {live.error}
        </div>
      )}
      {pinned && <AbRow b={res} a={a} n={`live subset, n = ${n}`} set={evalSet} testid="ab-live" running={aRunning} />}
      {aError && (
        <div className="inline-error" role="alert">
          Scoring plan A failed: {aError}
        </div>
      )}
      {full && (
        <div className="strip-full">
          <ProgressBar live={full} onCancel={cancelFull} testid="full-progress" />
          {full.result && (
            <span data-testid="full-accuracy">
              <strong>
                Full {full.result.set} set, n = {full.result.count}:
              </strong>{' '}
              <AccuracyFigure p={accuracyOf(full.result)} digits={2} showN={false} />
              {!full.isFp32 && (
                <>
                  {' '}
                  · Δ vs FP32 <DeltaFigure pairing={pairResults(fullBase, full.result)} digits={2} />
                </>
              )}
              {full.key !== JSON.stringify([plan.sites, evalSet, full.result.count]) && <span className="muted"> (an earlier plan)</span>}
            </span>
          )}
          {full.error && <span className="muted">Full set: {full.error}</span>}
          {pinned && full.result && (
            <>
              <ProgressBar live={fullA ?? { running: false, progress: null }} testid="full-progress-a" />
              <AbRow
                b={full.result}
                a={fullA?.result ?? null}
                n={`full set, n = ${full.result.count}`}
                set={full.result.set}
                testid="ab-full"
                running={fullA?.running}
              />
            </>
          )}
        </div>
      )}
    </section>
  );
}
