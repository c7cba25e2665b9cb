/** Per-class accuracy, confusion matrix and the images whose prediction the plan flipped. */
import { useEffect, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useStore } from '../../state/store';
import type { ScoreResult } from '../../engine/types';
import { useResults } from '../engine/results';
import { getImages } from '../engine/controller';
import { useClassNames } from '../engine/useSites';
import { ChartCard } from '../common/ChartCard';
import { PATH_LABEL, pct } from '../common/format';
import { Thumb } from './Thumb';

function useLivePair(): { res: ScoreResult | null; base: ScoreResult | undefined } {
  const res = useResults((r) => r.live.result);
  const backend = useResults((r) => r.backend?.kind);
  const evalSet = useStore((s) => s.evalSet);
  const base = useResults((r) => (res ? r.baselines[`${evalSet}:${res.count}:${backend}`] : undefined));
  return { res, base };
}

function PerClass({ res, base }: { res: ScoreResult; base?: ScoreResult }) {
  const names = useClassNames();
  const data = names.map((n, i) => ({ class: n, fp32: base ? +(base.perClassAccuracy[i] * 100).toFixed(2) : null, plan: +(res.perClassAccuracy[i] * 100).toFixed(2) }));
  return (
    <ChartCard title="Per-class accuracy" subtitle="FP32 vs this plan, live subset" csv={() => data} file="per-class-accuracy">
      <ResponsiveContainer width="100%" height={240}>
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 28, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
          <XAxis dataKey="class" angle={-30} textAnchor="end" interval={0} tick={{ fontSize: 11 }} />
          <YAxis domain={[0, 100]} tick={{ fontSize: 11 }} unit="%" width={44} />
          <Tooltip formatter={(v) => `${v}%`} />
          <Legend verticalAlign="top" height={24} wrapperStyle={{ fontSize: 12 }} />
          <Bar dataKey="fp32" name="FP32" fill="#94a3b8" radius={[3, 3, 0, 0]} isAnimationActive={false} />
          <Bar dataKey="plan" name="plan" fill="#4f46e5" radius={[3, 3, 0, 0]} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </ChartCard>
  );
}

const SHORT_CLASS: Record<string, string> = { airplane: 'plane', automobile: 'car' };

function Confusion({ res }: { res: ScoreResult }) {
  const names = useClassNames();
  const max = Math.max(1, ...res.confusion.flatMap((r, i) => r.filter((_, j) => j !== i)));
  const rows = res.confusion.map((r, i) => Object.fromEntries([['true', names[i]], ...r.map((v, j) => [names[j], v])]));
  return (
    <ChartCard title="Confusion matrix" subtitle="rows: true class · columns: predicted" csv={() => rows} file="confusion-matrix">
      <div className="confusion" role="table" aria-label="Confusion matrix">
        <div className="cm-row cm-head" role="row">
          <span className="cm-corner" />
          {names.map((n) => (
            <span key={n} className="cm-col" role="columnheader" title={n}>
              {SHORT_CLASS[n] ?? n.slice(0, 5)}
            </span>
          ))}
        </div>
        {res.confusion.map((r, i) => {
          const tot = r.reduce((a, b) => a + b, 0) || 1;
          return (
            <div className="cm-row" role="row" key={i}>
              <span className="cm-rowhead" role="rowheader">
                {names[i]}
              </span>
              {r.map((v, j) => {
                const diag = i === j;
                const a = diag ? v / tot : v / max;
                const bg = diag ? `rgba(34,160,107,${0.1 + 0.8 * a})` : v ? `rgba(217,69,59,${0.08 + 0.72 * a})` : 'transparent';
                return (
                  <span key={j} role="cell" className="cm-cell" style={{ background: bg, color: a > 0.6 ? '#fff' : undefined }} title={`${names[i]} → ${names[j]}: ${v}`}>
                    {v || ''}
                  </span>
                );
              })}
            </div>
          );
        })}
      </div>
    </ChartCard>
  );
}

