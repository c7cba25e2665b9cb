/**
 * Scale/zero explorer, formats beside INT (science.md §9): what the E and M bits mean, how the
 * (block) scale is chosen, and one value encoded — x → x/scale → nearest representable (ties to the
 * even code, saturating) → bits → x̂ — with the selected site's numbers in KaTeX.
 */
import { useMemo, useState } from 'react';
import type { SiteStats } from '../../plan/types';
import type { OperandScheme } from '../../plan/plan';
import {
  decodeMiniFloat,
  encodeMiniFloat,
  encodeNf4,
  floorLog2,
  FORMAT_INFO,
  formatBlockScale,
  MINIFLOATS,
  NF4_CODEBOOK,
  type NumberFormat,
} from '../../quant/formats';
import { Tex } from '../common/Katex';
import { fmtNum } from '../common/format';

type Fmt = Exclude<NumberFormat, 'int'>;
const FMTS: Fmt[] = ['fp8_e4m3', 'fp8_e5m2', 'mxfp8', 'mxfp4', 'nvfp4', 'nf4'];
const n = (x: number, d = 5) => {
  const s = fmtNum(x, d);
  return s.includes('e') ? s.replace(/e([+-]?\d+)/, (_, e) => `\\times 10^{${Number(e)}}`) : s;
};

