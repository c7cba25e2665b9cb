import { defineConfig, devices } from '@playwright/test';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// The dev server is reused only if it serves this checkout (vite.config.ts answers the probe URL
// with 200 for its own root only); a server from another checkout makes the run stop instead.
const root = dirname(fileURLToPath(import.meta.url));

// One config for every e2e spec (kernels in the browser, UI journeys). Chromium from Debian with
// WebGPU over SwiftShader; served by the Vite dev server on 127.0.0.1 (a secure context).
const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: [
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--use-vulkan=swiftshader',
    '--use-angle=swiftshader',
    '--disable-quic',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};

export default defineConfig({
  testDir: 'e2e',
  // one folder per run: several runs from this checkout at once must not delete each other's traces
  // (the runner sets the variable; its workers inherit it)
  outputDir: `test-results/run-${(process.env.QP_PW_RUN ??= String(process.pid))}`,
  // SwiftShader uses both cores: one worker.
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    baseURL: 'http://127.0.0.1:5173',
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    // every journey on the dev server (specs may import source modules into the page)
    { name: 'chromium', testIgnore: /stage\.spec\.ts/, use: { ...devices['Desktop Chrome'], launchOptions: CHROMIUM } },
    // stage and responsiveness on the production build: what a presenter runs; React's development
    // mode alone makes a re-render 2–3× longer, which the long-task bound (100 ms) would measure
    {
      name: 'chromium-production',
      testMatch: /stage\.spec\.ts/,
      use: { ...devices['Desktop Chrome'], launchOptions: CHROMIUM, baseURL: 'http://127.0.0.1:4173' },
    },
  ],
  webServer: [
    {
      command: 'node tools/cli/prepare.mjs && npx vite --host 127.0.0.1 --port 5173 --strictPort',
      // vite.config.ts: no hot reload under test
      env: { QP_E2E: '1' },
      url: `http://127.0.0.1:5173/__checkout.json?root=${encodeURIComponent(root)}`,
      reuseExistingServer: true,
      timeout: 120_000,
    },
    {
      // a fresh production build of this checkout, never a server left from another run
      command:
        'node tools/cli/prepare.mjs && npx vite build --outDir dist/e2e --emptyOutDir --logLevel warn && npx vite preview --outDir dist/e2e --host 127.0.0.1 --port 4173 --strictPort',
      url: 'http://127.0.0.1:4173/',
      reuseExistingServer: false,
      timeout: 400_000,
    },
  ],
});
