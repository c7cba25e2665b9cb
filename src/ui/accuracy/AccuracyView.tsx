/**
 * Per-class accuracy (with intervals), confusion matrix, the images whose prediction the plan
 * flipped vs FP32 and — with a plan A pinned — the images on which A and B disagree.
 */
import { memo, useEffect, useMemo, useState } from 'react';
import { useStore } from '../../state/store';
import type { ScoreResult } from '../../plan/types';
import { useResults } from '../engine/results';
import { getImages } from '../engine/controller';
import { useClassNames } from '../engine/useSites';
import { ChartCard } from '../common/ChartCard';
import { PATH_LABEL, pct } from '../common/format';
import { Thumb } from './Thumb';
import { disagreements, pairResults, perClassIntervals } from '../compare/compareModel';
import { DeltaFigure } from '../compare/Figures';
import { useLiveTrio } from '../compare/usePairs';

type Series = { key: string; name: string; color: string; res: ScoreResult };

/**
 * Grouped bars with 95% error bars as a few SVG paths (one per series): the chart re-draws on every
 * score, and as chart-library elements it cost the main thread ~300 ms a time (issue 11, long tasks).
 */
const PerClassSvg = memo(
  function PerClassSvg({ names, series }: { names: string[]; series: Series[] }) {
    const ivs = series.map((s) => perClassIntervals(s.res));
    const W = 640;
    const H = 240;
    const pad = { l: 40, r: 8, t: 26, b: 44 };
    const y = (v: number) => pad.t + (1 - v) * (H - pad.t - pad.b);
    const gw = (W - pad.l - pad.r) / Math.max(1, names.length);
    const bw = (gw * 0.8) / Math.max(1, series.length);
    return (
      <svg className="bars-svg" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Per-class accuracy with 95% intervals">
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g key={v}>
            <line x1={pad.l} x2={W - pad.r} y1={y(v)} y2={y(v)} stroke="#e2e8f0" strokeDasharray="3 3" />
            <text x={pad.l - 4} y={y(v) + 3} fontSize={10} textAnchor="end" fill="#64748b">
              {100 * v}%
            </text>
          </g>
        ))}
        {series.map((s, k) => {
          let bars = '';
          let errs = '';
          ivs[k].forEach((p, i) => {
            const x = pad.l + i * gw + gw * 0.1 + k * bw;
            bars += `M${x.toFixed(1)} ${y(p.p).toFixed(1)}h${(bw - 1).toFixed(1)}V${y(0).toFixed(1)}h${(1 - bw).toFixed(1)}Z`;
            const cx = (x + (bw - 1) / 2).toFixed(1);
            errs += `M${cx} ${y(p.lo).toFixed(1)}V${y(p.hi).toFixed(1)}M${(+cx - 2).toFixed(1)} ${y(p.lo).toFixed(1)}h4M${(+cx - 2).toFixed(1)} ${y(p.hi).toFixed(1)}h4`;
          });
          return (
            <g key={s.key}>
              <path d={bars} fill={s.color}>
                <title>
                  {names
                    .map(
                      (n, i) =>
                        `${s.name} · ${n}: ${(100 * ivs[k][i].p).toFixed(0)}% [${(100 * ivs[k][i].lo).toFixed(0)}, ${(100 * ivs[k][i].hi).toFixed(0)}] · n = ${ivs[k][i].n}`,
                    )
                    .join('\n')}
                </title>
              </path>
              <path d={errs} stroke="#0f172a" strokeWidth={1} fill="none" />
              <rect x={pad.l + k * 120} y={4} width={10} height={10} fill={s.color} />
              <text x={pad.l + k * 120 + 14} y={13} fontSize={11} fill="#334155">
                {s.name}
              </text>
            </g>
          );
        })}
        {names.map((n, i) => (
          <text
            key={n}
            x={pad.l + (i + 0.5) * gw}
            y={H - pad.b + 14}
            fontSize={11}
            textAnchor="end"
            fill="#334155"
            transform={`rotate(-30 ${pad.l + (i + 0.5) * gw} ${H - pad.b + 14})`}
          >
            {n}
          </text>
        ))}
      </svg>
    );
  },
  (a, b) =>
    a.names === b.names &&
    a.series.length === b.series.length &&
    a.series.every((s, i) => s.res === b.series[i].res && s.name === b.series[i].name && s.color === b.series[i].color),
);

