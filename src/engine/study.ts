/**
 * The note-004 study (science.md §6) and the rows beyond it, on any backend, with held-out
 * selection and intervals (science.md §8):
 *  - the validation set is split into a fixed selection half (val images 0–2499) and a report half
 *    (2500–4999); the scan's ranking, the greedy order, best-k sites and the INT4-share thresholds
 *    are chosen on the selection half and reported on the report half and on the 1000 test images;
 *  - every cell carries its n, a 95% Wilson interval and the paired Δ vs FP32 on the same images
 *    (exact McNemar interval); chaotic rows also carry a jitter band (science.md §7).
 * One study for every caller: `studyRows(scorer, options)` is an async generator of the result as
 * it grows (a row, a scanned site, a greedy step at a time) — the CLI drives it on an Engine
 * (`engineScorer`), the playground's Study view through the engine worker, with a smaller split.
 */
import type { Engine } from './engine';
import type { RunOptions } from '../plan/backend';
import * as P from '../plan/presets';
import type { Plan } from '../plan/plan';
import type { EvalSetName, SiteRunInfo } from '../plan/types';
import type { SiteInfo } from '../plan/sites';
import { correctness, pairedDelta, spearman, wilson, type RankCorrelation } from '../quant/intervals';

export interface CellSpec {
  set: EvalSetName;
  offset: number;
  limit: number;
}

/** The fixed split (documented in README and science.md §8). */
export const SPLIT = {
  'val-sel': { set: 'val', offset: 0, limit: 2500 },
  'val-report': { set: 'val', offset: 2500, limit: 2500 },
  test: { set: 'test', offset: 0, limit: 1000 },
} as const satisfies Record<string, CellSpec>;
export type CellName = keyof typeof SPLIT;
export const CELL_NAMES = Object.keys(SPLIT) as CellName[];

export interface StudyCell {
  n: number;
  correct: number;
  accuracy_pct: number;
  lo_pct: number;
  hi_pct: number;
  /** paired vs FP32 on the same images (absent on the FP32 row) */
  delta_pp?: number;
  delta_lo_pp?: number;
  delta_hi_pp?: number;
  within_noise?: boolean;
  /** images FP32 gets right and this plan wrong, and the reverse */
  a_only?: number;
  b_only?: number;
  p_mcnemar?: number;
  /** chaotic rows: min/max accuracy over the unjittered run and `seeds` jittered ones */
  band?: { min_pct: number; max_pct: number; seeds: number; jitter: number };
  /** predicted class per image, one digit each, in image order */
  predictions: string;
  wall_s: number;
}

export interface StudyRow {
  key: string;
  label: string;
  group: string;
  plan: Plan;
  chaotic: boolean;
  cells: Partial<Record<CellName, StudyCell>>;
  paths: Record<string, number>;
  /** what preparing the plan decided (searched α, calibrator fallbacks), deduplicated */
  notes?: string[];
}

export interface ScanSite {
  site: number;
  name: string;
  macs: number;
  cells: Partial<Record<CellName, StudyCell>>;
}

export type StudySplit = Record<CellName, CellSpec>;

export interface StudyResult {
  version: 2;
  split: StudySplit;
  /** the cells rows are reported on; selection happens on 'val-sel' */
  report: CellName[];
  backend: string;
  adapter?: string;
  rows: StudyRow[];
  scan?: { sites: ScanSite[]; spearman_sel_vs_report?: RankCorrelation; spearman_sel_vs_test?: RankCorrelation };
  greedy?: { order: number[]; chosen_on: 'val-sel'; curve: Partial<Record<CellName, StudyCell[]>> };
  int4_share?: Record<
    '2pp' | '5pp' | '10pp',
    { k: number; chosen_on: 'val-sel'; share_sites: number; share_macs: number; cells: Partial<Record<CellName, StudyCell>> }
  >;
  best_sites?: number[];
  wall_s: Record<string, number>;
}

