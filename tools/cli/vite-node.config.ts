import { defineConfig } from 'vite';
import { prepare } from './prepare.mjs';

// Command-line tools run the engine through vite-node (for `?raw` WGSL imports). No file
// watcher: a change in the tree must never restart the server under a long study run.
// prepare: the wasm kernels and the data, also when a tool is started without npm run.
export default defineConfig({
  plugins: [{ name: 'prepare', configResolved: () => prepare({ log: () => undefined }) }],
  server: { watch: null, hmr: false },
  logLevel: 'warn',
});
