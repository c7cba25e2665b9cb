/**
 * Scale/zero explorer: the quantization formulas in KaTeX with the selected site's numbers, and one
 * value followed through x → x/s → round → +z → clamp → q → x̂ with its error. The formulas are
 * those of the granularity the engine runs for the operand: per-tensor (one s, z for the image),
 * per-token / per-channel (one s, z per row: the chosen row's numbers), per-group, or a static
 * (calibrated) range — the numbers shown are the engine's own when it reports them.
 */
import { useMemo, useState } from 'react';
import { useStore } from '../../state/store';
import { intRange, quantizeValue, roundHalfEven, scaleZero, dequantizeValue, type Bits } from '../../quant/scaleZero';
import { useResults } from '../engine/results';
import { Tex } from '../common/Katex';
import { fmtNum, operandLabel } from '../common/format';
import { OperandPicker } from '../outliers/OutliersView';
import { Term } from '../help/Term';
import { ExplorerAB, schemeLabel } from '../compare/ExplorerAB';
import { FormatExplainer } from './FormatExplainer';

const f = Math.fround;
const n = (x: number, d = 5) => {
  const s = fmtNum(x, d);
  return s.includes('e') ? s.replace(/e([+-]?\d+)/, (_, e) => `\\times 10^{${Number(e)}}`) : s;
};

function NumberLine({ x, xh, s, z, qmin, qmax }: { x: number; xh: number; s: number; z: number; qmin: number; qmax: number }) {
  const W = 720;
  const H = 90;
  const q = quantizeValue(x, s, z, qmin, qmax);
  const lo = Math.max(qmin, q - 3);
  const hi = Math.min(qmax, q + 3);
  const v0 = Math.min(s * (lo - z), x) - s * 0.6;
  const v1 = Math.max(s * (hi - z), x) + s * 0.6;
  const X = (v: number) => 30 + ((v - v0) / (v1 - v0 || 1)) * (W - 60);
  const pts = [];
  for (let k = lo; k <= hi; k++) pts.push(k);
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="numberline" role="img" aria-label="number line around x" data-export>
      <line x1={20} x2={W - 20} y1={45} y2={45} stroke="#334155" />
      {pts.map((k) => (
        <g key={k}>
          <line
            x1={X(s * (k - z))}
            x2={X(s * (k - z))}
            y1={37}
            y2={53}
            stroke={k === q ? '#4f46e5' : '#94a3b8'}
            strokeWidth={k === q ? 2.5 : 1.2}
          />
          <text x={X(s * (k - z))} y={70} textAnchor="middle" fontSize={11} fill={k === q ? '#3730a3' : '#64748b'}>
            q={k}
          </text>
          <text x={X(s * (k - z))} y={84} textAnchor="middle" fontSize={9} fill="#94a3b8">
            {fmtNum(s * (k - z), 3)}
          </text>
        </g>
      ))}
      <circle cx={X(x)} cy={45} r={5} fill="#e8a317" />
      <text x={X(x)} y={24} textAnchor="middle" fontSize={12} fill="#92400e">
        x = {fmtNum(x, 4)}
      </text>
      <path
        d={`M ${X(x)} 32 Q ${(X(x) + X(xh)) / 2} 10 ${X(xh)} 36`}
        fill="none"
        stroke="#4f46e5"
        strokeDasharray="3 2"
        markerEnd="url(#arr)"
      />
      <defs>
        <marker id="arr" markerWidth="8" markerHeight="8" refX="6" refY="3" orient="auto">
          <path d="M0,0 L6,3 L0,6 z" fill="#4f46e5" />
        </marker>
      </defs>
    </svg>
  );
}