/** What the study needs of an engine: images per set and the score of a plan on a cell. */
export interface StudyScorer {
  /** backend label, recorded in the result */
  readonly backend: string;
  readonly sites: SiteInfo[];
  /** images in `set` */
  count(set: EvalSetName): number;
  /** labels of a cell (a resumed FP32 row has predictions but no labels) */
  labels(spec: CellSpec): Promise<ArrayLike<number>>;
  score(
    plan: Plan,
    spec: CellSpec,
    opts: { jitter?: RunOptions['jitter']; signal?: AbortSignal },
  ): Promise<{ predictions: number[]; labels: ArrayLike<number>; sites: SiteRunInfo[] }>;
}

/** The scorer of an Engine in this thread (the CLI). */
export function engineScorer(engine: Engine): StudyScorer {
  return {
    backend: engine.backend.info.label,
    sites: engine.sites,
    count: (set) => engine.evalSet(set).count,
    labels: async (c) => engine.evalSet(c.set).labels.subarray(c.offset, c.offset + c.limit),
    async score(plan, c, opts) {
      const r = await engine.score(
        { plan, set: c.set, offset: c.offset, limit: c.limit, keepPredictions: true },
        undefined,
        opts.signal,
        opts.jitter,
      );
      return { predictions: r.predictions!, labels: r.labels!, sites: r.sites };
    },
  };
}

export interface StudyOptions {
  /** the cells (default SPLIT; the playground's live study uses smaller ones of the same kind) */
  split?: StudySplit;
  /** cells the rows are reported on (default val-report and test) */
  report?: CellName[];
  /** cap every cell at this many images (smoke runs); the split's offsets stay */
  limit?: number;
  /** which parts to run (default all): row keys, groups, or scan / greedy / int4_share / int2_best6 */
  rows?: string[];
  /** seeds for the chaotic-row bands (0 = none) */
  bandSeeds?: number;
  log?: (s: string) => void;
  /** an earlier (partial) result of the same split: rows, scan sites and greedy steps it holds are reused */
  resume?: StudyResult;
  /** greedy curve: every k on the selection half; on the report cells only at each budget's k (default) or at every k */
  greedyReport?: 'budgets' | 'all';
  /** cells of the single-site scan besides val-sel (default: the report cells) */
  scanCells?: CellName[];
  /** called with the result so far after each row and part (checkpoints of long runs) */
  onPartial?: (r: StudyResult) => void;
  signal?: AbortSignal;
}

/**
 * science.md §7: a plan whose every site has both operands at ≤ 4 bits with a per-tensor range on
 * at least one of them reacts to float rounding itself; such rows carry a jitter band.
 */
export function isChaotic(plan: Plan): boolean {
  return plan.sites.every((s) => s.a.bits <= 4 && s.b.bits <= 4 && (s.a.granularity === 'tensor' || s.b.granularity === 'tensor'));
}

export interface RowDef {
  key: string;
  group: string;
  build: () => Plan;
}

