import { describe, expect, test } from 'vitest';
import { startUrlSync } from './urlSync';
import { useStore } from './store';
import { defaultConfig } from './config';
import { encodeConfig } from './urlCodec';

// Issue 11 item 8: an unreadable link stays in the address bar (the user can correct it) while
// the app shows the defaults and says why; the first change of the view replaces it.

function fakeWindow(hash: string) {
  const listeners = new Map<string, () => void>();
  const win = {
    location: { pathname: '/', search: '', hash },
    history: {
      state: null,
      replaceState(_s: unknown, _t: string, url: string) {
        win.location.hash = url.slice(url.indexOf('#'));
      },
    },
    addEventListener: (t: string, f: () => void) => listeners.set(t, f),
    removeEventListener: (t: string) => listeners.delete(t),
  };
  const navigate = (h: string) => {
    win.location.hash = h;
    listeners.get('hashchange')?.();
  };
  return { win: win as unknown as Window, navigate, hash: () => win.location.hash };
}

describe('URL sync', () => {
  test('a bad hash at load is kept, the defaults shown with an error; a change replaces it', () => {
    const f = fakeWindow('#v1.not-a-valid-payload');
    const stop = startUrlSync(f.win);
    try {
      expect(f.hash()).toBe('#v1.not-a-valid-payload');
      expect(useStore.getState().hashError).toMatch(/could not be read/);
      expect(useStore.getState().plan).toEqual(defaultConfig().plan);
      useStore.getState().selectSite(7);
      expect(f.hash()).not.toBe('#v1.not-a-valid-payload');
      expect(f.hash()).toMatch(/^#v1\./);
    } finally {
      stop();
    }
  });

  test('a bad hash pasted later is kept too; a good one loads and clears the error', () => {
    const good = '#' + encodeConfig({ ...defaultConfig(), selectedSite: 3 });
    const f = fakeWindow(good);
    const stop = startUrlSync(f.win);
    try {
      expect(useStore.getState().selectedSite).toBe(3);
      f.navigate('#v1.%%%');
      expect(f.hash()).toBe('#v1.%%%');
      expect(useStore.getState().hashError).toMatch(/could not be read/);
      expect(useStore.getState().selectedSite).toBe(defaultConfig().selectedSite);
      f.navigate(good);
      expect(useStore.getState().hashError).toBeNull();
      expect(useStore.getState().selectedSite).toBe(3);
      expect(f.hash()).toBe(good);
    } finally {
      stop();
    }
  });
});