/** Per-class accuracy of FP32, A (when pinned) and B, each bar with its 95% Wilson interval. */
function PerClass({ series }: { series: Series[] }) {
  const names = useClassNames();
  const ivs = useMemo(() => series.map((s) => perClassIntervals(s.res)), [series]);
  const nPerClass = ivs[ivs.length - 1].map((p) => p.n);
  const csv = () =>
    names.map((n, i) =>
      Object.fromEntries([
        ['class', n],
        ...series.flatMap((s, k) => [
          [`${s.name} %`, (100 * ivs[k][i].p).toFixed(2)],
          [`${s.name} lo`, (100 * ivs[k][i].lo).toFixed(2)],
          [`${s.name} hi`, (100 * ivs[k][i].hi).toFixed(2)],
          [`${s.name} n`, ivs[k][i].n],
        ]),
      ]),
    );
  return (
    <ChartCard
      title="Per-class accuracy"
      subtitle={`${series.map((s) => s.name).join(' · ')} on the live subset, n = ${series[series.length - 1].res.count} (${Math.min(...nPerClass)}–${Math.max(...nPerClass)} per class) · bars: 95% Wilson intervals`}
      csv={csv}
      file="per-class-accuracy"
    >
      <div data-testid="per-class">
        <PerClassSvg names={names} series={series} />
      </div>
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
                  <span
                    key={j}
                    role="cell"
                    className="cm-cell"
                    style={{ background: bg, color: a > 0.6 ? '#fff' : undefined }}
                    title={`${names[i]} → ${names[j]}: ${v}`}
                  >
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

/**
 * The images on which two plans predict different classes (FP32 vs the plan, or A vs B), with
 * both predictions. The counts add up: Δ = (images only `after` gets right − images only
 * `before` gets right) / n, the paired estimate shown with its interval.
 */
function PredictionDiffs({
  before,
  after,
  beforeName,
  afterName,
  title,
  testid,
  file,
}: {
  before?: ScoreResult | null;
  after: ScoreResult;
  beforeName: string;
  afterName: string;
  title: string;
  testid: string;
  file: string;
}) {
  const names = useClassNames();
  const evalSet = useStore((s) => s.evalSet);
  const inspect = (i: number) => {
    useStore.getState().setImage(i);
    useStore.getState().setView('outliers');
  };
  const pairing = useMemo(() => pairResults(before, after), [before, after]);
  const diffs = useMemo(() => (pairing.ok && before ? disagreements(before, after) : []), [pairing, before, after]);
  const shown = useMemo(() => diffs.slice(0, 48), [diffs]);
  const [pix, setPix] = useState<Record<number, Uint8Array>>({});
  useEffect(() => {
    let live = true;
    if (!shown.length) return;
    getImages(
      evalSet,
      shown.map((f) => f.index),
    )
      .then((imgs) => live && setPix(Object.fromEntries(shown.map((f, k) => [f.index, imgs[k].pixels]))))
      .catch(() => undefined); // thumbnails are decoration: the list stands without them
    return () => {
      live = false;
    };
  }, [shown, evalSet]);
  const afterRight = diffs.filter((f) => f.b === f.label).length;
  const beforeRight = diffs.filter((f) => f.a === f.label).length;
  return (
    <ChartCard
      title={title}
      subtitle={
        pairing.ok ? (
          <>
            {diffs.length} of {after.count} images change class (live subset, n = {after.count}) ·{' '}
            <span className="pos">
              {afterRight} right only with {afterName}
            </span>{' '}
            ·{' '}
            <span className="neg">
              {beforeRight} right only with {beforeName}
            </span>{' '}
            · {diffs.length - afterRight - beforeRight} wrong with both · Δ({afterName} − {beforeName}) ={' '}
            <DeltaFigure pairing={pairing} testid={`${testid}-delta`} />
          </>
        ) : (
          `waiting for ${beforeName} on the same images (${pairing.reason})`
        )
      }
      csv={() => diffs.map((f) => ({ image: f.index, label: names[f.label], [beforeName]: names[f.a], [afterName]: names[f.b] }))}
      file={file}
    >
      {!pairing.ok ? null : diffs.length === 0 ? (
        <div className="empty">No prediction differs on this subset{after.count < 100 ? ' — try a larger live subset' : ''}.</div>
      ) : (
        <div className="flip-grid" data-testid={testid}>
          {shown.map((f) => (
            <figure
              key={f.index}
              className={`flip ${f.b === f.label ? 'fixed' : f.a === f.label ? 'broken' : ''}`}
              role="button"
              tabIndex={0}
              title="Show this image's statistics for the selected site (Outliers)"
              onClick={() => inspect(f.index)}
              onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && inspect(f.index)}
            >
              <Thumb pixels={pix[f.index]} label={`image ${f.index}`} />
              <figcaption>
                <span className="flip-idx">
                  #{f.index} · {names[f.label] ?? '?'}
                </span>
                <span className="flip-fp">
                  {beforeName}: {names[f.a]}
                </span>
                <span className="flip-q">
                  {afterName}: {names[f.b]}
                </span>
              </figcaption>
            </figure>
          ))}
          {diffs.length > shown.length && <div className="empty">+{diffs.length - shown.length} more (CSV has all)</div>}
        </div>
      )}
    </ChartCard>
  );
}

function RunPaths({ res }: { res: ScoreResult }) {
  const counts = new Map<string, number>();
  res.sites.forEach((s) => counts.set(s.path, (counts.get(s.path) ?? 0) + 1));
  return (
    <div className="run-paths" role="group" aria-label="Paths that ran">
      ran on <strong>{res.backend.label}</strong>:{' '}
      {[...counts].map(([p, n]) => (
        <span key={p} className={`path-badge p-${p}`}>
          {n}× {PATH_LABEL[p as keyof typeof PATH_LABEL] ?? p}
        </span>
      ))}
      <StepPlacement res={res} />
    </div>
  );
}

/** Where the forward's steps ran (decided before running): all on one backend, and the steps the primary declined. */
function StepPlacement({ res }: { res: ScoreResult }) {
  const steps = res.steps ?? [];
  if (!steps.length) return null;
  const declined = steps.filter((s) => s.unsupported);
  const on = [...new Set(steps.map((s) => s.on))].join(', ');
  return (
    <span
      className="muted"
      data-testid="step-placement"
      title={declined
        .map((s) => `step ${s.step} (${s.kind}${s.site !== undefined ? `, site ${s.site}` : ''}): ${s.unsupported}`)
        .join('\n')}
    >
      {' '}
      · {steps.length} steps on {on}
      {declined.length ? ` (${declined.length} declined by the first choice, so all moved)` : ''}
    </span>
  );
}

export function AccuracyView() {
  const { b: res, fp32: base, a } = useLiveTrio();
  const pinned = useStore((s) => s.pinned);
  const status = useResults((r) => r.status);
  const modelMetrics = useResults((r) => r.model?.metrics);
  const current = useResults((r) => r.current);
  if (!res)
    return (
      <div className="empty big">
        {status.state === 'error'
          ? 'No results: the engine is not running (see above).'
          : status.state === 'loading'
            ? status.message
            : 'Scoring the live subset…'}
      </div>
    );
  const series: Series[] = [];
  if (base) series.push({ key: 'fp32', name: 'FP32', color: '#94a3b8', res: base });
  if (pinned && a && pairResults(a, res).ok) series.push({ key: 'a', name: 'A', color: '#0e7490', res: a });
  series.push({ key: 'b', name: pinned ? 'B' : 'plan', color: '#4f46e5', res });
  return (
    <div className="view-grid">
      <div className="span-2">
        <RunPaths res={res} />
        {modelMetrics?.test && (
          <div className="muted small-note">
            PyTorch at export{current.kind !== 'shipped' ? ' (the shipped weights, not the applied QAT-trained ones)' : ''}:{' '}
            {pct(modelMetrics.test.accuracy, 2)} on {modelMetrics.test.count} test images
            {modelMetrics.epochs ? ` after ${modelMetrics.epochs} epochs` : ''}.
          </div>
        )}
      </div>
      <PerClass series={series} />
      <Confusion res={res} />
      {pinned && (
        <div className="span-2">
          <PredictionDiffs
            before={a}
            after={res}
            beforeName="A"
            afterName="B"
            title="Images on which A and B disagree"
            testid="ab-disagree"
            file="a-vs-b-disagreements"
          />
        </div>
      )}
      <div className="span-2">
        <PredictionDiffs
          before={base}
          after={res}
          beforeName="FP32"
          afterName="plan"
          title="Flipped predictions vs FP32"
          testid="flip-grid"
          file="flipped-predictions"
        />
      </div>
    </div>
  );
}