/** The rows beyond note 004's (each plan once, under one name). */
export const BEYOND_ROWS: RowDef[] = [
  { key: 'int8_per_tensor_sym', group: 'granularity', build: () => P.perTensorSym(8) },
  { key: 'int4_per_tensor_sym', group: 'granularity', build: () => P.perTensorSym(4) },
  { key: 'int4_per_token', group: 'granularity', build: () => P.perTokenAsym(4) },
  { key: 'w8a8_per_token', group: 'granularity', build: () => P.w8a8PerToken() },
  { key: 'w4a8_per_channel', group: 'granularity', build: () => P.w4a8PerChannel() },
  { key: 'w4a8_group128', group: 'granularity', build: () => P.w4a8Group(128) },
  { key: 'w4a8_group32', group: 'granularity', build: () => P.w4a8Group(32) },
  { key: 'static_minmax', group: 'calibration', build: () => P.staticInt8('minmax') },
  { key: 'static_percentile', group: 'calibration', build: () => P.staticInt8('percentile') },
  { key: 'static_mse', group: 'calibration', build: () => P.staticInt8('mse') },
  { key: 'static_kl', group: 'calibration', build: () => P.staticInt8('kl') },
  { key: 'a4_static_minmax', group: 'calibration', build: () => P.staticInt8('minmax', 4) },
  { key: 'a4_static_mse', group: 'calibration', build: () => P.staticInt8('mse', 4) },
  { key: 'a4_static_kl', group: 'calibration', build: () => P.staticInt8('kl', 4) },
  { key: 'w8a8_per_tensor', group: 'smoothquant', build: () => P.smoothQuant(null, 8) },
  { key: 'smoothquant_w8a8', group: 'smoothquant', build: () => P.smoothQuant(0.5, 8) },
  { key: 'smoothquant_w8a8_search', group: 'smoothquant', build: () => P.smoothQuant('search', 8) },
  { key: 'smoothquant_w8a8_runtime_all', group: 'smoothquant', build: () => P.smoothQuant(0.5, 8, 'runtime-all') },
  {
    key: 'w8a8_per_tensor_static_kl',
    group: 'smoothquant',
    build: () => P.smoothQuant(null, 8, 'fold', { range: 'static', calibrator: 'kl' }),
  },
  {
    key: 'smoothquant_w8a8_static_kl',
    group: 'smoothquant',
    build: () => P.smoothQuant(0.5, 8, 'fold', { range: 'static', calibrator: 'kl' }),
  },
  { key: 'w4a4_per_tensor', group: 'smoothquant', build: () => P.smoothQuant(null, 4) },
  { key: 'smoothquant_w4a4', group: 'smoothquant', build: () => P.smoothQuant(0.5, 4) },
  { key: 'smoothquant_w4a4_search', group: 'smoothquant', build: () => P.smoothQuant('search', 4) },
  { key: 'smoothquant_w4a4_runtime_all', group: 'smoothquant', build: () => P.smoothQuant(0.5, 4, 'runtime-all') },
  { key: 'llm_int8', group: 'outliers', build: () => P.llmInt8(6) },
  { key: 'w4_rtn', group: 'gptq', build: () => P.weightOnly(4, 'channel', false) },
  { key: 'w4_gptq_fp32h', group: 'gptq', build: () => P.weightOnly(4, 'channel', 'fp32-hessians') },
  { key: 'w4_gptq_seq', group: 'gptq', build: () => P.weightOnly(4, 'channel', 'sequential') },
  { key: 'w3_rtn', group: 'gptq', build: () => P.weightOnly(3, 'channel', false) },
  { key: 'w3_gptq_fp32h', group: 'gptq', build: () => P.weightOnly(3, 'channel', 'fp32-hessians') },
  { key: 'w3_gptq_seq', group: 'gptq', build: () => P.weightOnly(3, 'channel', 'sequential') },
  { key: 'w2_g32_rtn', group: 'gptq', build: () => P.weightOnly(2, 'group', false, 32) },
  { key: 'w2_g32_gptq_fp32h', group: 'gptq', build: () => P.weightOnly(2, 'group', 'fp32-hessians', 32) },
  { key: 'w2_g32_gptq_seq', group: 'gptq', build: () => P.weightOnly(2, 'group', 'sequential', 32) },
  { key: 'ternary_g32_rtn', group: 'gptq', build: () => P.weightOnly(2, 'group', false, 32, 'sym') },
  { key: 'ternary_g32_gptq_seq', group: 'gptq', build: () => P.weightOnly(2, 'group', 'sequential', 32, 'sym') },
  // number formats beside INT (science.md §9): all 38 sites, both operands (W-NF4: weights only)
  { key: 'fmt_fp8_e4m3', group: 'formats', build: () => P.formatPlan('fp8_e4m3') },
  { key: 'fmt_fp8_e5m2', group: 'formats', build: () => P.formatPlan('fp8_e5m2') },
  { key: 'fmt_mxfp8', group: 'formats', build: () => P.formatPlan('mxfp8') },
  { key: 'fmt_mxfp4', group: 'formats', build: () => P.formatPlan('mxfp4') },
  { key: 'fmt_nvfp4', group: 'formats', build: () => P.formatPlan('nvfp4') },
  { key: 'fmt_w_nf4', group: 'formats', build: () => P.formatPlan('nf4') },
  // the Hadamard rotation at the 18 to_qkv/fc1/fc2 sites (the rest FP32), without and with
  { key: 'fp32_rotated', group: 'rotation', build: () => P.withRotation(P.fp32()) },
  { key: 'int4_tensor_rotatable', group: 'rotation', build: () => P.rotationStudyPlan('int4-tensor', false) },
  { key: 'int4_tensor_rotatable_rot', group: 'rotation', build: () => P.rotationStudyPlan('int4-tensor', true) },
  { key: 'w4a4_rotatable', group: 'rotation', build: () => P.rotationStudyPlan('w4a4', false) },
  { key: 'w4a4_rotatable_rot', group: 'rotation', build: () => P.rotationStudyPlan('w4a4', true) },
  { key: 'w4a8_rotatable', group: 'rotation', build: () => P.rotationStudyPlan('w4a8', false) },
  { key: 'w4a8_rotatable_rot', group: 'rotation', build: () => P.rotationStudyPlan('w4a8', true) },
];

