/**
 * The 38 sites as a diagram: patch embedding → 6 blocks (attention: to_qkv, q·kᵀ, attn·v,
 * to_out; MLP: fc1, fc2) → head. Each chip is split A | B and coloured by bits; its border
 * says which path runs it (solid: integer GEMM, dashed: simulated, dotted: weight-only).
 * Arrow keys move the selection.
 */
import { memo, useMemo, type KeyboardEvent } from 'react';
import { sitePath, type SitePath } from '../../plan/plan';
import { siteKindLabel, SITES_PER_BLOCK, type SiteInfo } from '../../plan/sites';
import { useStore } from '../../state/store';
import { useSites } from '../engine/useSites';
import { BIT_COLORS, BIT_LABEL, bitsTag, operandLabel, PATH_LABEL, PATH_SHORT } from '../common/format';

const SHORT: Record<string, string> = { to_qkv: 'qkv', qk: 'q·kᵀ', av: 'attn·v', to_out: 'out', fc1: 'fc1', fc2: 'fc2' };

const INT = new Intl.NumberFormat();

/** memoized: a chip re-renders only when its own scheme or selection changes (stage steps switch 38 at once) */
const SiteChip = memo(function SiteChip({ site, wide = false }: { site: SiteInfo; wide?: boolean }) {
  const scheme = useStore((s) => s.plan.sites[site.index]);
  const selected = useStore((s) => s.selectedSite === site.index);
  const select = useStore((s) => s.selectSite);
  const path = useMemo(() => sitePath(scheme, site.hasWeight), [scheme, site.hasWeight]);
  const ca = BIT_COLORS[scheme.a.bits];
  const cb = BIT_COLORS[scheme.b.bits];
  const label = wide ? siteKindLabel(site.kind) : SHORT[site.kind];
  return (
    <button
      type="button"
      className={`site-chip path-${path.path} ${selected ? 'selected' : ''} ${wide ? 'wide' : ''}`}
      style={{ background: `linear-gradient(90deg, ${ca} 0 50%, ${cb} 50% 100%)` }}
      onClick={() => select(site.index)}
      aria-pressed={selected}
      aria-label={`Site ${site.index}: ${site.name}, ${bitsTag(scheme, site.hasWeight)}, ${PATH_LABEL[path.path]}`}
      title={`#${site.index} ${site.name}\nA ${operandLabel(scheme.a)} · ${site.hasWeight ? 'W' : 'B'} ${operandLabel(scheme.b)}\n${PATH_LABEL[path.path]}: ${path.reason}\n${site.m}×${site.k} · ${site.n}×${site.k}${site.batch > 1 ? ` ×${site.batch} heads` : ''} = ${INT.format(site.macs)} MACs`}
      data-site={site.index}
    >
      <span className="chip-inner">
        <span className="chip-idx">{site.index}</span>
        <span className="chip-name">{label}</span>
        <span className="chip-bits">{bitsTag(scheme, site.hasWeight)}</span>
      </span>
      {path.path !== 'fp32' && <span className={`chip-path p-${path.path}`}>{PATH_SHORT[path.path]}</span>}
    </button>
  );
});

