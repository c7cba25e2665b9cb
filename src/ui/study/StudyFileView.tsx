/**
 * study.json in the Study view: every row with its accuracy and 95% interval on the chosen cell
 * (val-report by default, or test), its paired Δ vs FP32 with interval (neutral when within
 * noise), jitter bands on chaotic rows, the single-site scan on both validation halves with
 * the Spearman ρ between them, the greedy curve reported on val-report with the order chosen on
 * val-sel, the INT4 share and accuracy vs bit-ops. Any row with a plan can be pinned as A. The live
 * study of the page (studyRunner.ts, the same study on a smaller split) is shown by this view too.
 */
import { useMemo, useState } from 'react';
import {
  Area,
  Bar,
  BarChart,
  CartesianGrid,
  ComposedChart,
  ErrorBar,
  Legend,
  Line,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
  ZAxis,
} from 'recharts';
import type { Plan } from '../../plan/plan';
import { planCost } from './studyRunner';
import { PlanError, validatePlan } from '../../plan/plan';
import { useStore } from '../../state/store';
import { ChartCard } from '../common/ChartCard';
import { deltaText, deltaTone } from '../compare/compareModel';
import { useSites } from '../engine/useSites';
import { shortLabel, type StudyCell, type StudyModel, type StudyRowModel } from './studyFile';

const pc = (x: number, d = 1) => (100 * x).toFixed(d);