function Flips({ res, base }: { res: ScoreResult; base?: ScoreResult }) {
  const names = useClassNames();
  const evalSet = useStore((s) => s.evalSet);
  const inspect = (i: number) => {
    useStore.getState().setImage(i);
    useStore.getState().setView('outliers');
  };
  const flips = useMemo(() => {
    if (!base?.predictions || !res.predictions) return [];
    const out: { index: number; fp: number; q: number; label: number }[] = [];
    for (let i = 0; i < res.predictions.length; i++) if (res.predictions[i] !== base.predictions[i]) out.push({ index: i, fp: base.predictions[i], q: res.predictions[i], label: (res.labels ?? base.labels ?? [])[i] ?? -1 });
    return out;
  }, [res, base]);
  const shown = flips.slice(0, 48);
  const [pix, setPix] = useState<Record<number, Uint8Array>>({});
  useEffect(() => {
    let live = true;
    if (!shown.length) return;
    getImages(evalSet, shown.map((f) => f.index))
      .then((imgs) => live && setPix(Object.fromEntries(shown.map((f, k) => [f.index, imgs[k].pixels]))))
      .catch(() => undefined);
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [flips, evalSet]);
  const fixed = flips.filter((f) => f.q === f.label).length;
  const broken = flips.filter((f) => f.fp === f.label).length;
  return (
    <ChartCard
      title="Flipped predictions"
      subtitle={
        base ? (
          <>
            {flips.length} of {res.count} images change class · <span className="pos">{fixed} fixed</span> · <span className="neg">{broken} broken</span>
          </>
        ) : (
          'waiting for the FP32 baseline'
        )
      }
      csv={() => flips.map((f) => ({ image: f.index, label: names[f.label], fp32: names[f.fp], quantized: names[f.q] }))}
      file="flipped-predictions"
    >
      {flips.length === 0 ? (
        <div className="empty">No prediction changed on this subset{res.count < 100 ? ' — try a larger live subset' : ''}.</div>
      ) : (
        <div className="flip-grid" data-testid="flip-grid">
          {shown.map((f) => (
            <figure
              key={f.index}
              className={`flip ${f.q === f.label ? 'fixed' : f.fp === f.label ? 'broken' : ''}`}
              role="button"
              tabIndex={0}
              title="Show this image's statistics for the selected site (Outliers)"
              onClick={() => inspect(f.index)}
              onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && inspect(f.index)}
            >
              <Thumb pixels={pix[f.index]} label={`image ${f.index}`} />
              <figcaption>
                <span className="flip-idx">#{f.index} · {names[f.label] ?? '?'}</span>
                <span className="flip-fp">FP32: {names[f.fp]}</span>
                <span className="flip-q">quant: {names[f.q]}</span>
              </figcaption>
            </figure>
          ))}
          {flips.length > shown.length && <div className="empty">+{flips.length - shown.length} more (CSV has all)</div>}
        </div>
      )}
    </ChartCard>
  );
}

function RunPaths({ res }: { res: ScoreResult }) {
  const counts = new Map<string, number>();
  res.sites.forEach((s) => counts.set(s.path, (counts.get(s.path) ?? 0) + 1));
  return (
    <div className="run-paths" aria-label="Paths that ran">
      ran on <strong>{res.backend.label}</strong>:{' '}
      {[...counts].map(([p, n]) => (
        <span key={p} className={`path-badge p-${p}`}>
          {n}× {PATH_LABEL[p as keyof typeof PATH_LABEL] ?? p}
        </span>
      ))}
    </div>
  );
}

export function AccuracyView() {
  const { res, base } = useLivePair();
  const status = useResults((r) => r.status);
  const modelMetrics = useResults((r) => r.model?.metrics);
  if (!res)
    return (
      <div className="empty big">
        {status.state === 'error' ? 'No results: the engine is not running (see above).' : status.state === 'loading' ? status.message : 'Scoring the live subset…'}
      </div>
    );
  return (
    <div className="view-grid">
      <div className="span-2">
        <RunPaths res={res} />
        {modelMetrics?.test && (
          <div className="muted small-note">
            PyTorch at export: {pct(modelMetrics.test.accuracy, 2)} on {modelMetrics.test.count} test images{modelMetrics.epochs ? ` after ${modelMetrics.epochs} epochs` : ''}.
          </div>
        )}
      </div>
      <PerClass res={res} base={base} />
      <Confusion res={res} />
      <div className="span-2">
        <Flips res={res} base={base} />
      </div>
    </div>
  );
}
