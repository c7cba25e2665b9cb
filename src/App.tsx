import { lazy, Suspense } from 'react';
import { useStore } from './state/store';
import { VIEWS } from './state/config';
import { Header } from './ui/header/Header';
import { Banners } from './ui/header/Banners';
import { ModelMap } from './ui/modelmap/ModelMap';
import { SiteInspector } from './ui/inspector/SiteInspector';
import { AccuracyStrip } from './ui/accuracy/AccuracyStrip';
import { AccuracyView } from './ui/accuracy/AccuracyView';
// the heavier views (KaTeX, the study, the benchmark) load on first use
const OutliersView = lazy(() => import('./ui/outliers/OutliersView').then((m) => ({ default: m.OutliersView })));
const ExplorerView = lazy(() => import('./ui/explorer/ExplorerView').then((m) => ({ default: m.ExplorerView })));
const StudyView = lazy(() => import('./ui/study/StudyView').then((m) => ({ default: m.StudyView })));
const KernelsView = lazy(() => import('./ui/kernels/KernelsView').then((m) => ({ default: m.KernelsView })));
const TrainView = lazy(() => import('./ui/train/TrainView').then((m) => ({ default: m.TrainView })));
import { StageView } from './ui/stage/StageView';
import { Intro } from './ui/help/Intro';

export function App() {
  const view = useStore((s) => s.view);
  const setView = useStore((s) => s.setView);
  if (view === 'stage') return <StageView />;
  return (
    <div className="app">
      <Header />
      <Intro />
      <Banners />
      <div className="layout">
        <aside className="pane pane-map" aria-label="Model map">
          <ModelMap />
        </aside>
        <main className="pane pane-main">
          <AccuracyStrip />
          <nav
            className="tabs"
            role="tablist"
            aria-label="Views"
            onKeyDown={(e) => {
              // arrow keys move between tabs (WAI-ARIA tabs pattern)
              const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
              if (!d) return;
              const tabs = VIEWS.filter((v) => v.id !== 'stage');
              const i = tabs.findIndex((v) => v.id === view);
              const next = tabs[(i + d + tabs.length) % tabs.length].id;
              setView(next);
              requestAnimationFrame(() => document.getElementById(`tab-${next}`)?.focus());
            }}
          >
            {VIEWS.map((v) => (
              <button
                key={v.id}
                role="tab"
                type="button"
                id={`tab-${v.id}`}
                aria-selected={view === v.id}
                tabIndex={view === v.id ? 0 : -1}
                aria-controls="view-panel"
                className={`tab ${view === v.id ? 'active' : ''}`}
                onClick={() => setView(v.id)}
              >
                {v.label}
              </button>
            ))}
          </nav>
          <div id="view-panel" role="tabpanel" aria-labelledby={`tab-${view}`} className="view-panel">
            <Suspense fallback={<div className="empty big">Loading the view…</div>}>
              {view === 'accuracy' && <AccuracyView />}
              {view === 'outliers' && <OutliersView />}
              {view === 'explorer' && <ExplorerView />}
              {view === 'study' && <StudyView />}
              {view === 'kernels' && <KernelsView />}
              {view === 'train' && <TrainView />}
            </Suspense>
          </div>
        </main>
        <aside className="pane pane-inspector" aria-label="Site controls">
          <SiteInspector />
        </aside>
      </div>
    </div>
  );
}
