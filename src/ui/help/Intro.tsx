/**
 * The first-visit introduction: what the page does and how to read it, in five steps, and the
 * glossary. Shown once on a bare visit (a shared link or stage mode go straight to their view),
 * remembered in localStorage, and reachable again from the header's "?" button.
 */
import { useEffect, useRef } from 'react';
import { create } from 'zustand';
import { GLOSSARY } from './glossary';
import { Term } from './Term';

const SEEN_KEY = 'qp.intro.seen';

function seen(): boolean {
  try {
    return localStorage.getItem(SEEN_KEY) === '1';
  } catch {
    return true; // no storage: do not show it on every load
  }
}

export const useIntro = create<{ open: boolean; glossary: boolean }>()(() => ({
  // a link with a configuration (#v1…) is someone's shared view: no introduction in the way
  open: typeof location !== 'undefined' && !location.hash && !seen(),
  glossary: false,
}));

function close() {
  try {
    localStorage.setItem(SEEN_KEY, '1');
  } catch {
    /* not remembered: shown again next visit */
  }
  useIntro.setState({ open: false, glossary: false });
}

export function IntroButton() {
  return (
    <button
      type="button"
      className="btn ghost"
      data-testid="intro-open"
      aria-label="Introduction and glossary"
      title="Introduction and glossary"
      onClick={() => useIntro.setState({ open: true })}
    >
      ? Intro
    </button>
  );
}

export function Intro() {
  const { open, glossary } = useIntro();
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && close();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);
  if (!open) return null;
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click outside the dialog closes it; the keyboard has Escape (window listener above)
    // biome-ignore lint/a11y/useKeyWithClickEvents: same — Escape closes it
    <div className="intro-backdrop" onClick={(e) => e.target === e.currentTarget && close()}>
      <div className="intro" role="dialog" aria-modal="true" aria-labelledby="intro-title" data-testid="intro">
        <h2 id="intro-title">Quantization, live</h2>
        <p>
          A small Vision Transformer classifies CIFAR-10 images in this page. Quantization stores and multiplies its numbers with fewer bits
          (8, 4, 2 instead of 32): less memory and faster integer arithmetic, at some cost in accuracy. Here you choose how, and watch what
          it costs.
        </p>
        <ol>
          <li>
            <b>Pick a preset</b> at the top (W8A8, W4A8, all-INT4, SmoothQuant, LLM.int8()…), or click a <Term id="site">site</Term> in the
            model map and set its bits, <Term id="per-tensor">granularity</Term> and <Term id="static">range</Term> on the right.
          </li>
          <li>
            <b>Read the score</b>: accuracy on a live subset with its <Term id="wilson">95% interval</Term> and n, and the{' '}
            <Term id="paired">paired Δ</Term> against FP32 on the same images — grey when it is <Term id="within-noise">within noise</Term>.
          </li>
          <li>
            <b>See why</b>: the Outliers tab shows the selected site’s values, its quantization grid and the clipping; Scale / zero shows
            the arithmetic (<Term id="scale">scale</Term>, <Term id="zero-point">zero point</Term>) with the site’s own numbers.
          </li>
          <li>
            <b>Compare</b>: pin a plan as A and change the live plan B; the Study tab has the whole-model experiments.
          </li>
          <li>
            <b>Present</b>: Stage mode steps through the presets in large type (← →, Home / End, F for fullscreen).
          </li>
        </ol>
        <p className="muted">Dotted underlined words explain themselves on hover or keyboard focus.</p>
        {glossary ? (
          <dl className="glossary-list" data-testid="glossary">
            {Object.values(GLOSSARY).map((g) => (
              <div key={g.term} style={{ display: 'contents' }}>
                <dt>{g.term}</dt>
                <dd>{g.text}</dd>
              </div>
            ))}
          </dl>
        ) : null}
        <div className="intro-actions">
          <button type="button" className="btn ghost" onClick={() => useIntro.setState({ glossary: !glossary })}>
            {glossary ? 'Hide the glossary' : 'Show the glossary'}
          </button>
          <button type="button" className="btn" ref={closeRef} data-testid="intro-close" onClick={close}>
            Start exploring
          </button>
        </div>
      </div>
    </div>
  );
}
