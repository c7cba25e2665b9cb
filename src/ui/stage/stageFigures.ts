/**
 * Stage mode's headline figures: each step's accuracy on the validation set, never a number of
 * another step. A figure comes from study.json when the study scored that step's plan (matched by
 * the canonical JSON of the validated sites; its "val-report" cell), else it is computed in the
 * background on the validation set when stage mode opens — in chunks queued behind live scoring,
 * so stepping stays quick — and kept per plan for the rest of the session.
 */
import { create } from 'zustand';
import { validatePlan, type Plan } from '../../plan/plan';
import { correctness, pairedDelta, pairedDeltaFromCounts, wilson, type PairedDelta, type Proportion } from '../../quant/intervals';
import { AbortError, isAbortError, Latest } from '../../util/latest';
import { currentClient } from '../engine/controller';
import { errorText, useResults } from '../engine/results';

/** A step's figure: accuracy with its Wilson interval, paired Δ vs FP32 on the same images. */
export interface StageFigure {
  source: 'study.json' | 'computed';
  /** which images, in words ("validation images 2500–4999") */
  images: string;
  acc: Proportion;
  /** null for the FP32 plan itself */
  delta: PairedDelta | null;
}

export interface StepFigureState {
  figure: StageFigure | null;
  /** background scoring of this plan: images done of total */
  progress: { done: number; total: number } | null;
  error: string | null;
}

