import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';

/**
 * GET /__checkout.json?root=<dir> answers 200 only when this server serves <dir>: Playwright
 * polls it before the e2e run, so a dev server left running from another checkout on the same
 * port is not mistaken for this one (its answer is 404 or 409, and the run stops on the busy port).
 */
function checkoutProbe(): Plugin {
  return {
    name: 'checkout-probe',
    configureServer(server) {
      server.middlewares.use('/__checkout.json', (req, res) => {
        const asked = new URL(req.url ?? '', 'http://x').searchParams.get('root');
        res.statusCode = asked === server.config.root ? 200 : 409;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ root: server.config.root }));
      });
    },
  };
}

// COOP/COEP make the page cross-origin isolated, so the CPU backend may use shared memory
// across several workers (issue 7); everything the app loads is same-origin.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// The e2e server (QP_E2E=1, playwright.config.ts) does not hot-reload: an edit saved during a run
// must not reload the page under test (a spec would see a fresh page midway). It still watches the
// files, so a page loaded later (or a reused server) gets the code as it is now, never a stale copy.
const e2e = process.env.QP_E2E === '1';

export default defineConfig({
  plugins: [react(), checkoutProbe()],
  server: { host: '127.0.0.1', port: 5173, headers: isolation, ...(e2e ? { hmr: false } : {}) },
  preview: { host: '127.0.0.1', port: 4173, headers: isolation },
  worker: { format: 'es' },
  // the kernel benchmark's library yardsticks (src/kernels/yardsticksRun.ts) and the WebGPU trainer
  // (src/train/tfTrainer.ts) import these lazily in a worker; pre-bundled up front so the dev server
  // never re-optimizes (and invalidates) mid-run
  optimizeDeps: {
    include: [
      'onnxruntime-web/webgpu',
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-core/dist/register_all_gradients',
      '@tensorflow/tfjs-backend-webgpu',
    ],
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
});
