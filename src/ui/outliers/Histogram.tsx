/**
 * Log-count histogram (SVG) with σ multiples, the ±6σ band, the quantization grid and a clip
 * range whose two handles can be dragged (and moved with the arrow keys).
 */
import { useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import type { Histogram as Hist } from '../../plan/types';
import { fmtNum } from '../common/format';

export interface Grid {
  scale: number;
  zero: number;
  qmin: number;
  qmax: number;
}

const W = 760;
const H = 280;
const PAD = { l: 44, r: 14, t: 18, b: 34 };

export function Histogram(props: {
  hist: Hist;
  mean: number;
  std: number;
  grid: Grid | null;
  clip: [number, number];
  onClip: (c: [number, number]) => void;
  title: string /** pinned plan A's grid, drawn over B's (A/B compare) */;
  gridA?: Grid | null;
}) {
  const { hist, mean, std, grid, clip, onClip } = props;
  const svg = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<0 | 1 | null>(null);
  const x0 = Math.min(hist.lo, clip[0], mean - 6.5 * std);
  const x1 = Math.max(hist.hi, clip[1], mean + 6.5 * std);
  const span = x1 - x0 || 1;
  const X = (v: number) => PAD.l + ((v - x0) / span) * (W - PAD.l - PAD.r);
  const inv = (px: number) => x0 + ((px - PAD.l) / (W - PAD.l - PAD.r)) * span;
  const maxLog = Math.log10(1 + Math.max(1, ...hist.counts));
  const Y = (c: number) => H - PAD.b - (Math.log10(1 + c) / maxLog) * (H - PAD.t - PAD.b);
  const bw = (hist.hi - hist.lo) / Math.max(1, hist.counts.length);

  const move = (e: PointerEvent<SVGSVGElement>) => {
    if (drag === null || !svg.current) return;
    const r = svg.current.getBoundingClientRect();
    const v = inv(((e.clientX - r.left) / r.width) * W);
    if (drag === 0) onClip([Math.min(v, clip[1] - span * 1e-3, 0), clip[1]]);
    else onClip([clip[0], Math.max(v, clip[0] + span * 1e-3, 0)]);
  };
  const key = (i: 0 | 1) => (e: KeyboardEvent) => {
    const step = (e.shiftKey ? 0.1 : 0.01) * span;
    const d = e.key === 'ArrowLeft' ? -step : e.key === 'ArrowRight' ? step : 0;
    if (!d) return;
    e.preventDefault();
    if (i === 0) onClip([Math.min(0, clip[0] + d), clip[1]]);
    else onClip([clip[0], Math.max(0, clip[1] + d)]);
  };

  // grid points: thin ticks when dense, labelled lines when sparse (INT2/INT4)
  const gridPts: number[] = [];
  if (grid) for (let q = grid.qmin; q <= grid.qmax; q++) gridPts.push(grid.scale * (q - grid.zero));
  const sigmas = [-6, -3, -1, 1, 3, 6];
  const ticks = Array.from({ length: 6 }, (_, i) => x0 + (i / 5) * span);
  return (
    <svg
      ref={svg}
      viewBox={`0 0 ${W} ${H}`}
      className="hist-svg"
      data-export
      role="img"
      aria-label={props.title}
      onPointerMove={move}
      onPointerUp={() => setDrag(null)}
      onPointerLeave={() => setDrag(null)}
      data-testid="histogram"
    >
      <rect x={PAD.l} y={PAD.t} width={W - PAD.l - PAD.r} height={H - PAD.t - PAD.b} fill="#fff" />
      {/* outside ±6σ: the outlier region */}
      <rect x={PAD.l} y={PAD.t} width={Math.max(0, X(mean - 6 * std) - PAD.l)} height={H - PAD.t - PAD.b} fill="#fde8e6" />
      <rect x={X(mean + 6 * std)} y={PAD.t} width={Math.max(0, W - PAD.r - X(mean + 6 * std))} height={H - PAD.t - PAD.b} fill="#fde8e6" />
      {/* clip range */}
      <rect x={X(clip[0])} y={PAD.t} width={Math.max(0, X(clip[1]) - X(clip[0]))} height={H - PAD.t - PAD.b} fill="#eef2ff" opacity={0.8} />
      {/* one path per layer, not one element per grid point or bin: 256 INT8 grid points and
          hundreds of bins re-drawn per update were a main-thread stall (issue 11) */}
      {gridPts.length <= 64 ? (
        <path
          d={gridPts.map((g) => `M${X(g).toFixed(2)} ${PAD.t}V${H - PAD.b}`).join('')}
          stroke="#818cf8"
          strokeWidth={1}
          strokeDasharray="2 3"
          fill="none"
        />
      ) : (
        <path d={gridPts.map((g) => `M${X(g).toFixed(2)} ${H - PAD.b}v5`).join('')} stroke="#6366f1" strokeWidth={0.6} fill="none" />
      )}
      {props.gridA &&
        (() => {
          const g = props.gridA;
          const pts: number[] = [];
          for (let q = g.qmin; q <= g.qmax; q++) pts.push(g.scale * (q - g.zero));
          return (
            <g data-testid="grid-a">
              {pts.map((v, i) =>
                pts.length <= 64 ? (
                  <line key={i} x1={X(v)} x2={X(v)} y1={PAD.t} y2={H - PAD.b} stroke="#0e7490" strokeWidth={1.2} opacity={0.75} />
                ) : (
                  <line key={i} x1={X(v)} x2={X(v)} y1={PAD.t - 6} y2={PAD.t} stroke="#0e7490" strokeWidth={0.6} />
                ),
              )}
            </g>
          );
        })()}
      {(() => {
        const bins = { in: '', out: '' };
        hist.counts.forEach((c, i) => {
          if (c <= 0) return;
          const x = X(hist.lo + i * bw);
          const w = Math.max(0.8, X(hist.lo + (i + 1) * bw) - x - 0.3);
          const r = `M${x.toFixed(2)} ${Y(c).toFixed(2)}h${w.toFixed(2)}V${H - PAD.b}h${(-w).toFixed(2)}Z`;
          if (Math.abs(hist.lo + (i + 0.5) * bw - mean) > 6 * std) bins.out += r;
          else bins.in += r;
        });
        return (
          <g data-testid="hist-bins">
            <path d={bins.in} fill="#475569" />
            <path d={bins.out} fill="#d9453b" />
          </g>
        );
      })()}
      {sigmas.map((k) => {
        const x = X(mean + k * std);
        if (x < PAD.l || x > W - PAD.r) return null;
        return (
          <g key={k}>
            <line
              x1={x}
              x2={x}
              y1={PAD.t}
              y2={H - PAD.b}
              stroke={Math.abs(k) === 6 ? '#d9453b' : '#94a3b8'}
              strokeWidth={Math.abs(k) === 6 ? 1.5 : 1}
              strokeDasharray={Math.abs(k) === 6 ? undefined : '4 3'}
            />
            <text x={x} y={PAD.t - 5} textAnchor="middle" fontSize={10} fill={Math.abs(k) === 6 ? '#b42318' : '#64748b'}>
              {k > 0 ? '+' : '−'}
              {Math.abs(k)}σ
            </text>
          </g>
        );
      })}
      {/* axes */}
      <line x1={PAD.l} x2={W - PAD.r} y1={H - PAD.b} y2={H - PAD.b} stroke="#334155" />
      {ticks.map((t, i) => (
        <text key={i} x={X(t)} y={H - PAD.b + 16} textAnchor="middle" fontSize={10} fill="#475569">
          {fmtNum(t, 3)}
        </text>
      ))}
      {[1, 10, 100, 1000, 10000, 100000]
        .filter((c) => Math.log10(1 + c) <= maxLog)
        .map((c) => (
          <g key={c}>
            <line x1={PAD.l - 4} x2={PAD.l} y1={Y(c)} y2={Y(c)} stroke="#334155" />
            <text x={PAD.l - 6} y={Y(c) + 3} textAnchor="end" fontSize={10} fill="#475569">
              {c >= 1000 ? `${c / 1000}k` : c}
            </text>
          </g>
        ))}
      <text
        x={12}
        y={PAD.t + (H - PAD.t - PAD.b) / 2}
        fontSize={10}
        fill="#64748b"
        transform={`rotate(-90 12 ${PAD.t + (H - PAD.t - PAD.b) / 2})`}
        textAnchor="middle"
      >
        count (log)
      </text>
      {/* clip handles */}
      {([0, 1] as const).map((i) => (
        <g
          key={i}
          className="clip-handle"
          tabIndex={0}
          role="slider"
          aria-label={i === 0 ? 'clip minimum' : 'clip maximum'}
          aria-valuenow={clip[i]}
          onKeyDown={key(i)}
          onPointerDown={(e) => {
            (e.target as Element).setPointerCapture?.(e.pointerId);
            setDrag(i);
          }}
          style={{ cursor: 'ew-resize' }}
        >
          <line x1={X(clip[i])} x2={X(clip[i])} y1={PAD.t} y2={H - PAD.b} stroke="#4f46e5" strokeWidth={2} />
          <rect x={X(clip[i]) - 6} y={PAD.t + 4} width={12} height={22} rx={3} fill="#4f46e5" />
          <text x={X(clip[i])} y={H - PAD.b - 6} textAnchor={i === 0 ? 'start' : 'end'} dx={i === 0 ? 4 : -4} fontSize={10} fill="#3730a3">
            {fmtNum(clip[i], 3)}
          </text>
        </g>
      ))}
    </svg>
  );
}
