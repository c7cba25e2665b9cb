/**
 * Train view (issue 13): quantization-aware training of the current plan in a Web Worker on the
 * CPU backend's WASM GEMM — loss and validation-accuracy curves as they come, the selected site's
 * learned (s, z) and grid over its operand histogram, pause / resume / cancel, progress and ETA, a
 * val5000 score with its paired Δ vs FP32, reset, export (safetensors + learned ranges JSON).
 * Training on WebGPU is not offered (stated in the view).
 * "Apply to playground" (issue 13 item 3): the trained weights become the engine's model and the
 * learned ranges (explicit static clips, src/train/learnedPlan.ts) the current plan; "Restore
 * shipped weights" (and Reset, when this run was applied) returns the engine to the shipped model.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useStore } from '../../state/store';
import { ChartCard } from '../common/ChartCard';
import { uniformPlan, type Plan } from '../../plan/plan';
import { lowerVit, LoweringError } from '../../plan/steps';
import { type PairedDelta, pairedDelta, pairedDeltaFromCounts, wilson } from '../../quant/intervals';
import type { QuantView, TrainEvent, TrainRequest, TrainSettings } from '../../train/protocol';
import { useResults } from '../engine/results';
import { applyTrainedModel, restoreShippedModel } from '../engine/controller';

const INT4: Plan = uniformPlan(
  {
    a: { bits: 4, granularity: 'tensor', symmetric: false, range: 'static' },
    b: { bits: 4, granularity: 'tensor', symmetric: false, range: 'static' },
  },
  'all INT4 (QAT)',
);
const INT2: Plan = uniformPlan(
  {
    a: { bits: 2, granularity: 'tensor', symmetric: false, range: 'static' },
    b: { bits: 2, granularity: 'tensor', symmetric: false, range: 'static' },
  },
  'all INT2 (progressive QAT)',
);
type PlanChoice = 'int4' | 'progressive' | 'current';
const SHAPE = { dim: 128, depth: 6, heads: 4, mlp: 256, patch: 4, classes: 10, image: 32 };

type Phase = 'idle' | 'loading' | 'running' | 'paused' | 'done';

const pct = (x: number, d = 1) => `${(100 * x).toFixed(d)}%`;

/** The gain over step 0 on the same images: paired (exact McNemar), with "within noise" when the interval holds 0. */
export function gainText(d: PairedDelta): string {
  const pp = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
  return `Δ vs step 0: ${pp(d.delta)} pp [${pp(d.lo)}, ${pp(d.hi)}] paired on ${d.n} images${d.withinNoise ? ' — within noise' : ''}.`;
}

/** A labelled whole number, clamped to [min, max] as it is typed. */
function NumberField(p: {
  label: string;
  suffix?: string;
  aria: string;
  min: number;
  max: number;
  value: number;
  onChange: (v: number) => void;
  width: number;
}) {
  return (
    <label>
      {p.label}{' '}
      <input
        type="number"
        aria-label={p.aria}
        min={p.min}
        max={p.max}
        value={p.value}
        onChange={(e) => p.onChange(Math.max(p.min, Math.min(p.max, Number(e.target.value) || p.min)))}
        style={{ width: p.width }}
      />
      {p.suffix ? ` ${p.suffix}` : null}
    </label>
  );
}

