import { expect, test } from '@playwright/test';

// The ViT forward on Chromium's WebGPU (SwiftShader here) matches PyTorch and the CPU reference.
test('ViT forward in the browser: FP32 logits within 1e-3 of PyTorch, W8A8 close to the CPU reference', async ({ page }) => {
  await page.goto('/e2e/pages/parity.html');
  await page.waitForFunction(() => window.__parity !== undefined, null, { timeout: 170_000 });
  const r = await page.evaluate(() => window.__parity!);
  expect(r.error, r.error).toBeUndefined();
  expect(r.fp32MaxDiff).toBeLessThan(1e-3);
  expect(r.w8a8MaxDiff).toBeLessThan(0.05);
  expect(r.predsAgree).toBe(true);
});
