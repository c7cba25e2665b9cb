import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import config from '../../playwright.config';

// Issue 11 item 14: Playwright reuses a dev server on its port only if that server serves this
// checkout (vite.config.ts's probe answers 200 for its own root only), so e2e never tests another checkout.

const root = resolve(__dirname, '../..');
let server: ViteDevServer;
let base: string;
beforeAll(async () => {
  server = await createServer({
    configFile: join(root, 'vite.config.ts'),
    root,
    server: { port: 0, strictPort: false, watch: null },
    logLevel: 'silent',
  });
  await server.listen();
  base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
});
afterAll(() => server?.close());

describe('e2e dev server belongs to this checkout', () => {
  test('the probe answers 200 for this root, 409 for another', async () => {
    expect((await fetch(`${base}/__checkout.json?root=${encodeURIComponent(root)}`)).status).toBe(200);
    expect((await fetch(`${base}/__checkout.json?root=${encodeURIComponent('/elsewhere/other-checkout')}`)).status).toBe(409);
    expect((await fetch(`${base}/__checkout.json`)).status).toBe(409);
  });

  test('playwright.config.ts polls the probe with this root before reusing a server', () => {
    const servers = config.webServer as { url: string; reuseExistingServer: boolean; command: string }[];
    const ws = servers.find((s) => s.reuseExistingServer)!;
    expect(ws.url).toBe(`http://127.0.0.1:5173/__checkout.json?root=${encodeURIComponent(root)}`);
    // a server that is not ours leaves the port busy: strictPort makes the run stop instead of moving
    expect(ws.command).toMatch(/--port 5173 --strictPort/);
    // the production server (stage and long tasks) is built fresh and never reused
    for (const s of servers.filter((x) => x !== ws)) {
      expect(s.reuseExistingServer).toBe(false);
      expect(s.command).toMatch(/vite build .*&& npx vite preview .*--strictPort/);
    }
  });
});