export function ExplorerView() {
  const stats = useResults((r) => r.stats.data);
  const operand = useStore((s) => s.operand);
  const siteIdx = useStore((s) => s.selectedSite);
  const scheme = useStore((s) => s.plan.sites[s.selectedSite]);
  const op = scheme[operand];
  const bits: Bits = op.bits === 32 ? 8 : op.bits;
  const sym = op.symmetric;
  const o = stats && stats.site === siteIdx ? (operand === 'a' ? stats.a : stats.b) : null;
  const engineQ = stats?.quant[operand];
  // which (s, z) the engine uses for this operand: one per image, one per row, one per group, or static
  const perRow = (op.granularity === 'token' || op.granularity === 'channel') && op.range === 'dynamic' && op.bits !== 32;
  const fromEngine = op.bits !== 32 && (op.range === 'static' || op.granularity === 'group') && !!engineQ;
  const rows = o?.rowMin.length ?? 0;
  const [rowPick, setRow] = useState(0);
  const row = Math.max(0, Math.min(rows - 1, rowPick));
  const rowName = operand === 'a' && siteIdx !== 0 ? 'token' : op.granularity === 'channel' ? 'output channel' : 'row';
  const rmin = o ? (perRow && rows ? o.rowMin[row] : o.min) : -1;
  const rmax = o ? (perRow && rows ? o.rowMax[row] : o.max) : 1;
  const { qmin, qmax } = intRange(bits, sym);
  const groupIdx = op.granularity === 'group' ? row * Math.max(1, Math.round((engineQ?.scales.length ?? 1) / Math.max(1, rows))) : 0;
  const sz =
    fromEngine && engineQ && engineQ.scales[groupIdx] !== undefined
      ? { scale: engineQ.scales[groupIdx], zero: engineQ.zeros[groupIdx] }
      : scaleZero(rmin, rmax, bits, sym);
  const sub = perRow ? `_{${row}}` : '';
  const [x, setX] = useState<number | null>(null);
  // a value inside the range shown (the chosen row's, for per-row granularities)
  const xv = x ?? (o ? (perRow ? rmin + 0.63 * (rmax - rmin) : (o.sample[Math.floor(o.sample.length / 3)] ?? rmax / 3)) : 0.3);
  const s = sz.scale;
  const z = sz.zero;
  const t = useMemo(() => {
    const div = f(xv / s);
    const r = roundHalfEven(div);
    const plus = r + z;
    const q = quantizeValue(xv, s, z, qmin, qmax);
    const xh = dequantizeValue(q, s, z);
    return { div, r, plus, q, xh, err: xh - xv };
  }, [xv, s, z, qmin, qmax]);
  const lo = sym ? -Math.max(Math.abs(rmin), Math.abs(rmax)) : Math.min(rmin, 0);
  const hi = sym ? Math.max(Math.abs(rmin), Math.abs(rmax)) : Math.max(rmax, 0);
  const picks = o
    ? [
        { label: 'max', v: o.max },
        { label: 'min', v: o.min },
        { label: 'zero', v: 0 },
        { label: 'half step', v: s * 0.5 },
        { label: 'random sample', v: NaN },
      ]
    : [];

  return (
    <div className="view-grid">
      <div className="span-2">
        <OperandPicker />
      </div>
      <section className="card span-2 explorer">
        <header className="card-head">
          <div>
            <h3>
              Affine quantization · INT{bits} {sym ? 'symmetric' : 'asymmetric'}
              {op.bits === 32 && <span className="muted"> (operand is FP32 in this plan: showing INT8)</span>}
              {op.bits !== 32 && op.format && op.format !== 'int' && (
                <span className="muted">
                  {' '}
                  (operand is {operandLabel(op)} in this plan — explained below; INT{op.bits} shown for comparison)
                </span>
              )}
            </h3>
            <div className="card-sub" data-testid="explorer-granularity">
              {!o ? (
                'waiting for statistics — showing the range [−1, 1]'
              ) : perRow ? (
                <>
                  site {siteIdx}, operand {operand.toUpperCase()}, image {stats!.image}:{' '}
                  <Term id={op.granularity === 'token' ? 'per-token' : 'per-channel'}>
                    {op.granularity === 'token' ? 'per-token' : 'per-channel'}
                  </Term>{' '}
                  <Term id="dynamic">dynamic</Term> — one s and z per {rowName}; the numbers of {rowName} {row} of {rows}
                </>
              ) : fromEngine ? (
                <>
                  site {siteIdx}, operand {operand.toUpperCase()}:{' '}
                  {op.range === 'static' ? <Term id="static">static (calibrated) range</Term> : <Term id="per-group">per-group</Term>} — s
                  and z as the engine computed them
                  {op.granularity === 'group' ? ` (row ${row}, first group)` : ''}
                </>
              ) : (
                <>
                  site {siteIdx}, operand {operand.toUpperCase()}, image {stats!.image}: <Term id="per-tensor">per-tensor</Term> — one s and
                  z for the whole operand of this image
                </>
              )}
            </div>
            {o && (perRow || op.granularity === 'group') && rows > 1 && (
              <label className="inline-field">
                <span>{rowName}</span>
                <input
                  type="number"
                  min={0}
                  max={rows - 1}
                  value={row}
                  onChange={(e) => setRow(Math.round(Number(e.target.value)) || 0)}
                  aria-label={`Explorer ${rowName}`}
                  style={{ width: 72 }}
                />
                <span className="muted">of {rows}</span>
              </label>
            )}
          </div>
        </header>
        <div className="formula-grid">
          <div className="formula">
            <div className="formula-title">integer range</div>
            <Tex
              block
              tex={
                sym
                  ? `q \\in [-(2^{${bits}-1}-1),\\; 2^{${bits}-1}-1] = [${qmin},\\; ${qmax}]`
                  : `q \\in [0,\\; 2^{${bits}}-1] = [${qmin},\\; ${qmax}]`
              }
            />
          </div>
          <div className="formula">
            <div className="formula-title">range {sym ? '(absmax)' : '(widened to hold 0)'}</div>
            <Tex block tex={`r_{\\min${sub}} = ${n(lo)},\\quad r_{\\max${sub}} = ${n(hi)}`} />
          </div>
          <div className="formula">
            <div className="formula-title">scale</div>
            <Tex
              block
              tex={
                sym
                  ? `s${sub} = \\frac{\\max|r${sub}|}{q_{\\max}} = \\frac{${n(hi)}}{${qmax}} = ${n(s, 6)}`
                  : `s${sub} = \\frac{r_{\\max${sub}}-r_{\\min${sub}}}{q_{\\max}-q_{\\min}} = \\frac{${n(hi)} - (${n(lo)})}{${qmax - qmin}} = ${n(s, 6)}`
              }
            />
          </div>
          <div className="formula">
            <div className="formula-title">zero point</div>
            <Tex
              block
              tex={
                sym
                  ? `z${sub} = 0`
                  : `z${sub} = \\operatorname{round}\\!\\left(q_{\\min} - \\frac{r_{\\min${sub}}}{s${sub}}\\right) = \\operatorname{round}(${n(f(qmin - f(lo / s)), 6)}) = ${z}`
              }
            />
          </div>
        </div>
        {engineQ && (
          <div className="muted small-note" data-testid="engine-scale">
            The engine used s = {fmtNum(engineQ.scales[perRow ? row : groupIdx] ?? engineQ.scales[0], 6)}, z ={' '}
            {engineQ.zeros[perRow ? row : groupIdx] ?? engineQ.zeros[0]}
            {engineQ.scales.length > 1
              ? ` (${perRow ? `${rowName} ${row}` : 'entry ' + groupIdx} of ${engineQ.scales.length}${engineQ.scales.length >= 256 ? '+' : ''} scales)`
              : ''}
            {engineQ.scales.length === 1 && Math.abs(engineQ.scales[0] - s) > 1e-6 * Math.abs(s)
              ? ' — differs from the per-tensor min/max value above (static or calibrated range)'
              : ''}
            .
          </div>
        )}
        <div className="explorer-pick">
          <label className="field grow">
            <span className="field-label">x = {fmtNum(xv, 5)}</span>
            <input
              type="range"
              min={Math.min(rmin, lo)}
              max={Math.max(rmax, hi)}
              step={(hi - lo) / 2000 || 0.001}
              value={xv}
              onChange={(e) => setX(Number(e.target.value))}
              aria-label="Value x"
            />
          </label>
          <label className="inline-field">
            <span>exact</span>
            <input
              type="number"
              step="any"
              value={xv}
              onChange={(e) => setX(Number(e.target.value))}
              aria-label="Exact value x"
              style={{ width: 120 }}
            />
          </label>
          <div className="btn-row">
            {picks.map((p) => (
              <button
                key={p.label}
                type="button"
                className="btn ghost small"
                onClick={() => setX(Number.isNaN(p.v) ? o!.sample[Math.floor(Math.random() * o!.sample.length)] : p.v)}
              >
                {p.label}
              </button>
            ))}
          </div>
        </div>
        <div className="steps">
          <Tex block tex={`\\frac{x}{s} = \\frac{${n(xv)}}{${n(s, 6)}} = ${n(t.div, 6)}`} />
          <Tex
            block
            tex={`\\operatorname{round}_{\\text{half-even}} \\to ${t.r} \\quad +z \\to ${t.plus} \\quad \\operatorname{clamp}_{[${qmin}, ${qmax}]} \\to q = \\mathbf{${t.q}}`}
          />
          <Tex block tex={`\\hat{x} = s\\,(q - z) = ${n(s, 6)} \\times (${t.q} - ${z}) = ${n(t.xh, 6)}`} />
          <Tex
            block
            tex={`\\hat{x} - x = ${n(t.err, 4)}\\quad (${Math.abs(t.err) <= s / 2 + 1e-12 ? '|e| \\le s/2' : '\\text{clipped: } |e| > s/2'})`}
          />
        </div>
        <NumberLine x={xv} xh={t.xh} s={s} z={z} qmin={qmin} qmax={qmax} />
      </section>
      <FormatExplainer stats={stats && stats.site === siteIdx ? stats : null} operand={operand} op={op} />
      <ExplorerAB
        x={xv}
        row={row}
        b={
          op.bits === 32
            ? null
            : {
                label: schemeLabel(op),
                s,
                z,
                qmin,
                qmax,
                source: fromEngine || (engineQ && perRow) ? 'the engine run (formulas above)' : 'the formulas above',
              }
        }
      />
    </div>
  );
}
