import { chromium } from '@playwright/test';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader', '--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
page.on('console', (m) => console.log('[c]', m.type(), m.text()));
page.on('worker', (w) => { console.log('worker', w.url()); });
await page.goto('http://127.0.0.1:5173/');
await page.waitForTimeout(2000);
await page.click('#tab-kernels');
await page.click('[data-testid=run-bench]');
for (let i = 0; i < 6; i++) {
  await page.waitForTimeout(10000);
  console.log(i, await page.locator('.view-panel .card').first().innerText());
}
await browser.close();
