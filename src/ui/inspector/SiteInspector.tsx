/**
 * Per-site controls (bits, granularity, group size, symmetric, dynamic/static, calibrator,
 * SmoothQuant α, LLM.int8 threshold, GPTQ) and "apply to all" actions. Every edit goes through
 * fitSite + validatePlan, so the store only ever holds plans the engine accepts.
 */
import { useState, type ReactNode } from 'react';
import {
  PlanError,
  sitePath,
  validatePlan,
  type Calibrator,
  type Granularity,
  type OperandBits,
  type OperandScheme,
  type SiteScheme,
} from '../../plan/plan';
import { useStore } from '../../state/store';
import { useResults } from '../engine/results';
import { fitSite, withoutClips } from '../../state/schemes';
import { useSites } from '../engine/useSites';
import { SiteErrorAB } from '../compare/SiteErrorAB';
import { BIT_COLORS, PATH_LABEL } from '../common/format';
import { Term } from '../help/Term';
import { smoothFoldable, type SiteInfo } from '../../plan/sites';
import { FORMAT_INFO, NUMBER_FORMATS, type NumberFormat } from '../../quant/formats';

const ROTATABLE = new Set(['to_qkv', 'fc1', 'fc2']);

const BITS: OperandBits[] = [32, 8, 4, 2];

function Field({ label, children, hint }: { label: ReactNode; children: ReactNode; hint?: string }) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is `children` (a select or input), inside the label
    <label className="field" title={hint}>
      <span className="field-label">{label}</span>
      {children}
    </label>
  );
}

function BitsPicker({ value, onChange, label }: { value: OperandBits; onChange: (b: OperandBits) => void; label: string }) {
  return (
    <div className="seg" role="radiogroup" aria-label={label}>
      {BITS.map((b) => (
        <button
          key={b}
          type="button"
          role="radio"
          aria-checked={value === b}
          className={`seg-btn ${value === b ? 'on' : ''}`}
          style={value === b ? { background: BIT_COLORS[b], borderColor: BIT_COLORS[b] } : undefined}
          onClick={() => onChange(b)}
        >
          {b === 32 ? 'FP32' : `INT${b}`}
        </button>
      ))}
    </div>
  );
}

