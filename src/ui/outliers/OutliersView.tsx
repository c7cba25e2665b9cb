/**
 * Outliers of the selected site's operand on one image: log histogram with σ multiples and the
 * 6σ band, the plan's grid and a draggable clip range (MSE / SQNR computed here on the stats
 * sample), per-channel absmax, per-token ranges, and per-tensor vs per-token error.
 */
import { memo, useDeferredValue, useEffect, useMemo, useState } from 'react';
import { useStore } from '../../state/store';
import type { Bits } from '../../quant/scaleZero';
import { intRange, scaleZero } from '../../quant/scaleZero';
import type { Histogram as Hist, OperandStats, SiteStats } from '../../plan/types';
import type { OperandScheme } from '../../plan/plan';
import { useResults } from '../engine/results';
import { useClassNames, useSites } from '../engine/useSites';
import { getImages } from '../engine/controller';
import { Thumb } from '../accuracy/Thumb';
import { ChartCard } from '../common/ChartCard';
import { fmtNum, operandLabel, PATH_LABEL, pct } from '../common/format';
import { Histogram } from './Histogram';
import { BarsSvg } from './BarsSvg';
import { clipError, clipSweepChunked, type SweepPoint } from './clip';
import { usePinnedGrid } from '../compare/pinnedGrid';
import { FormatGridPanel, RotationPanel } from './FormatPanels';

function ImageThumb({ index }: { index: number }) {
  const evalSet = useStore((s) => s.evalSet);
  const ready = useResults((r) => r.status.state === 'ready');
  const names = useClassNames();
  const [img, setImg] = useState<{ pixels: Uint8Array; label: number } | null>(null);
  useEffect(() => {
    let live = true;
    if (ready)
      getImages(evalSet, [index]).then(
        (r) => live && setImg(r[0]),
        () => live && setImg(null),
      );
    return () => {
      live = false;
    };
  }, [evalSet, index, ready]);
  if (!img) return null;
  return (
    <span className="picker-thumb">
      <Thumb pixels={img.pixels} size={32} label={`image ${index}`} />
      {names[img.label]}
    </span>
  );
}

export function OperandPicker() {
  const operand = useStore((s) => s.operand);
  const setOperand = useStore((s) => s.setOperand);
  const image = useStore((s) => s.image);
  const setImage = useStore((s) => s.setImage);
  const sites = useSites();
  const site = sites[useStore((s) => s.selectedSite)];
  const bName = site.hasWeight ? 'weights' : site.kind === 'qk' ? 'k' : 'v';
  const aName = site.kind === 'av' ? 'attention' : site.kind === 'qk' ? 'q' : 'activations';
  return (
    <div className="toolbar">
      <div className="seg" role="radiogroup" aria-label="Operand">
        <button
          type="button"
          role="radio"
          aria-checked={operand === 'a'}
          className={`seg-btn ${operand === 'a' ? 'on dark' : ''}`}
          onClick={() => setOperand('a')}
        >
          A · {aName}
        </button>
        <button
          type="button"
          role="radio"
          aria-checked={operand === 'b'}
          className={`seg-btn ${operand === 'b' ? 'on dark' : ''}`}
          onClick={() => setOperand('b')}
        >
          B · {bName}
        </button>
      </div>
      <label className="inline-field">
        <span>image #</span>
        <input
          type="number"
          min={0}
          value={image}
          onChange={(e) => setImage(Number(e.target.value) || 0)}
          aria-label="Image index"
          style={{ width: 80 }}
        />
      </label>
      <ImageThumb index={image} />
      <span className="muted">
        site {site.index} · {site.name}
      </span>
    </div>
  );
}

function defaultClip(o: OperandStats, symmetric: boolean): [number, number] {
  if (symmetric) return [-o.absmax, o.absmax];
  return [Math.min(0, o.min), Math.max(0, o.max)];
}

/**
 * The clip sweep's line (SQNR vs clip fraction) as one SVG polyline, memoized: dragging the clip
 * range does not re-draw it, and a chart-library line chart re-drawn per update was a long task.
 */
