/**
 * Stage mode: ← / → (PageUp/PageDown, Space) step through the narrated presets, Home / End jump
 * to the first / last step, F toggles fullscreen, Esc leaves. Large type, high contrast.
 *
 * Every number on screen belongs to the step on screen: the headline is that step's plan scored
 * on the validation set (study.json, or computed in the background when stage mode opens —
 * stageFigures.ts); the live subset is secondary, labelled with its n, and shown only once it has
 * been scored under this step's plan ("scoring…" until then, never the previous step's figure).
 */
import { useEffect, useMemo, useState } from 'react';
import { Line, LineChart, ResponsiveContainer, XAxis, YAxis } from 'recharts';
import { useStore } from '../../state/store';
import { STAGE_STEPS } from '../../state/stage';
import { presetById } from '../../state/presets';
import { fp32Plan, type Plan } from '../../plan/plan';
import { correctness, pairedDelta, wilson, type PairedDelta, type Proportion } from '../../quant/intervals';
import { useResults } from '../engine/results';
import { ModelMap } from '../modelmap/ModelMap';
import { Term } from '../help/Term';
import { planKey, startStageFigures, useStageFigures, type StageFigure } from './stageFigures';
import { useCompare } from '../compare/compareController';
import { pairResults, planLabel } from '../compare/compareModel';
import type { QatSummary } from '../../train/report';
import { type QatStageFigures, qatStageFigures } from './qatRecorded';

// the QAT runs' summary is loaded when stage mode opens (its own chunk), so the QAT step never waits on
// it; not results/qat.json, whose per-image predictions (~2 MB) took a main-thread task over 100 ms to parse
const qatFile = import('../../../results/qat.summary.json').then((m) => (m.default ?? m) as unknown as QatSummary);

/** A recorded QAT run (npm run qat): before / after on the same validation images, vs FP32, and the loss. */
function QatRecorded({ row }: { row: string }) {
  const [f, setF] = useState<QatStageFigures | string | null>(null);
  useEffect(() => {
    let live = true;
    qatFile.then((file) => live && setF(qatStageFigures(file, row))).catch((e: Error) => live && setF(`no recorded QAT run: ${e.message}`));
    return () => {
      live = false;
    };
  }, [row]);
  if (f === null) return <div className="stage-qat muted">loading the recorded run…</div>;
  if (typeof f === 'string')
    return (
      <div className="stage-qat muted" data-testid="stage-qat">
        {f}
      </div>
    );
  const d = f.vsFp32;
  return (
    <div className="stage-qat" data-testid="stage-qat">
      <div className="stage-k">
        recorded QAT run · {f.afterStep} steps × {f.batch} images
      </div>
      <div className="stage-qat-row">
        <span>
          before (step 0, static min/max ranges): <strong>{f1(f.before.accuracy)}%</strong> {ci(f.before.lo, f.before.hi)}
        </span>
        <span>→</span>
        <span>
          after QAT: <strong data-testid="stage-qat-after">{f1(f.after.accuracy)}%</strong> {ci(f.after.lo, f.after.hi)}
        </span>
        <span className="stage-sub">n = {f.after.n} validation images, the same before and after</span>
      </div>
      <div className="stage-sub">
        {f.gainPp >= 0 ? '+' : '−'}
        {Math.abs(f.gainPp).toFixed(1)} pp{' '}
        {f.disjoint ? '(the 95% intervals do not overlap)' : '(the 95% intervals overlap: not a clear gain)'} · vs FP32 {signed(d.delta)} pp{' '}
        {ci(d.lo, d.hi)} <Term id="paired">paired</Term>
        {d.withinNoise ? ' · within noise' : ''}
      </div>
      <div className="stage-qat-chart" role="img" aria-label="training loss by step">
        <ResponsiveContainer width="100%" height={70}>
          <LineChart data={f.loss} margin={{ top: 4, right: 4, bottom: 0, left: 0 }}>
            <XAxis dataKey="step" hide />
            <YAxis hide domain={['auto', 'auto']} />
            <Line type="monotone" dataKey="loss" stroke="#4f46e5" dot={false} isAnimationActive={false} strokeWidth={2} />
          </LineChart>
        </ResponsiveContainer>
      </div>
      <div className="stage-source">training loss · {f.engine} · `npm run qat` · the Train tab runs it live and can apply the result</div>
    </div>
  );
}

const f1 = (x: number) => (100 * x).toFixed(1);
const signed = (x: number) => `${x > 0 ? '+' : x < 0 ? '−' : '±'}${Math.abs(100 * x).toFixed(1)}`;
const ci = (lo: number, hi: number) => `[${f1(lo).replace('-', '−')}, ${f1(hi).replace('-', '−')}]`;

/** neutral when the interval holds 0 (within noise), else the sign's colour */
export function deltaClass(d: PairedDelta): string {
  return d.withinNoise ? 'noise' : d.delta < 0 ? 'neg' : 'pos';
}

function stepPlans(ctx: ReturnType<typeof useStore.getState>['presetContext']): Plan[] {
  return STAGE_STEPS.map((s) => presetById(s.preset)!.build(ctx));
}

