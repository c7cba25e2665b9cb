/**
 * Stage mode: ← / → step through the narrated presets, F toggles fullscreen, Esc leaves.
 * Large type, high contrast; the model map and live accuracy stay on screen.
 */
import { useEffect } from 'react';
import { useStore } from '../../state/store';
import { STAGE_STEPS } from '../../state/stage';
import { presetById } from '../../state/presets';
import { useResults } from '../engine/results';
import { ModelMap } from '../modelmap/ModelMap';
import { pct, pp } from '../common/format';

export function StageView() {
  const step = useStore((s) => Math.min(s.stageStep, STAGE_STEPS.length - 1));
  const setStep = useStore((s) => s.setStageStep);
  const applyPreset = useStore((s) => s.applyPreset);
  const setView = useStore((s) => s.setView);
  const planName = useStore((s) => s.plan.name);
  const live = useResults((r) => r.live);
  const backend = useResults((r) => r.backend);
  const evalSet = useStore((s) => s.evalSet);
  const base = useResults((r) => (live.result ? r.baselines[`${evalSet}:${live.result.count}:${r.backend?.kind}`] : undefined));
  const cur = STAGE_STEPS[step];

  // entering stage mode (or a link to a step) shows that step's plan
  useEffect(() => {
    const p = presetById(cur.preset);
    const st = useStore.getState();
    if (p && p.build(st.presetContext).name !== planName) applyPreset(cur.preset);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [step]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
      const s = useStore.getState().stageStep;
      if (e.key === 'ArrowRight' || e.key === 'PageDown' || e.key === ' ') {
        e.preventDefault();
        setStep(Math.min(STAGE_STEPS.length - 1, s + 1));
      } else if (e.key === 'ArrowLeft' || e.key === 'PageUp') {
        e.preventDefault();
        setStep(Math.max(0, s - 1));
      } else if (e.key === 'f' || e.key === 'F') {
        if (document.fullscreenElement) void document.exitFullscreen();
        else void document.documentElement.requestFullscreen?.().catch(() => undefined);
      } else if (e.key === 'Escape' && !document.fullscreenElement) {
        setView('accuracy');
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [setStep, setView]);

  const res = live.result;
  const delta = res && base ? res.accuracy - base.accuracy : null;
  return (
    <div className="stage" data-testid="stage">
      <header className="stage-top">
        <div className="stage-step" data-testid="stage-step">
          {step + 1} / {STAGE_STEPS.length}
        </div>
        <div className="stage-dots" aria-hidden="true">
          {STAGE_STEPS.map((s, i) => (
            <span key={s.title} className={i === step ? 'on' : ''} />
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
          <div className="stage-metrics">
            <div>
              <div className="stage-k">accuracy</div>
              <div className={`stage-v ${live.running ? 'stale' : ''}`} data-testid="stage-accuracy">
                {res ? pct(res.accuracy, 1) : '…'}
              </div>
            </div>
            <div>
              <div className="stage-k">vs FP32</div>
              <div className={`stage-v ${delta !== null && delta < -0.005 ? 'neg' : delta !== null && delta > 0.005 ? 'pos' : ''}`}>{live.isFp32 ? '—' : pp(delta, 1)}</div>
            </div>
          </div>
          {live.running && live.progress && (
            <div className="stage-progress">
              <div style={{ width: `${((100 * live.progress.done) / Math.max(1, live.progress.total)).toFixed(0)}%` }} />
            </div>
          )}
          <div className="stage-foot">
            {res ? `${res.count} ${res.set} images · ${backend?.label ?? ''}` : backend?.label}
            <span className="stage-keys">← → step · F fullscreen · Esc exit</span>
          </div>
        </div>
        <div className="stage-map">
          <ModelMap />
        </div>
      </div>
    </div>
  );
}