const SweepChart = memo(function SweepChart({ sweep, bestFraction }: { sweep: SweepPoint[]; bestFraction: number }) {
  const W = 520;
  const H = 170;
  const pad = { l: 46, r: 10, t: 10, b: 30 };
  const ys = sweep.map((p) => p.sqnrDb);
  const y0 = Math.floor(Math.min(...ys) / 10) * 10;
  const y1 = Math.ceil(Math.max(...ys) / 10) * 10 || 10;
  const X = (f: number) => pad.l + f * (W - pad.l - pad.r);
  const Y = (v: number) => pad.t + (1 - (v - y0) / (y1 - y0 || 1)) * (H - pad.t - pad.b);
  const yTicks = Array.from({ length: 5 }, (_, i) => y0 + ((y1 - y0) * i) / 4);
  return (
    <svg className="bars-svg" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="SQNR vs clip range" data-testid="sweep-chart">
      {yTicks.map((v) => (
        <g key={v}>
          <line x1={pad.l} x2={W - pad.r} y1={Y(v)} y2={Y(v)} stroke="#e2e8f0" strokeDasharray="3 3" />
          <text x={pad.l - 4} y={Y(v) + 3} fontSize={10} textAnchor="end" fill="#64748b">
            {Math.round(v)} dB
          </text>
        </g>
      ))}
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <text key={f} x={X(f)} y={H - pad.b + 14} fontSize={10} textAnchor="middle" fill="#64748b">
          {Math.round(f * 100)}%
        </text>
      ))}
      <text x={(W + pad.l) / 2} y={H - 3} fontSize={10} textAnchor="middle" fill="#64748b">
        clip / full range
      </text>
      <line x1={X(bestFraction)} x2={X(bestFraction)} y1={pad.t} y2={H - pad.b} stroke="#22a06b" strokeDasharray="4 3" />
      <text x={X(bestFraction) - 3} y={pad.t + 10} fontSize={10} textAnchor="end" fill="#15803d">
        best MSE
      </text>
      <polyline
        points={sweep.map((p) => `${X(p.fraction).toFixed(1)},${Y(p.sqnrDb).toFixed(1)}`).join(' ')}
        fill="none"
        stroke="#4f46e5"
        strokeWidth={2}
      />
    </svg>
  );
});

