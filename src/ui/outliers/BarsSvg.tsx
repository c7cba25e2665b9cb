/**
 * A bar chart as a few SVG paths (one per colour) instead of one React element per bar: the
 * per-channel and per-token charts have 65–256 bars and re-draw on every statistics update, which
 * as chart-library elements cost the main thread up to a second (issue 11, long tasks).
 */
import { memo } from 'react';
import { fmtNum } from '../common/format';

export interface BarDatum {
  lo: number;
  hi: number;
  color: string;
}

const W = 520;
const PAD = { l: 50, r: 8, t: 8, b: 24 };

export const BarsSvg = memo(function BarsSvg(props: {
  data: BarDatum[];
  /** y domain; log scale when `log` (values must be > 0) */
  domain: [number, number];
  log?: boolean;
  lines?: { y: number; color: string; label?: string }[];
  xLabel: string;
  height?: number;
  title: string;
}) {
  const { data, domain, log, lines = [], xLabel, title } = props;
  const H = props.height ?? 150;
  const t = (v: number) => (log ? Math.log10(Math.max(v, 1e-30)) : v);
  const [d0, d1] = [t(domain[0]), t(domain[1])];
  const span = d1 - d0 || 1;
  const Y = (v: number) => PAD.t + (1 - (Math.min(d1, Math.max(d0, t(v))) - d0) / span) * (H - PAD.t - PAD.b);
  const n = Math.max(1, data.length);
  const bw = (W - PAD.l - PAD.r) / n;
  const paths = new Map<string, string>();
  data.forEach((b, i) => {
    const x = PAD.l + i * bw;
    const y0 = Y(b.hi);
    const y1 = Y(b.lo);
    const h = Math.max(0.5, y1 - y0);
    paths.set(
      b.color,
      (paths.get(b.color) ?? '') +
        `M${x.toFixed(2)} ${y0.toFixed(2)}h${Math.max(0.6, bw - 0.4).toFixed(2)}v${h.toFixed(2)}h${(-Math.max(0.6, bw - 0.4)).toFixed(2)}Z`,
    );
  });
  const ticks = log
    ? Array.from({ length: Math.floor(d1) - Math.ceil(d0) + 1 }, (_, i) => 10 ** (Math.ceil(d0) + i)).filter(
        (_, i, a) => a.length <= 5 || i % Math.ceil(a.length / 5) === 0,
      )
    : [0, 0.25, 0.5, 0.75, 1].map((f) => domain[0] + f * (domain[1] - domain[0]));
  return (
    <svg className="bars-svg" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
      <title>{title}</title>
      {ticks.map((v) => (
        <g key={v}>
          <line x1={PAD.l} x2={W - PAD.r} y1={Y(v)} y2={Y(v)} stroke="#e2e8f0" strokeDasharray="3 3" />
          <text x={PAD.l - 4} y={Y(v) + 3} fontSize={10} textAnchor="end" fill="#64748b">
            {fmtNum(v, 2)}
          </text>
        </g>
      ))}
      {[...paths].map(([color, d]) => (
        <path key={color} d={d} fill={color} />
      ))}
      {lines.map((l) => (
        <g key={`${l.y}-${l.color}`}>
          <line x1={PAD.l} x2={W - PAD.r} y1={Y(l.y)} y2={Y(l.y)} stroke={l.color} strokeWidth={1.5} strokeDasharray="4 3" />
          {l.label && (
            <text x={W - PAD.r - 2} y={Y(l.y) - 3} fontSize={10} textAnchor="end" fill={l.color}>
              {l.label}
            </text>
          )}
        </g>
      ))}
      <text x={PAD.l} y={H - 6} fontSize={10} fill="#64748b">
        0
      </text>
      <text x={(W + PAD.l) / 2} y={H - 6} fontSize={10} textAnchor="middle" fill="#64748b">
        {xLabel}
      </text>
      <text x={W - PAD.r} y={H - 6} fontSize={10} textAnchor="end" fill="#64748b">
        {data.length - 1}
      </text>
    </svg>
  );
});
