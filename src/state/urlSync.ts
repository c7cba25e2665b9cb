/**
 * Hash ↔ store synchronisation, as a subscription (components never touch location.hash).
 * Store changes replace the hash (no history spam); a hash typed or pasted by the user
 * (hashchange) is decoded into the store, or reported and ignored when invalid.
 */
import { decodeConfig, encodeConfig } from './urlCodec';
import { defaultConfig } from './config';
import { selectConfig, useStore } from './store';

export function startUrlSync(win: Window = window): () => void {
  let last: string | null = null;
  const fromHash = () => {
    const h = win.location.hash.replace(/^#/, '');
    if (h === last) return;
    const r = decodeConfig(h);
    if (r.ok) {
      useStore.getState().loadConfig(r.config);
      useStore.getState().setHashError(null);
    } else {
      useStore.getState().loadConfig(defaultConfig());
      useStore.getState().setHashError(`The link could not be read (${r.error}); showing the defaults instead.`);
    }
    writeHash();
  };
  const writeHash = () => {
    const h = encodeConfig(selectConfig(useStore.getState()));
    if (h === last) return;
    last = h;
    const url = `${win.location.pathname}${win.location.search}#${h}`;
    win.history.replaceState(win.history.state, '', url);
  };
  fromHash();
  const unsub = useStore.subscribe(writeHash);
  win.addEventListener('hashchange', fromHash);
  return () => {
    unsub();
    win.removeEventListener('hashchange', fromHash);
  };
}