function niceRange(lo: number, hi: number, step: number): [number, number] {
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

/** An interval on a track scaled to [min, max] (percent positions: no text in the drawing). */
function Track({
  lo,
  hi,
  v,
  min,
  max,
  tone,
  band,
  zero,
  testid,
}: {
  lo: number;
  hi: number;
  v: number;
  min: number;
  max: number;
  tone?: string;
  band?: [number, number];
  zero?: boolean;
  testid?: string;
}) {
  const X = (x: number) => `${(100 * Math.min(1, Math.max(0, (x - min) / (max - min || 1)))).toFixed(2)}%`;
  const W = (a: number, b: number) => `${(100 * Math.max(0, (Math.min(max, b) - Math.max(min, a)) / (max - min || 1))).toFixed(2)}%`;
  return (
    <div className={`forest-track ${tone ? `t-${tone}` : ''}`} data-testid={testid}>
      {zero && min < 0 && max > 0 && <span className="forest-zero" style={{ left: X(0) }} />}
      {band && (
        <span
          className="forest-band"
          style={{ left: X(band[0]), width: W(band[0], band[1]) }}
          title={`jitter band ${pc(band[0])}–${pc(band[1])}%`}
        />
      )}
      <span className="forest-ci" style={{ left: X(lo), width: W(lo, hi) }} />
      <span className="forest-dot" style={{ left: X(v) }} />
    </div>
  );
}

function PinButton({ row }: { row: StudyRowModel }) {
  const pin = useStore((s) => s.pin);
  const pinned = useStore((s) => s.pinned);
  const [err, setErr] = useState<string | null>(null);
  if (!row.plan)
    return (
      <span className="muted small" title="this study.json row carries no plan">
        —
      </span>
    );
  const isPinned = pinned && JSON.stringify(pinned.sites) === JSON.stringify((row.plan as { sites?: unknown }).sites);
  return (
    <span>
      <button
        type="button"
        className="btn ghost small"
        data-testid={`pin-row-${row.key}`}
        aria-pressed={!!isPinned}
        title={err ?? `Pin “${row.label}” as plan A`}
        onClick={() => {
          try {
            const plan = validatePlan(row.plan);
            pin({ ...plan, name: plan.name ?? row.label });
            setErr(null);
          } catch (e) {
            setErr(`this row's plan is not valid: ${e instanceof PlanError ? e.message : String(e)}`);
          }
        }}
      >
        {isPinned ? 'A ✓' : 'Pin A'}
      </button>
      {err && (
        <span className="inline-error" role="alert">
          {err}
        </span>
      )}
    </span>
  );
}

function Forest({ model, cell }: { model: StudyModel; cell: string }) {
  const rows = model.rows.filter((r) => r.cells[cell]);
  const accs = rows.flatMap((r) => {
    const c = r.cells[cell];
    return [c.acc.lo, c.acc.hi, ...(c.band ? [c.band.min_pct / 100, c.band.max_pct / 100] : [])];
  });
  const [amin, amax] = niceRange(Math.min(...accs), Math.max(...accs), 0.05);
  const ds = rows.flatMap((r) => (r.cells[cell].delta ? [r.cells[cell].delta!.lo, r.cells[cell].delta!.hi] : []));
  const dAbs = Math.max(0.01, ...ds.map(Math.abs));
  const [dmin, dmax] = niceRange(-dAbs, dAbs, dAbs > 0.1 ? 0.1 : 0.01);
  const n = rows[0]?.cells[cell].n;
  return (
    <ChartCard
      className="span-2"
      title={`All ${rows.length} study rows · ${cell}`}
      subtitle={
        <>
          accuracy with 95% Wilson interval (track {pc(amin, 0)}–{pc(amax, 0)}%; yellow: jitter band of chaotic rows) · Δ vs FP32 paired on
          the same {n} images, exact McNemar interval (track {pc(dmin, 0)} to +{pc(dmax, 0)} pp) · grey: within noise
        </>
      }
      csv={() =>
        rows.map((r) => {
          const c = r.cells[cell];
          return {
            key: r.key,
            label: r.label,
            cell,
            n: c.n,
            correct: c.correct,
            accuracy_pct: pc(c.acc.p, 2),
            lo_pct: pc(c.acc.lo, 2),
            hi_pct: pc(c.acc.hi, 2),
            delta_pp: c.delta ? pc(c.delta.delta, 2) : '',
            delta_lo_pp: c.delta ? pc(c.delta.lo, 2) : '',
            delta_hi_pp: c.delta ? pc(c.delta.hi, 2) : '',
            within_noise: c.delta?.withinNoise ?? '',
            chaotic: r.chaotic,
          };
        })
      }
      file={`study-rows-${cell}`}
    >
      <div className="forest" data-testid="study-forest">
        <div className="forest-head">
          <span>row</span>
          <span>accuracy [95% CI]</span>
          <span className="forest-acc-track" />
          <span>Δ vs FP32 [95% CI]</span>
          <span />
          <span>A</span>
        </div>
        {rows.map((r) => {
          const c: StudyCell = r.cells[cell];
          const tone = c.delta ? deltaTone(c.delta) : undefined;
          return (
            <div className="forest-row" key={r.key} data-testid={`study-row-${r.key}`}>
              <span
                className="forest-label"
                title={`${r.label}${r.group ? ` · ${r.group}` : ''}${r.chaotic ? ' · chaotic: all sites INT4 or below per-tensor, see the jitter band' : ''}${r.notes.length ? `\n${r.notes.join('\n')}` : ''}`}
              >
                {shortLabel(r.label, 34)}
                {r.chaotic && <span className="muted"> ⚡</span>}
              </span>
              <span className="acc-fig">
                {pc(c.acc.p)}%{' '}
                <span className="acc-ci">
                  [{pc(c.acc.lo)}, {pc(c.acc.hi)}]
                </span>
                {c.band && (
                  <span
                    className="band-note"
                    title={`accuracy over the unjittered run and ${c.band.seeds} runs with inputs jittered by ${c.band.jitter}: a chaotic plan's figure moves this much on float rounding alone`}
                  >
                    jitter {c.band.min_pct.toFixed(1)}–{c.band.max_pct.toFixed(1)}%
                  </span>
                )}
              </span>
              <span className="forest-acc-track">
                <Track
                  lo={c.acc.lo}
                  hi={c.acc.hi}
                  v={c.acc.p}
                  min={amin}
                  max={amax}
                  band={c.band ? [c.band.min_pct / 100, c.band.max_pct / 100] : undefined}
                />
              </span>
              <span
                className={`forest-d delta-fig ${tone ? `delta-${tone}` : 'delta-none'}`}
                data-tone={tone}
                title={
                  c.delta
                    ? `${c.delta.aOnly} images only FP32 gets right, ${c.delta.bOnly} only this row; p = ${c.delta.p.toPrecision(2)}`
                    : 'no paired Δ in this file'
                }
              >
                <span className="nowrap">
                  {r.key === 'fp32' ? 'baseline' : c.delta ? deltaText(c.delta).replace(', within noise', '') : '—'}
                </span>
                {c.delta?.withinNoise && r.key !== 'fp32' && <span className="noise-tag"> within noise</span>}
              </span>
              {c.delta && r.key !== 'fp32' ? (
                <Track lo={c.delta.lo} hi={c.delta.hi} v={c.delta.delta} min={dmin} max={dmax} tone={tone} zero />
              ) : (
                <span />
              )}
              <PinButton row={r} />
            </div>
          );
        })}
      </div>
      {rows.some((r) => r.cells[cell].delta?.withinNoise && r.key !== 'fp32') && (
        <div className="muted small-note">“within noise”: the Δ's 95% interval holds 0 — drawn grey, neither a gain nor a loss.</div>
      )}
    </ChartCard>
  );
}

function Scan({ model }: { model: StudyModel }) {
  const sites = useSites();
  const select = useStore((s) => s.selectSite);
  const scan = model.scan!;
  const halves = model.format === 'v2' ? ['val-sel', 'val-report'].filter((c) => scan.sites[0]?.cells[c]) : model.cellNames;
  const useDelta = model.format === 'v2';
  const data = scan.sites.map((s) => {
    const row: Record<string, unknown> = { site: String(s.site), name: s.name || sites[s.site]?.name };
    for (const h of halves) {
      const c = s.cells[h];
      if (!c) continue;
      const v = useDelta && c.delta ? c.delta : null;
      const val = v ? v.delta : c.acc.p;
      const lo = v ? v.lo : c.acc.lo;
      const hi = v ? v.hi : c.acc.hi;
      row[h] = +(100 * val).toFixed(2);
      row[`${h}Err`] = [+(100 * (val - lo)).toFixed(2), +(100 * (hi - val)).toFixed(2)];
      row[`${h}Txt`] = v ? deltaText(v) : `${pc(c.acc.p)}% [${pc(c.acc.lo)}, ${pc(c.acc.hi)}]`;
    }
    return row;
  });
  const rho = scan.selVsReport;
  const colors = ['#94a3b8', '#4f46e5', '#0e7490'];
  return (
    <ChartCard
      className="span-2"
      title={useDelta ? 'Single-site INT4 scan: Δ vs FP32 on both validation halves' : 'Single-site INT4 scan'}
      subtitle={
        useDelta ? (
          <>
            one site INT4, the rest FP32 · ranked on val-sel, checked on val-report · bars: paired 95% intervals ·{' '}
            <strong data-testid="scan-rho">
              {rho
                ? `Spearman ρ(val-sel, val-report) = ${rho.rho.toFixed(2)} [${rho.lo.toFixed(2)}, ${rho.hi.toFixed(2)}], n = ${rho.n} sites`
                : 'no rank correlation in the file'}
            </strong>
            {rho && (rho.lo <= 0 ? ' — the interval holds 0: the ranking is not distinguishable from noise' : ' — the ranking replicates')}
            {scan.selVsTest &&
              ` · ρ(val-sel, test) = ${scan.selVsTest.rho.toFixed(2)} [${scan.selVsTest.lo.toFixed(2)}, ${scan.selVsTest.hi.toFixed(2)}]`}{' '}
            · click a bar to select the site
          </>
        ) : (
          `accuracy with one site INT4 on ${model.cellNames[0]} (old study.json: no halves, no paired Δ)`
        )
      }
      csv={() => data.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.endsWith('Err'))))}
      file="single-site-scan"
    >
      <ResponsiveContainer width="100%" height={250}>
        <BarChart
          data={data}
          margin={{ top: 8, right: 8, bottom: 18, left: 0 }}
          barCategoryGap="12%"
          onClick={(e) => e?.activeLabel !== undefined && select(Number(e.activeLabel))}
        >
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
          <XAxis
            dataKey="site"
            tick={{ fontSize: 10 }}
            interval={0}
            label={{ value: 'site', position: 'insideBottom', offset: -8, fontSize: 11 }}
          />
          <YAxis
            tick={{ fontSize: 11 }}
            unit={useDelta ? ' pp' : '%'}
            width={56}
            domain={useDelta ? [(m: number) => Math.min(0, Math.floor(m)), (M: number) => Math.max(0, Math.ceil(M))] : ['auto', 'auto']}
          />
          <Tooltip
            content={({ payload, label }) =>
              payload?.length ? (
                <div className="tooltip">
                  <strong>
                    site {String(label)} · {String((payload[0].payload as Record<string, unknown>).name ?? '')}
                  </strong>
                  {halves.map((h) => (
                    <div key={h}>
                      {h}: {String((payload[0].payload as Record<string, unknown>)[`${h}Txt`] ?? '—')}
                    </div>
                  ))}
                </div>
              ) : null
            }
          />
          <Legend verticalAlign="top" height={22} wrapperStyle={{ fontSize: 12 }} />
          {useDelta && <ReferenceLine y={0} stroke="#334155" />}
          {halves.map((h, i) => (
            <Bar key={h} dataKey={h} name={h} fill={colors[i % colors.length]} isAnimationActive={false} cursor="pointer">
              <ErrorBar dataKey={`${h}Err`} width={2} strokeWidth={1} stroke="#0f172a" direction="y" />
            </Bar>
          ))}
        </BarChart>
      </ResponsiveContainer>
    </ChartCard>
  );
}

