/** Study view: sensitivity bars, greedy curve, accuracy vs bit-ops — live or from study.json. */
import { useEffect, useState } from 'react';
import { Area, Bar, BarChart, CartesianGrid, Cell, ComposedChart, ErrorBar, Legend, Line, ReferenceLine, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis, ZAxis } from 'recharts';
import { useStore } from '../../state/store';
import type { EvalSetName } from '../../engine/types';
import { useResults } from '../engine/results';
import { useSites } from '../engine/useSites';
import { ChartCard } from '../common/ChartCard';
import { fmtNum } from '../common/format';
import { wilson } from '../../quant/intervals';
import { cancelStudy, runLiveStudy, useStudy, type StudyData } from './studyRunner';
import { fetchStudy, type StudyModel } from './studyFile';
import { StudyFileView } from './StudyFileView';

const KIND_COLORS: Record<string, string> = { patch_embed: '#0ea5e9', to_qkv: '#6366f1', qk: '#a855f7', av: '#d946ef', to_out: '#f43f5e', fc1: '#f59e0b', fc2: '#10b981', head: '#0f172a' };

function Charts({ d }: { d: StudyData }) {
  const sites = useSites();
  const select = useStore((s) => s.selectSite);
  const sens = d.sensitivity.map((r) => ({
    ...r,
    label: String(r.site),
    kind: sites[r.site]?.kind ?? 'fc1',
    delta: +r.delta_pp.toFixed(2),
    err: r.delta_lo_pp !== undefined ? [+(r.delta_pp - r.delta_lo_pp).toFixed(2), +(r.delta_hi_pp! - r.delta_pp).toFixed(2)] : undefined,
  }));
  const paired = sens.some((r) => r.err);
  // live rows keep accuracies only: Wilson intervals from the counts; no paired Δ interval
  // (that needs per-image predictions — study.json has them), so the noise floor is stated
  const ci = (acc: number): [number, number] => {
    const w = wilson(Math.round((acc / 100) * d.images), d.images);
    return [+(100 * w.lo).toFixed(2), +(100 * w.hi).toFixed(2)];
  };
  const greedy = d.greedy.map((g) => ({ ...g, accuracy: +g.accuracy.toFixed(2), ci: ci(g.accuracy) }));
  const groups = ['greedy', 'preset'] as const;
  return (
    <>
      {sens.length > 0 && <ChartCard
        className="span-2"
        title="Single-site INT4 sensitivity"
        subtitle={
          paired
            ? `one site INT4, the rest FP32 · paired Δ vs FP32 ${fmtNum(d.fp32, 4)}% on the same n = ${d.images} images, 95% exact McNemar intervals; grey = within noise · click a bar to select the site`
            : `one site INT4, the rest FP32 · Δ vs FP32 ${fmtNum(d.fp32, 4)}% on the same n = ${d.images} images · no interval (this run kept no per-image predictions): 1 image = ${(100 / Math.max(1, d.images)).toFixed(1)} pp · click a bar to select the site`
        }
        csv={() => d.sensitivity as unknown as Record<string, unknown>[]}
        file="sensitivity"
      >
        {sens.length ? (
          <ResponsiveContainer width="100%" height={240}>
            <BarChart data={sens} margin={{ top: 8, right: 8, bottom: 18, left: 0 }} onClick={(e) => e?.activeLabel !== undefined && select(Number(e.activeLabel))}>
              <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
              <XAxis dataKey="label" tick={{ fontSize: 10 }} interval={0} label={{ value: 'site', position: 'insideBottom', offset: -8, fontSize: 11 }} />
              <YAxis tick={{ fontSize: 11 }} unit=" pp" width={56} domain={[(m: number) => Math.min(0, Math.floor(m)), (M: number) => Math.max(0, Math.ceil(M))]} />
              <Tooltip formatter={(v) => `${v} pp`} labelFormatter={(l) => `site ${l} · ${sites[Number(l)]?.name ?? ''}`} />
              <ReferenceLine y={0} stroke="#334155" />
              <Bar dataKey="delta" isAnimationActive={false} name="Δ accuracy">
                {sens.map((r) => (
                  <Cell key={r.site} fill={r.within_noise ? '#cbd5e1' : KIND_COLORS[r.kind]} cursor="pointer" />
                ))}
                {paired && <ErrorBar dataKey="err" width={3} strokeWidth={1} stroke="#0f172a" direction="y" />}
              </Bar>
            </BarChart>
          </ResponsiveContainer>
        ) : (
          <div className="empty">no sensitivity rows</div>
        )}
        <div className="legend small">
          {Object.entries(KIND_COLORS).map(([k, c]) => (
            <span key={k} className="legend-item">
              <span className="swatch" style={{ background: c }} />
              {k}
            </span>
          ))}
        </div>
      </ChartCard>}
      {greedy.length > 0 && <ChartCard title="Greedy curve" subtitle={
            d.greedyOffset
              ? `sites enabled in order of single-site accuracy — order chosen on images 0–${d.greedyOffset - 1}, curve scored on the next n = ${d.images} images (held out from the choice; the FP32 line is of the scan's images) · band: 95% Wilson interval`
              : `sites enabled in order of single-site accuracy, chosen and scored on the same n = ${d.images} images (use study.json for held-out selection) · band: 95% Wilson interval`
          } csv={() => d.greedy} file="greedy">
        <ResponsiveContainer width="100%" height={240}>
          <ComposedChart data={greedy} margin={{ top: 8, right: 12, bottom: 18, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
            <XAxis dataKey="k" tick={{ fontSize: 11 }} label={{ value: 'INT4 sites', position: 'insideBottom', offset: -8, fontSize: 11 }} />
            <YAxis tick={{ fontSize: 11 }} unit="%" width={48} domain={['auto', 'auto']} />
            <Tooltip formatter={(v) => (Array.isArray(v) ? `[${v[0]}, ${v[1]}]%` : `${v}%`)} labelFormatter={(k) => `${k} sites (+ site ${greedy[Number(k) - 1]?.site}) · n = ${d.images}`} />
            {Number.isFinite(d.fp32) && <ReferenceLine y={+d.fp32.toFixed(2)} stroke="#94a3b8" strokeDasharray="4 3" label={{ value: 'FP32', fontSize: 10, position: 'insideTopRight' }} />}
            <Area dataKey="ci" stroke="none" fill="#fde68a" fillOpacity={0.7} isAnimationActive={false} name="95% CI" />
            <Line dataKey="accuracy" stroke="#e8a317" strokeWidth={2} dot={{ r: 2 }} isAnimationActive={false} />
          </ComposedChart>
        </ResponsiveContainer>
      </ChartCard>}
      <ChartCard className={greedy.length ? '' : 'span-2'} title="Accuracy vs bit-ops" subtitle="bit-ops = Σ MACs·bitsA·bitsB, relative to FP32 (log scale)" csv={() => d.pareto as unknown as Record<string, unknown>[]} file="pareto">
        <ResponsiveContainer width="100%" height={240}>
          <ScatterChart margin={{ top: 8, right: 12, bottom: 18, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
            <XAxis dataKey="bitops" type="number" scale="log" domain={['auto', 1.2]} allowDataOverflow tick={{ fontSize: 11 }} tickFormatter={(v) => `${Number((v * 100).toPrecision(2))}%`} label={{ value: 'bit-ops vs FP32', position: 'insideBottom', offset: -8, fontSize: 11 }} />
            <YAxis dataKey="accuracy" type="number" tick={{ fontSize: 11 }} unit="%" width={48} domain={['auto', 'auto']} />
            <ZAxis range={[36, 36]} />
            <Tooltip formatter={(v, n) => (n === 'bitops' ? `${(Number(v) * 100).toFixed(2)}%` : `${Number(v).toFixed(2)}%`)} labelFormatter={() => ''} content={({ payload }) => {
              const p = payload?.[0]?.payload as { label: string; accuracy: number; bitops: number; avgBits: number } | undefined;
              return p ? (
                <div className="tooltip">
                  <strong>{p.label}</strong>
                  <div>{p.accuracy.toFixed(2)}% [{ci(p.accuracy).join(', ')}] · n = {d.images} · bit-ops {(p.bitops * 100).toFixed(1)}% · mean {p.avgBits.toFixed(1)} bits</div>
                </div>
              ) : null;
            }} />
            <Legend verticalAlign="top" height={24} wrapperStyle={{ fontSize: 12 }} />
            {groups.map((g) => (
              // no point labels: with the greedy points they pile up; the tooltip names each point
              <Scatter key={g} name={g} data={d.pareto.filter((p) => p.kind === g)} fill={g === 'greedy' ? '#e8a317' : '#4f46e5'} isAnimationActive={false} />
            ))}
          </ScatterChart>
        </ResponsiveContainer>
      </ChartCard>
    </>
  );
}

export function StudyView() {
  const st = useStudy();
  const sites = useSites();
  const ready = useResults((r) => r.status.state === 'ready');
  const evalSet = useStore((s) => s.evalSet);
  const presetContext = useStore((s) => s.presetContext);
  const [images, setImages] = useState(50);
  const [set, setSet] = useState<EvalSetName>(evalSet);
  const [parts, setParts] = useState({ sens: true, greedy: true, presets: true });
  const [file, setFile] = useState<{ model: StudyModel } | { error: string } | null>(null);
  useEffect(() => {
    let live = true;
    void fetchStudy().then((f) => {
      if (!live) return;
      setFile(f);
      if (f && 'model' in f && !useStudy.getState().live) useStudy.setState({ show: 'file' });
    });
    return () => {
      live = false;
    };
  }, []);
  const fileModel = file && 'model' in file ? file.model : null;
  const rows = 1 + (parts.sens || parts.greedy ? 38 : 0) + (parts.greedy ? 38 : 0) + (parts.presets ? 7 : 0);
  const d = st.show === 'file' ? null : st.live;
  return (
    <div className="view-grid">
      <section className="card span-2">
        <div className="toolbar">
          <label className="inline-field">
            <span>images / row</span>
            <select value={images} onChange={(e) => setImages(Number(e.target.value))} aria-label="Study images per row">
              {[8, 25, 50, 100, 250, 1000].map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label className="inline-field">
            <span>set</span>
            <select value={set} onChange={(e) => setSet(e.target.value as EvalSetName)} aria-label="Study eval set">
              <option value="test">test</option>
              <option value="val">val</option>
            </select>
          </label>
          {(['sens', 'greedy', 'presets'] as const).map((k) => (
            <label key={k} className="check">
              <input type="checkbox" checked={parts[k]} onChange={(e) => setParts({ ...parts, [k]: e.target.checked })} />
              {k === 'sens' ? 'sensitivity' : k}
            </label>
          ))}
          <button type="button" className="btn" disabled={!ready || st.running} onClick={() => void runLiveStudy({ set, images, sites, presetContext, parts })} data-testid="run-study">
            Run live study ({rows} rows)
          </button>
          {st.running && (
            <button type="button" className="btn ghost" onClick={cancelStudy}>
              Cancel
            </button>
          )}
          <div className="seg" role="radiogroup" aria-label="Study source">
            <button type="button" role="radio" aria-checked={st.show === 'live'} className={`seg-btn ${st.show === 'live' ? 'on dark' : ''}`} onClick={() => useStudy.setState({ show: 'live' })}>
              live
            </button>
            <button type="button" role="radio" aria-checked={st.show === 'file'} disabled={!fileModel} className={`seg-btn ${st.show === 'file' ? 'on dark' : ''}`} onClick={() => useStudy.setState({ show: 'file' })} title={fileModel ? fileModel.source : 'no /models/vit-cifar10/study.json (run npm run study)'}>
              study.json
            </button>
          </div>
        </div>
        {st.progress && (
          <div className="progress">
            <div className="progress-track" role="progressbar" aria-valuemin={0} aria-valuemax={st.progress.total} aria-valuenow={st.progress.done}>
              <div className="progress-fill" style={{ width: `${((100 * st.progress.done) / st.progress.total).toFixed(1)}%` }} />
            </div>
            <span className="progress-text">
              {st.progress.phase} · {st.progress.done}/{st.progress.total}
            </span>
          </div>
        )}
        {st.error && <div className="inline-error">{st.error}</div>}
        {file && 'error' in file && <div className="inline-error">{file.error}</div>}
        <div className="muted small-note">
          {st.show === 'file' && fileModel ? `Showing ${fileModel.source} (${fileModel.format === 'v2' ? 'held-out selection' : 'old format'}).` : d ? `Showing ${d.source} — live rows carry no intervals: at n = ${d.images} one image is ${(100 / Math.max(1, d.images)).toFixed(1)} pp.` : 'Nothing yet.'} Live rows use the first N images of the set; dynamic ranges cover one image (science.md §7). The CLI (`npm run study`)
          reproduces the same rows on the full sets.
        </div>
      </section>
      {st.show === 'file' && fileModel ? <StudyFileView model={fileModel} /> : d ? <Charts d={d} /> : <div className="empty big span-2">Run the live study, or run `npm run study` (a full scan writes public/models/vit-cifar10/study.json).</div>}
    </div>
  );
}