function Headline({
  fig,
  progress,
  error,
  isFp32,
}: {
  fig: StageFigure | null;
  progress: { done: number; total: number } | null;
  error: string | null;
  isFp32: boolean;
}) {
  if (!fig)
    return (
      <div className="stage-metrics" data-testid="stage-figure" data-ready="false">
        <div>
          <div className="stage-k">validation accuracy</div>
          <div className="stage-v pending">{error ? 'could not score' : 'scoring…'}</div>
          {error ? (
            <div className="stage-sub">{error}</div>
          ) : progress ? (
            <>
              <div
                className="stage-progress"
                role="progressbar"
                aria-valuemin={0}
                aria-valuemax={progress.total}
                aria-valuenow={progress.done}
                aria-label="validation images scored"
              >
                <div style={{ width: `${((100 * progress.done) / Math.max(1, progress.total)).toFixed(0)}%` }} />
              </div>
              <div className="stage-sub">
                {progress.done} / {progress.total} validation images
              </div>
            </>
          ) : (
            <div className="stage-sub">queued behind the steps before it</div>
          )}
        </div>
      </div>
    );
  const d = fig.delta;
  return (
    <div className="stage-metrics" data-testid="stage-figure" data-ready="true">
      <div>
        <div className="stage-k">validation accuracy</div>
        <div className="stage-v" data-testid="stage-accuracy">
          {f1(fig.acc.p)}%
        </div>
        <div className="stage-sub" data-testid="stage-accuracy-ci">
          {ci(fig.acc.lo, fig.acc.hi)} <Term id="wilson">95% interval</Term> · n = {fig.acc.n}
        </div>
      </div>
      <div>
        <div className="stage-k">vs FP32</div>
        {isFp32 || !d ? (
          <div className="stage-v small" data-testid="stage-delta">
            reference
          </div>
        ) : (
          <>
            <div className={`stage-v small ${deltaClass(d)}`} data-testid="stage-delta" data-tone={deltaClass(d)}>
              {signed(d.delta)} pp
            </div>
            <div className="stage-sub" data-testid="stage-delta-ci">
              {ci(d.lo, d.hi)} <Term id="paired">paired</Term>
              {d.withinNoise ? (
                <>
                  {' · '}
                  <Term id="within-noise">within noise</Term>
                </>
              ) : null}
            </div>
          </>
        )}
      </div>
    </div>
  );
}

/** The live subset under this step's plan, or "scoring…" — never another plan's number. */
function LiveLine({ plan, isFp32 }: { plan: Plan; isFp32: boolean }) {
  const live = useResults((r) => r.live);
  const baselines = useResults((r) => r.baselines);
  const backend = useResults((r) => r.backend);
  // live.key = JSON.stringify([plan.sites, set, limit, backend]) of the newest request
  const mine = live.key.startsWith(`[${JSON.stringify(plan.sites)},`);
  const res = mine && !live.running ? live.result : null;
  if (!res)
    return (
      <div className="stage-live" data-testid="stage-live" data-ready="false">
        live subset: scoring…{mine && live.progress ? ` ${live.progress.done} / ${live.progress.total}` : ''}
      </div>
    );
  const base = baselines[`${res.set}:${res.count}:${backend?.kind}`];
  const acc: Proportion = wilson(res.correct, res.count);
  let delta: PairedDelta | null = null;
  if (!isFp32 && base?.predictions && res.predictions && res.labels && base.predictions.length === res.predictions.length)
    delta = pairedDelta(correctness(base.predictions, res.labels), correctness(res.predictions, res.labels));
  return (
    <div className="stage-live" data-testid="stage-live" data-ready="true">
      live subset, first {res.count} {res.set} images: {f1(acc.p)}% {ci(acc.lo, acc.hi)}
      {delta ? (
        <span className={`stage-live-d ${deltaClass(delta)}`}>
          {' '}
          · Δ {signed(delta.delta)} pp {ci(delta.lo, delta.hi)}
          {delta.withinNoise ? ' within noise' : ''}
        </span>
      ) : null}
    </div>
  );
}

/**
 * A pinned plan A beside the step: A's validation figure when the study scored it (unpaired: shown,
 * not subtracted), and Δ(step − A) paired on the live subset once both are scored on it.
 */
function PinnedLine({ plan }: { plan: Plan }) {
  const pinned = useStore((s) => s.pinned);
  const aLive = useCompare((c) => c.live);
  const live = useResults((r) => r.live);
  const aKey = useMemo(() => (pinned ? planKey(pinned) : ''), [pinned]);
  const aFig = useStageFigures((s) => (aKey ? s.byKey[aKey]?.figure : undefined));
  if (!pinned) return null;
  const mine = live.key.startsWith(`[${JSON.stringify(plan.sites)},`) && !live.running ? live.result : null;
  const pairing = pairResults(aLive.result, mine);
  return (
    <div className="stage-live stage-pinned" data-testid="stage-pinned">
      <span className="ab-tag ab-a">A</span> {planLabel(pinned)}
      {aFig ? ` · validation ${f1(aFig.acc.p)}% ${ci(aFig.acc.lo, aFig.acc.hi)}, n = ${aFig.acc.n}` : ''}
      {pairing.ok ? (
        <span className={`stage-live-d ${deltaClass(pairing.delta)}`} data-testid="stage-pinned-delta">
          {' '}
          · this step − A on the live subset: {signed(pairing.delta.delta)} pp {ci(pairing.delta.lo, pairing.delta.hi)} paired, n ={' '}
          {pairing.delta.n}
          {pairing.delta.withinNoise ? ', within noise' : ''}
        </span>
      ) : (
        <span className="muted"> · Δ vs A: {aLive.running || !mine ? 'scoring…' : pairing.reason}</span>
      )}
    </div>
  );
}

