import { useStore } from './state/store';
import { VIEWS } from './state/config';
import { Header } from './ui/header/Header';
import { Banners } from './ui/header/Banners';
import { ModelMap } from './ui/modelmap/ModelMap';
import { SiteInspector } from './ui/inspector/SiteInspector';
import { AccuracyStrip } from './ui/accuracy/AccuracyStrip';
import { AccuracyView } from './ui/accuracy/AccuracyView';
import { OutliersView } from './ui/outliers/OutliersView';
import { ExplorerView } from './ui/explorer/ExplorerView';
import { StudyView } from './ui/study/StudyView';
import { KernelsView } from './ui/kernels/KernelsView';
import { StageView } from './ui/stage/StageView';

export function App() {
  const view = useStore((s) => s.view);
  const setView = useStore((s) => s.setView);
  if (view === 'stage') return <StageView />;
  return (
    <div className="app">
      <Header />
      <Banners />
      <div className="layout">
        <aside className="pane pane-map" aria-label="Model map">
          <ModelMap />
        </aside>
        <main className="pane pane-main">
          <AccuracyStrip />
          <nav className="tabs" role="tablist" aria-label="Views">
            {VIEWS.map((v) => (
              <button
                key={v.id}
                role="tab"
                type="button"
                id={`tab-${v.id}`}
                aria-selected={view === v.id}
                aria-controls="view-panel"
                className={`tab ${view === v.id ? 'active' : ''}`}
                onClick={() => setView(v.id)}
              >
                {v.label}
              </button>
            ))}
          </nav>
          <div id="view-panel" role="tabpanel" aria-labelledby={`tab-${view}`} className="view-panel">
            {view === 'accuracy' && <AccuracyView />}
            {view === 'outliers' && <OutliersView />}
            {view === 'explorer' && <ExplorerView />}
            {view === 'study' && <StudyView />}
            {view === 'kernels' && <KernelsView />}
          </div>
        </main>
        <aside className="pane pane-inspector" aria-label="Site controls">
          <SiteInspector />
        </aside>
      </div>
    </div>
  );
}
