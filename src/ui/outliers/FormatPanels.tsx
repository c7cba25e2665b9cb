/**
 * Outliers view, formats beside INT (science.md §9): a format's grid drawn over the operand's
 * histogram (non-uniform for the FP formats), every block's scale for the block formats, each
 * format's SQNR on this operand, and at to_qkv / fc1 / fc2 the operand before and after the
 * Hadamard rotation with kurtosis and max/σ. Reads SiteStats.formats (plan/formatStats.ts).
 */
import { memo, useMemo, useState } from 'react';
import type { Histogram as Hist, SiteStats } from '../../plan/types';
import type { OperandScheme } from '../../plan/plan';
import { FORMAT_INFO, formatBlockScale, formatGrid, type NumberFormat } from '../../quant/formats';
import { ChartCard } from '../common/ChartCard';
import { BarsSvg } from './BarsSvg';
import { fmtNum } from '../common/format';

type Fmt = Exclude<NumberFormat, 'int'>;
const FMTS: Fmt[] = ['fp8_e4m3', 'fp8_e5m2', 'mxfp8', 'mxfp4', 'nvfp4', 'nf4'];
const W = 520;
const H = 170;
const PAD = { l: 40, r: 10, t: 10, b: 26 };

/** log-count histogram bars plus vertical lines (the grid), one SVG */
const HistGrid = memo(function HistGrid({ hist, lines, lines2, title }: { hist: Hist; lines: number[]; lines2?: Hist; title: string }) {
  const { lo, hi, counts } = hist;
  const X = (v: number) => PAD.l + ((v - lo) / (hi - lo || 1)) * (W - PAD.l - PAD.r);
  const maxC = Math.log10(1 + Math.max(...counts, ...(lines2?.counts ?? [])));
  const Y = (c: number) => H - PAD.b - (Math.log10(1 + c) / (maxC || 1)) * (H - PAD.t - PAD.b);
  const bw = (W - PAD.l - PAD.r) / counts.length;
  const path = (cs: number[]) =>
    cs
      .map((c, i) =>
        c > 0
          ? `M${(PAD.l + i * bw).toFixed(1)},${(H - PAD.b).toFixed(1)}V${Y(c).toFixed(1)}h${Math.max(0.5, bw - 0.3).toFixed(2)}V${H - PAD.b}Z`
          : '',
      )
      .join('');
  const inRange = lines.filter((v) => v >= lo && v <= hi);
  return (
    <svg className="bars-svg" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
      <path d={path(counts)} fill={lines2 ? '#94a3b8' : '#64748b'} opacity={lines2 ? 0.7 : 1} />
      {lines2 && <path d={path(lines2.counts)} fill="#4f46e5" opacity={0.55} />}
      {inRange.map((v, i) => (
        <line key={i} x1={X(v)} x2={X(v)} y1={PAD.t} y2={H - PAD.b} stroke="#e8a317" strokeWidth={0.8} opacity={0.8} />
      ))}
      {[lo, (lo + hi) / 2, hi].map((v) => (
        <text key={v} x={X(v)} y={H - PAD.b + 14} fontSize={10} textAnchor="middle" fill="#64748b">
          {fmtNum(v, 3)}
        </text>
      ))}
      <text x={PAD.l - 4} y={PAD.t + 8} fontSize={10} textAnchor="end" fill="#64748b">
        log n
      </text>
    </svg>
  );
});