function Greedy({ model }: { model: StudyModel }) {
  const g = model.greedy!;
  const cell = g.curve['val-report'] ? 'val-report' : Object.keys(g.curve)[0];
  const fp = model.rows.find((r) => r.key === 'fp32')?.cells[cell];
  const data = g.curve[cell].map((c, i) => ({
    k: i + 1,
    site: g.order[i],
    acc: +(100 * c.acc.p).toFixed(2),
    ci: [+(100 * c.acc.lo).toFixed(2), +(100 * c.acc.hi).toFixed(2)] as [number, number],
    n: c.n,
  }));
  return (
    <ChartCard
      className="span-2"
      title="Greedy curve"
      subtitle={
        model.format !== 'v2'
          ? `order and accuracy on the same ${cell} images (old study.json)`
          : cell === 'val-sel'
            ? `on val-sel (n = ${data[0]?.n}), the images the order was chosen on: a selection curve, not a result — the budgets chosen from it are reported on held-out images in the INT4 share table · band: 95% Wilson interval`
            : `order chosen on val-sel, reported on ${cell} (n = ${data[0]?.n}) · band: 95% Wilson interval`
      }
      csv={() => data.map(({ ci, ...d }) => ({ ...d, lo: ci[0], hi: ci[1] }))}
      file="greedy-curve"
    >
      <ResponsiveContainer width="100%" height={240}>
        <ComposedChart data={data} margin={{ top: 8, right: 12, bottom: 18, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="k" tick={{ fontSize: 11 }} label={{ value: 'INT4 sites', position: 'insideBottom', offset: -8, fontSize: 11 }} />
          <YAxis tick={{ fontSize: 11 }} unit="%" width={48} domain={['auto', 'auto']} />
          <Tooltip
            formatter={(v) => (Array.isArray(v) ? `[${v[0]}, ${v[1]}]%` : `${v}%`)}
            labelFormatter={(k) => `${k} sites (+ site ${data[Number(k) - 1]?.site})`}
          />
          <Area dataKey="ci" stroke="none" fill="#fde68a" fillOpacity={0.7} isAnimationActive={false} name="95% CI" />
          {fp && (
            <ReferenceLine
              y={+(100 * fp.acc.p).toFixed(2)}
              stroke="#94a3b8"
              strokeDasharray="4 3"
              label={{ value: 'FP32', fontSize: 10, position: 'insideTopRight' }}
            />
          )}
          <Line dataKey="acc" stroke="#e8a317" strokeWidth={2} dot={{ r: 2 }} isAnimationActive={false} name={cell} />
        </ComposedChart>
      </ResponsiveContainer>
    </ChartCard>
  );
}

/** Accuracy (shown cell) against bit-ops Σ MACs·bitsA·bitsB relative to FP32, one point per row with a plan. */
function BitOps({ model, cell }: { model: StudyModel; cell: string }) {
  const sites = useSites();
  const data = useMemo(
    () =>
      model.rows.flatMap((r) => {
        const c = r.cells[cell];
        if (!c || !r.plan || !sites.length) return [];
        let cost: { bitops: number; avgBits: number };
        try {
          cost = planCost(validatePlan(r.plan as Plan), sites);
        } catch {
          return []; // a row whose plan this build cannot read has no bit-ops
        }
        return [
          {
            label: r.label,
            bitops: cost.bitops,
            avgBits: cost.avgBits,
            acc: +(100 * c.acc.p).toFixed(2),
            err: [+(100 * (c.acc.p - c.acc.lo)).toFixed(2), +(100 * (c.acc.hi - c.acc.p)).toFixed(2)],
            n: c.n,
          },
        ];
      }),
    [model, cell, sites],
  );
  if (!data.length) return null;
  return (
    <ChartCard
      className="span-2"
      title={`Accuracy vs bit-ops · ${cell}`}
      subtitle="bit-ops = Σ MACs·bitsA·bitsB relative to FP32 (log scale) · bars: 95% Wilson interval"
      csv={() => data.map(({ err, ...d }) => d)}
      file={`bitops-${cell}`}
    >
      <div data-testid="study-bitops">
        <ResponsiveContainer width="100%" height={240}>
          <ScatterChart margin={{ top: 8, right: 12, bottom: 18, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
            <XAxis
              dataKey="bitops"
              type="number"
              scale="log"
              domain={['auto', 1.2]}
              allowDataOverflow
              tick={{ fontSize: 11 }}
              tickFormatter={(v) => `${Number((v * 100).toPrecision(2))}%`}
              label={{ value: 'bit-ops vs FP32', position: 'insideBottom', offset: -8, fontSize: 11 }}
            />
            <YAxis dataKey="acc" type="number" tick={{ fontSize: 11 }} unit="%" width={48} domain={['auto', 'auto']} />
            <ZAxis range={[36, 36]} />
            <Tooltip
              content={({ payload }) => {
                const p = payload?.[0]?.payload as (typeof data)[number] | undefined;
                return p ? (
                  <div className="tooltip">
                    <strong>{p.label}</strong>
                    <div>
                      {p.acc.toFixed(2)}% [{(p.acc - p.err[0]).toFixed(1)}, {(p.acc + p.err[1]).toFixed(1)}] · n = {p.n} · bit-ops{' '}
                      {(p.bitops * 100).toFixed(1)}% · mean {p.avgBits.toFixed(1)} bits
                    </div>
                  </div>
                ) : null;
              }}
            />
            <Scatter data={data} fill="#4f46e5" isAnimationActive={false}>
              <ErrorBar dataKey="err" width={3} strokeWidth={1} stroke="#0f172a" direction="y" />
            </Scatter>
          </ScatterChart>
        </ResponsiveContainer>
      </div>
    </ChartCard>
  );
}

function Int4Share({ model, cell }: { model: StudyModel; cell: string }) {
  return (
    <ChartCard
      className="span-2"
      title="INT4 share"
      subtitle={`how many sites can be INT4 within a loss budget: chosen on val-sel, reported on ${cell}`}
    >
      <table className="table" data-testid="int4-share">
        <thead>
          <tr>
            <th>budget</th>
            <th>sites</th>
            <th>MACs</th>
            <th>accuracy [95% CI]</th>
            <th>Δ vs FP32</th>
          </tr>
        </thead>
        <tbody>
          {model.int4Share.map((s) => {
            const c = s.cells[cell];
            return (
              <tr key={s.threshold}>
                <td title={`chosen on ${s.chosenOn}`}>{s.threshold}</td>
                <td>
                  {s.k} ({pc(s.shareSites, 0)}%)
                </td>
                <td>{pc(s.shareMacs, 0)}%</td>
                <td className="acc-fig">{c ? `${pc(c.acc.p)}% [${pc(c.acc.lo)}, ${pc(c.acc.hi)}]` : '—'}</td>
                <td className={`delta-fig ${c?.delta ? `delta-${deltaTone(c.delta)}` : ''}`}>{c?.delta ? deltaText(c.delta) : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </ChartCard>
  );
}

export function StudyFileView({ model }: { model: StudyModel }) {
  const [cell, setCell] = useState(model.defaultCell);
  const shown = model.cellNames.includes(cell) ? cell : model.defaultCell;
  const info = useMemo(
    () => [model.command && `\`${model.command}\``, model.date && model.date.slice(0, 10)].filter(Boolean).join(' · '),
    [model],
  );
  return (
    <>
      <div className="span-2 toolbar">
        <div className="seg" role="radiogroup" aria-label="Study cell">
          {model.cellNames.map((c) => (
            <button
              key={c}
              type="button"
              role="radio"
              aria-checked={shown === c}
              className={`seg-btn ${shown === c ? 'on dark' : ''}`}
              onClick={() => setCell(c)}
            >
              {c}
            </button>
          ))}
        </div>
        <span className="muted small">{info}</span>
      </div>
      {model.notes.map((n) => (
        <div key={n} className="span-2 banner warn small-note">
          {n}
        </div>
      ))}
      <Forest model={model} cell={shown} />
      {model.scan && model.scan.sites.length > 0 && <Scan model={model} />}
      {model.greedy && Object.keys(model.greedy.curve).length > 0 && <Greedy model={model} />}
      {model.int4Share.length > 0 && <Int4Share model={model} cell={shown === 'val-sel' ? 'val-report' : shown} />}
      <BitOps model={model} cell={shown} />
    </>
  );
}