export function StageView() {
  const step = useStore((s) => Math.min(s.stageStep, STAGE_STEPS.length - 1));
  const setStep = useStore((s) => s.setStageStep);
  const applyPreset = useStore((s) => s.applyPreset);
  const setView = useStore((s) => s.setView);
  const presetContext = useStore((s) => s.presetContext);
  const backend = useResults((r) => r.backend);
  const currentModel = useResults((r) => r.current);
  const plans = useMemo(() => stepPlans(presetContext), [presetContext]);
  const keys = useMemo(() => plans.map(planKey), [plans]);
  const cur = STAGE_STEPS[step];
  const plan = plans[step];
  const fig = useStageFigures((s) => s.byKey[keys[step]]);
  const isFp32 = plan.sites.every((s) => s.a.bits === 32 && s.b.bits === 32);

  // entering stage mode (or a link to a step) shows that step's plan
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a change of step applies its preset; a plan edited at this step stays
  useEffect(() => {
    if (planKey(useStore.getState().plan) !== keys[step]) applyPreset(cur.preset);
  }, [step]);

  // every step's validation figure: from study.json or scored in the background while on stage
  // (again when the model changes: the old model's figures are dropped)
  // biome-ignore lint/correctness/useExhaustiveDependencies: currentModel is the trigger (figures of the old model were dropped), not an input
  useEffect(() => startStageFigures(plans, fp32Plan(), useStore.getState().stageStep), [plans, currentModel]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // one action per key: a key the focused control already handled (a site chip's arrows)
      // does not also change the step
      if (e.defaultPrevented) return;
      const t = e.target as HTMLElement | null;
      if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
      if (t?.closest?.('.site-chip')) return;
      const s = useStore.getState().stageStep;
      const last = STAGE_STEPS.length - 1;
      let next: number | null = null;
      if (e.key === 'ArrowRight' || e.key === 'PageDown' || (e.key === ' ' && !(t instanceof HTMLButtonElement)))
        next = Math.min(last, s + 1);
      else if (e.key === 'ArrowLeft' || e.key === 'PageUp') next = Math.max(0, s - 1);
      else if (e.key === 'Home') next = 0;
      else if (e.key === 'End') next = last;
      else if (e.key === 'f' || e.key === 'F') {
        if (document.fullscreenElement) void document.exitFullscreen();
        else void document.documentElement.requestFullscreen?.().catch(() => undefined);
      } else if (e.key === 'Escape' && !document.fullscreenElement) setView('accuracy');
      if (next !== null) {
        e.preventDefault();
        // step and plan in one task: one render, not one for the step and one for its plan
        setStep(next);
        useStore.getState().applyPreset(STAGE_STEPS[next].preset);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [setStep, setView]);

  return (
    <div className="stage" data-testid="stage" data-step={step}>
      <header className="stage-top">
        <div className="stage-step" data-testid="stage-step">
          {step + 1} / {STAGE_STEPS.length}
        </div>
        <div className="stage-dots">
          {STAGE_STEPS.map((s, i) => (
            <button
              key={s.title}
              type="button"
              className={i === step ? 'on' : ''}
              aria-label={`step ${i + 1}: ${s.title}`}
              aria-current={i === step ? 'step' : undefined}
              onClick={() => setStep(i)}
            />
          ))}
        </div>
        <button type="button" className="btn stage-exit" onClick={() => setView('accuracy')}>
          Exit stage (Esc)
        </button>
      </header>
      <div className="stage-body">
        <div className="stage-text">
          <h1 data-testid="stage-title">{cur.title}</h1>
          <p className="stage-caption">{cur.caption}</p>
          <Headline fig={fig?.figure ?? null} progress={fig?.progress ?? null} error={fig?.error ?? null} isFp32={isFp32} />
          {fig?.figure && (
            <div className="stage-source" data-testid="stage-source">
              {fig.figure.images} · {fig.figure.source === 'study.json' ? 'from the study (npm run study)' : 'scored on this page'}
            </div>
          )}
          {cur.qat && <QatRecorded row={cur.qat} />}
          <LiveLine plan={plan} isFp32={isFp32} />
          <PinnedLine plan={plan} />
          <div className="stage-foot">
            <span>{backend?.label}</span>
            <span className="stage-keys">← → step · Home / End · F fullscreen · Esc exit</span>
          </div>
        </div>
        <div className="stage-map">
          <ModelMap />
        </div>
      </div>
    </div>
  );
}