const NOTE_PARTS = ['scan', 'greedy', 'int4_share', 'int2_best6'];

function cellOf(spec: CellSpec, limit: number | undefined, scorer: StudyScorer): CellSpec {
  const count = scorer.count(spec.set);
  const lo = Math.min(spec.offset, count);
  return { set: spec.set, offset: lo, limit: Math.max(0, Math.min(spec.limit, limit ?? Infinity, count - lo)) };
}

export function cellFromPredictions(preds: ArrayLike<number>, labels: ArrayLike<number>, wall: number, fp?: Uint8Array): StudyCell {
  const ok = correctness(preds, labels);
  let correct = 0;
  for (const v of ok) correct += v;
  const w = wilson(correct, ok.length);
  const cell: StudyCell = {
    n: ok.length,
    correct,
    accuracy_pct: 100 * w.p,
    lo_pct: 100 * w.lo,
    hi_pct: 100 * w.hi,
    predictions: Array.from(preds).join(''),
    wall_s: wall,
  };
  if (fp) {
    const d = pairedDelta(fp, ok);
    Object.assign(cell, {
      delta_pp: 100 * d.delta,
      delta_lo_pp: 100 * d.lo,
      delta_hi_pp: 100 * d.hi,
      within_noise: d.withinNoise,
      a_only: d.aOnly,
      b_only: d.bOnly,
      p_mcnemar: d.p,
    });
  }
  return cell;
}

/** A plan's accuracy with the highest k (sites in greedy order) still within `pp` of FP32, on `cell`'s curve. */
function shareK(curve: StudyCell[], fpPct: number, pp: number): number {
  let best = 0;
  curve.forEach((c, i) => {
    if (c.accuracy_pct >= fpPct - pp) best = i + 1;
  });
  return best;
}

/** A snapshot of the study as it grows: after each row, scanned site and greedy step. */
export interface StudyUpdate {
  /** what was just measured, in words */
  phase: string;
  /** plan scores run so far (each on one cell) */
  scores: number;
  result: StudyResult;
}

/**
 * The study as an async generator: yields the result after each part, returns the whole. Stop it
 * with `o.signal` (the scores in flight abort) or by leaving the loop.
 */
export async function* studyRows(scorer: StudyScorer, o: StudyOptions = {}): AsyncGenerator<StudyUpdate, StudyResult> {
  // runStudyOn reports through onPartial; the generator hands each snapshot on as it comes
  const queue: StudyUpdate[] = [];
  let wake: (() => void) | null = null;
  let done: { result: StudyResult } | { error: unknown } | null = null;
  let phase = 'starting';
  let scores = 0;
  // leaving the loop early stops the study too (its scores in flight abort), as o.signal does
  const stop = new AbortController();
  if (o.signal) {
    if (o.signal.aborted) stop.abort();
    else o.signal.addEventListener('abort', () => stop.abort(), { once: true });
  }
  const run = runStudyOn(scorer, {
    ...o,
    signal: stop.signal,
    log: (s) => {
      phase = s.trim();
      o.log?.(s);
    },
    onScore: () => scores++,
    onPartial: (r) => {
      o.onPartial?.(r);
      queue.push({ phase, scores, result: r });
      wake?.();
    },
  }).then(
    (result) => {
      done = { result };
      wake?.();
    },
    (error) => {
      done = { error };
      wake?.();
    },
  );
  try {
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (done) break;
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  } finally {
    if (!done) stop.abort();
    await run;
  }
  const end = done as { result: StudyResult } | { error: unknown };
  if ('error' in end) throw end.error;
  return end.result;
}