/** JSON with sorted keys: the same plan gives the same text however its objects were built. */
export function canonicalJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonicalJson).join(',')}]`;
  if (x && typeof x === 'object')
    return `{${Object.keys(x)
      .filter((k) => (x as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((x as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(x);
}

/** The key a plan's figure is kept under: canonical JSON of its validated sites (names ignored). */
export function planKey(plan: Plan): string {
  return canonicalJson(validatePlan(plan).sites);
}

/** study.json "version 2" (notes/study-format.md): a row's val-report cell as a stage figure. */
interface StudyCell {
  n: number;
  correct: number;
  a_only?: number;
  b_only?: number;
}
interface StudyRow {
  key?: string;
  plan?: unknown;
  cells?: Record<string, StudyCell | undefined>;
}

export const STUDY_CELL = 'val-report';

export function figuresFromStudy(json: unknown): Map<string, StageFigure> {
  const out = new Map<string, StageFigure>();
  const j = json as { version?: number; rows?: unknown; split?: Record<string, { offset?: number; limit?: number }> };
  if (!j || j.version !== 2 || !Array.isArray(j.rows)) return out;
  const split = j.split?.[STUDY_CELL];
  const images =
    split && Number.isInteger(split.offset) && Number.isInteger(split.limit)
      ? `validation images ${split.offset}–${split.offset! + split.limit! - 1}`
      : 'validation report half';
  for (const row of j.rows as StudyRow[]) {
    const cell = row?.cells?.[STUDY_CELL];
    if (!cell || !Number.isInteger(cell.n) || !Number.isInteger(cell.correct) || cell.n <= 0 || cell.correct < 0 || cell.correct > cell.n)
      continue;
    let key: string;
    try {
      key = planKey(row.plan as Plan);
    } catch {
      continue; // a row whose plan this build cannot read is skipped, not guessed
    }
    const isFp32 = (validatePlan(row.plan).sites ?? []).every((s) => s.a.bits === 32 && s.b.bits === 32);
    const paired = Number.isInteger(cell.a_only) && Number.isInteger(cell.b_only) && cell.a_only! + cell.b_only! <= cell.n;
    out.set(key, {
      source: 'study.json',
      images,
      acc: wilson(cell.correct, cell.n),
      delta: isFp32 ? null : paired ? pairedDeltaFromCounts(cell.a_only!, cell.b_only!, cell.n) : null,
    });
  }
  return out;
}

interface StageFiguresState {
  byKey: Record<string, StepFigureState>;
  /** study.json: loaded, absent/old format, or still loading */
  study: 'loading' | 'loaded' | 'none';
}

export const useStageFigures = create<StageFiguresState>()(() => ({ byKey: {}, study: 'loading' }));

const EMPTY: StepFigureState = { figure: null, progress: null, error: null };
export function figureState(key: string): StepFigureState {
  return useStageFigures.getState().byKey[key] ?? EMPTY;
}
function patch(key: string, p: Partial<StepFigureState>) {
  useStageFigures.setState((s) => ({ byKey: { ...s.byKey, [key]: { ...(s.byKey[key] ?? EMPTY), ...p } } }));
}

/** Validation images scored per plan in the background (the whole set; a smaller demo/test value may be stored). */
export const VAL_IMAGES = 5000;
const LIMIT_KEY = 'qp.stage.valImages';
/** Images per background request: live re-scores queue between chunks, so stepping stays quick. */
const CHUNK = 100;

export function backgroundImages(): number {
  try {
    const v = Number(localStorage.getItem(LIMIT_KEY));
    if (Number.isInteger(v) && v > 0 && v < VAL_IMAGES) return v;
  } catch {
    /* no storage: the whole set */
  }
  return VAL_IMAGES;
}

let studyLoad: Promise<void> | null = null;
function loadStudy(): Promise<void> {
  studyLoad ??= (async () => {
    // study.json's figures are of the shipped weights: not shown while trained weights are applied
    if (useResults.getState().current.kind !== 'shipped') {
      useStageFigures.setState({ study: 'none' });
      return;
    }
    try {
      const r = await fetch(`${import.meta.env?.BASE_URL ?? '/'}models/vit-cifar10/study.json`);
      const ok = r.ok && (r.headers.get('content-type') ?? '').includes('json');
      const figs = ok ? figuresFromStudy(await r.json()) : new Map<string, StageFigure>();
      useStageFigures.setState((s) => {
        const byKey = { ...s.byKey };
        for (const [k, f] of figs) byKey[k] = { figure: f, progress: null, error: null };
        return { byKey, study: figs.size ? 'loaded' : 'none' };
      });
    } catch {
      useStageFigures.setState({ study: 'none' });
    }
  })();
  return studyLoad;
}

/** per-image correctness of computed plans (FP32's is the other half of every paired Δ) */
const computed = new Map<string, Uint8Array>();
const stageRun = new Latest();

// another model (trained weights applied / shipped restored): every figure was of the old one
useResults.subscribe((r, prev) => {
  if (r.current === prev.current) return;
  stageRun.drop();
  computed.clear();
  studyLoad = null;
  useStageFigures.setState({ byKey: {}, study: 'loading' });
});

async function scoreInChunks(key: string, plan: Plan, total: number, signal: AbortSignal): Promise<Uint8Array> {
  const have = computed.get(key);
  if (have && have.length === total) return have;
  const client = currentClient();
  if (!client) throw new Error('engine not ready');
  const right = new Uint8Array(total);
  patch(key, { progress: { done: 0, total }, error: null });
  for (let off = 0; off < total; off += CHUNK) {
    const limit = Math.min(CHUNK, total - off);
    const r = await client.score({ plan, set: 'val', offset: off, limit, keepPredictions: true }, undefined, signal);
    if (signal.aborted) throw new AbortError();
    right.set(correctness(r.predictions!, r.labels!), off);
    patch(key, { progress: { done: off + limit, total } });
  }
  computed.set(key, right);
  return right;
}

/**
 * Prepares each step's plan in the engine (calibration, smoothing, weight packing: 10 s or more for
 * the first SmoothQuant plan of a session) by scoring one image of it, in step order, so a step's
 * live re-score on stage costs only the scoring. Prepared plans stay cached in the engine.
 */
async function warmPlans(order: Plan[], signal: AbortSignal): Promise<void> {
  const client = currentClient();
  for (const plan of order) {
    if (signal.aborted || !client) return;
    try {
      await client.score({ plan, set: 'test', offset: 0, limit: 1 }, undefined, signal);
    } catch (e) {
      if (signal.aborted || isAbortError(e)) return;
      // the step's own re-score reports the error where it is seen; warming is best effort
    }
  }
}

/**
 * Stage mode opened: make sure every step has its figure. `plans` in step order; `first` is the
 * step on screen (computed first, after FP32). Returns a stop function (leaving stage mode).
 */
export function startStageFigures(plans: Plan[], fp32: Plan, first: number): () => void {
  const signal = stageRun.begin();
  void (async () => {
    await loadStudy();
    // wait for the engine (stage mode may be the page's first view)
    while (!signal.aborted && useResults.getState().status.state !== 'ready') await new Promise((r) => setTimeout(r, 200));
    const order = [...plans.slice(first), ...plans.slice(0, first)];
    await warmPlans(order, signal);
    const todo = order.filter((p) => !figureState(planKey(p)).figure);
    if (!todo.length || signal.aborted) return;
    const total = backgroundImages();
    const images = total === VAL_IMAGES ? `all ${VAL_IMAGES} validation images` : `first ${total} validation images`;
    const fpKey = planKey(fp32);
    for (const p of todo) {
      const key = planKey(p);
      try {
        const base = await scoreInChunks(fpKey, fp32, total, signal);
        const mine = key === fpKey ? base : await scoreInChunks(key, p, total, signal);
        let k = 0;
        for (const v of mine) k += v;
        patch(key, {
          figure: { source: 'computed', images, acc: wilson(k, total), delta: key === fpKey ? null : pairedDelta(base, mine) },
          progress: null,
          error: null,
        });
        if (!figureState(fpKey).figure) {
          let kf = 0;
          for (const v of base) kf += v;
          patch(fpKey, { figure: { source: 'computed', images, acc: wilson(kf, total), delta: null }, progress: null, error: null });
        }
      } catch (e) {
        if (signal.aborted || isAbortError(e)) {
          // a partial run is dropped (it resumes from the start next time): no progress left on screen
          patch(key, { progress: null });
          if (!figureState(fpKey).figure) patch(fpKey, { progress: null });
          if (signal.aborted) return;
          continue;
        }
        patch(key, { progress: null, error: errorText(e) });
      }
    }
  })();
  return () => {
    if (stageRun.isCurrent(signal)) stageRun.drop();
  };
}
