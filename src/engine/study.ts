/**
 * The note-004 study (science.md §6) and the rows beyond it, on any backend.
 * Rows are keyed plainly (fp32, int4_all, sensitivity_scan, greedy, int4_share, …).
 */
import type { Engine, RunOptions } from './engine';
import * as P from './presets';
import type { Plan } from './plan';
import type { EvalSetName } from './types';

export interface StudyRow {
  key: string;
  label: string;
  set: EvalSetName;
  images: number;
  accuracy: number;
  /** percentage points vs FP32 on the same images */
  delta_pp: number;
  backend: string;
  wall_s: number;
  /** chaotic rows: the reference's own band under seeded 1e-6 output jitter (science.md §7) */
  band?: { min: number; max: number; seeds: number; jitter: number };
  paths?: Record<string, number>;
}

export interface StudyOptions {
  set: EvalSetName;
  limit: number;
  /** which parts to run (default all) */
  rows?: string[];
  /** restrict the single-site scan to these sites */
  sites?: number[];
  /** seeds for the chaotic-row bands (0 = none) */
  bandSeeds?: number;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

export interface StudyResult {
  set: EvalSetName;
  images: number;
  backend: string;
  adapter?: string;
  rows: Record<string, StudyRow>;
  sensitivity_scan?: { site: number; name: string; accuracy: number; delta_pp: number; macs: number }[];
  greedy?: { order: number[]; accuracy: number[] };
  int4_share?: Record<'2pp' | '5pp' | '10pp', { sites: number; share_sites: number; share_macs: number; accuracy: number }>;
  best_sites?: number[];
  wall_s: Record<string, number>;
}

const CHAOTIC = new Set(['int4_all', 'int2_all', 'int2_best6', 'int4_per_tensor_sym', 'int4_per_tensor_asym']);

export const BEYOND_ROWS: { key: string; build: () => Plan }[] = [
  { key: 'int8_all', build: () => P.allNote004(8) },
  { key: 'int8_per_tensor_sym', build: () => P.perTensorSym(8) },
  { key: 'int8_per_tensor_asym', build: () => P.perTensorAsym(8) },
  { key: 'int8_per_token', build: () => P.perTokenAsym(8) },
  { key: 'int4_per_tensor_sym', build: () => P.perTensorSym(4) },
  { key: 'int4_per_tensor_asym', build: () => P.perTensorAsym(4) },
  { key: 'int4_per_token', build: () => P.perTokenAsym(4) },
  { key: 'w8a8_per_token', build: () => P.w8a8PerToken() },
  { key: 'w4a8_per_channel', build: () => P.w4a8PerChannel() },
  { key: 'w4a8_group128', build: () => P.w4a8Group(128) },
  { key: 'w4a8_group32', build: () => P.w4a8Group(32) },
  { key: 'static_minmax', build: () => P.staticInt8('minmax') },
  { key: 'static_percentile', build: () => P.staticInt8('percentile') },
  { key: 'static_mse', build: () => P.staticInt8('mse') },
  { key: 'static_kl', build: () => P.staticInt8('kl') },
  { key: 'a4_static_mse', build: () => P.staticInt8('mse', 4) },
  { key: 'a4_static_minmax', build: () => P.staticInt8('minmax', 4) },
  { key: 'w4a4_per_tensor', build: () => P.smoothQuant(null, 4) },
  { key: 'smoothquant_w4a4', build: () => P.smoothQuant(0.5, 4) },
  { key: 'w8a8_per_tensor', build: () => P.smoothQuant(null, 8) },
  { key: 'smoothquant_w8a8', build: () => P.smoothQuant(0.5, 8) },
  { key: 'llm_int8', build: () => P.llmInt8(6) },
  { key: 'w4_rtn', build: () => P.weightOnly(4, 'channel', false) },
  { key: 'w4_gptq', build: () => P.weightOnly(4, 'channel', true) },
  { key: 'w2_g32_rtn', build: () => P.weightOnly(2, 'group', false, 32) },
  { key: 'w2_g32_gptq', build: () => P.weightOnly(2, 'group', true, 32) },
];

export async function runStudy(engine: Engine, o: StudyOptions): Promise<StudyResult> {
  const log = o.log ?? (() => undefined);
  const want = (k: string) => !o.rows || o.rows.includes(k) || o.rows.includes('all');
  const count = Math.min(o.limit, engine.evalSet(o.set).count);
  const res: StudyResult = { set: o.set, images: count, backend: engine.backend.info.label, rows: {}, wall_s: {} };
  const backend = engine.backend.info.label;
  const acc = async (plan: Plan, opts: RunOptions = {}) => {
    const r = await engine.score({ plan, set: o.set, limit: count }, undefined, o.signal, opts.jitter);
    const paths: Record<string, number> = {};
    r.sites.forEach((s) => (paths[s.path] = (paths[s.path] ?? 0) + 1));
    return { accuracy: r.accuracy * 100, wall: r.wallMs / 1000, paths };
  };
  const timed = async <T>(part: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const v = await f();
    res.wall_s[part] = (res.wall_s[part] ?? 0) + (performance.now() - t0) / 1000;
    return v;
  };
  const row = async (key: string, plan: Plan, fpAcc: number | null) => {
    const r = await timed(key, () => acc(plan));
    const fp = fpAcc ?? r.accuracy;
    const out: StudyRow = { key, label: plan.name ?? key, set: o.set, images: count, accuracy: r.accuracy, delta_pp: r.accuracy - fp, backend, wall_s: r.wall, paths: r.paths };
    if (CHAOTIC.has(key) && (o.bandSeeds ?? 0) > 0) {
      const vals: number[] = [];
      for (let s = 1; s <= o.bandSeeds!; s++) vals.push((await timed(key, () => acc(plan, { jitter: { scale: 1e-6, seed: s } }))).accuracy);
      out.band = { min: Math.min(r.accuracy, ...vals), max: Math.max(r.accuracy, ...vals), seeds: o.bandSeeds!, jitter: 1e-6 };
    }
    res.rows[key] = out;
    log(`  ${key.padEnd(22)} ${out.accuracy.toFixed(2).padStart(6)}%  (${out.delta_pp >= 0 ? '+' : ''}${out.delta_pp.toFixed(2)} pp)` + (out.band ? `  band ${out.band.min.toFixed(2)}–${out.band.max.toFixed(2)}` : '') + `  ${r.wall.toFixed(1)} s`);
    return out;
  };

  log(`study on ${count} ${o.set} images, backend ${backend}`);
  const fp = (await row('fp32', P.fp32(), null)).accuracy;
  if (want('int4_all')) await row('int4_all', P.allNote004(4), fp);

  const sites = engine.sites;
  if (want('sensitivity_scan') || want('greedy') || want('int4_share') || want('int2_best6')) {
    const scanSites = o.sites ?? sites.map((s) => s.index);
    res.sensitivity_scan = [];
    log('  sensitivity scan (single-site INT4):');
    for (const s of scanSites) {
      const r = await timed('sensitivity_scan', () => acc(P.sitesPlan(`site ${s} INT4`, [s], P.note004Site(4))));
      res.sensitivity_scan.push({ site: s, name: sites[s].name, accuracy: r.accuracy, delta_pp: r.accuracy - fp, macs: sites[s].macs });
      log(`    site ${String(s).padStart(2)} ${sites[s].name.padEnd(22)} ${r.accuracy.toFixed(2)}%`);
    }
    // order by single-site accuracy, best first (ties: lower site number first)
    const order = [...res.sensitivity_scan].sort((a, b) => b.accuracy - a.accuracy || a.site - b.site).map((r) => r.site);
    res.best_sites = order.slice(0, 6);
    if (want('greedy') || want('int4_share')) {
      log('  greedy cumulative curve:');
      const curve: number[] = [];
      for (let k = 1; k <= order.length; k++) {
        const r = await timed('greedy', () => acc(P.sitesPlan(`greedy ${k}`, order.slice(0, k), P.note004Site(4))));
        curve.push(r.accuracy);
        log(`    ${String(k).padStart(2)} sites (+${order[k - 1]}) ${r.accuracy.toFixed(2)}%`);
      }
      res.greedy = { order, accuracy: curve };
      const totalMacs = sites.reduce((a, s) => a + s.macs, 0);
      const share = (pp: number) => {
        let best = 0;
        curve.forEach((a, i) => {
          if (a >= fp - pp) best = i + 1;
        });
        const macs = order.slice(0, best).reduce((a, s) => a + sites[s].macs, 0);
        return { sites: best, share_sites: best / sites.length, share_macs: macs / totalMacs, accuracy: best ? curve[best - 1] : fp };
      };
      // scan restricted to some sites: the shares count only those
      if (order.length === sites.length) res.int4_share = { '2pp': share(2), '5pp': share(5), '10pp': share(10) };
    }
    if (want('int2_best6')) await row('int2_best6', P.sitesPlan('INT2 on the best 6 sites', res.best_sites, P.note004Site(2)), fp);
  }
  if (want('int2_all')) await row('int2_all', P.allNote004(2), fp);
  for (const b of BEYOND_ROWS) if (want(b.key) || want('beyond')) await row(b.key, b.build(), fp);
  return res;
}

export function studyMarkdown(r: StudyResult, meta: { engine: string; adapter?: string; date: string }): string {
  const L: string[] = [];
  const f = (x: number) => x.toFixed(2);
  L.push(`# Study: note 004 reproduced (${r.set}, ${r.images} images)`, '');
  L.push(`Engine: ${meta.engine}${meta.adapter ? ` · adapter: ${meta.adapter}` : ''} · ${meta.date}`, '');
  L.push('Ranges: dynamic per-tensor ranges cover one image (science.md §7), not a batch.', '');
  L.push('| row | plan | set | images | accuracy | Δ vs FP32 | band (seeded 1e-6 jitter) | backend | wall s |', '|---|---|---|---|---|---|---|---|---|');
  for (const row of Object.values(r.rows))
    L.push(`| \`${row.key}\` | ${row.label} | ${row.set} | ${row.images} | ${f(row.accuracy)}% | ${row.delta_pp >= 0 ? '+' : ''}${f(row.delta_pp)} pp | ${row.band ? `${f(row.band.min)}–${f(row.band.max)}% (${row.band.seeds} seeds)` : '—'} | ${row.backend} | ${row.wall_s.toFixed(1)} |`);
  if (r.sensitivity_scan) {
    L.push('', '## Single-site INT4 sensitivity scan', '', '| site | name | accuracy | Δ pp |', '|---|---|---|---|');
    for (const s of r.sensitivity_scan) L.push(`| ${s.site} | ${s.name} | ${f(s.accuracy)}% | ${s.delta_pp >= 0 ? '+' : ''}${f(s.delta_pp)} |`);
    const accs = r.sensitivity_scan.map((s) => s.accuracy);
    L.push('', `Range: ${f(Math.min(...accs))}%–${f(Math.max(...accs))}% (note 004: 78.15%–79.27% in its printed rows, FP32 79.58%).`);
  }
  if (r.greedy) {
    L.push('', '## Greedy cumulative curve (sites enabled in order of single-site accuracy)', '');
    L.push(`Order: [${r.greedy.order.join(', ')}]`, '');
    L.push(`Accuracy: [${r.greedy.accuracy.map(f).join(', ')}]`, '');
    const peak = Math.max(...r.greedy.accuracy);
    L.push(`Peak ${f(peak)}% with ${r.greedy.accuracy.indexOf(peak) + 1} site(s) (note 004: 80.37% with 6).`);
  }
  if (r.int4_share) {
    L.push('', '## Share of INT4 within a loss budget', '', '| budget | sites | share by sites | share by multiplications | accuracy |', '|---|---|---|---|---|');
    for (const [k, v] of Object.entries(r.int4_share)) L.push(`| ${k} | ${v.sites}/38 | ${(100 * v.share_sites).toFixed(1)}% | ${(100 * v.share_macs).toFixed(1)}% | ${f(v.accuracy)}% |`);
    L.push('', 'Note 004 (by sites): 84.2% / 97.4% / 100% within 2 / 5 / 10 pp.');
  }
  L.push('', '## Wall time per part (s)', '', '| part | s |', '|---|---|');
  for (const [k, v] of Object.entries(r.wall_s)) L.push(`| ${k} | ${v.toFixed(1)} |`);
  return L.join('\n') + '\n';
}