export function TrainView() {
  const storePlan = useStore((s) => s.plan);
  const selectedSite = useStore((s) => s.selectedSite);
  const operand = useStore((s) => s.operand);
  const [choice, setChoice] = useState<PlanChoice>('int4');
  /** progressive: the first switch and the steps between two sites */
  const [switchAt, setSwitchAt] = useState(50);
  const [perSite, setPerSite] = useState(16);
  const [switched, setSwitched] = useState<number | undefined>();
  const [steps, setSteps] = useState(100);
  const [batch, setBatch] = useState(32);
  const [backend, setBackend] = useState<'cpu' | 'webgpu'>('cpu');
  const [distill, setDistill] = useState(false);
  const [evalLimit, setEvalLimit] = useState(500);
  const [evalEvery, setEvalEvery] = useState(25);
  const [scoreLimit, setScoreLimit] = useState(5000);
  const [phase, setPhase] = useState<Phase>('idle');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [losses, setLosses] = useState<{ step: number; loss: number }[]>([]);
  const [evals, setEvals] = useState<{ step: number; acc: number; lo: number; hi: number; n: number; vsStart?: PairedDelta }[]>([]);
  /** step 0's per-image correctness: every later evaluation is paired with it (same images) */
  const startCorrect = useRef<Uint8Array | null>(null);
  const [quant, setQuant] = useState<QuantView | undefined>();
  const [progress, setProgress] = useState<{ step: number; steps: number; ms: number[] }>({ step: 0, steps: 0, ms: [] });
  const [done, setDone] = useState<{ reason: string; message?: string } | undefined>();
  const [score, setScore] = useState<Extract<TrainEvent, { type: 'score' }> | undefined>();
  const [impl, setImpl] = useState('');
  const workerRef = useRef<Worker | null>(null);
  const current = useResults((r) => r.current);
  const engineReady = useResults((r) => r.status.state === 'ready');
  const [applying, setApplying] = useState(false);
  const [applied, setApplied] = useState<{ text: string; notes: string[] } | undefined>();

  const plan = choice === 'current' ? storePlan : choice === 'progressive' ? INT2 : INT4;
  const planError = useMemo(() => {
    // 38 sites, one every perSite steps from switchAt: the last switch must fall inside the run
    if (choice === 'progressive' && switchAt + 37 * perSite >= steps)
      return `the 38 sites switch from step ${switchAt} to ${switchAt + 37 * perSite}: give it more than ${switchAt + 37 * perSite} steps`;
    try {
      lowerVit(SHAPE, plan);
      return plan.sites.some((s) => s.a.bits !== 32 || s.b.bits !== 32)
        ? undefined
        : 'the plan quantizes nothing: there is no (s, z) to learn';
    } catch (e) {
      return e instanceof LoweringError ? e.message : String(e);
    }
  }, [plan, choice, switchAt, perSite, steps]);

  useEffect(() => () => workerRef.current?.terminate(), []);
  const send = (m: TrainRequest) => workerRef.current?.postMessage(m);
  useEffect(() => {
    workerRef.current?.postMessage({ type: 'inspect', site: selectedSite, operand } satisfies TrainRequest);
  }, [selectedSite, operand]);

  const onEvent = (m: TrainEvent) => {
    switch (m.type) {
      case 'status':
        setStatus(m.message);
        return;
      case 'ready':
        setImpl(m.impl);
        setPhase('running');
        setStatus(
          `training on ${m.trainImages} images (${
            m.impl === 'webgpu'
              ? 'WebGPU, TensorFlow.js'
              : m.impl === 'wasm-simd'
                ? 'WASM SIMD GEMM'
                : 'TypeScript GEMM: the wasm did not load'
          })${distill ? ', distilled from the FP32 model' : ''}${m.fallback ? ` — ${m.fallback}` : ''}`,
        );
        return;
      case 'step':
        setLosses((l) => [...l, { step: m.step, loss: m.loss }]);
        setProgress((p) => ({ step: m.step, steps: m.steps, ms: [...p.ms, m.ms] }));
        setSwitched(m.switchedSites);
        return;
      case 'eval': {
        const w = wilson(m.correct, m.n);
        if (m.step === 0) startCorrect.current = m.perImage;
        const s0 = startCorrect.current;
        const vsStart = m.step > 0 && s0 && s0.length === m.perImage.length ? pairedDelta(s0, m.perImage) : undefined;
        setEvals((e) => [...e, { step: m.step, acc: w.p, lo: w.lo, hi: w.hi, n: m.n, vsStart }]);
        return;
      }
      case 'quant':
        setQuant(m.view);
        return;
      case 'paused':
        setPhase('paused');
        return;
      case 'done':
        setPhase('done');
        setDone({ reason: m.reason, message: m.message });
        return;
      case 'score':
        setScore(m);
        return;
      case 'export': {
        const dl = (data: BlobPart, name: string, type: string) => {
          const a = document.createElement('a');
          a.href = URL.createObjectURL(new Blob([data], { type }));
          a.download = name;
          a.click();
          setTimeout(() => URL.revokeObjectURL(a.href), 1000);
        };
        dl(m.safetensors, 'qat-model.safetensors', 'application/octet-stream');
        dl(m.ranges, 'qat-plan.json', 'application/json');
        return;
      }
      case 'apply':
        // the trained weights become the engine's model, the learned ranges the current plan
        void applyTrainedModel(m.params, m.step, m.plan)
          .then((id) =>
            setApplied({
              text: `Applied: the playground now runs ${id.label} with the plan "${m.plan.name}" (learned ranges as static clips), scored like any other plan.`,
              notes: m.notes,
            }),
          )
          .catch((e: unknown) =>
            setError(`could not apply the trained weights (the previous model stays): ${e instanceof Error ? e.message : String(e)}`),
          )
          .finally(() => setApplying(false));
        return;
      case 'error':
        setApplying(false);
        setError(m.message);
        return;
    }
  };
  const apply = () => {
    setError(undefined);
    setApplied(undefined);
    setApplying(true);
    send({ type: 'apply' });
  };
  const restore = async () => {
    setError(undefined);
    try {
      await restoreShippedModel();
      setApplied(undefined);
    } catch (e) {
      setError(`could not restore the shipped weights: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const start = () => {
    workerRef.current?.terminate();
    const w = new Worker(new URL('../../train/worker.ts', import.meta.url), { type: 'module' });
    w.onmessage = (ev: MessageEvent<TrainEvent>) => onEvent(ev.data);
    w.onerror = (ev) => setError(`the training worker failed: ${ev.message}`);
    workerRef.current = w;
    setLosses([]);
    setEvals([]);
    startCorrect.current = null;
    setQuant(undefined);
    setDone(undefined);
    setScore(undefined);
    setError(undefined);
    setProgress({ step: 0, steps, ms: [] });
    setPhase('loading');
    const settings: TrainSettings = {
      plan,
      steps,
      batch,
      evalLimit,
      evalEvery,
      seed: 1,
      trainImages: 10000,
      backend,
      distill,
      ...(choice === 'progressive'
        ? { progressive: { from: 4, to: 2, at: switchAt, perSite, order: 'sensitivity' as const, init: 'mse' as const } }
        : {}),
    };
    w.postMessage({ type: 'start', settings, base: import.meta.env?.BASE_URL ?? '/' } satisfies TrainRequest);
    w.postMessage({ type: 'inspect', site: selectedSite, operand } satisfies TrainRequest);
  };
  const reset = () => {
    workerRef.current?.terminate();
    workerRef.current = null;
    setPhase('idle');
    setLosses([]);
    setEvals([]);
    startCorrect.current = null;
    setQuant(undefined);
    setDone(undefined);
    setScore(undefined);
    setApplied(undefined);
    setStatus('back to the shipped weights (nothing trained is kept)');
    // the playground too, when this run's weights were applied
    if (useResults.getState().current.kind !== 'shipped') void restore();
  };

  const recent = progress.ms.slice(-10);
  const msPerStep = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 0;
  const eta = msPerStep * (progress.steps - progress.step);
  const first = evals[0];
  const last = evals[evals.length - 1];

  return (
    <div className="view train-view" data-testid="train-view">
      <section className="card" aria-label="Training settings">
        <header className="card-head">
          <div>
            <h3>Quantization-aware training</h3>
            <div className="card-sub">
              Fake-quant with learnable scale s and zero z at every quantized operand (LSQ, straight-through rounding, gradient scale
              1/√(n·qmax)), ranges initialised from min/max of 256 training images; AdamW (1e-4 weights, 1e-3 s and z), label smoothing 0.1,
              crop + flip. Runs in a worker: on the CPU backend's WASM SIMD kernels, or on WebGPU through TensorFlow.js (the same step list
              and LSQ gradients; the CPU is used, with the reason, where WebGPU cannot start).
            </div>
          </div>
        </header>
        <div className="btn-row" style={{ alignItems: 'center', gap: 12 }}>
          {(
            [
              ['int4', 'all 38 sites INT4 per-tensor'],
              ['progressive', 'all 38 sites INT2, progressive 4 → 2 bits site by site'],
              ['current', 'the current plan'],
            ] as const
          ).map(([value, label]) => (
            <label key={value}>
              <input
                type="radio"
                name="qat-plan"
                checked={choice === value}
                onChange={() => setChoice(value)}
                disabled={phase === 'running' || phase === 'loading'}
              />{' '}
              {label}
            </label>
          ))}
          <label>
            on{' '}
            <select
              aria-label="training backend"
              value={backend}
              onChange={(e) => setBackend(e.target.value as 'cpu' | 'webgpu')}
              disabled={phase === 'running' || phase === 'loading'}
            >
              <option value="cpu">CPU (WASM SIMD)</option>
              <option value="webgpu">WebGPU (TensorFlow.js)</option>
            </select>
          </label>
          <label title="LSQ's knowledge distillation (Esser et al. 2020): half the loss is the cross-entropy to the FP32 model's softmax on the same batch (temperature 1)">
            <input
              type="checkbox"
              aria-label="distill from FP32"
              checked={distill}
              onChange={(e) => setDistill(e.target.checked)}
              disabled={phase === 'running' || phase === 'loading'}
            />{' '}
            distill from FP32
          </label>
          <NumberField label="steps" aria="steps" min={1} max={5000} value={steps} onChange={setSteps} width={70} />
          <NumberField label="batch" aria="batch" min={1} max={256} value={batch} onChange={setBatch} width={60} />
          <NumberField
            label="val images"
            aria="validation images"
            min={10}
            max={5000}
            value={evalLimit}
            onChange={setEvalLimit}
            width={70}
          />
          <NumberField
            label="every"
            aria="evaluate every"
            min={1}
            max={1000}
            value={evalEvery}
            onChange={setEvalEvery}
            width={55}
            suffix="steps"
          />
        </div>
        {choice === 'progressive' && (
          <div className="btn-row" style={{ alignItems: 'center', gap: 12 }}>
            <span className="muted">
              Note 004's schedule: every site trains at 4 bits, then one site at a time drops to 2 bits — least sensitive first (measured on
              128 calibration images when switching starts), its grid from the range it had, shrunk to the least-MSE clip.
            </span>
            <NumberField
              label="first switch at step"
              aria="first switch"
              min={0}
              max={5000}
              value={switchAt}
              onChange={setSwitchAt}
              width={60}
            />
            <NumberField
              label="then one site every"
              aria="steps per site"
              min={1}
              max={500}
              value={perSite}
              onChange={setPerSite}
              width={55}
              suffix="steps"
            />
          </div>
        )}
        {planError && (
          <p className="muted" role="alert">
            This plan cannot be trained: {planError}
          </p>
        )}
        <div className="btn-row" style={{ marginTop: 8 }}>
          <button
            type="button"
            className="btn"
            onClick={start}
            disabled={!!planError || phase === 'running' || phase === 'loading' || phase === 'paused'}
          >
            Train
          </button>
          <button type="button" className="btn ghost" onClick={() => send({ type: 'pause' })} disabled={phase !== 'running'}>
            Pause
          </button>
          <button
            type="button"
            className="btn ghost"
            onClick={() => {
              setPhase('running');
              send({ type: 'resume' });
            }}
            disabled={phase !== 'paused'}
          >
            Resume
          </button>
          <button
            type="button"
            className="btn ghost"
            onClick={() => send({ type: 'cancel' })}
            disabled={phase !== 'running' && phase !== 'paused'}
          >
            Cancel
          </button>
          <button
            type="button"
            className="btn ghost"
            onClick={() => send({ type: 'score', limit: scoreLimit })}
            disabled={phase !== 'done' || !progress.step}
          >
            Score
          </button>
          <NumberField
            label="on"
            aria="score images"
            min={10}
            max={5000}
            value={scoreLimit}
            onChange={setScoreLimit}
            width={70}
            suffix="val images"
          />
          <button
            type="button"
            className="btn ghost"
            onClick={() => send({ type: 'export' })}
            disabled={phase !== 'done' && phase !== 'paused'}
          >
            Export weights + ranges
          </button>
          <button type="button" className="btn ghost" onClick={reset} disabled={phase === 'idle'}>
            Reset
          </button>
          <button
            type="button"
            className="btn"
            onClick={apply}
            disabled={(phase !== 'paused' && phase !== 'done') || applying || !engineReady}
            title="Make the trained weights the playground's model and the learned ranges its plan"
          >
            {applying ? 'Applying…' : 'Apply to playground'}
          </button>
          <button type="button" className="btn ghost" onClick={() => void restore()} disabled={current.kind === 'shipped' || !engineReady}>
            Restore shipped weights
          </button>
        </div>
        <p className="muted" data-testid="train-model">
          Playground model: <strong>{current.label}</strong>
          {applied && <> · {applied.text}</>}
        </p>
        {applied?.notes.map((n) => (
          <p key={n} className="muted small-note">
            {n}
          </p>
        ))}
        <div className="progress" role="group" aria-label="Training progress">
          <div className="progress-track">
            <div className="progress-fill" style={{ width: `${progress.steps ? (100 * progress.step) / progress.steps : 0}%` }} />
          </div>
          <div className="progress-text" data-testid="train-progress">
            step {progress.step}/{progress.steps || steps}
            {switched !== undefined && ` · ${switched}/38 sites at 2 bits`}
            {msPerStep > 0 && ` · ${(msPerStep / 1000).toFixed(2)} s/step · ETA ${Math.round(eta / 1000)} s`}
            {phase === 'paused' && ' · paused'}
          </div>
        </div>
        <p className="muted" data-testid="train-status">
          {status}
          {impl && ` · ${impl}`}
        </p>
        {done && (
          <p role="status" data-testid="train-done">
            {done.reason === 'finished' && `Finished ${progress.step} steps.`}
            {done.reason === 'cancelled' && `Cancelled at step ${progress.step}.`}
            {done.reason === 'diverged' && done.message}
            {first &&
              last &&
              last !== first &&
              ` Validation (first ${last.n} images): ${pct(first.acc)} at step 0 (min/max ranges) → ${pct(last.acc)} at step ${last.step}.`}
            {last?.vsStart && ` ${gainText(last.vsStart)}`}
          </p>
        )}
        {score && <ScoreLine s={score} />}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </section>
      <div
        className="grid2"
        style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(320px, 1fr))', gap: 12, marginTop: 12 }}
      >
        <ChartCard title="Training loss" subtitle="label-smoothed cross-entropy on each augmented batch" csv={() => losses}>
          <ResponsiveContainer width="100%" height={200}>
            <LineChart data={losses} margin={{ top: 6, right: 10, bottom: 4, left: 0 }}>
              <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
              <XAxis dataKey="step" type="number" domain={[0, 'dataMax']} tick={{ fontSize: 11 }} />
              <YAxis tick={{ fontSize: 11 }} domain={['auto', 'auto']} width={44} />
              <Tooltip formatter={(v) => Number(v).toFixed(4)} />
              <Line type="linear" dataKey="loss" stroke="#2563eb" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </ChartCard>
        <ChartCard
          title="Validation accuracy"
          subtitle={`first ${last?.n ?? evalLimit} validation images, learned static ranges; band: 95% Wilson interval`}
          csv={() => evals}
        >
          <ResponsiveContainer width="100%" height={200}>
            <LineChart
              data={evals.map((e) => ({ ...e, acc: 100 * e.acc, lo: 100 * e.lo, hi: 100 * e.hi }))}
              margin={{ top: 6, right: 10, bottom: 4, left: 0 }}
            >
              <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
              <XAxis dataKey="step" type="number" domain={[0, 'dataMax']} tick={{ fontSize: 11 }} />
              <YAxis tick={{ fontSize: 11 }} domain={['auto', 'auto']} width={44} unit="%" />
              <Tooltip formatter={(v) => `${Number(v).toFixed(1)}%`} />
              <Line type="linear" dataKey="hi" stroke="#94a3b8" strokeDasharray="3 3" dot={false} isAnimationActive={false} />
              <Line type="linear" dataKey="acc" stroke="#16a34a" isAnimationActive={false} />
              <Line type="linear" dataKey="lo" stroke="#94a3b8" strokeDasharray="3 3" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </ChartCard>
        <ChartCard
          title={`Learned range: site ${selectedSite} operand ${operand.toUpperCase()}`}
          subtitle={
            quant
              ? `INT${quant.bits}, s = ${quant.s.toPrecision(4)}, z = ${quant.z.toFixed(2)} (⌊z⌉ = ${Math.round(quant.z)})${quant.groups > 1 ? `, group 0 of ${quant.groups}` : ''} at step ${quant.step}; bars: the operand on 4 validation images, ticks: the grid`
              : 'select a quantized site on the map; its learned grid appears once training starts'
          }
        >
          {quant ? <RangeSvg q={quant} /> : <div className="empty">no learned range for this operand yet</div>}
        </ChartCard>
      </div>
    </div>
  );
}

function ScoreLine({ s }: { s: Extract<TrainEvent, { type: 'score' }> }) {
  const w = wilson(s.val.correct, s.val.n);
  const d = pairedDeltaFromCounts(s.aOnly, s.bOnly, s.val.n);
  return (
    <p data-testid="train-score">
      After {s.step} steps, {s.val.n === 5000 ? 'val5000' : `val[0, ${s.val.n})`} with the learned static ranges: <b>{pct(w.p, 2)}</b> [
      {pct(w.lo)}, {pct(w.hi)}], n = {s.val.n}; Δ vs FP32 {d.delta >= 0 ? '+' : ''}
      {(100 * d.delta).toFixed(2)} pp [{(100 * d.lo).toFixed(2)}, {(100 * d.hi).toFixed(2)}] (paired, exact McNemar
      {d.lo <= 0 && d.hi >= 0 ? ': within noise' : ''}). Scored by the trainer's fake-quant forward, not yet by the engine's integer
      kernels.
    </p>
  );
}

function RangeSvg({ q }: { q: QuantView }) {
  const W = 520;
  const H = 150;
  const max = Math.max(1, ...q.counts);
  const x = (v: number) => ((v - q.lo) / (q.hi - q.lo || 1)) * (W - 20) + 10;
  const bw = (W - 20) / q.counts.length;
  return (
    <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={`operand histogram with the learned INT${q.bits} grid`}>
      {q.counts.map((c, i) => {
        const h = c > 0 ? (Math.log1p(c) / Math.log1p(max)) * (H - 40) : 0;
        return <rect key={i} x={10 + i * bw} y={H - 20 - h} width={Math.max(1, bw - 1)} height={h} fill="#93c5fd" />;
      })}
      {q.grid.map((g, i) => (
        <line
          key={i}
          x1={x(g)}
          x2={x(g)}
          y1={8}
          y2={H - 20}
          stroke={i === 0 || i === q.grid.length - 1 ? '#dc2626' : '#475569'}
          strokeWidth={1}
          opacity={0.8}
        />
      ))}
      <text x={10} y={H - 4} fontSize={11} fill="#64748b">
        {q.lo.toPrecision(3)}
      </text>
      <text x={W - 10} y={H - 4} fontSize={11} fill="#64748b" textAnchor="end">
        {q.hi.toPrecision(3)}
      </text>
      <text x={W / 2} y={H - 4} fontSize={11} fill="#64748b" textAnchor="middle">
        clip [{q.grid[0].toPrecision(3)}, {q.grid[q.grid.length - 1].toPrecision(3)}] (red)
      </text>
    </svg>
  );
}
