// Dev helper: screenshot the running dev server with the system Chromium.
// usage: node e2e/shoot.mjs <out.png> [hash-or-path] [--click=selector ...] [--wait=ms] [--size=WxH]
import { chromium } from '@playwright/test';

const args = process.argv.slice(2);
const out = args[0] ?? 'e2e-artifacts/shot.png';
const target = args.find((a, i) => i > 0 && !a.startsWith('--')) ?? '';
const clicks = args.filter((a) => a.startsWith('--click=')).map((a) => a.slice(8));
const keys = args.filter((a) => a.startsWith('--key=')).map((a) => a.slice(6));
const wait = Number(args.find((a) => a.startsWith('--wait='))?.slice(7) ?? 2500);
const [w, h] = (args.find((a) => a.startsWith('--size='))?.slice(7) ?? '1440x900').split('x').map(Number);
const full = args.includes('--full');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: w, height: h } });
page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && console.log(`[${m.type()}]`, m.text()));
page.on('pageerror', (e) => console.log('[pageerror]', e.message));
await page.goto(`http://127.0.0.1:5173/${target}`);
await page.waitForTimeout(wait);
for (const c of clicks) {
  await page.click(c);
  await page.waitForTimeout(wait);
}
for (const k of keys) {
  await page.keyboard.press(k);
  await page.waitForTimeout(wait);
}
await page.screenshot({ path: out, fullPage: full });
console.log('url', page.url());
await browser.close();
