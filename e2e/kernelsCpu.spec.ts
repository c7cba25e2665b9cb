import { expect, test } from '@playwright/test';
import { encodeConfig } from '../src/state/urlCodec';
import { defaultConfig } from '../src/state/config';

// The Kernels view's CPU card (issue 15): the CPU backend's GEMMs timed in this browser (a worker
// running src/cpu/cpuBench.ts, the module `npm run bench:kernels` runs), on the relaxed-SIMD build,
// with the ratios and their explanation; the WebGPU ratios are explained too.
test.use({ viewport: { width: 1440, height: 900 } });

test('kernels view times the CPU backend kernels in this browser and explains the ratios', async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 8, view: 'kernels' }));
  const card = page.getByTestId('cpu-kernels');
  await expect(card).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('gpu-kernels-explain')).toContainText('ViT');
  // beside the committed run: the engine's own ceilings from results/simd.json (same machine)
  await expect(card.getByTestId('cpu-kernels-explain')).toContainText(/npm run bench:simd, Chromium \d+ on .*at most \d\.\d\d×/);
  // and what they allow against the committed run's FP32 GEMM on the same machine
  await expect(card.getByTestId('cpu-kernels-explain')).toContainText(/exact INT8 GEMM can run at most \d\.\d\d× it here/);
  await card.getByTestId('run-cpu-bench').click();
  // this browser's run replaces the committed one: its banner goes, the relaxed build is named
  await expect(card.getByTestId('cpu-kernels-committed')).toHaveCount(0, { timeout: 180_000 });
  await expect(card).toContainText('simd128+relaxed');
  await expect(card.locator('.ratio-k').first()).toContainText('INT8 / FP32 · ViT block (CPU)');
  await expect(card.locator('.ratio-v').first()).toHaveText(/^\d+\.\d\d×$/);
  await expect(card.getByTestId('cpu-kernels-explain')).toContainText('7 bits');
  // this browser's own run: the committed machine's ceilings are not quoted beside it
  await expect(card.getByTestId('cpu-kernels-explain')).not.toContainText('bench:simd');
  // 4 layers × (FP32, INT8 and INT4 g=32 and per channel, each on both dot routes) + the quantizer
  await expect(card.locator('tbody tr')).toHaveCount(29);
  await expect(card.locator('tbody')).toContainText('gemm_w4a8 g=32 (int32 dot)');
  // the route this browser's probe chose, with its measured reason
  await expect(card.getByTestId('cpu-w4a8-route')).toContainText(/INT4 route\s*(16-bit lanes|32-bit dot).*measured \d+\.\d\d×/);
  await expect(card.getByTestId('cpu-w8a8-route')).toContainText(
    /INT8 route\s*(16-bit operands|split weights, 32-bit dot).*measured \d+\.\d\d×/,
  );
  await expect(card.getByTestId('cpu-kernels-explain')).toContainText(/32-bit dot g=32 \d+\.\d\d×/);
  expect(errors, errors.join('\n')).toEqual([]);
});
