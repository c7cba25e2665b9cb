/**
 * The study computed live in the page: single-site INT4 sensitivity, the greedy curve and the
 * presets, each row one client.score on a small subset, cancellable, with progress. Results
 * live in a small store so they survive tab switches. Also reads a CLI study.json when present.
 */
import { create } from 'zustand';
import * as P from '../../engine/presets';
import type { Plan } from '../../engine/plan';
import type { EvalSetName } from '../../engine/types';
import type { SiteInfo } from '../../model/sites';
import { PRESETS, type PresetContext } from '../../state/presets';
import { isAbortError, Latest } from '../../engine/latest';
import { currentClient } from '../engine/controller';
import { errorText } from '../engine/results';
import { correctness, pairedDelta } from '../../quant/intervals';

export interface SensRow {
  site: number;
  name: string;
  accuracy: number;
  delta_pp: number;
  /** paired vs FP32 on the same images (exact McNemar), when the run kept predictions */
  delta_lo_pp?: number;
  delta_hi_pp?: number;
  within_noise?: boolean;
  macs: number;
}
export interface ParetoPoint {
  label: string;
  kind: 'greedy' | 'preset' | 'single';
  bitops: number;
  avgBits: number;
  accuracy: number;
}
export interface StudyData {
  source: string;
  set: EvalSetName;
  images: number;
  fp32: number;
  sensitivity: SensRow[];
  greedy: { k: number; site: number; accuracy: number }[];
  /** live runs: the greedy order is chosen on images [0, n) and the curve scored on [n, 2n) */
  greedyOffset?: number;
  pareto: ParetoPoint[];
}

interface StudyState {
  running: boolean;
  progress: { done: number; total: number; phase: string } | null;
  error: string | null;
  live: StudyData | null;
  file: StudyData | null;
  show: 'live' | 'file';
}

export const useStudy = create<StudyState>()(() => ({ running: false, progress: null, error: null, live: null, file: null, show: 'live' }));

/** bit-ops share vs FP32 and MAC-weighted mean bits of a plan */
export function planCost(plan: Plan, sites: SiteInfo[]): { bitops: number; avgBits: number } {
  let tot = 0;
  let ops = 0;
  let bits = 0;
  sites.forEach((s) => {
    const sc = plan.sites[s.index];
    tot += s.macs;
    ops += s.macs * sc.a.bits * sc.b.bits;
    bits += (s.macs * (sc.a.bits + sc.b.bits)) / 2;
  });
  return { bitops: ops / (tot * 1024), avgBits: bits / tot };
}

const studyRun = new Latest();

export function cancelStudy() {
  studyRun.cancel();
}