/** The whole study on an Engine (the CLI): the generator run to its end. */
export async function runStudy(engine: Engine, o: StudyOptions = {}): Promise<StudyResult> {
  const it = studyRows(engineScorer(engine), o);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

async function runStudyOn(scorer: StudyScorer, o: StudyOptions & { onScore?: () => void }): Promise<StudyResult> {
  const log = o.log ?? (() => undefined);
  const want = (k: string, group?: string) =>
    !o.rows ||
    o.rows.includes('all') ||
    o.rows.includes(k) ||
    (group !== undefined && o.rows.includes(group)) ||
    (group !== undefined && group !== 'note004' && o.rows.includes('beyond'));
  const report = o.report ?? ['val-report', 'test'];
  const split = o.split ?? SPLIT;
  const cells = Object.fromEntries(CELL_NAMES.map((c) => [c, cellOf(split[c], o.limit, scorer)])) as Record<CellName, CellSpec>;
  const backend = scorer.backend;
  const res: StudyResult = { version: 2, split, report, backend, rows: [], wall_s: {} };
  const fpOk: Partial<Record<CellName, Uint8Array>> = {};

  const timed = async <T>(part: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const v = await f();
    res.wall_s[part] = (res.wall_s[part] ?? 0) + (performance.now() - t0) / 1000;
    return v;
  };
  const score = async (plan: Plan, cell: CellName, opts: RunOptions = {}) => {
    const c = cells[cell];
    const t0 = performance.now();
    const r = await scorer.score(plan, c, { jitter: opts.jitter, signal: o.signal });
    o.onScore?.();
    return { r, cell: cellFromPredictions(r.predictions, r.labels, (performance.now() - t0) / 1000, fpOk[cell]) };
  };
  const fmt = (c?: StudyCell) =>
    c
      ? `${c.accuracy_pct.toFixed(2)}% [${c.lo_pct.toFixed(1)}, ${c.hi_pct.toFixed(1)}]` +
        (c.delta_pp !== undefined
          ? ` Δ ${c.delta_pp >= 0 ? '+' : ''}${c.delta_pp.toFixed(2)} [${c.delta_lo_pp!.toFixed(2)}, ${c.delta_hi_pp!.toFixed(2)}]${c.within_noise ? ' ~' : ''}`
          : '') +
        (c.band ? ` band ${c.band.min_pct.toFixed(2)}–${c.band.max_pct.toFixed(2)}` : '')
      : '—';

  const samePlan = (a: Plan, b: Plan) => JSON.stringify(a.sites) === JSON.stringify(b.sites);
  const row = async (key: string, group: string, plan: Plan, on: CellName[] = report): Promise<StudyRow> => {
    // one plan, one row (the same plan under two names would be counted twice)
    const twin = res.rows.find((r) => samePlan(r.plan, plan));
    if (twin) {
      log(`  ${key.padEnd(30)} = ${twin.key} (the same plan; not listed twice)`);
      return twin;
    }
    const old = o.resume?.rows.find(
      (r) =>
        r.key === key && samePlan(r.plan, plan) && on.every((c) => r.cells[c] && (!r.chaotic || !(o.bandSeeds ?? 0) || r.cells[c]!.band)),
    );
    if (old) {
      res.rows.push(old);
      log(`  ${key.padEnd(30)} (resumed)`);
      return old;
    }
    const chaotic = isChaotic(plan);
    const out: StudyRow = { key, label: plan.name ?? key, group, plan, chaotic, cells: {}, paths: {} };
    await timed(key, async () => {
      for (const cell of on) {
        const { r, cell: c } = await score(plan, cell);
        if (!Object.keys(out.paths).length) r.sites.forEach((s) => (out.paths[s.path] = (out.paths[s.path] ?? 0) + 1));
        const notes = new Set(r.sites.flatMap((s) => s.notes ?? []));
        if (notes.size) out.notes = [...notes];
        if (chaotic && (o.bandSeeds ?? 0) > 0) {
          const vals = [c.accuracy_pct];
          for (let s = 1; s <= o.bandSeeds!; s++)
            vals.push((await score(plan, cell, { jitter: { scale: 1e-6, seed: s } })).cell.accuracy_pct);
          c.band = { min_pct: Math.min(...vals), max_pct: Math.max(...vals), seeds: o.bandSeeds!, jitter: 1e-6 };
        }
        out.cells[cell] = c;
      }
    });
    res.rows.push(out);
    log(`  ${key.padEnd(30)} ${on.map((c) => `${c}: ${fmt(out.cells[c])}`).join('  ')}`);
    o.onPartial?.(res);
    return out;
  };

  log(
    `study on ${CELL_NAMES.map((c) => `${c} = ${cells[c].set}[${cells[c].offset}, ${cells[c].offset + cells[c].limit})`).join(', ')}; backend ${backend}`,
  );
  // FP32 on every cell first: the baseline every paired Δ is taken against
  const needSel = NOTE_PARTS.some((p) => want(p, 'note004'));
  const fpRow = await row('fp32', 'note004', P.fp32(), needSel ? [...new Set<CellName>(['val-sel', ...report])] : report);
  for (const c of CELL_NAMES) {
    const cell = fpRow.cells[c];
    const spec = cells[c];
    if (cell) fpOk[c] = correctness(Array.from(cell.predictions, Number), await scorer.labels(spec));
  }
  if (want('int4_all', 'note004')) await row('int4_all', 'note004', P.allNote004(4));

  const sites = scorer.sites;
  if (needSel) {
    const scanCells = [...new Set<CellName>(['val-sel', ...(o.scanCells ?? report)])];
    log('  single-site INT4 scan (note 004 scheme):');
    const scan: ScanSite[] = [];
    await timed('scan', async () => {
      for (const s of sites) {
        const plan = P.sitesPlan(`site ${s.index} INT4`, [s.index], P.note004Site(4));
        const entry: ScanSite = { site: s.index, name: s.name, macs: s.macs, cells: {} };
        const prev = o.resume?.scan?.sites.find((x) => x.site === s.index);
        for (const c of scanCells) entry.cells[c] = prev?.cells[c] ?? (await score(plan, c)).cell;
        scan.push(entry);
        res.scan = { sites: scan };
        log(
          `    site ${String(s.index).padStart(2)} ${s.name.padEnd(22)} ${scanCells.map((c) => `${c}: ${fmt(entry.cells[c])}`).join('  ')}`,
        );
        o.onPartial?.(res);
      }
    });
    res.scan = { sites: scan };
    const dSel = scan.map((s) => s.cells['val-sel']!.accuracy_pct);
    if (scanCells.includes('val-report'))
      res.scan.spearman_sel_vs_report = spearman(
        dSel,
        scan.map((s) => s.cells['val-report']!.accuracy_pct),
      );
    if (scanCells.includes('test'))
      res.scan.spearman_sel_vs_test = spearman(
        dSel,
        scan.map((s) => s.cells.test!.accuracy_pct),
      );
    // the ranking is made on the selection half only (ties: lower site first)
    const order = [...scan]
      .sort((a, b) => b.cells['val-sel']!.accuracy_pct - a.cells['val-sel']!.accuracy_pct || a.site - b.site)
      .map((r) => r.site);
    res.best_sites = order.slice(0, 6);
    log(
      `    ranking chosen on val-sel: [${order.join(', ')}]; Spearman ρ sel vs report ${res.scan.spearman_sel_vs_report?.rho.toFixed(2) ?? '—'} [${res.scan.spearman_sel_vs_report?.lo.toFixed(2) ?? ''}, ${res.scan.spearman_sel_vs_report?.hi.toFixed(2) ?? ''}]`,
    );
    o.onPartial?.(res);
    if (want('greedy', 'note004') || want('int4_share', 'note004')) {
      // the whole curve on the validation halves; on test only where a budget's k lands (below)
      const curveCells = o.greedyReport === 'all' ? scanCells.filter((c) => c !== 'test') : (['val-sel'] as CellName[]);
      log(`  greedy cumulative curve (order chosen on val-sel) on ${curveCells.join(', ')}:`);
      const curve: Partial<Record<CellName, StudyCell[]>> = {};
      const greedyPlan = (k: number) => P.sitesPlan(`greedy ${k}`, order.slice(0, k), P.note004Site(4));
      await timed('greedy', async () => {
        for (let k = 1; k <= order.length; k++) {
          const prev =
            o.resume?.greedy && o.resume.greedy.order.slice(0, k).join() === order.slice(0, k).join() ? o.resume.greedy.curve : undefined;
          for (const c of curveCells) (curve[c] ??= []).push(prev?.[c]?.[k - 1] ?? (await score(greedyPlan(k), c)).cell);
          res.greedy = { order, chosen_on: 'val-sel', curve };
          log(
            `    greedy ${String(k).padStart(2)} sites (+${order[k - 1]}) ${curveCells.map((c) => `${c}: ${fmt(curve[c]![k - 1])}`).join('  ')}`,
          );
          o.onPartial?.(res);
        }
      });
      res.greedy = { order, chosen_on: 'val-sel', curve };
      const totalMacs = sites.reduce((a, s) => a + s.macs, 0);
      const fpSel = fpRow.cells['val-sel']!.accuracy_pct;
      const share = async (pp: number) => {
        const k = shareK(curve['val-sel']!, fpSel, pp);
        const macs = order.slice(0, k).reduce((a, s) => a + sites[s].macs, 0);
        const at: Partial<Record<CellName, StudyCell>> = {};
        for (const c of report)
          at[c] = !k ? fpRow.cells[c] : (curve[c]?.[k - 1] ?? (await timed('greedy', () => score(greedyPlan(k), c))).cell);
        return { k, chosen_on: 'val-sel' as const, share_sites: k / sites.length, share_macs: macs / totalMacs, cells: at };
      };
      res.int4_share = { '2pp': await share(2), '5pp': await share(5), '10pp': await share(10) };
      o.onPartial?.(res);
    }
    if (want('int2_best6', 'note004'))
      await row('int2_best6', 'note004', P.sitesPlan('INT2 on the best 6 sites (chosen on val-sel)', res.best_sites, P.note004Site(2)));
  }
  if (want('int2_all', 'note004')) await row('int2_all', 'note004', P.allNote004(2));
  if (want('int8_all', 'note004')) await row('int8_all', 'note004', P.allNote004(8));
  for (const b of BEYOND_ROWS) if (want(b.key, b.group)) await row(b.key, b.group, b.build());
  return res;
}

const f2 = (x: number) => x.toFixed(2);
const sgn = (x: number) => (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(2);

function cellMd(c?: StudyCell): string[] {
  if (!c) return ['—', '—', '—'];
  const acc = `${f2(c.accuracy_pct)}% [${f2(c.lo_pct)}, ${f2(c.hi_pct)}]`;
  const d =
    c.delta_pp === undefined
      ? '—'
      : `${sgn(c.delta_pp)} [${sgn(c.delta_lo_pp!)}, ${sgn(c.delta_hi_pp!)}]${c.within_noise ? ' within noise' : ''}`;
  const band = c.band ? `${f2(c.band.min_pct)}–${f2(c.band.max_pct)}%` : '—';
  return [acc, d, band];
}

export function studyMarkdown(r: StudyResult, meta: { engine: string; date: string; command: string; wall: number }): string {
  const L: string[] = [];
  const sp = r.split;
  L.push('# Study: note 004 reproduced, and beyond — with held-out selection and intervals', '');
  L.push(`Engine: ${meta.engine} · ${meta.date} · \`${meta.command}\` · ${meta.wall.toFixed(0)} s`, '');
  L.push(
    `Images: selection half **val-sel** = val [${sp['val-sel'].offset}, ${sp['val-sel'].offset + sp['val-sel'].limit}), report half **val-report** = val [${sp['val-report'].offset}, ${sp['val-report'].offset + sp['val-report'].limit}), **test** = the first ${sp.test.limit} test images. ` +
      'Anything chosen from accuracies (scan ranking, greedy order, best-6, INT4-share k) is chosen on val-sel and reported on val-report and test.',
    '',
  );
  L.push(
    'Accuracy: 95% Wilson interval. Δ: paired vs FP32 on the same images, 95% exact McNemar interval (Clopper–Pearson on the discordant images); "within noise" when it holds 0. ' +
      'Band: chaotic rows (every site ≤ 4 bits with a per-tensor operand) rerun with seeded 1e-6 output jitter (science.md §7). Dynamic per-tensor ranges cover one image.',
    '',
  );
  for (const cell of r.report) {
    const n = r.rows[0]?.cells[cell]?.n ?? 0;
    L.push(
      `## Rows on ${cell} (n = ${n})`,
      '',
      '| row | group | plan | accuracy [95%] | Δ vs FP32 pp [95%] | band | paths |',
      '|---|---|---|---|---|---|---|',
    );
    for (const row of r.rows) {
      const [acc, d, band] = cellMd(row.cells[cell]);
      const paths = Object.entries(row.paths)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      L.push(
        `| \`${row.key}\` | ${row.group} | ${row.label}${row.notes?.length ? ` — ${row.notes.join('; ')}` : ''} | ${acc} | ${d} | ${band} | ${paths} |`,
      );
    }
    L.push('');
  }
  if (r.scan) {
    const cols = Object.keys(r.scan.sites[0]?.cells ?? {}) as CellName[];
    L.push('## Single-site INT4 scan', '');
    const rho = (x?: RankCorrelation) => (x ? `ρ = ${f2(x.rho)} [${f2(x.lo)}, ${f2(x.hi)}] (n = ${x.n} sites)` : '—');
    L.push(
      `Rank stability of the single-site accuracies: val-sel vs val-report ${rho(r.scan.spearman_sel_vs_report)}; val-sel vs test ${rho(r.scan.spearman_sel_vs_test)}. ${r.scan.sites[0] ? (r.scan.spearman_sel_vs_report?.method ?? '') : ''}`,
      '',
    );
    L.push(`| site | name | ${cols.map((c) => `${c} Δ pp [95%]`).join(' | ')} |`, `|---|---|${cols.map(() => '---').join('|')}|`);
    for (const s of r.scan.sites) L.push(`| ${s.site} | ${s.name} | ${cols.map((c) => cellMd(s.cells[c])[1]).join(' | ')} |`);
    L.push('');
  }
  if (r.greedy) {
    L.push('## Greedy cumulative curve (order chosen on val-sel)', '', `Order: [${r.greedy.order.join(', ')}]`, '');
    const cols = Object.keys(r.greedy.curve) as CellName[];
    L.push(`| k | + site | ${cols.map((c) => `${c} accuracy [95%]`).join(' | ')} |`, `|---|---|${cols.map(() => '---').join('|')}|`);
    r.greedy.order.forEach((s, i) => L.push(`| ${i + 1} | ${s} | ${cols.map((c) => cellMd(r.greedy!.curve[c]![i])[0]).join(' | ')} |`));
    L.push('');
  }
  if (r.int4_share) {
    L.push('## Share of INT4 within a loss budget (k chosen on val-sel, reported elsewhere)', '');
    L.push(
      `| budget | k sites | share by sites | share by multiplications | ${r.report.map((c) => `${c} accuracy [95%] · Δ`).join(' | ')} |`,
      `|---|---|---|---|${r.report.map(() => '---').join('|')}|`,
    );
    for (const [k, v] of Object.entries(r.int4_share))
      L.push(
        `| ${k} | ${v.k}/38 | ${(100 * v.share_sites).toFixed(1)}% | ${(100 * v.share_macs).toFixed(1)}% | ${r.report.map((c) => cellMd(v.cells[c]).slice(0, 2).join(' · ')).join(' | ')} |`,
      );
    L.push('');
  }
  if (r.best_sites) L.push(`Best 6 INT4 sites chosen on val-sel (used by \`int2_best6\`): [${r.best_sites.join(', ')}].`, '');
  L.push('## Wall time per part (s)', '', '| part | s |', '|---|---|');
  for (const [k, v] of Object.entries(r.wall_s)) L.push(`| ${k} | ${v.toFixed(1)} |`);
  return L.join('\n') + '\n';
}
