/**
 * The Scale/zero explorer's A/B card: the same value x followed through plan A's quantizer of this
 * operand beside plan B's (the live plan), with A's scale and zero point as A's own engine run
 * computed them on this image (its statistics request), or from A's rule on A's operand range while
 * they load. Same row (token / channel) as the B formulas above, so the two columns differ only by
 * the plans.
 */
import { FORMAT_INFO } from '../../quant/formats';
import { quantizeValue, dequantizeValue, intRange, scaleZero, type Bits } from '../../quant/scaleZero';
import type { OperandScheme } from '../../plan/plan';
import type { SiteStats } from '../../plan/types';
import { useStore } from '../../state/store';
import { Tex } from '../common/Katex';
import { fmtNum } from '../common/format';
import { useCompare } from './compareController';

export interface QuantStep {
  /** what the operand runs as, in words */
  label: string;
  s: number;
  z: number;
  qmin: number;
  qmax: number;
  /** where s and z came from */
  source: string;
}

const perRowGranularity = (op: OperandScheme) => (op.granularity === 'token' || op.granularity === 'channel') && op.range === 'dynamic';

export function schemeLabel(op: OperandScheme): string {
  if (op.bits === 32) return 'FP32 (not quantized)';
  if (op.format && op.format !== 'int') return FORMAT_INFO[op.format].label;
  const g = op.granularity === 'group' ? `per-group ${op.groupSize ?? ''}` : `per-${op.granularity}`;
  return `INT${op.bits} ${op.symmetric ? 'sym' : 'asym'} · ${g} · ${op.range}${op.range === 'static' ? ` ${op.calibrator ?? 'minmax'}` : ''}`;
}

/**
 * Plan A's (s, z) for operand `role` of the selected site, row `row`: the engine's numbers when A's
 * statistics carry them, else min/max of A's bits over A's (or, while loading, B's) operand range.
 * null when A leaves the operand in FP32.
 */
export function quantStepFor(op: OperandScheme, stats: SiteStats | null, role: 'a' | 'b', row: number): QuantStep | null {
  if (op.bits === 32) return null;
  const bits = op.bits as Bits;
  const { qmin, qmax } = intRange(bits, op.symmetric);
  const label = schemeLabel(op);
  const perRow = perRowGranularity(op);
  const q = stats?.quant[role];
  if (q && q.scales.length) {
    const rows = stats![role].rowMin.length || 1;
    const idx = perRow
      ? Math.min(row, q.scales.length - 1)
      : op.granularity === 'group'
        ? Math.min(q.scales.length - 1, row * Math.max(1, Math.round(q.scales.length / rows)))
        : 0;
    const where = perRow ? `row ${row}` : op.granularity === 'group' ? `row ${row}, first group` : 'one for the operand';
    return { label, s: q.scales[idx], z: q.zeros[idx], qmin: q.qmin, qmax: q.qmax, source: `A's engine run (${where})` };
  }
  const o = stats?.[role];
  if (!o) return null;
  const lo = perRow && o.rowMin.length > row ? o.rowMin[row] : o.min;
  const hi = perRow && o.rowMax.length > row ? o.rowMax[row] : o.max;
  const sz = scaleZero(lo, hi, bits, op.symmetric);
  return { label, s: sz.scale, z: sz.zero, qmin, qmax, source: 'min/max of A’s range (A’s numbers loading)' };
}

function Column({ name, step, x }: { name: string; step: QuantStep | null; x: number }) {
  if (!step)
    return (
      <div className="ab-col" data-testid={`explorer-${name}`}>
        <div className="formula-title">plan {name}</div>
        <div className="muted">FP32 — x passes unchanged (error 0)</div>
      </div>
    );
  const q = quantizeValue(x, step.s, step.z, step.qmin, step.qmax);
  const xh = dequantizeValue(q, step.s, step.z);
  return (
    <div className="ab-col" data-testid={`explorer-${name}`} data-q={q}>
      <div className="formula-title">
        plan {name}: {step.label}
      </div>
      <Tex block tex={`s = ${fmtNum(step.s, 6)},\\; z = ${step.z},\\; q \\in [${step.qmin}, ${step.qmax}]`} />
      <Tex block tex={`q = ${q},\\quad \\hat{x} = ${fmtNum(xh, 6)},\\quad \\hat{x} - x = ${fmtNum(xh - x, 4)}`} />
      <div className="muted small-note">s, z: {step.source}</div>
    </div>
  );
}

/** Shown under the B explorer while a plan A is pinned. */
export function ExplorerAB({ x, row, b }: { x: number; row: number; b: QuantStep | null }) {
  const pinned = useStore((s) => s.pinned);
  const site = useStore((s) => s.selectedSite);
  const role = useStore((s) => s.operand);
  const siteB = useStore((s) => s.plan.sites[s.selectedSite]);
  const statsA = useCompare((c) => c.stats.data);
  const loading = useCompare((c) => c.stats.loading);
  if (!pinned) return null;
  const opA = pinned.sites[site]?.[role];
  if (!opA) return null;
  const a = quantStepFor(opA, statsA && statsA.site === site ? statsA : null, role, row);
  const opB = siteB?.[role];
  const isFmt = (o?: OperandScheme) => !!o && o.bits !== 32 && !!o.format && o.format !== 'int';
  if (isFmt(opA) || isFmt(opB))
    return (
      <section className="card span-2" data-testid="explorer-ab">
        <header className="card-head">
          <h3>
            A / B · site {site}, operand {role.toUpperCase()}
          </h3>
        </header>
        <div className="muted">
          plan A: {schemeLabel(opA)} · plan B: {opB ? schemeLabel(opB) : '—'} — a number format has no single (s, z): follow x through each
          format in the format card above (choose the format there).
        </div>
      </section>
    );
  return (
    <section className="card span-2" data-testid="explorer-ab">
      <header className="card-head">
        <h3>A / B · the same x = {fmtNum(x, 5)} through both plans</h3>
        <div className="card-sub">
          site {site}, operand {role.toUpperCase()}
          {loading ? ' · A’s statistics loading…' : ''}
        </div>
      </header>
      <div className="ab-columns">
        <Column name="A" step={a} x={x} />
        <Column name="B" step={b} x={x} />
      </div>
    </section>
  );
}
