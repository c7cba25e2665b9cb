import { expect, type Page, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { encodeConfig } from '../src/state/urlCodec';
import { defaultConfig } from '../src/state/config';

// The Train view: a tiny QAT run (all-INT4, 10 steps × batch 4) in the training worker on the CPU
// backend's WASM GEMM — progress, the loss curve, the validation curve, the selected site's learned
// grid, pause/resume, export (two downloads), a score with its paired Δ vs FP32.
test.use({ viewport: { width: 1440, height: 900 } });
const ART = 'e2e-artifacts';
mkdirSync(ART, { recursive: true });

/** Fills the Train view's run settings and presses Train. */
async function startRun(page: Page, r: { steps: number; batch: number; validation: number; evalEvery: number }) {
  await page.getByLabel('steps', { exact: true }).fill(String(r.steps));
  await page.getByLabel('batch').fill(String(r.batch));
  await page.getByLabel('validation images').fill(String(r.validation));
  await page.getByLabel('evaluate every').fill(String(r.evalEvery));
  await page.getByRole('button', { name: 'Train' }).click();
}

test('Train view: a tiny QAT run with curves, learned grid, pause/resume, export and score', async ({ page }) => {
  test.setTimeout(600_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 8, view: 'train', selectedSite: 5, operand: 'a', backend: 'cpu' }));
  await expect(page.getByTestId('train-view')).toBeVisible({ timeout: 120_000 });
  // 10 steps: on a quiet machine a step takes ~0.3 s, and a pause must land before the last one
  await startRun(page, { steps: 10, batch: 4, validation: 20, evalEvery: 5 });
  await expect(page.getByTestId('train-status')).toContainText('wasm-simd', { timeout: 300_000 });
  // pause as soon as a step is done, then resume
  await expect(page.getByTestId('train-progress')).toContainText(/step [1-4]\/10/, { timeout: 300_000 });
  const pause = page.getByRole('button', { name: 'Pause' });
  if (await pause.isEnabled()) {
    await pause.click();
    await expect(page.getByTestId('train-progress')).toContainText('paused');
    await page.getByRole('button', { name: 'Resume' }).click();
  }
  await expect(page.getByTestId('train-done')).toContainText('Finished 10 steps', { timeout: 300_000 });
  await expect(page.getByTestId('train-done')).toContainText(/Validation \(first 20 images\): [\d.]+% at step 0 .* → [\d.]+% at step 10/);
  // the gain is paired with step 0 on the same images, with its interval
  await expect(page.getByTestId('train-done')).toContainText(
    /Δ vs step 0: [+−]\d+\.\d pp \[[+−]\d+\.\d, [+−]\d+\.\d\] paired on 20 images/,
  );
  await expect(page.getByTestId('train-progress')).toContainText(/s\/step/);
  // the loss curve has points; the learned grid of site 5 A (INT4: 16 levels) is drawn
  await expect(page.locator('[aria-label="Training loss"] .recharts-line-curve')).toHaveCount(1);
  await expect(page.getByRole('img', { name: 'operand histogram with the learned INT4 grid' })).toBeVisible();
  await expect(page.getByText(/INT4, s = [\d.e-]+, z = /)).toBeVisible();
  // export: the trained weights (safetensors) and the learned ranges (JSON)
  const downloads: string[] = [];
  page.on('download', (d) => downloads.push(d.suggestedFilename()));
  await page.getByRole('button', { name: 'Export weights + ranges' }).click();
  await expect.poll(() => downloads.sort().join(','), { timeout: 30_000 }).toBe('qat-model.safetensors,qat-plan.json');
  // the score's paired Δ vs FP32 on the first 100 validation images (the view defaults to all 5000)
  await page.getByLabel('score images').fill('100');
  await page.getByRole('button', { name: 'Score', exact: true }).click();
  await expect(page.getByTestId('train-score')).toContainText(
    /val\[0, 100\) with the learned static ranges: [\d.]+% \[[\d.]+%, [\d.]+%\], n = 100; Δ vs FP32/,
    { timeout: 300_000 },
  );
  await page.screenshot({ path: `${ART}/app-train.png`, fullPage: true });
  await page.getByRole('button', { name: 'Reset' }).click();
  await expect(page.getByTestId('train-status')).toContainText('back to the shipped weights');
  expect(errors).toEqual([]);
});

