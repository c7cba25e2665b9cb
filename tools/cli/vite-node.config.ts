import { defineConfig } from 'vite';

// Command-line tools run the engine through vite-node (for `?raw` WGSL imports). No file
// watcher: a change in the tree must never restart the server under a long study run.
export default defineConfig({
  server: { watch: null, hmr: false },
  logLevel: 'warn',
});