export async function runLiveStudy(opts: { set: EvalSetName; images: number; sites: SiteInfo[]; presetContext: PresetContext; parts: { sens: boolean; greedy: boolean; presets: boolean } }) {
  const client = currentClient();
  if (!client) {
    useStudy.setState({ error: 'engine not ready' });
    return;
  }
  const signal = studyRun.begin();
  const { set, images, sites } = opts;
  const n = sites.length;
  const total = 1 + (opts.parts.sens || opts.parts.greedy ? n : 0) + (opts.parts.greedy ? n : 0) + (opts.parts.presets ? PRESETS.length : 0);
  let done = 0;
  const data: StudyData = { source: `live · ${images} ${set} images`, set, images, fp32: NaN, sensitivity: [], greedy: [], pareto: [] };
  const publish = (phase: string) => useStudy.setState({ progress: { done, total, phase }, live: { ...data, sensitivity: data.sensitivity.slice(), greedy: data.greedy.slice(), pareto: data.pareto.slice() } });
  useStudy.setState({ running: true, error: null, show: 'live' });
  const scoreOn = async (plan: Plan, phase: string, offset: number) => {
    publish(phase);
    const r = await client.score({ plan, set, offset, limit: images, keepPredictions: true }, undefined, signal);
    done++;
    return { acc: r.accuracy * 100, ok: correctness(r.predictions ?? [], r.labels ?? []) };
  };
  const acc = async (plan: Plan, phase: string) => (await scoreOn(plan, phase, 0)).acc;
  try {
    const fp = await scoreOn(P.fp32(), 'FP32', 0);
    data.fp32 = fp.acc;
    data.pareto.push({ label: 'FP32', kind: 'preset', ...planCost(P.fp32(), sites), accuracy: data.fp32 });
    if (opts.parts.sens || opts.parts.greedy) {
      for (const s of sites) {
        const plan = P.sitesPlan(`site ${s.index} INT4`, [s.index], P.note004Site(4));
        const r = await scoreOn(plan, `site ${s.index} alone INT4`, 0);
        const d = pairedDelta(fp.ok, r.ok);
        data.sensitivity.push({ site: s.index, name: s.name, accuracy: r.acc, delta_pp: r.acc - data.fp32, delta_lo_pp: 100 * d.lo, delta_hi_pp: 100 * d.hi, within_noise: d.withinNoise, macs: s.macs });
      }
    }
    if (opts.parts.greedy) {
      // chosen on the images of the scan, reported on the next `images` ones (never on the same)
      const order = [...data.sensitivity].sort((a, b) => b.accuracy - a.accuracy || a.site - b.site).map((r) => r.site);
      data.greedyOffset = images;
      for (let k = 1; k <= order.length; k++) {
        const plan = P.sitesPlan(`greedy ${k}`, order.slice(0, k), P.note004Site(4));
        const a = (await scoreOn(plan, `greedy: ${k} sites INT4 (held-out images)`, images)).acc;
        data.greedy.push({ k, site: order[k - 1], accuracy: a });
        data.pareto.push({ label: `greedy ${k}`, kind: 'greedy', ...planCost(plan, sites), accuracy: a });
      }
    }
    if (opts.parts.presets) {
      for (const p of PRESETS) {
        if (p.id === 'fp32') {
          done++;
          continue;
        }
        const plan = p.build(opts.presetContext);
        const a = await acc(plan, `preset ${p.label}`);
        data.pareto.push({ label: p.label, kind: 'preset', ...planCost(plan, sites), accuracy: a });
      }
    }
    publish('done');
    useStudy.setState({ running: false, progress: null });
  } catch (e) {
    if (!studyRun.isCurrent(signal)) return; // a newer study owns the panel
    useStudy.setState({ running: false, progress: null, error: isAbortError(e) ? 'cancelled — partial results shown' : errorText(e) });
  }
}

/** Read a CLI study.json (npm run study) into the same shape; null when absent or unreadable. */
export async function loadStudyFile(url = '/models/vit-cifar10/study.json', sites: SiteInfo[]): Promise<StudyData | null> {
  try {
    const r = await fetch(url);
    if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) return null;
    const j = (await r.json()) as Record<string, unknown>;
    const res = (['test', 'val'].map((k) => j[k]).find((v) => v && typeof v === 'object' && 'rows' in (v as object)) ?? j) as {
      set?: EvalSetName;
      images?: number;
      rows?: Record<string, { label?: string; accuracy: number }>;
      sensitivity_scan?: SensRow[];
      greedy?: { order: number[]; accuracy: number[] };
    };
    if (!res.rows && !res.sensitivity_scan) return null;
    const fp32 = res.rows?.fp32?.accuracy ?? NaN;
    const greedy = res.greedy ? res.greedy.order.map((site, i) => ({ k: i + 1, site, accuracy: res.greedy!.accuracy[i] })) : [];
    const pareto: ParetoPoint[] = greedy.map((g) => ({
      label: `greedy ${g.k}`,
      kind: 'greedy' as const,
      ...planCost(P.sitesPlan('', res.greedy!.order.slice(0, g.k), P.note004Site(4)), sites),
      accuracy: g.accuracy,
    }));
    if (Number.isFinite(fp32)) pareto.push({ label: 'FP32', kind: 'preset', ...planCost(P.fp32(), sites), accuracy: fp32 });
    return {
      source: `study.json · ${res.images ?? '?'} ${res.set ?? ''} images`,
      set: res.set ?? 'test',
      images: res.images ?? 0,
      fp32,
      sensitivity: res.sensitivity_scan ?? [],
      greedy,
      pareto,
    };
  } catch {
    return null;
  }
}
