/** Small shared formatting and colour helpers for the views. */
import { FORMAT_INFO, type NumberFormat } from '../../quant/formats';
import type { OperandBits, SitePath, SiteScheme } from '../../plan/plan';

export const BIT_COLORS: Record<OperandBits, string> = { 32: '#94a3b8', 8: '#22a06b', 4: '#e8a317', 3: '#e26a2c', 2: '#d9453b' };
export const BIT_LABEL: Record<OperandBits, string> = { 32: 'FP32', 8: 'INT8', 4: 'INT4', 3: 'INT3', 2: 'INT2' };

export const PATH_LABEL: Record<SitePath, string> = {
  fp32: 'FP32',
  'int8-gemm': 'integer GEMM (int8 lanes)',
  'int4-gemm': 'integer GEMM (W4A8)',
  'weight-only': 'weight-only (dequantized)',
  'fake-quant': 'simulated (fake-quant)',
};
export const PATH_SHORT: Record<SitePath, string> = {
  fp32: 'fp',
  'int8-gemm': 'int',
  'int4-gemm': 'int',
  'weight-only': 'wo',
  'fake-quant': 'sim',
};

/** "INT2" is 4 levels; the restricted symmetric 2-bit grid {−s, 0, s} is ternary (science.md §1). */
export function operandLabel(o: { bits: OperandBits; symmetric: boolean; format?: NumberFormat }): string {
  if (o.bits !== 32 && o.format && o.format !== 'int') return FORMAT_INFO[o.format].label;
  return o.bits === 2 && o.symmetric ? 'ternary' : BIT_LABEL[o.bits];
}

/** short chip tags: E4/E5 = FP8 E4M3/E5M2, M8/M4 = MXFP8/MXFP4, N4 = NVFP4, NF = NF4 */
const FORMAT_TAG: Record<Exclude<NumberFormat, 'int'>, string> = {
  fp8_e4m3: 'E4',
  fp8_e5m2: 'E5',
  mxfp8: 'M8',
  mxfp4: 'M4',
  nvfp4: 'N4',
  nf4: 'NF',
};

export function bitsTag(s: SiteScheme, hasWeight: boolean): string {
  if (s.a.bits === 32 && s.b.bits === 32) return s.rotation ? 'FP32·R' : 'FP32';
  // 't': the ternary grid, never called "2" (science.md §1)
  const b = (o: { bits: OperandBits; symmetric: boolean; format?: NumberFormat }) =>
    o.bits === 32 ? 'F' : o.format && o.format !== 'int' ? FORMAT_TAG[o.format] : o.bits === 2 && o.symmetric ? 't' : String(o.bits);
  return `A${b(s.a)}·${hasWeight ? 'W' : 'B'}${b(s.b)}${s.rotation ? '·R' : ''}`;
}

export const pct = (x: number | undefined | null, digits = 2) =>
  x === undefined || x === null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(digits)}%`;
export const pp = (x: number | undefined | null, digits = 2) =>
  x === undefined || x === null || !Number.isFinite(x) ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(digits)} pp`;

export function fmtNum(x: number | undefined | null, digits = 4): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e4 || a < 1e-3) return x.toExponential(Math.max(1, digits - 1));
  return Number(x.toPrecision(digits)).toString();
}

export const CLASS_NAMES_FALLBACK = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
