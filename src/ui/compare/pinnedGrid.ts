/**
 * Plan A's quantization grid for the operand the Outliers view shows, to draw over the same
 * histogram as B's: the scale/zero A's engine run used on this image (first row's when per-row),
 * else the min/max grid of A's bits on this operand's range.
 */
import { useStore } from '../../state/store';
import type { OperandStats } from '../../plan/types';
import { intRange, scaleZero, type Bits } from '../../quant/scaleZero';
import { fmtNum } from '../common/format';
import { useCompare } from './compareController';

export interface LabelledGrid {
  scale: number;
  zero: number;
  qmin: number;
  qmax: number;
  label: string;
}

export function usePinnedGrid(o: OperandStats): LabelledGrid | null {
  const pinned = useStore((s) => s.pinned);
  const site = useStore((s) => s.selectedSite);
  const statsA = useCompare((c) => c.stats.data);
  if (!pinned) return null;
  const op = pinned.sites[site]?.[o.role];
  // a number format is drawn by the format card (its grid is per block, not one s and z)
  if (!op || op.bits === 32 || (op.format && op.format !== 'int')) return null;
  const name = `A: INT${op.bits} ${op.symmetric ? 'sym' : 'asym'}`;
  const q = statsA && statsA.site === site ? statsA.quant[o.role] : undefined;
  if (q && q.scales.length)
    return {
      scale: q.scales[0],
      zero: q.zeros[0],
      qmin: q.qmin,
      qmax: q.qmax,
      label: `${name}, s = ${fmtNum(q.scales[0], 3)}${q.scales.length > 1 ? ' (first row)' : ''}`,
    };
  const bits = op.bits as Bits;
  const sz = scaleZero(o.min, o.max, bits, op.symmetric);
  return { scale: sz.scale, zero: sz.zero, ...intRange(bits, op.symmetric), label: `${name}, min/max on this range` };
}
