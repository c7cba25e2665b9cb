/**
 * Starts the engine and keeps results in step with the config: a subscription (not a component)
 * re-scores the live subset ~300 ms after the last change, newest request wins (a Latest slot),
 * scores FP32 once per subset as the baseline, and fetches the selected site's statistics.
 */
import { fp32Plan, type Plan } from '../../plan/plan';
import type { EngineClient, EngineStatus } from '../../runtime/client';
import type { EvalSetName, ModelIdentity, Progress, ScoreResult } from '../../plan/types';
import { useStore, type Store } from '../../state/store';
import { isAbortError, Latest } from '../../util/latest';
import { getClient, EngineUnavailableError } from './client';
import { emptyLive, errorText, useResults } from './results';
import { requestSiteStats } from './siteStatsRequest';

let client: EngineClient | null = null;
const liveRun = new Latest();
const fullRun = new Latest();
const statsRun = new Latest();

export function isFp32Plan(p: Plan): boolean {
  return p.sites.every((s) => s.a.bits === 32 && s.b.bits === 32);
}

export function currentClient(): EngineClient | null {
  return client;
}

function setLive(patch: Partial<ReturnType<typeof emptyLive>>) {
  useResults.setState((r) => ({ live: { ...r.live, ...patch } }));
}

function subsetLimit(set: EvalSetName, n: number): number {
  const avail = useResults.getState().dataset?.sets[set];
  return avail ? Math.min(n, avail) : n;
}

function baselineKey(set: EvalSetName, limit: number): string {
  return `${set}:${limit}:${useResults.getState().backend?.kind ?? '?'}`;
}

/** FP32 score of a subset, scored once per (set, size, backend) and cached. */
export async function baseline(
  set: EvalSetName,
  limit: number,
  onProgress?: (p: Progress) => void,
  signal?: AbortSignal,
): Promise<ScoreResult> {
  const key = baselineKey(set, limit);
  const cached = useResults.getState().baselines[key];
  if (cached) return cached;
  if (!client) throw new Error('engine not ready');
  const r = await client.score({ plan: fp32Plan(), set, offset: 0, limit, keepPredictions: true }, onProgress, signal);
  useResults.setState((s) => ({ baselines: { ...s.baselines, [key]: r } }));
  return r;
}

async function scoreLive() {
  if (!client || useResults.getState().status.state !== 'ready') return;
  const signal = liveRun.begin();
  const st = useStore.getState();
  const limit = subsetLimit(st.evalSet, st.liveSize);
  const plan = st.plan;
  const fp = isFp32Plan(plan);
  const key = JSON.stringify([plan.sites, st.evalSet, limit, useResults.getState().backend?.kind]);
  setLive({ key, running: true, progress: { done: 0, total: limit, phase: 'queued' }, error: null, isFp32: fp });
  try {
    const base = await baseline(
      st.evalSet,
      limit,
      (p) => signal.aborted || setLive({ progress: { ...p, phase: 'FP32 baseline' } }),
      signal,
    );
    const result = fp
      ? base
      : await client.score(
          { plan, set: st.evalSet, offset: 0, limit, keepPredictions: true },
          (p) => signal.aborted || setLive({ progress: p }),
          signal,
        );
    if (signal.aborted) return;
    setLive({ running: false, progress: null, result, error: null });
  } catch (e) {
    if (!liveRun.isCurrent(signal)) return; // a newer request owns the panel
    if (isAbortError(e)) setLive({ running: false, progress: null, error: null });
    else setLive({ running: false, progress: null, error: errorText(e) });
  }
}

export function cancelLive() {
  liveRun.cancel();
  setLive({ running: false, progress: null });
}

/** Score the whole eval set under the current plan (and FP32 once, for the Δ). */
export async function scoreFullSet() {
  if (!client) return;
  const signal = fullRun.begin();
  const st = useStore.getState();
  const total = useResults.getState().dataset?.sets[st.evalSet] ?? 1000;
  const fp = isFp32Plan(st.plan);
  const set = (patch: Partial<ReturnType<typeof emptyLive>>) =>
    useResults.setState((r) => ({ full: { ...(r.full ?? emptyLive()), ...patch } }));
  set({
    key: JSON.stringify([st.plan.sites, st.evalSet, total]),
    running: true,
    result: null,
    error: null,
    isFp32: fp,
    progress: { done: 0, total, phase: 'queued' },
  });
  try {
    await baseline(st.evalSet, total, (p) => set({ progress: { ...p, phase: 'FP32 baseline' } }), signal);
    const result = fp
      ? await baseline(st.evalSet, total)
      : await client.score(
          { plan: st.plan, set: st.evalSet, offset: 0, limit: total, keepPredictions: true },
          (p) => set({ progress: p }),
          signal,
        );
    set({ running: false, progress: null, result });
  } catch (e) {
    if (!fullRun.isCurrent(signal)) return; // superseded by a newer full-set run
    set({ running: false, progress: null, error: isAbortError(e) ? 'cancelled' : errorText(e) });
  }
}

export function cancelFull() {
  fullRun.cancel(); // the run's own catch reports "cancelled"
}

async function fetchStats() {
  if (!client || useResults.getState().status.state !== 'ready') return;
  const st = useStore.getState();
  await requestSiteStats(client, statsRun, st.plan, { site: st.selectedSite, set: st.evalSet, image: st.image }, (f) =>
    useResults.setState((r) => ({ stats: f(r.stats) })),
  );
}

/**
 * The engine's model changed (trained weights applied, or the shipped ones restored): every figure
 * of the old model goes — the FP32 baselines (Δ), the live and full scores, the site statistics;
 * the compare, stage and study stores drop theirs on `current` (they subscribe) — and the live
 * subset is scored again on the new model.
 */