test('Train view: the progressive INT2 schedule checks that every site can switch within the run, then runs it', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 8, view: 'train', backend: 'cpu' }));
  await expect(page.getByTestId('train-view')).toBeVisible({ timeout: 120_000 });
  await page.getByLabel('all 38 sites INT2, progressive 4 → 2 bits site by site').check();
  await page.getByLabel('first switch').fill('10');
  await page.getByLabel('steps per site').fill('5');
  await page.getByLabel('steps', { exact: true }).fill('100');
  // 10 + 37·5 = 195: the last site would switch after the run ends
  await expect(page.getByRole('alert')).toContainText('the 38 sites switch from step 10 to 195: give it more than 195 steps');
  await expect(page.getByRole('button', { name: 'Train' })).toBeDisabled();
  await page.getByLabel('steps', { exact: true }).fill('300');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Train' })).toBeEnabled();
  // a short run through the whole schedule: the order is measured once, with a message, then one site per step
  await page.getByLabel('first switch').fill('0');
  await page.getByLabel('steps per site').fill('1');
  await startRun(page, { steps: 39, batch: 2, validation: 10, evalEvery: 39 });
  await expect(page.getByTestId('train-status')).toContainText(/switching order measured: site \d+ first, site \d+ last/, {
    timeout: 240_000,
  });
  await expect(page.getByTestId('train-progress')).toContainText(/38\/38 sites at 2 bits/, { timeout: 240_000 });
  await expect(page.getByTestId('train-done')).toContainText('Finished 39 steps', { timeout: 120_000 });
});

// The same Train view on WebGPU (TensorFlow.js over SwiftShader here): the steps, the evaluation and
// the score run on the device; the learned grid and the export read its state back.
test('Train view: a tiny QAT run on WebGPU (TensorFlow.js): steps, curves, learned grid, score, export', async ({ page }) => {
  test.setTimeout(600_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 8, view: 'train', selectedSite: 5, operand: 'a', backend: 'cpu' }));
  await expect(page.getByTestId('train-view')).toBeVisible({ timeout: 120_000 });
  await page.getByLabel('training backend').selectOption('webgpu');
  await page.getByLabel('distill from FP32').check(); // the teacher's forward runs on the device too
  await startRun(page, { steps: 2, batch: 2, validation: 10, evalEvery: 2 });
  await expect(page.getByTestId('train-status')).toContainText('WebGPU, TensorFlow.js), distilled from the FP32 model', {
    timeout: 300_000,
  });
  await expect(page.getByTestId('train-done')).toContainText('Finished 2 steps', { timeout: 400_000 });
  await expect(page.getByTestId('train-done')).toContainText(/Validation \(first 10 images\): [\d.]+% at step 0 .* → [\d.]+% at step 2/);
  await expect(page.locator('[aria-label="Training loss"] .recharts-line-curve')).toHaveCount(1);
  await expect(page.getByText(/INT4, s = [\d.e-]+, z = /)).toBeVisible();
  const downloads: string[] = [];
  page.on('download', (d) => downloads.push(d.suggestedFilename()));
  await page.getByRole('button', { name: 'Export weights + ranges' }).click();
  await expect.poll(() => downloads.sort().join(','), { timeout: 60_000 }).toBe('qat-model.safetensors,qat-plan.json');
  await page.getByLabel('score images').fill('20');
  await page.getByRole('button', { name: 'Score', exact: true }).click();
  await expect(page.getByTestId('train-score')).toContainText(
    /val\[0, 20\) with the learned static ranges: [\d.]+% \[[\d.]+%, [\d.]+%\], n = 20/,
    {
      timeout: 300_000,
    },
  );
  expect(errors).toEqual([]);
});

// WebGPU asked for where it cannot start: the worker trains on the CPU backend and the status says
// why. The suite's browser always has SwiftShader's adapter, so the TensorFlow.js WebGPU backend's
// module is made unreachable (the worker's dynamic import fails, as on a network or bundling fault).
test('Train view: WebGPU asked for where it cannot start falls back to the CPU backend and says why', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  let blocked = 0;
  await page.route(/tfjs-backend-webgpu/, (route) => {
    blocked++;
    return route.abort();
  });
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 8, view: 'train', selectedSite: 5, operand: 'a', backend: 'cpu' }));
  await expect(page.getByTestId('train-view')).toBeVisible({ timeout: 120_000 });
  await page.getByLabel('training backend').selectOption('webgpu');
  await startRun(page, { steps: 2, batch: 2, validation: 10, evalEvery: 2 });
  const status = page.getByTestId('train-status');
  await expect(status).toContainText('WASM SIMD GEMM', { timeout: 120_000 });
  await expect(status).toContainText(
    /WebGPU training is not available here \(TensorFlow.js WebGPU failed to load: .+\); training on the CPU backend instead/,
  );
  expect(blocked).toBeGreaterThan(0);
  await expect(page.getByTestId('train-done')).toContainText('Finished 2 steps', { timeout: 120_000 });
  expect(errors).toEqual([]);
});
