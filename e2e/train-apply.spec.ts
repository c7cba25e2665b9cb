import { expect, test } from '@playwright/test';
import { encodeConfig } from '../src/state/urlCodec';
import { defaultConfig } from '../src/state/config';

// Issue 13 item 3: a tiny QAT run (all-INT4, 2 steps × batch 4) is applied to the playground — the
// header badge names the trained model, the live score (with its interval) is of the trained
// weights under the learned-ranges plan, study.json is marked as the shipped model's — and the
// shipped weights are restored.
test.use({ viewport: { width: 1440, height: 900 } });

test('Train view: apply a QAT run to the playground, then restore the shipped weights', async ({ page }) => {
  test.setTimeout(600_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 8, view: 'train', backend: 'cpu' }));
  await expect(page.getByTestId('train-view')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('model-badge')).toHaveText('model: shipped');
  await page.getByLabel('steps', { exact: true }).fill('2');
  await page.getByLabel('batch').fill('4');
  await page.getByLabel('validation images').fill('10');
  await page.getByLabel('evaluate every').fill('2');
  const apply = page.getByRole('button', { name: 'Apply to playground' });
  await expect(apply).toBeDisabled();
  await page.getByRole('button', { name: 'Train' }).click();
  await expect(page.getByTestId('train-done')).toContainText('Finished 2 steps', { timeout: 400_000 });
  await expect(page.getByTestId('live-accuracy')).toHaveText(/\d+(\.\d)?%/, { timeout: 150_000 });

  await apply.click();
  await expect(page.getByTestId('model-badge')).toHaveText(/^model: QAT-trained \(step 2, applied \d\d:\d\d\)$/, { timeout: 120_000 });
  await expect(page.getByTestId('train-model')).toContainText('with the plan "QAT step 2 (learned ranges)"');
  // the applied plan is scored by the engine on the trained weights, with its interval and Δ
  await expect(page.getByTestId('live-model')).toContainText('QAT-trained (step 2', { timeout: 150_000 });
  await expect(page.getByTestId('live-accuracy')).toHaveText(/\d+(\.\d)?%/);
  await expect(page.getByTestId('live-accuracy-ci')).toBeVisible();
  await expect(page.getByTestId('live-delta')).toHaveText(/[+−-]?\d+\.\d pp/, { timeout: 150_000 });
  // study.json's figures are the shipped model's: said so and hidden
  await page.getByRole('tab', { name: 'Study' }).click();
  await expect(page.getByTestId('study-model-note')).toContainText('QAT-trained (step 2');
  await expect(page.getByRole('radio', { name: 'study.json (shipped model)' })).toBeDisabled();

  await page.getByRole('tab', { name: 'Train' }).click();
  await page.getByRole('button', { name: 'Restore shipped weights' }).click();
  await expect(page.getByTestId('model-badge')).toHaveText('model: shipped', { timeout: 120_000 });
  await expect(page.getByTestId('live-accuracy')).toHaveText(/\d+(\.\d)?%/, { timeout: 150_000 });
  await expect(page.getByTestId('live-model')).toHaveCount(0);
  expect(errors).toEqual([]);
});