function modelChanged(current: ModelIdentity) {
  if (sameModel(useResults.getState().current, current)) return;
  liveRun.drop();
  fullRun.drop();
  statsRun.drop();
  useResults.setState({
    current,
    baselines: {},
    live: emptyLive(),
    full: null,
    stats: { key: '', loading: false, data: null, error: null },
  });
  scheduleLive(0);
  scheduleStats(0);
}

const sameModel = (a: ModelIdentity, b: ModelIdentity) =>
  a.kind === b.kind && (a.kind === 'shipped' || (b.kind === 'trained' && a.step === b.step && a.appliedAt === b.appliedAt));

/**
 * "Apply to playground" (Train view): the trained parameters become the engine's model and `plan`
 * (the learned ranges as clips) the current plan, scored like any other. Rejects with the engine's
 * reason (the old model stays) when the weights do not fit.
 */
export async function applyTrainedModel(params: Record<string, Float32Array>, step: number, plan: Plan): Promise<ModelIdentity> {
  if (!client) throw new Error('engine not ready');
  const id = await client.setWeights(params, step);
  modelChanged(id);
  useStore.getState().setPlan(plan);
  return id;
}

/** Back to the shipped weights (the plan stays as it is). */
export async function restoreShippedModel(): Promise<ModelIdentity> {
  if (!client) throw new Error('engine not ready');
  const id = await client.restoreWeights();
  modelChanged(id);
  return id;
}

async function applyBackend(choice: Store['backend']) {
  if (!client) return;
  const before = useResults.getState().backend;
  try {
    const backend = await client.setBackend(choice);
    useResults.setState({ backend, status: { state: 'ready', backend }, live: { ...useResults.getState().live, result: null } });
  } catch (e) {
    // the worker keeps the backend it had: say why the switch failed and keep scoring on it
    const kept = before ? { ...before, reason: `could not switch to ${choice} (${errorText(e)}); still on ${before.label}` } : null;
    if (kept) useResults.setState({ backend: kept, status: { state: 'ready', backend: kept } });
    else
      useResults.setState({
        status: {
          state: 'error',
          message: `Could not switch backend: ${errorText(e)}`,
          fix: 'Choose "auto" to let the engine pick a working backend.',
        },
      });
  }
  scheduleLive(0);
  scheduleStats(0);
}

/**
 * Engine status → results store. Before the first ready() the init sequence owns 'ready' (model
 * and dataset info must be in first); after it, a 'ready' (backend switched, device recovered)
 * returns the UI to a scoring state and re-scores what the lost or replaced backend left.
 */
export function onEngineStatus(status: EngineStatus): void {
  if (status.state !== 'ready') {
    useResults.setState({ status });
    return;
  }
  if (!useResults.getState().model) {
    useResults.setState({ backend: status.backend });
    return;
  }
  if (status.model) modelChanged(status.model);
  const wasReady = useResults.getState().status.state === 'ready';
  useResults.setState({ backend: status.backend, status });
  if (!wasReady) {
    scheduleLive(0);
    scheduleStats(0);
  }
}

let liveTimer: ReturnType<typeof setTimeout> | undefined;
let statsTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleLive(ms = 300) {
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => void scoreLive(), ms);
}
function scheduleStats(ms = 200) {
  clearTimeout(statsTimer);
  statsTimer = setTimeout(() => void fetchStats(), ms);
}

async function detectWebGpu(): Promise<boolean> {
  try {
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    if (!gpu) return false;
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

let started = false;

/** makeClient: the engine client to start (the Web Worker one; tests pass a fake). */
export function startEngine(makeClient: (choice: Store['backend']) => Promise<EngineClient> = getClient): void {
  if (started) return;
  started = true;
  void detectWebGpu().then((ok) => useResults.setState({ webgpuAvailable: ok }));
  useStore.subscribe((s, prev) => {
    if (s.plan !== prev.plan || s.evalSet !== prev.evalSet || s.liveSize !== prev.liveSize) scheduleLive();
    if (s.plan !== prev.plan || s.selectedSite !== prev.selectedSite || s.evalSet !== prev.evalSet || s.image !== prev.image)
      scheduleStats();
    if (s.backend !== prev.backend) void applyBackend(s.backend);
  });
  void (async () => {
    try {
      client = await makeClient(useStore.getState().backend);
      client.onStatus(onEngineStatus);
      const info = await client.ready();
      useResults.setState({
        backend: info.backend,
        model: info.model,
        dataset: info.dataset,
        status: { state: 'ready', backend: info.backend },
      });
      const choice = useStore.getState().backend;
      if (choice !== 'auto' && choice !== info.backend.kind) await applyBackend(choice);
      else {
        scheduleLive(0);
        scheduleStats(0);
      }
    } catch (e) {
      const fix =
        e instanceof EngineUnavailableError
          ? e.fix
          : ((e as { fix?: string }).fix ??
            'Run `npm run data` for the CIFAR-10 files and train/export the model (python tools/train/train.py, which writes public/models/vit-cifar10/), then reload.');
      useResults.setState({ status: { state: 'error', message: errorText(e), fix } });
    }
  })();
}

/** Thumbnails: images fetched once per (set, index). */
const imageCache = new Map<string, { pixels: Uint8Array; label: number }>();
export async function getImages(set: EvalSetName, indices: number[]): Promise<{ pixels: Uint8Array; label: number }[]> {
  if (!client) throw new Error('engine not ready');
  const missing = indices.filter((i) => !imageCache.has(`${set}:${i}`));
  if (missing.length) {
    const r = await client.images(set, missing);
    missing.forEach((i, k) => imageCache.set(`${set}:${i}`, { pixels: r.pixels[k], label: r.labels[k] }));
  }
  return indices.map((i) => imageCache.get(`${set}:${i}`)!);
}
