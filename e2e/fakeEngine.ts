/**
 * DEV/TEST ONLY — a small fake EngineClient for looking at the UI before (or without) the real
 * engine worker. Never imported by the app: a screenshot script injects it through
 * `window.__QP_ENGINE__` (see src/ui/engine/client.ts). Numbers are synthetic.
 */
import type { EngineClient, EngineStatus } from '../src/engine/client';
import type { Plan } from '../src/engine/plan';
import { sitePath, defaultHasWeight } from '../src/engine/plan';
import type { BackendInfo, EvalSetName, OperandStats, ScoreRequest, ScoreResult, SiteStats } from '../src/engine/types';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
function gauss(r: () => number) {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export function createFakeEngine(): EngineClient {
  let backend: BackendInfo = { kind: 'cpu', label: 'CPU · fake engine (dev only)', reason: 'dev fake' };
  let bin: Uint8Array | null = null;
  const load = async () => {
    if (!bin) bin = new Uint8Array(await (await fetch('/data/cifar10/test_batch_first1000.bin')).arrayBuffer());
    return bin;
  };
  const penalty = (plan: Plan) =>
    plan.sites.reduce((a, s, i) => {
      const b = Math.max(s.a.bits === 32 ? 0 : 9 - s.a.bits, s.b.bits === 32 ? 0 : 9 - s.b.bits);
      const g = s.a.granularity === 'token' ? 0.5 : 1;
      return a + (b ? (b ** 2 / 49) * 0.01 * g * (1 + (i % 5) / 3) : 0);
    }, 0);
  const status: EngineStatus = { state: 'ready', backend };
  return {
    async ready() {
      await load();
      return {
        backend,
        model: { name: 'vit-cifar10 (fake)', config: { dim: 128, depth: 6, heads: 4, mlp: 256, patch: 4, classes: 10, image: 32 }, metrics: { test: { accuracy: 0.79, count: 1000 }, epochs: 22 } },
        dataset: { sets: { test: 1000, val: 5000 }, classNames: CLASSES },
      };
    },
    status: () => status,
    onStatus: () => () => undefined,
    async setBackend(choice) {
      backend = { ...backend, kind: choice === 'webgpu' ? 'webgpu' : 'cpu', label: choice === 'webgpu' ? 'WebGPU · fake' : 'CPU · fake engine (dev only)' };
      return backend;
    },
    async score(req: ScoreRequest, onProgress, signal): Promise<ScoreResult> {
      const data = await load();
      const n = Math.min(req.limit ?? 1000, 1000);
      const pen = penalty(req.plan);
      const labels: number[] = [];
      const preds: number[] = [];
      for (let i = 0; i < n; i++) {
        if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
        if (i % 25 === 0) {
          onProgress?.({ done: i, total: n, phase: 'scoring' });
          await new Promise((r) => setTimeout(r, 8));
        }
        const label = data[i * 3073];
        const r = rng(i * 7919 + 1)();
        const r2 = rng(i * 104729 + Math.round(pen * 1000))();
        let p = r < 0.79 ? label : (label + 1 + Math.floor(r * 9)) % 10;
        if (r2 < pen * 0.9) p = (p + 3) % 10;
        labels.push(label);
        preds.push(p);
      }
      const confusion = Array.from({ length: 10 }, () => new Array(10).fill(0));
      labels.forEach((l, i) => confusion[l][preds[i]]++);
      const correct = labels.filter((l, i) => l === preds[i]).length;
      return {
        set: req.set,
        count: n,
        correct,
        accuracy: correct / n,
        predictions: req.keepPredictions ? preds : undefined,
        labels: req.keepPredictions ? labels : undefined,
        confusion,
        perClassAccuracy: confusion.map((r, i) => r[i] / Math.max(1, r.reduce((a, b) => a + b, 0))),
        sites: req.plan.sites.map((s, i) => ({ site: i, ...sitePath(s, defaultHasWeight(i)) })),
        backend,
        wallMs: n * 4,
        imagesPerSecond: 250,
      };
    },
    async siteStats(plan: Plan, site: number, _set: EvalSetName, image: number): Promise<SiteStats> {
      const op = (role: 'a' | 'b', rows: number, cols: number, seed: number): OperandStats => {
        const r = rng(seed);
        const vals: number[] = [];
        const outCols = new Set([7, 42, 99]);
        for (let i = 0; i < rows * cols; i++) {
          const c = i % cols;
          const tokenScale = 0.5 + 2 * rng(Math.floor(i / cols) + seed)();
          vals.push(gauss(r) * (role === 'a' ? tokenScale : 0.05) * (role === 'a' && outCols.has(c) ? 14 : 1) + (role === 'a' ? 0.1 : 0));
        }
        const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
        const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
        const min = Math.min(...vals);
        const max = Math.max(...vals);
        const bins = 120;
        const counts = new Array(bins).fill(0);
        vals.forEach((v) => counts[Math.min(bins - 1, Math.floor(((v - min) / (max - min)) * bins))]++);
        const colAbsMax = Array.from({ length: cols }, (_, c) => Math.max(...Array.from({ length: rows }, (_, t) => Math.abs(vals[t * cols + c]))));
        const rowMin = Array.from({ length: rows }, (_, t) => Math.min(...vals.slice(t * cols, (t + 1) * cols)));
        const rowMax = Array.from({ length: rows }, (_, t) => Math.max(...vals.slice(t * cols, (t + 1) * cols)));
        return {
          role,
          rows,
          cols,
          min,
          max,
          mean,
          std,
          absmax: Math.max(-min, max),
          beyond6Sigma: vals.filter((v) => Math.abs(v - mean) > 6 * std).length / vals.length,
          maxSigma: Math.max(...vals.map((v) => Math.abs(v - mean))) / std,
          histogram: { lo: min, hi: max, counts },
          colAbsMax,
          rowMin,
          rowMax,
          sample: vals.filter((_, i) => i % Math.max(1, Math.floor(vals.length / 4096)) === 0).slice(0, 4096),
        };
      };
      const a = op('a', 65, 128, site * 31 + image + 1);
      const b = op('b', 384, 128, site * 17 + 5);
      const s = plan.sites[site];
      return {
        site,
        image,
        a,
        b,
        quant: {},
        outputMse: s.a.bits === 32 && s.b.bits === 32 ? 0 : 0.001 * (9 - Math.min(8, s.a.bits)),
        outputSqnrDb: s.a.bits === 32 && s.b.bits === 32 ? Infinity : 6 * Math.min(s.a.bits, s.b.bits) - 4,
        path: { site, ...sitePath(s, defaultHasWeight(site)) },
      };
    },
    async images(_set, indices) {
      const data = await load();
      return { pixels: indices.map((i) => data.slice(i * 3073 + 1, i * 3073 + 3073)), labels: indices.map((i) => data[i * 3073]) };
    },
    dispose() {},
  };
}
