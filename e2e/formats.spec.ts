import { expect, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { encodeConfig } from '../src/state/urlCodec';
import { defaultConfig } from '../src/state/config';
import { formatPlan, withRotation } from '../src/plan/presets';

// Formats beside INT and the Hadamard rotation in the UI: the inspector's format picker and path,
// the Outliers view's format grid, block scales and rotation histogram, the Scale/zero explainer.
test.use({ viewport: { width: 1440, height: 900 } });
const ART = 'e2e-artifacts';
mkdirSync(ART, { recursive: true });

test('MXFP4 + rotation plan: inspector, Outliers grid and block scales, rotation histogram, Scale/zero explainer', async ({ page }) => {
  test.setTimeout(400_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const plan = withRotation(formatPlan('mxfp4'), 3);
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), plan, liveSize: 8, view: 'outliers', selectedSite: 5, backend: 'cpu' }));
  // the inspector says what the site is and how it runs
  await expect(page.getByRole('heading', { name: /Site 5/ })).toBeVisible({ timeout: 120_000 });
  await expect(page.getByLabel('A · activations format')).toHaveValue('mxfp4');
  await expect(page.getByTestId('site-path')).toContainText(/fake/i);
  await expect(page.getByText(/no GEMM of ours takes these formats/).first()).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'Hadamard rotation' })).toBeChecked();
  await expect(page.locator('[data-site="5"]')).toHaveAttribute('aria-label', /AM4·WM4·R/);
  // Outliers: the format's grid over the histogram, per-block scales, the rotation before/after
  await expect(page.getByTestId('format-grid')).toBeVisible({ timeout: 200_000 });
  await expect(page.getByTestId('block-scales')).toBeVisible();
  await expect(page.getByTestId('format-sqnr')).toContainText('MXFP4');
  await expect(page.getByTestId('rotation-hist')).toBeVisible();
  const kb = Number(await page.getByTestId('kurtosis-before').textContent());
  const ka = Number(await page.getByTestId('kurtosis-after').textContent());
  expect(ka).toBeGreaterThan(0);
  expect(ka).toBeLessThanOrEqual(kb);
  await page.getByLabel('Format grid').selectOption('fp8_e4m3');
  await expect(page.getByText(/one per-tensor scale s = amax\/448/)).toBeVisible();
  await page.screenshot({ path: `${ART}/app-outliers-formats.png`, fullPage: true });
  // Scale/zero: E/M bits, the block scale and one value encoded, in KaTeX
  await page.getByRole('tab', { name: 'Scale / zero' }).click();
  await expect(page.getByTestId('format-explainer')).toBeVisible();
  await expect(page.getByTestId('format-explainer').locator('.katex').first()).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('format-explainer')).toContainText('E8M0');
  await page.getByLabel('Exact format value x').fill('0');
  await expect(page.getByTestId('format-steps')).toBeVisible();
  await page.screenshot({ path: `${ART}/app-explorer-formats.png`, fullPage: true });
  // a bad format in a link is a readable error, not a crash
  expect(errors, errors.join('\n')).toEqual([]);
});