export function FormatExplainer({ stats, operand, op }: { stats: SiteStats | null; operand: 'a' | 'b'; op: OperandScheme }) {
  const planFmt = op.bits !== 32 && op.format && op.format !== 'int' ? op.format : undefined;
  const weightB = operand === 'b' && stats?.formats?.b.sqnrDb.nf4 !== undefined;
  const [chosen, setChosen] = useState<Fmt | null>(null);
  const fmt: Fmt = chosen && (chosen !== 'nf4' || weightB) ? chosen : (planFmt ?? 'fp8_e4m3');
  const info = FORMAT_INFO[fmt];
  const fs = stats?.formats?.[operand];
  const blocks = fs && info.block ? fs.blocks.find((b) => b.block === info.block) : undefined;
  const [blockPick, setBlock] = useState<number | null>(null);
  // default: the block holding the largest value
  const maxBlock = blocks ? blocks.absmax.reduce((im, a, i, arr) => (a > arr[im] ? i : im), 0) : 0;
  const block = blocks ? Math.max(0, Math.min(blocks.absmax.length - 1, blockPick ?? maxBlock)) : 0;
  const tensorAmax = fs?.amax ?? 1;
  const blockAmax = blocks ? blocks.absmax[block] : tensorAmax;
  const scale = formatBlockScale(fmt, blockAmax, tensorAmax);
  const [xPick, setX] = useState<number | null>(null);
  const x = xPick ?? Math.fround(blockAmax * 0.37);
  const el = info.element ? MINIFLOATS[info.element] : undefined;

  const enc = useMemo(() => {
    const v = Math.fround(x / scale);
    if (!el) {
      const c = encodeNf4(Math.fround(x / scale));
      return { v, code: c, bits: c.toString(2).padStart(4, '0'), xh: Math.fround(NF4_CODEBOOK[c] * scale), lo: NaN, hi: NaN, tie: false };
    }
    const code = encodeMiniFloat(v, el);
    const q = decodeMiniFloat(code, el);
    const nb = el.ebits + el.mbits;
    const bits = code.toString(2).padStart(nb + 1, '0');
    // the two representable neighbours of |v| (for the rounding step)
    const a = Math.abs(v);
    let lo = 0;
    let hi = el.max;
    for (let c = 0; c < 1 << nb; c++) {
      const d = decodeMiniFloat(c, el);
      if (!Number.isFinite(d)) break;
      if (d <= a) lo = d;
      if (d >= a) {
        hi = d;
        break;
      }
    }
    return {
      v,
      code,
      bits: `${bits[0]}.${bits.slice(1, 1 + el.ebits)}.${bits.slice(1 + el.ebits)}`,
      xh: Math.fround(q * scale),
      lo,
      hi,
      tie: a === (lo + hi) / 2 && lo !== hi,
    };
  }, [x, scale, el]);

  const scaleTex = (() => {
    if (info.block === 0)
      return `s = \\frac{\\operatorname{amax}}{${el!.max}} = \\frac{${n(tensorAmax)}}{${el!.max}} = ${n(scale, 6)}\\quad\\text{(one FP32 scale per tensor)}`;
    if (fmt === 'nf4')
      return `s_b = \\operatorname{absmax}(\\text{block } ${block}) = ${n(scale, 6)}\\quad\\text{(FP32, one per 64 weights)}`;
    if (fmt === 'nvfp4') {
      const st = tensorAmax === 0 ? 1 : Math.fround(tensorAmax / 2688);
      return `s_t = \\frac{\\operatorname{amax}_{\\text{tensor}}}{448\\cdot 6} = ${n(st, 6)},\\quad s_b = \\operatorname{E4M3}\\!\\left(\\frac{\\operatorname{amax}_b}{6\\,s_t}\\right) = \\operatorname{E4M3}\\!\\left(\\frac{${n(blockAmax)}}{6 \\times ${n(st, 5)}}\\right) = ${n(scale / st, 5)},\\quad s = s_b\\,s_t = ${n(scale, 6)}`;
    }
    const e = blockAmax === 0 ? -127 : floorLog2(blockAmax);
    return `X = 2^{\\lfloor \\log_2 \\operatorname{amax}_b \\rfloor - e_{\\max}^{\\text{elem}}} = 2^{\\lfloor \\log_2 ${n(blockAmax)} \\rfloor - ${el!.emax}} = 2^{${e} - ${el!.emax}} = 2^{${Math.log2(scale)}} = ${n(scale, 6)}\\quad\\text{(E8M0: a power of two per 32)}`;
  })();

  return (
    <section className="card span-2 explorer" aria-label="Formats beside INT" data-testid="format-explainer">
      <header className="card-head">
        <div>
          <h3>
            {info.label}: bits, scale, encoding
            {!planFmt && (
              <span className="muted">
                {' '}
                (this operand is {op.bits === 32 ? 'FP32' : `INT${op.bits}`} in the plan: showing what {info.label} would do)
              </span>
            )}
          </h3>
          <div className="card-sub">
            {info.bits}-bit elements · {info.scale} · round to nearest, ties to the even code, saturating ·{' '}
            {stats ? `site ${stats.site}, operand ${operand.toUpperCase()}, image ${stats.image}` : 'waiting for statistics'}
          </div>
        </div>
        <select value={fmt} onChange={(e) => (setChosen(e.target.value as Fmt), setX(null), setBlock(null))} aria-label="Explain format">
          {FMTS.filter((f) => f !== 'nf4' || weightB).map((f) => (
            <option key={f} value={f}>
              {FORMAT_INFO[f].label}
            </option>
          ))}
        </select>
      </header>
      <div className="steps">
        {el ? (
          <>
            <Tex
              block
              tex={`\\text{${el.name.toUpperCase()}: } S\\,|\\,\\underbrace{E}_{${el.ebits}\\text{ bits}}\\,|\\,\\underbrace{M}_{${el.mbits}\\text{ bits}},\\quad \\text{bias } ${el.bias}`}
            />
            <Tex
              block
              tex={`x = (-1)^S\\, 2^{E-${el.bias}}\\left(1+\\tfrac{M}{2^{${el.mbits}}}\\right)\\ (E>0),\\quad (-1)^S\\, 2^{${1 - el.bias}}\\,\\tfrac{M}{2^{${el.mbits}}}\\ (E=0,\\ \\text{subnormal})`}
            />
            <Tex
              block
              tex={`\\max = ${el.max},\\quad \\min_{\\text{normal}} = 2^{${1 - el.bias}},\\quad \\min_{\\text{subnormal}} = 2^{${1 - el.bias - el.mbits}}${el.special === 'fn' ? ',\\quad \\text{NaN only at } S.1111.111,\\ \\text{no } \\infty' : el.special === 'ieee' ? ',\\quad E=11111: \\pm\\infty\\ (M=0),\\ \\text{NaN}' : ',\\quad \\text{all 16 codes finite}'}`}
            />
          </>
        ) : (
          <Tex
            block
            tex={`\\text{NF4: 16 levels } \\Phi^{-1}\\text{-quantiles of } N(0,1)\\text{, normalized to } [-1, 1]:\\ \\{${NF4_CODEBOOK.map((v) => v.toFixed(3)).join(', ')}\\}`}
          />
        )}
        <Tex block tex={scaleTex} />
      </div>
      <div className="explorer-pick">
        {blocks && (
          <label className="inline-field">
            <span>block #</span>
            <input
              type="number"
              min={0}
              max={blocks.absmax.length - 1}
              value={block}
              onChange={(e) => (setBlock(Number(e.target.value) || 0), setX(null))}
              aria-label="Block index"
              style={{ width: 80 }}
            />
            <span className="muted">
              of {blocks.absmax.length} (row {Math.floor(block / blocks.blocksPerRow)}, block {block % blocks.blocksPerRow}; amax{' '}
              {fmtNum(blockAmax, 4)})
            </span>
          </label>
        )}
        <label className="field grow">
          <span className="field-label">x = {fmtNum(x, 5)}</span>
          <input
            type="range"
            min={-blockAmax * 1.1 || -1}
            max={blockAmax * 1.1 || 1}
            step={(blockAmax || 1) / 1000}
            value={x}
            onChange={(e) => setX(Number(e.target.value))}
            aria-label="Format value x"
          />
        </label>
        <label className="inline-field">
          <span>exact</span>
          <input
            type="number"
            step="any"
            value={x}
            onChange={(e) => Number.isFinite(Number(e.target.value)) && setX(Number(e.target.value))}
            aria-label="Exact format value x"
            style={{ width: 120 }}
          />
        </label>
      </div>
      <div className="steps" data-testid="format-steps">
        <Tex block tex={`v = \\frac{x}{s} = \\frac{${n(x)}}{${n(scale, 6)}} = ${n(enc.v, 6)}`} />
        {el ? (
          <Tex
            block
            tex={`|v| \\in [${n(enc.lo, 5)},\\ ${n(enc.hi, 5)}] \\to ${Math.abs(enc.v) >= el.max ? `\\text{saturate at } ${el.max}` : enc.tie ? '\\text{tie: the even code}' : '\\text{nearest}'} \\to \\text{code } ${enc.bits.replace(/\./g, '\\,|\\,')} = ${n(decodeMiniFloat(enc.code, el), 6)}`}
          />
        ) : (
          <Tex
            block
            tex={`\\text{nearest level (a tie takes the lower)} \\to \\text{code } ${enc.code} = ${enc.bits}_2 \\to ${n(NF4_CODEBOOK[enc.code], 6)}`}
          />
        )}
        <Tex block tex={`\\hat{x} = s \\cdot \\text{decode} = ${n(enc.xh, 6)},\\qquad \\hat{x} - x = ${n(enc.xh - x, 4)}`} />
      </div>
    </section>
  );
}
