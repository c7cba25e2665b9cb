/**
 * study.json as the Study view reads it. The current shape (version 2, /work/notes' study
 * format: held-out selection on val-sel, report on val-report and test, every cell with its
 * Wilson interval and its paired Δ vs FP32) is read as is; the old shape (one set, accuracies
 * only) is read into the same model with Wilson intervals rebuilt from the counts and NO Δ —
 * it has no per-image predictions, so no paired Δ can be formed from it.
 */
import { pairedDeltaFromCounts, wilson, type PairedDelta, type Proportion } from '../../quant/intervals';

export interface StudyCell {
  n: number;
  correct: number;
  acc: Proportion;
  /** paired vs FP32 on the same images; null when the file cannot give one */
  delta: PairedDelta | null;
  /** chaotic rows: accuracy range over jittered re-runs */
  band?: { min_pct: number; max_pct: number; seeds: number; jitter: number };
}

export interface StudyRowModel {
  key: string;
  label: string;
  group: string;
  plan: unknown | null;
  chaotic: boolean;
  cells: Record<string, StudyCell>;
  /** what preparing the plan decided (searched α, calibrator fallbacks) */
  notes: string[];
}

export interface ScanSite {
  site: number;
  name: string;
  macs: number;
  cells: Record<string, StudyCell>;
}

export interface RankStat {
  rho: number;
  lo: number;
  hi: number;
  n: number;
  method?: string;
}

export interface StudyModel {
  format: 'v2' | 'v1';
  source: string;
  command?: string;
  date?: string;
  /** cell names in display order, e.g. ['val-report', 'test'] (v1: ['val']) */
  cellNames: string[];
  /** the cell shown by default */
  defaultCell: string;
  rows: StudyRowModel[];
  scan: { sites: ScanSite[]; selVsReport?: RankStat; selVsTest?: RankStat } | null;
  greedy: { order: number[]; curve: Record<string, StudyCell[]> } | null;
  int4Share: { threshold: string; k: number; chosenOn: string; shareSites: number; shareMacs: number; cells: Record<string, StudyCell> }[];
  bestSites: number[];
  notes: string[];
}

export class StudyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StudyFormatError';
  }
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const num = (x: unknown, what: string): number => {
  if (typeof x !== 'number' || !Number.isFinite(x))
    throw new StudyFormatError(`${what} must be a finite number (got ${JSON.stringify(x)})`);
  return x;
};

function readCell(c: unknown, where: string): StudyCell {
  if (!isObj(c)) throw new StudyFormatError(`${where} must be an object`);
  const n = num(c.n, `${where}.n`);
  const correct = num(c.correct, `${where}.correct`);
  if (!(Number.isInteger(n) && Number.isInteger(correct) && correct >= 0 && correct <= n))
    throw new StudyFormatError(`${where}: correct ${correct} of n ${n} is not a count`);
  // the interval is recomputed from the counts (one formula, src/quant/intervals.ts)
  const acc = wilson(correct, n);
  let delta: PairedDelta | null = null;
  if (c.a_only !== undefined && c.b_only !== undefined)
    delta = pairedDeltaFromCounts(num(c.a_only, `${where}.a_only`), num(c.b_only, `${where}.b_only`), n);
  const cell: StudyCell = { n, correct, acc, delta };
  if (isObj(c.band))
    cell.band = {
      min_pct: num(c.band.min_pct, `${where}.band.min_pct`),
      max_pct: num(c.band.max_pct, `${where}.band.max_pct`),
      seeds: Number(c.band.seeds) || 0,
      jitter: Number(c.band.jitter) || 0,
    };
  return cell;
}

function readCells(c: unknown, where: string): Record<string, StudyCell> {
  if (!isObj(c)) throw new StudyFormatError(`${where} must be an object of cells`);
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, readCell(v, `${where}.${k}`)]));
}