// The charts are memoized and fed deferred props (OutliersView): a progress tick or the
// 'loading' flag does not re-render them, and new statistics render in an interruptible
// transition, so the page never stalls for the seconds hundreds of SVG bars take to build.
const ClipPanel = memo(function ClipPanel({
  o,
  bits,
  symmetric,
  siteKey,
}: {
  o: OperandStats;
  bits: Bits;
  symmetric: boolean;
  siteKey: string;
}) {
  // the user's clip belongs to these statistics; new statistics start from min/max in the same
  // render (an effect resetting it would draw everything twice per update)
  const initial = useMemo(() => defaultClip(o, symmetric), [o, symmetric]);
  const [userClip, setUserClip] = useState<{ o: OperandStats; symmetric: boolean; siteKey: string; clip: [number, number] } | null>(null);
  const clip = userClip && userClip.o === o && userClip.symmetric === symmetric && userClip.siteKey === siteKey ? userClip.clip : initial;
  const setClip = (c: [number, number]) => setUserClip({ o, symmetric, siteKey, clip: c });
  const gridA = usePinnedGrid(o);
  const res = useMemo(() => clipError(o.sample, clip[0], clip[1], bits, symmetric), [o.sample, clip, bits, symmetric]);
  const full = useMemo(() => clipError(o.sample, initial[0], initial[1], bits, symmetric), [o, initial, bits, symmetric]);
  // the sweep is computed a slice at a time (clipSweepChunked): no main-thread stall per update
  const [sweepState, setSweep] = useState<{ data: SweepPoint[] } | null>(null);
  useEffect(() => clipSweepChunked(o.sample, o.min, o.max, bits, symmetric, (data) => setSweep({ data })), [o, bits, symmetric]);
  // the previous sweep stays drawn for the few milliseconds the new one takes (re-mounting the
  // chart would cost more than it saves)
  const sweep = sweepState?.data ?? null;
  const best = sweep ? sweep.reduce((a, b) => (b.mse < a.mse ? b : a), sweep[sweep.length - 1]) : null;
  const grid = { scale: res.scale, zero: res.zero, qmin: res.qmin, qmax: res.qmax };
  return (
    <>
      <ChartCard
        title={`Histogram · ${o.role === 'a' ? 'A' : 'B'} (${o.rows}×${o.cols})`}
        subtitle={
          <>
            σ = {fmtNum(o.std, 3)}, mean {fmtNum(o.mean, 3)} · max |x−μ| = <strong>{o.maxSigma.toFixed(1)}σ</strong> · beyond 6σ:{' '}
            <strong data-testid="beyond6">{pct(o.beyond6Sigma, 3)}</strong> · grid INT{bits} {symmetric ? 'sym' : 'asym'}
          </>
        }
        csv={() =>
          o.histogram.counts.map((c, i) => ({
            lo: o.histogram.lo + ((o.histogram.hi - o.histogram.lo) * i) / o.histogram.counts.length,
            count: c,
          }))
        }
        file={`histogram-${siteKey}`}
        className="span-2 hist-card"
      >
        <Histogram
          hist={o.histogram}
          mean={o.mean}
          std={o.std}
          grid={grid}
          clip={clip}
          onClip={setClip}
          title="activation histogram"
          gridA={gridA}
        />
        {gridA && (
          <div className="muted small-note" data-testid="grid-a-legend">
            <span className="ab-tag ab-a">A</span> teal lines: {gridA.label} · <span className="ab-tag ab-b">B</span> dashed: this plan's
            grid (with the clip range)
          </div>
        )}
        <div className="clip-controls">
          <label className="field">
            <span className="field-label">clip min {fmtNum(clip[0], 3)}</span>
            <input
              type="range"
              min={Math.min(o.min, 0)}
              max={0}
              step={(Math.abs(o.min) || 1) / 200}
              value={clip[0]}
              onChange={(e) => setClip([Number(e.target.value), clip[1]])}
              aria-label="Clip minimum"
            />
          </label>
          <label className="field">
            <span className="field-label">clip max {fmtNum(clip[1], 3)}</span>
            <input
              type="range"
              min={0}
              max={Math.max(o.max, 0)}
              step={(Math.abs(o.max) || 1) / 200}
              value={clip[1]}
              onChange={(e) => setClip([clip[0], Number(e.target.value)])}
              aria-label="Clip maximum"
            />
          </label>
          <div className="clip-stats" data-testid="clip-stats">
            <div>
              <span className="k">s</span> {fmtNum(res.scale, 4)} <span className="k">z</span> {res.zero}
            </div>
            <div>
              <span className="k">MSE</span> {fmtNum(res.mse, 3)} <span className="muted">(min/max {fmtNum(full.mse, 3)})</span>
            </div>
            <div>
              <span className="k">SQNR</span> <strong>{Number.isFinite(res.sqnrDb) ? `${res.sqnrDb.toFixed(1)} dB` : '∞'}</strong>{' '}
              <span className="muted">(min/max {Number.isFinite(full.sqnrDb) ? full.sqnrDb.toFixed(1) : '∞'} dB)</span>
            </div>
            <div>
              <span className="k">clipped</span> {pct(res.clipped, 2)} of {o.sample.length} sampled values
            </div>
            <button type="button" className="btn small" disabled={!best} onClick={() => best && setClip([best.lo, best.hi])}>
              {best ? `best clip by MSE (${(best.fraction * 100).toFixed(0)}%)` : 'best clip by MSE (computing…)'}
            </button>
            <button type="button" className="btn ghost small" onClick={() => setClip(defaultClip(o, symmetric))}>
              reset to min/max
            </button>
          </div>
        </div>
      </ChartCard>
      <ChartCard
        title="SQNR vs clip range"
        subtitle={`INT${bits} on the ${o.sample.length}-value sample; range scaled from min/max`}
        csv={() => (sweep ?? []).map((p) => ({ ...p }))}
        file={`clip-sweep-${siteKey}`}
      >
        {sweep && best ? <SweepChart sweep={sweep} bestFraction={best.fraction} /> : <div className="empty">computing the sweep…</div>}
      </ChartCard>
    </>
  );
});

const PerChannel = memo(function PerChannel({ o, siteKey }: { o: OperandStats; siteKey: string }) {
  const [sorted, setSorted] = useState(false);
  const data = useMemo(() => {
    const d = o.colAbsMax.map((v, c) => ({ channel: c, absmax: v }));
    return sorted
      ? d
          .slice()
          .sort((a, b) => b.absmax - a.absmax)
          .map((x, i) => ({ ...x, rank: i }))
      : d;
  }, [o, sorted]);
  const thr = o.mean + 6 * o.std;
  return (
    <ChartCard
      title="Per-channel absmax"
      subtitle={`${o.cols} ${o.role === 'a' ? 'input channels (columns of X)' : 'columns of B'} · red: beyond μ+6σ`}
      csv={() => data}
      file={`channel-absmax-${siteKey}`}
      actions={
        <label className="check small">
          <input type="checkbox" checked={sorted} onChange={(e) => setSorted(e.target.checked)} /> sorted
        </label>
      }
    >
      <BarsSvg
        title={`absmax per ${sorted ? 'rank' : 'channel'}`}
        data={data.map((d) => ({ lo: 0, hi: d.absmax, color: d.absmax > thr ? '#d9453b' : '#64748b' }))}
        domain={[0, Math.max(thr * 1.05, ...o.colAbsMax, 1e-12)]}
        lines={[{ y: thr, color: '#d9453b', label: 'μ+6σ' }]}
        xLabel={sorted ? 'rank' : 'channel'}
      />
    </ChartCard>
  );
});

