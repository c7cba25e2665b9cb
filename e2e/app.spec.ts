import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { encodeConfig } from '../src/state/urlCodec';
import { defaultConfig } from '../src/state/config';

// UI journeys against the real engine (the worker behind src/engine/client.ts). The live subset
// is 8 images (through the URL hash) so each re-score stays quick on a CPU-only machine.
// Screenshots go to e2e-artifacts/ (git-ignored).
test.use({ viewport: { width: 1440, height: 900 } });

const ART = 'e2e-artifacts';
mkdirSync(ART, { recursive: true });

function tinyHash(patch: Partial<ReturnType<typeof defaultConfig>> = {}): string {
  return '#' + encodeConfig({ ...defaultConfig(), liveSize: 8, ...patch });
}

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/** wait until the live accuracy shows a percentage and no re-score is running */
async function settled(page: Page) {
  await expect(page.getByTestId('live-accuracy')).toHaveText(/\d+(\.\d)?%/, { timeout: 150_000 });
  await expect(page.getByTestId('live-progress')).toHaveCount(0, { timeout: 150_000 });
}

test('loads, scores a preset, one site INT4 updates accuracy and histogram, URL round-trips', async ({ page, context }) => {
  test.setTimeout(600_000);
  const errors = watchConsole(page);
  await page.goto('/' + tinyHash());
  await expect(page.getByRole('heading', { name: 'Quantization Playground' })).toBeVisible();
  await expect(page.getByTestId('backend-label')).not.toHaveText(/starting|engine error/, { timeout: 120_000 });
  await settled(page);
  await expect(page.locator('.site-chip')).toHaveCount(38);
  await expect(page.getByText('first 8 test images')).toBeVisible();
  await page.screenshot({ path: `${ART}/app-loaded.png` });

  // a preset runs: every site turns into an integer GEMM and the live score re-runs
  await page.locator('[data-preset="w8a8"]').click();
  await expect(page.locator('[data-preset="w8a8"]')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('.site-chip.path-int8-gemm')).toHaveCount(38);
  await settled(page);
  await expect(page.getByTestId('live-delta')).toHaveText(/pp/);
  await page.screenshot({ path: `${ART}/app-w8a8.png` });

  // back to FP32, then one site to INT4: accuracy re-scored, histogram shows the INT4 grid
  await page.locator('[data-preset="fp32"]').click();
  await settled(page);
  await page.locator('[data-site="13"]').click();
  await expect(page.getByRole('heading', { name: /Site 13/ })).toBeVisible();
  await page.getByRole('radiogroup', { name: /A · activations bits/ }).getByRole('radio', { name: 'INT4' }).click();
  await page.getByRole('radiogroup', { name: /B · weights bits/ }).getByRole('radio', { name: 'INT4' }).click();
  await expect(page.locator('[data-site="13"]')).toHaveAttribute('aria-label', /A4·W4/);
  await expect(page.getByTestId('live-accuracy')).toHaveClass(/stale/, { timeout: 10_000 }).catch(() => undefined);
  await settled(page);
  await expect(page.getByTestId('live-delta')).not.toHaveText('baseline');
  await page.getByRole('tab', { name: 'Outliers' }).click();
  await expect(page.getByTestId('histogram')).toBeVisible({ timeout: 150_000 });
  await expect(page.getByText(/grid INT4 sym/)).toBeVisible();
  await expect(page.getByTestId('clip-stats')).toContainText('SQNR');
  await page.screenshot({ path: `${ART}/app-outliers-int4.png`, fullPage: true });

  // the URL reproduces the view in a fresh page
  const url = page.url();
  expect(url).toMatch(/#v1\./);
  const page2 = await context.newPage();
  const errors2 = watchConsole(page2);
  await page2.goto(url);
  await expect(page2.getByRole('tab', { name: 'Outliers' })).toHaveAttribute('aria-selected', 'true');
  await expect(page2.getByRole('heading', { name: /Site 13/ })).toBeVisible();
  await expect(page2.locator('[data-site="13"]')).toHaveAttribute('aria-label', /A4·W4/);
  await expect(page2.locator('[data-site="12"]')).toHaveAttribute('aria-label', /FP32/);
  expect(page2.url()).toBe(url);
  await page2.close();

  // an unreadable link: a message and the defaults, no crash
  await page.goto('/#v1.not-a-valid-payload');
  await expect(page.getByTestId('hash-error')).toBeVisible();
  await expect(page.locator('[data-preset="fp32"]')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('.site-chip')).toHaveCount(38);

  expect(errors, errors.join('\n')).toEqual([]);
  expect(errors2, errors2.join('\n')).toEqual([]);
});

test('stage mode: arrow keys step through presets, Escape leaves', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = watchConsole(page);
  await page.goto('/' + tinyHash({ view: 'stage' }));
  await expect(page.getByTestId('stage')).toBeVisible();
  await expect(page.getByTestId('stage-step')).toHaveText('1 / 7');
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('stage-step')).toHaveText('2 / 7');
  await expect(page.getByTestId('stage-title')).toHaveText('INT8, per token');
  await expect(page.locator('.site-chip.path-int8-gemm')).toHaveCount(38);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('stage-step')).toHaveText('4 / 7');
  await expect(page.getByTestId('stage-accuracy')).toHaveText(/\d+(\.\d)?%/, { timeout: 150_000 });
  expect(page.url()).toMatch(/#v1\./);
  await page.screenshot({ path: `${ART}/app-stage.png` });
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('stage-step')).toHaveText('3 / 7');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('stage')).toHaveCount(0);
  await expect(page.getByRole('tab', { name: 'Accuracy' })).toHaveAttribute('aria-selected', 'true');
  expect(errors, errors.join('\n')).toEqual([]);
});
