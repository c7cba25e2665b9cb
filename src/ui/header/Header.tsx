/** Top bar: name, one-click presets, backend label and switch, share link, stage mode. */
import { useMemo, useState } from 'react';
import { useStore } from '../../state/store';
import { PRESETS } from '../../state/presets';
import type { BackendChoice } from '../../plan/types';
import { useResults } from '../engine/results';
import { IntroButton } from '../help/Intro';

export function Header() {
  const plan = useStore((s) => s.plan);
  const applyPreset = useStore((s) => s.applyPreset);
  const presetContext = useStore((s) => s.presetContext);
  const backendChoice = useStore((s) => s.backend);
  const setBackend = useStore((s) => s.setBackend);
  const setView = useStore((s) => s.setView);
  const backend = useResults((r) => r.backend);
  const status = useResults((r) => r.status);
  const current = useResults((r) => r.current);
  const [copied, setCopied] = useState(false);
  // building every preset's plan on each render cost ~30 ms per plan change (SmoothQuant's plan)
  const presetNames = useMemo(() => Object.fromEntries(PRESETS.map((p) => [p.id, p.build(presetContext).name])), [presetContext]);

  const share = async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      prompt('Copy this link', location.href);
    }
  };

  return (
    <header className="topbar">
      <div className="brand">
        <svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true">
          <rect x="6" y="18" width="4" height="8" rx="1" fill="#94a3b8" />
          <rect x="12" y="12" width="4" height="14" rx="1" fill="#22a06b" />
          <rect x="18" y="8" width="4" height="18" rx="1" fill="#e8a317" />
          <rect x="24" y="4" width="4" height="22" rx="1" fill="#d9453b" />
        </svg>
        <div>
          <h1>Quantization Playground</h1>
          <div className="brand-sub">ViT · CIFAR-10 · 38 matrix products</div>
        </div>
      </div>
      <div className="presets" role="group" aria-label="Presets">
        {PRESETS.map((p) => {
          const active = plan.name === presetNames[p.id];
          return (
            <button
              key={p.id}
              type="button"
              className={`chip-btn ${active ? 'active' : ''}`}
              title={p.description}
              aria-pressed={active}
              data-preset={p.id}
              onClick={() => applyPreset(p.id)}
            >
              {p.label}
            </button>
          );
        })}
      </div>
      <div className="topbar-right">
        <div
          className={`model-badge ${current.kind}`}
          data-testid="model-badge"
          title={
            current.kind === 'shipped'
              ? 'the shipped weights (public/models/vit-cifar10)'
              : 'weights of a QAT run applied from the Train view; restore the shipped ones there'
          }
        >
          model: {current.label}
        </div>
        <div
          className={`backend-label ${status.state}`}
          data-testid="backend-label"
          title={backend?.reason ?? (status.state === 'loading' ? status.message : '')}
        >
          <span className="dot" aria-hidden="true" />
          {backend ? backend.label : status.state === 'error' ? 'engine error' : 'starting…'}
        </div>
        <label className="inline-field">
          <span className="sr-only">Backend</span>
          <select aria-label="Backend" value={backendChoice} onChange={(e) => setBackend(e.target.value as BackendChoice)}>
            <option value="auto">auto</option>
            <option value="webgpu">WebGPU</option>
            <option value="cpu">CPU</option>
          </select>
        </label>
        <button type="button" className="btn ghost" onClick={() => void share()} title="Copy a link that reproduces this view">
          {copied ? 'Copied ✓' : 'Share link'}
        </button>
        <IntroButton />
        <button type="button" className="btn" onClick={() => setView('stage')} title="Stage mode: ← → step through presets, F fullscreen">
          Stage ▶
        </button>
      </div>
    </header>
  );
}