const PerToken = memo(function PerToken({
  o,
  bits,
  symmetric,
  siteKey,
}: {
  o: OperandStats;
  bits: Bits;
  symmetric: boolean;
  siteKey: string;
}) {
  const rowName = o.role === 'a' ? 'token' : 'row';
  const { qmin, qmax } = intRange(bits, symmetric);
  // Error of the same tensor at two granularities: measured by the engine on this very operand
  // (granularityError) when it used these bits; else the uniform-noise model MSE ≈ s²/12
  const ge =
    o.granularityError && o.granularityError.bits === bits && o.granularityError.symmetric === symmetric ? o.granularityError : undefined;
  const measured = ge !== undefined;
  const tensorScale = scaleZero(o.min, o.max, bits, symmetric).scale;
  const perTensor = ge ? ge.perTensorMse : (tensorScale * tensorScale) / 12;
  const data = o.rowMin.map((lo, r) => {
    const hi = o.rowMax[r];
    const s = scaleZero(lo, hi, bits, symmetric).scale;
    return {
      [rowName]: r,
      range: [lo, hi] as [number, number],
      min: lo,
      max: hi,
      perTensor,
      perToken: ge ? ge.perRowMse[r] : (s * s) / 12,
    };
  });
  const meanTok = data.reduce((a, d) => a + d.perToken, 0) / Math.max(1, data.length);
  const tokMse = data.map((d) => d.perToken).filter((x) => x > 0);
  const yDomain: [number, number] = [Math.max(1e-30, Math.min(perTensor, ...tokMse) * 0.7), Math.max(perTensor, ...tokMse) * 1.5];
  const spans = data.map((d) => d.max - d.min);
  const spread = Math.max(...spans) / Math.max(1e-12, Math.min(...spans.filter((x) => x > 0)));
  return (
    <>
      <ChartCard
        title={`Per-${rowName} range`}
        subtitle={`min..max of each of ${o.rows} ${rowName}s · widest/narrowest span ${Number.isFinite(spread) ? spread.toFixed(1) : '—'}×`}
        csv={() => data.map(({ range: _r, ...d }) => d)}
        file={`per-${rowName}-range-${siteKey}`}
      >
        <BarsSvg
          title={`min..max per ${rowName}`}
          data={data.map((d) => ({ lo: d.min, hi: d.max, color: '#0ea5e9' }))}
          domain={[Math.min(0, ...data.map((d) => d.min)), Math.max(0, ...data.map((d) => d.max))]}
          lines={[{ y: 0, color: '#334155' }]}
          xLabel={rowName}
        />
      </ChartCard>
      <ChartCard
        title={`Per-tensor vs per-${rowName} error`}
        subtitle={
          <>
            INT{bits} {symmetric ? 'sym' : 'asym'} [{qmin}, {qmax}] ·{' '}
            {measured ? `measured MSE (SQNR ${ge!.perTensorSqnrDb.toFixed(1)} vs ${ge!.perRowSqnrDb.toFixed(1)} dB)` : 'model MSE ≈ s²/12'}:
            per-tensor <strong>{fmtNum(perTensor, 3)}</strong> vs per-{rowName} mean <strong>{fmtNum(meanTok, 3)}</strong> (
            {(perTensor / Math.max(1e-30, meanTok)).toFixed(1)}× lower)
          </>
        }
        csv={() => data.map(({ range: _r, ...d }) => d)}
        file={`granularity-error-${siteKey}`}
      >
        <BarsSvg
          title={`per-${rowName} MSE (log) vs the per-tensor MSE`}
          data={data.map((d) => ({ lo: yDomain[0], hi: Math.max(yDomain[0], d.perToken), color: '#22a06b' }))}
          domain={yDomain}
          log
          lines={[{ y: perTensor, color: '#b42318', label: 'per-tensor' }]}
          xLabel={rowName}
        />
      </ChartCard>
    </>
  );
});