export const FormatGridPanel = memo(function FormatGridPanel({
  d,
  operand,
  op,
  hist,
}: {
  d: SiteStats;
  operand: 'a' | 'b';
  op: OperandScheme;
  hist: Hist;
}) {
  const planFmt = op.bits !== 32 && op.format && op.format !== 'int' ? op.format : undefined;
  const weight = operand === 'b' && d.formats?.b.sqnrDb.nf4 !== undefined;
  const [chosen, setChosen] = useState<Fmt | null>(null);
  const fmt: Fmt = chosen && (chosen !== 'nf4' || weight) ? chosen : (planFmt ?? 'fp8_e4m3');
  const fs = d.formats![operand];
  const info = FORMAT_INFO[fmt];
  const view = useMemo(() => {
    if (info.block === 0) {
      const s = formatBlockScale(fmt, fs.amax, fs.amax);
      return { scale: s, scales: [] as number[], blockOfMax: -1, bpr: 1 };
    }
    const bl = fs.blocks.find((b) => b.block === info.block)!;
    const scales = bl.absmax.map((a) => formatBlockScale(fmt, a, fs.amax));
    let im = 0;
    bl.absmax.forEach((a, i) => {
      if (a > bl.absmax[im]) im = i;
    });
    return { scale: scales[im], scales, blockOfMax: im, bpr: bl.blocksPerRow };
  }, [fmt, fs, info.block]);
  const lines = useMemo(() => formatGrid(fmt).map((v) => v * view.scale), [fmt, view.scale]);
  const logScales = view.scales.filter((s) => s > 0);
  const lo = Math.min(...logScales);
  const hi = Math.max(...logScales);
  return (
    <>
      <ChartCard
        title={`${info.label} grid over the histogram · ${operand === 'a' ? 'A' : 'B'}`}
        subtitle={
          <>
            {info.block === 0 ? (
              <>
                one per-tensor scale s = amax/{fmt === 'fp8_e4m3' ? 448 : 57344} = {fmtNum(view.scale, 4)}: {lines.length} levels, dense
                near 0 and sparse at the tails (floating point)
              </>
            ) : (
              <>
                each block of {info.block} along K has its own scale ({info.scale}); drawn: the grid of the block holding the largest value
                (block {view.blockOfMax % view.bpr} of row {Math.floor(view.blockOfMax / view.bpr)}, scale {fmtNum(view.scale, 4)})
              </>
            )}
            {planFmt ? '' : ' · this operand is not in this format in the plan: the grid shows what it would be'}
          </>
        }
        actions={
          <select value={fmt} onChange={(e) => setChosen(e.target.value as Fmt)} aria-label="Format grid">
            {FMTS.filter((f) => f !== 'nf4' || weight).map((f) => (
              <option key={f} value={f}>
                {FORMAT_INFO[f].label}
              </option>
            ))}
          </select>
        }
        csv={() => lines.map((v) => ({ level: v }))}
        file={`format-grid-${fmt}-site${d.site}-${operand}`}
        className="span-2"
      >
        <div data-testid="format-grid">
          <HistGrid hist={hist} lines={lines} title={`${info.label} grid over the histogram`} />
        </div>
        <div className="muted small-note" data-testid="format-sqnr">
          SQNR of this operand in each format (this image):{' '}
          {Object.entries(fs.sqnrDb).map(([k, v]) => (
            <span key={k} style={{ marginRight: 10 }}>
              {FORMAT_INFO[k as Fmt].label} <strong>{Number.isFinite(v) ? `${(v as number).toFixed(1)} dB` : '∞'}</strong>
            </span>
          ))}
        </div>
      </ChartCard>
      {info.block > 0 && (
        <ChartCard
          title={`Per-block scales · ${info.label}`}
          subtitle={`${view.scales.length} blocks of ${info.block} (${view.bpr} per row, first ${view.scales.length}) · log scale · ${fmt.startsWith('mx') ? 'powers of two (E8M0)' : fmt === 'nvfp4' ? 'E4M3 block scale × FP32 tensor scale' : 'FP32 absmax'}`}
          csv={() => view.scales.map((s, i) => ({ block: i, row: Math.floor(i / view.bpr), scale: s }))}
          file={`block-scales-${fmt}-site${d.site}-${operand}`}
        >
          <div data-testid="block-scales">
            <BarsSvg
              title="scale per block"
              data={view.scales.map((s) => ({ lo: lo / 2, hi: Math.max(s, lo / 2), color: fmt.startsWith('mx') ? '#0ea5e9' : '#22a06b' }))}
              domain={[lo / 2, hi * 1.5]}
              log
              xLabel="block (row-major)"
            />
          </div>
        </ChartCard>
      )}
    </>
  );
});

export const RotationPanel = memo(function RotationPanel({ d }: { d: SiteStats }) {
  const r = d.formats?.rotation;
  if (!r) return null;
  return (
    <ChartCard
      title="Before / after the Hadamard rotation · A"
      subtitle={
        <>
          grey: A as this plan feeds it · indigo: A·R (R = D·H/√k, seed {r.seed}
          {r.planned ? ', the plan rotates this site' : ', not in the plan: what it would do'}) · kurtosis{' '}
          <strong data-testid="kurtosis-before">{r.before.kurtosis.toFixed(1)}</strong> →{' '}
          <strong data-testid="kurtosis-after">{r.after.kurtosis.toFixed(1)}</strong> (Gaussian 3) · max/σ{' '}
          {r.before.maxOverSigma.toFixed(1)} → {r.after.maxOverSigma.toFixed(1)} · INT4 per-tensor SQNR{' '}
          {r.int4TensorSqnrDb.before.toFixed(1)} → <strong>{r.int4TensorSqnrDb.after.toFixed(1)} dB</strong>
        </>
      }
      csv={() =>
        r.before.histogram.counts.map((c, i) => ({
          bin: i,
          lo: r.before.histogram.lo + ((r.before.histogram.hi - r.before.histogram.lo) * i) / r.before.histogram.counts.length,
          before: c,
          after: r.after.histogram.counts[i],
        }))
      }
      file={`rotation-site${d.site}`}
      className="span-2"
    >
      <div data-testid="rotation-hist">
        <HistGrid hist={r.before.histogram} lines2={r.after.histogram} lines={[]} title="histogram before and after the rotation" />
      </div>
    </ChartCard>
  );
});