function readRank(x: unknown): RankStat | undefined {
  if (!isObj(x)) return undefined;
  return {
    rho: num(x.rho, 'spearman.rho'),
    lo: num(x.lo, 'spearman.lo'),
    hi: num(x.hi, 'spearman.hi'),
    n: num(x.n, 'spearman.n'),
    method: typeof x.method === 'string' ? x.method : undefined,
  };
}

const CELL_ORDER = ['val-report', 'test', 'val-sel'];

function parseV2(j: Record<string, unknown>, source: string): StudyModel {
  if (!Array.isArray(j.rows)) throw new StudyFormatError('rows must be a list');
  const rows: StudyRowModel[] = j.rows.map((r, i) => {
    if (!isObj(r)) throw new StudyFormatError(`rows[${i}] must be an object`);
    const key = typeof r.key === 'string' ? r.key : `row${i}`;
    const notes = Array.isArray(r.notes) ? r.notes.filter((x): x is string => typeof x === 'string') : [];
    return {
      key,
      label: typeof r.label === 'string' ? r.label : key,
      group: typeof r.group === 'string' ? r.group : '',
      plan: r.plan ?? null,
      chaotic: r.chaotic === true,
      cells: readCells(r.cells, `rows[${i}].cells`),
      notes,
    };
  });
  const present = new Set(rows.flatMap((r) => Object.keys(r.cells)));
  const cellNames = [...CELL_ORDER.filter((c) => present.has(c)), ...[...present].filter((c) => !CELL_ORDER.includes(c))];
  let scan: StudyModel['scan'] = null;
  if (isObj(j.scan) && Array.isArray(j.scan.sites)) {
    scan = {
      sites: j.scan.sites.map((s, i) => {
        if (!isObj(s)) throw new StudyFormatError(`scan.sites[${i}] must be an object`);
        return {
          site: num(s.site, `scan.sites[${i}].site`),
          name: String(s.name ?? ''),
          macs: Number(s.macs) || 0,
          cells: readCells(s.cells, `scan.sites[${i}].cells`),
        };
      }),
      selVsReport: readRank(j.scan.spearman_sel_vs_report),
      selVsTest: readRank(j.scan.spearman_sel_vs_test),
    };
  }
  let greedy: StudyModel['greedy'] = null;
  if (isObj(j.greedy) && Array.isArray(j.greedy.order) && isObj(j.greedy.curve)) {
    const curve: Record<string, StudyCell[]> = {};
    for (const [k, v] of Object.entries(j.greedy.curve)) {
      if (!Array.isArray(v)) throw new StudyFormatError(`greedy.curve.${k} must be a list of cells`);
      curve[k] = v.map((c, i) => readCell(c, `greedy.curve.${k}[${i}]`));
    }
    greedy = { order: j.greedy.order.map((x, i) => num(x, `greedy.order[${i}]`)), curve };
  }
  const int4Share = isObj(j.int4_share)
    ? Object.entries(j.int4_share).map(([threshold, v]) => {
        if (!isObj(v)) throw new StudyFormatError(`int4_share.${threshold} must be an object`);
        return {
          threshold,
          k: num(v.k, `int4_share.${threshold}.k`),
          chosenOn: String(v.chosen_on ?? 'val-sel'),
          shareSites: Number(v.share_sites) || 0,
          shareMacs: Number(v.share_macs) || 0,
          cells: readCells(v.cells ?? {}, `int4_share.${threshold}.cells`),
        };
      })
    : [];
  return {
    format: 'v2',
    source,
    command: typeof j.command === 'string' ? j.command : undefined,
    date: typeof j.date === 'string' ? j.date : undefined,
    cellNames,
    defaultCell: cellNames.includes('val-report') ? 'val-report' : (cellNames[0] ?? 'val-report'),
    rows,
    scan,
    greedy,
    int4Share,
    bestSites: Array.isArray(j.best_sites) ? (j.best_sites as number[]) : [],
    notes: [],
  };
}

