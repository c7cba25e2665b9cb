/**
 * Runs one of tools/cli/*.page.html in headless Chromium (/usr/bin/chromium through Playwright,
 * served by a Vite dev server on 127.0.0.1) and returns what the page leaves in a global — the
 * browser half of bench:cpu, bench:kernels, bench:simd and bench:qat.
 */
export interface PageRun {
  /** e.g. 'tools/cli/benchCpu.page.html' */
  page: string;
  query: Record<string, string | number>;
  /** the global the page sets when done (its value is returned) */
  global: string;
  timeoutMs: number;
  /** WebGPU on (the flags of playwright.config.ts: SwiftShader where no GPU driver exists) */
  webgpu?: boolean;
  /** where the page's console goes (default: stderr, prefixed) */
  console?: (line: string) => void;
}

export async function runPage<T>(r: PageRun): Promise<T> {
  const { createServer } = await import('vite');
  const { chromium } = await import('@playwright/test');
  // no HMR, no watcher: a file saved by someone else mid-run must not reload the page (and restart its timing)
  const server = await createServer({
    server: { port: 5198, strictPort: false, host: '127.0.0.1', hmr: false, watch: null },
    logLevel: 'error',
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0] ?? 'http://127.0.0.1:5198/';
  const gpu = r.webgpu
    ? [
        '--enable-unsafe-webgpu',
        '--enable-features=Vulkan',
        ...(process.env.QP_NATIVE_VULKAN ? [] : ['--use-vulkan=swiftshader', '--use-angle=swiftshader']),
      ]
    : [];
  const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', ...gpu] });
  try {
    const page = await b.newPage();
    const log = r.console ?? ((line: string) => process.stderr.write(`  [chromium] ${line}\n`));
    page.on('console', (m) => log(m.text()));
    const q = new URLSearchParams(Object.entries(r.query).map(([k, v]) => [k, String(v)]));
    await page.goto(`${url}${r.page}?${q}`);
    await page.waitForFunction((g) => (globalThis as Record<string, unknown>)[g], r.global, { timeout: r.timeoutMs, polling: 500 });
    return (await page.evaluate((g) => (globalThis as Record<string, unknown>)[g], r.global)) as T;
  } finally {
    await b.close();
    await server.close();
  }
}