function OperandControls({
  which: role,
  op,
  site,
  onChange,
}: {
  which: 'a' | 'b';
  op: OperandScheme;
  site: SiteInfo;
  onChange: (o: OperandScheme) => void;
}) {
  const title =
    role === 'a'
      ? site.kind === 'av'
        ? 'A · attention probabilities'
        : site.kind === 'qk'
          ? 'A · q'
          : 'A · activations'
      : site.hasWeight
        ? 'B · weights'
        : site.kind === 'qk'
          ? 'B · k'
          : 'B · v';
  const grans: Granularity[] = role === 'a' ? ['tensor', 'token'] : ['tensor', 'channel', 'group'];
  const gLabel: Record<Granularity, string> = {
    tensor: 'per-tensor',
    token: 'per-token',
    channel: site.hasWeight ? 'per-channel' : 'per-row',
    group: 'per-group',
  };
  const fmt: NumberFormat = op.bits !== 32 && op.format ? op.format : 'int';
  const q = op.bits !== 32 && fmt === 'int';
  const set = (patch: Partial<OperandScheme>) => onChange({ ...op, ...patch });
  const staticAllowed = role === 'a' || !site.hasWeight;
  return (
    <fieldset className="operand">
      <legend>{title}</legend>
      <BitsPicker
        value={fmt === 'int' ? op.bits : (0 as OperandBits)}
        onChange={(bits) => set(bits === 2 && op.bits !== 2 ? { bits, symmetric: false, format: undefined } : { bits, format: undefined })}
        label={`${title} bits`}
      />
      <Field
        label="format"
        hint="INT: the integer grid below. FP8 / MX / NVFP4 / NF4: floating-point and block-scaled formats (science.md §9)"
      >
        <select
          value={fmt}
          onChange={(e) =>
            set(
              e.target.value === 'int'
                ? { format: undefined, bits: op.bits === 32 ? 32 : op.bits }
                : { format: e.target.value as NumberFormat, bits: FORMAT_INFO[e.target.value as Exclude<NumberFormat, 'int'>].bits },
            )
          }
          aria-label={`${title} format`}
        >
          {NUMBER_FORMATS.filter((f) => f === 'int' || !FORMAT_INFO[f].weightOnly || (role === 'b' && site.hasWeight)).map((f) => (
            <option key={f} value={f}>
              {f === 'int' ? (op.bits === 32 ? 'FP32 / INT grid' : `INT${op.bits}`) : `${FORMAT_INFO[f].label} · ${FORMAT_INFO[f].scale}`}
            </option>
          ))}
        </select>
      </Field>
      {fmt !== 'int' && (
        <div className="path-reason" data-testid={`format-note-${role}`}>
          {FORMAT_INFO[fmt].label}: {FORMAT_INFO[fmt].bits}-bit elements, {FORMAT_INFO[fmt].scale}; round to nearest even, saturating. Scale
          layout and sign handling are fixed by the format.
        </div>
      )}
      <div className={`operand-grid ${q && fmt === 'int' ? '' : 'disabled'}`}>
        <Field label={<Term id="granularity">granularity</Term>}>
          <select
            disabled={!q}
            value={op.granularity}
            onChange={(e) => set({ granularity: e.target.value as Granularity, range: e.target.value === 'tensor' ? op.range : 'dynamic' })}
            aria-label={`${title} granularity`}
          >
            {grans.map((g) => (
              <option key={g} value={g}>
                {gLabel[g]}
              </option>
            ))}
          </select>
        </Field>
        {op.granularity === 'group' && (
          <Field label="group size" hint="columns along K per group (dim is 128, MLP 256)">
            <select
              disabled={!q}
              value={op.groupSize ?? 128}
              onChange={(e) => set({ groupSize: Number(e.target.value) })}
              aria-label={`${title} group size`}
            >
              {[16, 32, 64, 128, 256].map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
          </Field>
        )}
        <Field label={<Term id="grid">grid</Term>}>
          <select
            disabled={!q}
            value={op.symmetric ? 'sym' : 'asym'}
            onChange={(e) => set({ symmetric: e.target.value === 'sym' })}
            aria-label={`${title} symmetric`}
          >
            <option value="sym">{op.bits === 2 ? 'ternary {−s, 0, s} (symmetric)' : 'symmetric'}</option>
            <option value="asym">{op.bits === 2 ? '4 levels (asymmetric min/max)' : 'asymmetric'}</option>
          </select>
        </Field>
        <Field
          label={<Term id="range">range</Term>}
          hint={
            staticAllowed ? 'dynamic: recomputed per image/token; static: calibrated once' : 'weights are constant: their range is exact'
          }
        >
          <select
            disabled={!q || !staticAllowed}
            value={op.range}
            onChange={(e) =>
              set({ range: e.target.value as OperandScheme['range'], granularity: e.target.value === 'static' ? 'tensor' : op.granularity })
            }
            aria-label={`${title} range`}
          >
            <option value="dynamic">dynamic</option>
            <option value="static">{op.clip ? 'static (learned clip)' : 'static (calibrated)'}</option>
          </select>
        </Field>
        {op.range === 'static' && op.clip && (
          <Field label="explicit range" hint="a learned (QAT) range, used as is: nothing is calibrated">
            <span className="mono" data-testid={`${title}-clip`}>
              [{op.clip.min.toPrecision(4)}, {op.clip.max.toPrecision(4)}]
            </span>
          </Field>
        )}
        {op.range === 'static' && (staticAllowed || !op.clip) && (
          <Field label={<Term id="calibrator">calibrator</Term>}>
            <select
              disabled={!q}
              value={op.clip ? '' : (op.calibrator ?? 'minmax')}
              onChange={(e) => set({ calibrator: e.target.value as Calibrator, clip: undefined })}
              aria-label={`${title} calibrator`}
            >
              {op.clip && <option value="">— (explicit range; pick one to calibrate instead)</option>}
              <option value="minmax">min/max</option>
              <option value="percentile">percentile</option>
              <option value="mse">MSE</option>
              <option value="kl">KL (entropy)</option>
            </select>
          </Field>
        )}
        {op.range === 'static' && op.calibrator === 'percentile' && (
          <Field label="percentile">
            <input
              type="number"
              min={90}
              max={100}
              step={0.01}
              value={op.percentile ?? 99.99}
              onChange={(e) => set({ percentile: Number(e.target.value) })}
              aria-label={`${title} percentile`}
            />
          </Field>
        )}
      </div>
    </fieldset>
  );
}

export function SiteInspector() {
  const sites = useSites();
  const idx = useStore((s) => s.selectedSite);
  const scheme = useStore((s) => s.plan.sites[s.selectedSite]);
  const plan = useStore((s) => s.plan);
  const setSite = useStore((s) => s.setSite);
  const editAll = useStore((s) => s.editAll);
  const [error, setError] = useState<string | null>(null);
  const site = sites[idx];
  const path = sitePath(scheme, site.hasWeight);
  // what the engine decided for this site in the last score of this plan (searched α, run-time scaling, a calibrator's fallback)
  const runNotes = useResults((r) =>
    r.live.key.startsWith(`[${JSON.stringify(plan.sites)},`) ? r.live.result?.sites[idx]?.notes : undefined,
  );

  const commit = (next: SiteScheme) => {
    const fitted = fitSite(next, site.hasWeight, site.kind);
    const trial = { ...plan, sites: plan.sites.map((s, i) => (i === idx ? fitted : s)) };
    try {
      validatePlan(trial);
      setError(null);
      setSite(idx, fitted);
    } catch (e) {
      setError(e instanceof PlanError ? e.message : String(e));
    }
  };

  const applyTo = (which: 'all' | 'weights' | 'kind') => {
    editAll((_s, i) => {
      const target = sites[i];
      if (which === 'weights' && !target.hasWeight) return null;
      if (which === 'kind' && target.kind !== site.kind) return null;
      // a learned range (clip) is of this site's operands: other sites get the scheme without it
      return fitSite(structuredClone(i === site.index ? scheme : withoutClips(scheme)), target.hasWeight, target.kind);
    });
  };
  const setAllBits = (role: 'a' | 'b', bits: OperandBits) =>
    // INT2 means the 4-level grid (science.md §1); ternary is chosen explicitly in a site's grid picker
    editAll((s, i) =>
      fitSite(
        { ...s, [role]: { ...s[role], bits, format: undefined, ...(bits === 2 && s[role].bits !== 2 ? { symmetric: false } : {}) } },
        sites[i].hasWeight,
        sites[i].kind,
      ),
    );
  const setAllRotation = (on: boolean) =>
    editAll((s, i) => {
      const kind = sites[i].kind;
      if (kind !== 'to_qkv' && kind !== 'fc1' && kind !== 'fc2') return null;
      if (!on) return { ...s, rotation: undefined };
      // the rotation excludes SmoothQuant, LLM.int8(), GPTQ and explicit ranges at a site (validatePlan)
      const base = s.a.clip || s.b.clip ? fitSite(withoutClips(s), sites[i].hasWeight, kind) : s;
      return { ...base, rotation: { seed: 1 }, smoothquant: undefined, llmInt8: undefined, gptq: undefined };
    });
  const setAllFormat = (format: Exclude<NumberFormat, 'int'>) =>
    // NF4 is a weight format: W-NF4 at weight sites with FP32 activations, attention products FP32
    editAll((s, i) => {
      const info = FORMAT_INFO[format];
      const fop: OperandScheme = { bits: info.bits, granularity: 'tensor', symmetric: true, range: 'dynamic', format };
      const fp: OperandScheme = { bits: 32, granularity: 'tensor', symmetric: true, range: 'dynamic' };
      const next: SiteScheme = format === 'nf4' ? (sites[i].hasWeight ? { a: fp, b: fop } : { a: fp, b: fp }) : { a: fop, b: fop };
      return fitSite({ ...next, rotation: s.rotation }, sites[i].hasWeight, sites[i].kind);
    });

  return (
    <div className="inspector">
      <div className="pane-title">
        <h2>
          Site {idx} <span className="muted">· {site.name}</span>
        </h2>
      </div>
      <div className="site-facts">
        <div>
          <span className="k">GEMM</span>
          <span className="v">
            {site.m}×{site.k} · ({site.n}×{site.k})ᵀ{site.batch > 1 ? ` × ${site.batch} heads` : ''}
          </span>
        </div>
        <div>
          <span className="k">MACs / image</span>
          <span className="v">{site.macs.toLocaleString()}</span>
        </div>
        <div>
          <span className="k">runs as</span>
          <span className={`v path-badge p-${path.path}`} data-testid="site-path">
            {path.path === 'fp32' ? (
              PATH_LABEL.fp32
            ) : (
              <Term
                id={
                  path.path === 'fake-quant'
                    ? 'fake-quant'
                    : path.path === 'weight-only'
                      ? 'weight-only'
                      : path.path === 'int8-gemm'
                        ? 'int8-lanes'
                        : 'w4a8'
                }
              >
                {PATH_LABEL[path.path]}
              </Term>
            )}
          </span>
        </div>
        <div className="path-reason">{path.reason}</div>
        {runNotes?.map((n) => (
          <div key={n} className="path-reason" data-testid="site-note">
            {n}
          </div>
        ))}
      </div>
      <SiteErrorAB />
      <OperandControls which="a" op={scheme.a} site={site} onChange={(a) => commit({ ...scheme, a })} />
      <OperandControls which="b" op={scheme.b} site={site} onChange={(b) => commit({ ...scheme, b })} />
      {site.hasWeight && (
        <fieldset className="operand">
          <legend>Outlier handling &amp; rounding</legend>
          {ROTATABLE.has(site.kind) && (
            <label
              className="check"
              title={
                site.kind === 'fc2'
                  ? 'R·W folded into the weights; the GELU output is rotated online (fast Walsh–Hadamard) before quantization'
                  : 'LayerNorm γ and β folded into W and the bias first, then W·R; the normalized LayerNorm output is rotated online before quantization'
              }
            >
              <input
                type="checkbox"
                aria-label="Hadamard rotation"
                checked={!!scheme.rotation}
                onChange={(e) =>
                  commit({
                    ...scheme,
                    rotation: e.target.checked ? { seed: 1 } : undefined,
                    ...(e.target.checked ? { smoothquant: undefined, llmInt8: undefined, gptq: undefined } : {}),
                  })
                }
              />
              Hadamard rotation (QuaRot-style) — the FP32 function is unchanged
            </label>
          )}
          <label
            className="check"
            title={
              smoothFoldable(site.kind)
                ? '1/s folds into the preceding LayerNorm, s into W: an ordinary quantized GEMM'
                : 'this input does not come from a LayerNorm: s must divide the activations at run time'
            }
          >
            <input
              type="checkbox"
              checked={!!scheme.smoothquant}
              onChange={(e) =>
                commit({
                  ...scheme,
                  smoothquant: e.target.checked ? { alpha: 0.5, placement: smoothFoldable(site.kind) ? 'fold' : 'runtime' } : undefined,
                })
              }
            />
            <Term id="smoothquant">SmoothQuant</Term>{' '}
            {smoothFoldable(site.kind) ? '(folded into the LayerNorm)' : '— run-time scaling (not foldable)'}
          </label>
          {scheme.smoothquant && (
            <div className="operand-grid">
              <label className="check" title="per site over α ∈ {0, 0.05, …, 1}, by the site's output MSE on 32 calibration images">
                <input
                  type="checkbox"
                  checked={scheme.smoothquant.alpha === 'search'}
                  onChange={(e) => commit({ ...scheme, smoothquant: { ...scheme.smoothquant!, alpha: e.target.checked ? 'search' : 0.5 } })}
                  aria-label="search alpha"
                />
                search α
              </label>
              {scheme.smoothquant.alpha !== 'search' && (
                <Field label={`α = ${scheme.smoothquant.alpha.toFixed(2)}`} hint="migration strength: s_c = max|X_c|^α / max|W_c|^(1−α)">
                  <input
                    type="range"
                    min={0}
                    max={1}
                    step={0.05}
                    value={scheme.smoothquant.alpha}
                    onChange={(e) => commit({ ...scheme, smoothquant: { ...scheme.smoothquant!, alpha: Number(e.target.value) } })}
                    aria-label="SmoothQuant alpha"
                  />
                </Field>
              )}
            </div>
          )}
          <label className="check">
            <input
              type="checkbox"
              checked={!!scheme.llmInt8}
              onChange={(e) => commit({ ...scheme, llmInt8: e.target.checked ? { threshold: 6 } : undefined })}
            />
            <Term id="llmint8">LLM.int8()</Term> outlier split
          </label>
          {scheme.llmInt8 && (
            <Field label="threshold |x| >" hint="input columns with any |x| above stay FP32">
              <input
                type="number"
                min={0.5}
                max={100}
                step={0.5}
                value={scheme.llmInt8.threshold}
                onChange={(e) => commit({ ...scheme, llmInt8: { threshold: Math.max(0.01, Number(e.target.value)) } })}
                aria-label="LLM.int8 threshold"
              />
            </Field>
          )}
          <label
            className={`check ${scheme.b.bits === 32 ? 'disabled' : ''}`}
            title={scheme.b.bits === 32 ? 'GPTQ needs quantized weights' : 'GPTQ weight rounding with calibration inputs'}
          >
            <input
              type="checkbox"
              disabled={scheme.b.bits === 32}
              checked={!!scheme.gptq}
              onChange={(e) => commit({ ...scheme, gptq: e.target.checked ? { actOrder: true, damp: 0.01, sequential: true } : undefined })}
            />
            <Term id="gptq">GPTQ</Term> weight rounding
          </label>
          {scheme.gptq && (
            <div className="operand-grid">
              <label className="check">
                <input
                  type="checkbox"
                  checked={scheme.gptq.actOrder}
                  onChange={(e) => commit({ ...scheme, gptq: { ...scheme.gptq!, actOrder: e.target.checked } })}
                />
                act-order
              </label>
              <label
                className="check"
                title="the published opt_sequential: each site's Hessian from the inputs of the model whose earlier sites are already quantized (off: from the FP32 model)"
              >
                <input
                  type="checkbox"
                  checked={scheme.gptq.sequential !== false}
                  onChange={(e) => commit({ ...scheme, gptq: { ...scheme.gptq!, sequential: e.target.checked } })}
                />
                sequential
              </label>
              <Field label="damp">
                <input
                  type="number"
                  min={0.001}
                  max={0.5}
                  step={0.001}
                  value={scheme.gptq.damp}
                  onChange={(e) => commit({ ...scheme, gptq: { ...scheme.gptq!, damp: Number(e.target.value) } })}
                  aria-label="GPTQ damp"
                />
              </Field>
            </div>
          )}
        </fieldset>
      )}
      {error && (
        <div className="inline-error" role="alert">
          {error}
        </div>
      )}
      <fieldset className="operand">
        <legend>Apply to all</legend>
        <div className="btn-row">
          <button type="button" className="btn small" onClick={() => applyTo('all')}>
            this scheme → all 38
          </button>
          <button type="button" className="btn small" onClick={() => applyTo('weights')}>
            → weight sites
          </button>
          <button type="button" className="btn small" onClick={() => applyTo('kind')}>
            → every {site.kind === 'patch_embed' || site.kind === 'head' ? 'same' : site.name.split('· ')[1]}
          </button>
        </div>
        <div className="all-bits">
          <span className="field-label">all A</span>
          <BitsPicker value={0 as OperandBits} onChange={(b) => setAllBits('a', b)} label="Set A bits of all sites" />
          <span className="field-label">all B</span>
          <BitsPicker value={0 as OperandBits} onChange={(b) => setAllBits('b', b)} label="Set B bits of all sites" />
        </div>
        <div className="btn-row">
          <button
            type="button"
            className="btn small"
            onClick={() => setAllRotation(true)}
            title="QuaRot-style: every to_qkv, fc1 and fc2 (LayerNorm γ, β folded first; the FP32 function is unchanged)"
          >
            Hadamard rotation → every to_qkv, fc1, fc2
          </button>
          <button type="button" className="btn ghost small" onClick={() => setAllRotation(false)}>
            no rotation
          </button>
        </div>
        <div className="all-bits">
          <span className="field-label">all sites</span>
          <select
            value=""
            onChange={(e) => e.target.value && setAllFormat(e.target.value as Exclude<NumberFormat, 'int'>)}
            aria-label="Set the format of all sites"
          >
            <option value="">format…</option>
            {NUMBER_FORMATS.filter((f) => f !== 'int').map((f) => (
              <option key={f} value={f}>
                {f === 'nf4' ? 'W-NF4 (weights only)' : FORMAT_INFO[f].label}
              </option>
            ))}
          </select>
        </div>
      </fieldset>
    </div>
  );
}
