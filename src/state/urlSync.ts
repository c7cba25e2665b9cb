/**
 * Hash ↔ store synchronisation, as a subscription (components never touch location.hash).
 * Store changes replace the hash (no history spam); a hash typed or pasted by the user
 * (hashchange) is decoded into the store, or reported and left in the address bar when invalid.
 */
import { decodeConfig, encodeConfig } from './urlCodec';
import { defaultConfig } from './config';
import { selectConfig, useStore } from './store';

export function startUrlSync(win: Window = window): () => void {
  let last: string | null = null;
  /** encoding of the default view shown in place of an unreadable hash (which is kept) */
  let keptFor: string | null = null;
  const fromHash = () => {
    const h = win.location.hash.replace(/^#/, '');
    if (h === last) return;
    const r = decodeConfig(h);
    if (r.ok) {
      useStore.getState().loadConfig(r.config);
      useStore
        .getState()
        .setHashError(
          r.pinnedError ? `Plan A in the link could not be read (${r.pinnedError}); plan B is shown and nothing is pinned.` : null,
        );
    } else {
      // the bad hash stays in the address bar so the user can correct their link; it is
      // replaced only once they change the (default) view shown instead
      last = h;
      keptFor = encodeConfig(defaultConfig());
      useStore.getState().loadConfig(defaultConfig());
      useStore.getState().setHashError(`The link could not be read (${r.error}); showing the defaults instead.`);
      keptFor = encodeConfig(selectConfig(useStore.getState()));
      return;
    }
    writeHash();
  };
  const writeHash = () => {
    const h = encodeConfig(selectConfig(useStore.getState()));
    if (h === last || h === keptFor) return;
    keptFor = null;
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