/**
 * Number formats and the rotation at this site: open when the plan uses a format or the rotation
 * here, else one line that opens it. Closed, nothing of it renders — an INT plan's Outliers view
 * stays one screen tall at 1440×900 and its re-renders stay short while scoring.
 */
function FormatsSection({
  d,
  operand,
  op,
  hist,
  planned,
}: {
  d: SiteStats;
  operand: 'a' | 'b';
  op: OperandScheme;
  hist: Hist;
  planned: boolean;
}) {
  const [open, setOpen] = useState(planned);
  if (!open)
    return (
      <div className="span-2 formats-closed">
        <button type="button" className="btn ghost small" onClick={() => setOpen(true)} data-testid="open-formats">
          Show this operand in FP8 / MX / NVFP4{operand === 'b' ? ' / NF4' : ''}
          {d.formats?.rotation && operand === 'a' ? ', and before / after the Hadamard rotation' : ''}
        </button>
      </div>
    );
  return (
    <>
      <FormatGridPanel d={d} operand={operand} op={op} hist={hist} />
      {d.formats?.rotation && operand === 'a' && <RotationPanel d={d} />}
    </>
  );
}

export function OutliersView() {
  const stats = useResults((r) => r.stats);
  const status = useResults((r) => r.status);
  const operand = useStore((s) => s.operand);
  const siteIdx = useStore((s) => s.selectedSite);
  const scheme = useStore((s) => s.plan.sites[s.selectedSite]);
  const d = stats.data;
  const o = d ? (operand === 'a' ? d.a : d.b) : null;
  const op = scheme[operand];
  const bits: Bits = op.bits === 32 ? 8 : op.bits;
  const siteKey = `site${siteIdx}-${operand}`;
  // charts follow the statistics in a transition (see ClipPanel): deferred, memoized props
  const od = useDeferredValue(o);
  const bitsD = useDeferredValue(bits);
  const symD = useDeferredValue(op.symmetric);
  const keyD = useDeferredValue(siteKey);
  return (
    <div className="view-grid outliers-view">
      <div className="span-2">
        <OperandPicker />
      </div>
      {!o || d?.site !== siteIdx ? (
        <div className="empty big span-2">
          {stats.error
            ? `Statistics failed: ${stats.error}`
            : status.state === 'error'
              ? 'No statistics: the engine is not running.'
              : stats.loading
                ? 'Collecting statistics…'
                : 'Waiting for the engine…'}
        </div>
      ) : (
        <>
          <div className="span-2 stat-row">
            <div className="stat">
              <span className="k">site output SQNR</span>
              <span className="v" data-testid="output-sqnr">
                {Number.isFinite(d.outputSqnrDb) ? `${d.outputSqnrDb.toFixed(1)} dB` : '∞ (exact)'}
              </span>
            </div>
            <div className="stat">
              <span className="k">output MSE</span>
              <span className="v">{fmtNum(d.outputMse, 3)}</span>
            </div>
            <div className="stat">
              <span className="k">range</span>
              <span className="v">
                [{fmtNum(o.min, 3)}, {fmtNum(o.max, 3)}]
              </span>
            </div>
            <div className="stat">
              <span className="k">path</span>
              <span className={`v path-badge p-${d.path.path}`}>{PATH_LABEL[d.path.path]}</span>
            </div>
            {op.bits === 32 && <div className="muted">operand is FP32 in this plan — the grid shows INT8 for comparison</div>}
            {op.bits !== 32 && op.format && op.format !== 'int' && (
              <div className="muted">
                operand is {operandLabel(op)} in this plan — the histogram's INT{op.bits} grid is for comparison; the format's own grid is
                below
              </div>
            )}
            {stats.loading && <div className="muted">updating…</div>}
          </div>
          {od && (
            <>
              <ClipPanel o={od} bits={bitsD} symmetric={symD} siteKey={keyD} />
              <PerChannel o={od} siteKey={keyD} />
              <PerToken o={od} bits={bitsD} symmetric={symD} siteKey={keyD} />
              {d.formats && (
                <FormatsSection
                  key={`${d.site}:${operand}`}
                  d={d}
                  operand={operand}
                  op={op}
                  hist={od.histogram}
                  planned={(!!op.format && op.format !== 'int' && op.bits !== 32) || !!scheme.rotation}
                />
              )}
            </>
          )}
        </>
      )}
    </div>
  );
}