function Summary({ sites }: { sites: SiteInfo[] }) {
  const plan = useStore((s) => s.plan);
  const stats = useMemo(() => {
    const total = sites.reduce((a, s) => a + s.macs, 0);
    const byPath: Record<SitePath, number> = { fp32: 0, 'int8-gemm': 0, 'int4-gemm': 0, 'weight-only': 0, 'fake-quant': 0 };
    let low = 0;
    let lowSites = 0;
    let bitOps = 0;
    sites.forEach((s) => {
      const sc = plan.sites[s.index];
      byPath[sitePath(sc, s.hasWeight).path] += s.macs;
      const mx = Math.max(sc.a.bits, sc.b.bits);
      if (mx <= 4) {
        low += s.macs;
        lowSites++;
      }
      bitOps += s.macs * sc.a.bits * sc.b.bits;
    });
    return { total, byPath, low, lowSites, bitOps: bitOps / (total * 32 * 32) };
  }, [plan, sites]);
  const intShare = (stats.byPath['int8-gemm'] + stats.byPath['int4-gemm']) / stats.total;
  return (
    <div className="map-summary">
      <div>
        <span className="k">≤ 4-bit</span>
        <span className="v">
          {stats.lowSites}/38 sites · {((stats.low / stats.total) * 100).toFixed(1)}% of MACs
        </span>
      </div>
      <div>
        <span className="k">integer GEMM</span>
        <span className="v">{(intShare * 100).toFixed(1)}% of MACs</span>
      </div>
      <div>
        <span className="k">bit-ops vs FP32</span>
        <span className="v">{(stats.bitOps * 100).toFixed(1)}%</span>
      </div>
    </div>
  );
}

export function ModelMap() {
  const sites = useSites();
  const selected = useStore((s) => s.selectedSite);
  const select = useStore((s) => s.selectSite);
  const blocks = useMemo(
    () => Array.from({ length: Math.max(0, ...sites.map((s) => s.block + 1)) }, (_, b) => sites.filter((s) => s.block === b)),
    [sites],
  );
  const onKey = (e: KeyboardEvent) => {
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: SITES_PER_BLOCK, ArrowUp: -SITES_PER_BLOCK };
    if (e.key in moves && (e.target as HTMLElement).classList.contains('site-chip')) {
      e.preventDefault();
      const next = Math.max(0, Math.min(sites.length - 1, selected + moves[e.key]));
      select(next);
      requestAnimationFrame(() => (document.querySelector(`[data-site="${next}"]`) as HTMLElement | null)?.focus());
    }
  };
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: arrow keys move the focus between the site chips (buttons); their key events bubble here
    <div className="model-map" onKeyDown={onKey}>
      <div className="pane-title">
        <h2>Model map</h2>
        <span className="muted">click a site</span>
      </div>
      <div className="map-flow">
        <div className="map-io">image 32×32×3 → 64 patches + [cls]</div>
        <SiteChip site={sites.find((s) => s.kind === 'patch_embed')!} wide />
        <div className="map-arrow" aria-hidden="true">
          ↓
        </div>
        {blocks.map((bs, b) => (
          <div className="map-block" key={b}>
            <div className="map-block-label">block {b}</div>
            <div className="map-group attn">
              <span className="map-group-label">attention</span>
              <div className="map-row">
                {bs.slice(0, 4).map((s) => (
                  <SiteChip key={s.index} site={s} />
                ))}
              </div>
            </div>
            <div className="map-group mlp">
              <span className="map-group-label">MLP</span>
              <div className="map-row">
                {bs.slice(4).map((s) => (
                  <SiteChip key={s.index} site={s} />
                ))}
              </div>
            </div>
          </div>
        ))}
        <div className="map-arrow" aria-hidden="true">
          ↓
        </div>
        <SiteChip site={sites.find((s) => s.kind === 'head')!} wide />
        <div className="map-io">[cls] → 10 classes</div>
      </div>
      <div className="legend" role="group" aria-label="Legend">
        {([32, 8, 4, 2] as const).map((b) => (
          <span key={b} className="legend-item">
            <span className="swatch" style={{ background: BIT_COLORS[b] }} />
            {BIT_LABEL[b]}
          </span>
        ))}
        <span className="legend-item">
          <span className="swatch outline solid" /> integer GEMM
        </span>
        <span className="legend-item">
          <span className="swatch outline dashed" /> simulated
        </span>
        <span className="legend-item">
          <span className="swatch outline dotted" /> weight-only
        </span>
        <span className="legend-item muted">chip: left A | right B</span>
      </div>
      <Summary sites={sites} />
    </div>
  );
}