/** The first study.json: `{ <set>: { images, rows: { key: { label, accuracy } }, sensitivity_scan, greedy } }`. */
function parseV1(j: Record<string, unknown>, source: string): StudyModel {
  const setName = ['val', 'test'].find((k) => isObj(j[k]) && isObj((j[k] as Record<string, unknown>).rows));
  if (!setName) throw new StudyFormatError('neither the current format (version 2, rows) nor the old one ({ val|test: { rows } })');
  const res = j[setName] as Record<string, unknown>;
  const images = num(res.images, `${setName}.images`);
  const cellFromPct = (pct: number): StudyCell => {
    const correct = Math.round((pct / 100) * images);
    return { n: images, correct, acc: wilson(correct, images), delta: null };
  };
  const rows: StudyRowModel[] = Object.entries(res.rows as Record<string, unknown>).map(([key, r]) => {
    if (!isObj(r)) throw new StudyFormatError(`${setName}.rows.${key} must be an object`);
    return {
      key,
      label: typeof r.label === 'string' ? r.label : key,
      group: '',
      plan: null,
      chaotic: false,
      cells: { [setName]: cellFromPct(num(r.accuracy, `${setName}.rows.${key}.accuracy`)) },
      notes: [],
    };
  });
  const scanRows = Array.isArray(res.sensitivity_scan) ? (res.sensitivity_scan as Record<string, unknown>[]) : [];
  const greedyRaw = isObj(res.greedy) ? res.greedy : null;
  return {
    format: 'v1',
    source,
    command: typeof j.command === 'string' ? j.command : undefined,
    date: typeof j.date === 'string' ? j.date : undefined,
    cellNames: [setName],
    defaultCell: setName,
    rows,
    scan: scanRows.length
      ? {
          sites: scanRows.map((s) => ({
            site: Number(s.site),
            name: String(s.name ?? ''),
            macs: Number(s.macs) || 0,
            cells: { [setName]: cellFromPct(num(s.accuracy, 'sensitivity_scan.accuracy')) },
          })),
        }
      : null,
    greedy:
      greedyRaw && Array.isArray(greedyRaw.order) && Array.isArray(greedyRaw.accuracy)
        ? { order: greedyRaw.order as number[], curve: { [setName]: (greedyRaw.accuracy as number[]).map((a) => cellFromPct(a)) } }
        : null,
    int4Share: [],
    bestSites: Array.isArray(res.best_sites) ? (res.best_sites as number[]) : [],
    notes: [
      `Old study.json (one set, ${images} ${setName} images, accuracies only): intervals are Wilson on the counts; no Δ is shown because the file has no per-image predictions to pair — and its site choices were made on the same images they are reported on. Run \`npm run study\` for held-out selection and paired Δs.`,
    ],
  };
}

export function parseStudy(json: unknown, source = 'study.json'): StudyModel {
  if (!isObj(json)) throw new StudyFormatError('study.json must be a JSON object');
  if (json.version === 2) return parseV2(json, source);
  if (json.version !== undefined) throw new StudyFormatError(`version ${String(json.version)} is not supported (expected 2)`);
  return parseV1(json, source);
}

/** Fetch and parse; null when there is no study.json, an error message when it is unreadable. */
export async function fetchStudy(url = '/models/vit-cifar10/study.json'): Promise<{ model: StudyModel } | { error: string } | null> {
  try {
    const r = await fetch(url);
    if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) return null;
    return { model: parseStudy(await r.json(), url) };
  } catch (e) {
    return { error: `study.json could not be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** "W8A8 per-token" → at most `max` characters, the full label kept for the tooltip. */
export function shortLabel(label: string, max = 28): string {
  const s = label
    .replace(/all 38 sites /, 'all ')
    .replace(/per-tensor/g, 'per-t.')
    .replace(/dynamic /g, 'dyn. ')
    .replace(/asymmetric/g, 'asym')
    .replace(/symmetric/g, 'sym');
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
