import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { startUrlSync } from './state/urlSync';
import { loadBestSites } from './state/presets';
import { useStore } from './state/store';
import { startEngine } from './ui/engine/controller';
import { startCompare } from './ui/compare/compareController';
import './ui/styles.css';

// The hash is read before the first render so a shared link shows its own view at once.
startUrlSync();
startEngine();
startCompare();
void loadBestSites().then((best) => best && useStore.getState().setPresetContext({ bestSites: best }));

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
