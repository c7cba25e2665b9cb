import { expect, test } from '@playwright/test';

// Runs the WGSL kernels in Chromium's WebGPU (SwiftShader here) against the CPU references.
test('kernels in the browser: W8A8/W4A8 bit-exact, F32 within tolerance, quantize_rows bit-exact', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto('/e2e/pages/kernels.html');
  await page.waitForFunction(() => window.__kernelChecks !== undefined, null, { timeout: 150_000 });
  const res = await page.evaluate(() => window.__kernelChecks!);
  expect(res.error, res.error).toBeUndefined();
  const names = res.checks.map((c) => c.name);
  expect(names).toEqual(expect.arrayContaining(['w8a8-unpacked', 'w4a8', 'f32', 'quantize_rows']));
  if (res.packedDot4) expect(names).toContain('w8a8-dot4I8Packed');
  for (const c of res.checks) expect(c.ok, `${c.name}: ${c.detail}`).toBe(true);
  expect(errors.filter((e) => e.includes('WGSL'))).toEqual([]);
});
