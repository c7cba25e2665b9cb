import { expect, test, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import * as P from '../src/plan/presets';
import { decodeConfig, encodeConfig } from '../src/state/urlCodec';
import { defaultConfig } from '../src/state/config';

// A/B compare journey: pin FP32 as A, make B all-INT2, read both accuracies with intervals, the
// paired Δ(B − A) drawn as a loss, the images A and B disagree on, and the link carrying A and B.
// Live subset: 100 images (1 image = 1 pp), the size the intervals are written for.
test.use({ viewport: { width: 1440, height: 900 } });
const SHOTS = process.env.SHOTS_DIR ?? 'e2e-artifacts';
mkdirSync(SHOTS, { recursive: true });

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

async function settled(page: Page) {
  await expect(page.getByTestId('live-accuracy')).toHaveText(/\d+(\.\d)?%/, { timeout: 150_000 });
  await expect(page.getByTestId('live-progress')).toHaveCount(0, { timeout: 150_000 });
}

const ACC_WITH_CI = /\d+\.\d% \[\d+\.\d, \d+\.\d\]/;
const LOSS = /^−\d+\.\d pp \[−\d+\.\d, −\d+\.\d\]$/;

test('A/B: pin FP32 as A, all-INT2 as B: both accuracies with intervals, a paired loss, disagreements, A and B in the link', async ({
  page,
}) => {
  test.setTimeout(600_000);
  const errors = watchConsole(page);
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 100 }));
  await settled(page);
  // every live figure states its n (mutation: "n dropped from the accuracy card")
  await expect(page.locator('.strip')).toContainText('live subset, n = 100');
  await expect(page.getByTestId('live-accuracy-ci')).toHaveText(/\[\d+\.\d, \d+\.\d\]/);

  // pin FP32 as A (mutation: "Pin as A does nothing" → no A/B row)
  await page.getByTestId('pin-a').click();
  await expect(page.getByTestId('ab-live')).toBeVisible();
  // B: every site INT2 (4 levels, asymmetric min/max) on both operands: site 1's scheme → all 38
  await page.locator('[data-site="1"]').click();
  await page
    .getByRole('radiogroup', { name: /A · activations bits/ })
    .getByRole('radio', { name: 'INT2' })
    .click();
  await page
    .getByRole('radiogroup', { name: /B · weights bits/ })
    .getByRole('radio', { name: 'INT2' })
    .click();
  await page.getByLabel('A · activations symmetric').selectOption('asym');
  await page.getByLabel('B · weights symmetric').selectOption('asym');
  await page.getByRole('button', { name: /this scheme → all 38/ }).click();
  await expect(page.locator('.site-chip[aria-label*="A2·"]')).toHaveCount(38);
  await settled(page);

  // both accuracies with their intervals (mutation: "interval dropped")
  await expect(page.getByTestId('ab-live-a')).toHaveText(ACC_WITH_CI, { timeout: 150_000 });
  await expect(page.getByTestId('ab-live-b')).toHaveText(ACC_WITH_CI);
  // the paired Δ(B − A): a loss whose interval excludes 0, drawn as a loss
  // (mutations: "Δ drawn neutral/green for a sure loss", "interval dropped", "no pairing → no Δ")
  const delta = page.getByTestId('ab-live-delta');
  await expect(delta).toHaveText(LOSS);
  await expect(delta).toHaveAttribute('data-tone', 'neg');
  await expect(delta).toHaveClass(/delta-neg/);
  // Δ vs FP32 in the strip: the same pairing (A is FP32), same sign and tone
  await expect(page.getByTestId('live-delta')).toHaveAttribute('data-tone', 'neg');
  // Δ(B − A) equals B − A on the same images (mutation: "Δ against another subset / unpaired")
  const aPct = Number((await page.getByTestId('ab-live-a').textContent())!.match(/(\d+\.\d)%/)![1]);
  const bPct = Number((await page.getByTestId('ab-live-b').textContent())!.match(/(\d+\.\d)%/)![1]);
  const dPP = Number((await delta.textContent())!.match(/^−(\d+\.\d)/)![1]);
  expect(Math.abs(aPct - bPct - dPP)).toBeLessThan(0.051);

  // the images on which A and B disagree, with both predictions (mutation: "disagreements not listed")
  await expect(page.getByRole('tab', { name: 'Accuracy' })).toHaveAttribute('aria-selected', 'true');
  const grid = page.getByTestId('ab-disagree');
  await expect(grid).toBeVisible();
  expect(await grid.locator('figure').count()).toBeGreaterThan(10);
  await expect(grid.locator('figure').first()).toContainText(/A: \w+/);
  await expect(grid.locator('figure').first()).toContainText(/B: \w+/);
  // per-class: FP32, A and B side by side with error bars
  await expect(page.getByTestId('per-class').locator('svg path[stroke]').first()).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/compare-accuracy-1440.png`, fullPage: true });

  // the URL carries A and B (mutation: "A not in URL")
  const url = page.url();
  const r = decodeConfig(new URL(url).hash);
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  expect(r.config.pinned?.sites.every((s) => s.a.bits === 32 && s.b.bits === 32)).toBe(true);
  expect(r.config.plan.sites.every((s) => s.a.bits === 2 && s.b.bits === 2)).toBe(true);

  // reload restores A and B (mutation: "A not decoded from the URL")
  await page.reload();
  await settled(page);
  await expect(page.locator('.site-chip[aria-label*="A2·"]')).toHaveCount(38);
  await expect(page.getByTestId('ab-live')).toContainText('FP32');
  await expect(page.getByTestId('ab-live-delta')).toHaveText(LOSS, { timeout: 150_000 });

  // unpin: A leaves the screen and the link
  await page.getByTestId('unpin-a').click();
  await expect(page.getByTestId('ab-live')).toHaveCount(0);
  await expect
    .poll(() => {
      const d = decodeConfig(new URL(page.url()).hash);
      return d.ok && d.config.pinned;
    })
    .toBeNull();
  expect(errors, errors.join('\n')).toEqual([]);
});

test('a bad plan A in a link: a clear message, plan B still loads and scores', async ({ page }) => {
  test.setTimeout(300_000);
  const good = encodeConfig({ ...defaultConfig(), liveSize: 8, pinned: defaultConfig().plan });
  const json = JSON.parse(atob(good.slice(3).replace(/-/g, '+').replace(/_/g, '/')));
  json.A.d.a.bits = 7;
  const bad = 'v1.' + btoa(JSON.stringify(json)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  await page.goto('/#' + bad);
  // mutation caught: "a bad A rejects the whole link" (B and the subset size lost) or "silently ignored"
  await expect(page.getByTestId('hash-error')).toContainText(/Plan A.*bits/);
  await settled(page);
  await expect(page.locator('.strip')).toContainText('live subset, n = 8');
  await expect(page.getByTestId('ab-live')).toHaveCount(0);
});

const FIXTURE = readFileSync(new URL('../src/ui/study/fixtures/study-v2.json', import.meta.url), 'utf8');

/** no element of `sel` overflows its own box horizontally (text clipped) unless it ellipsizes with a title */
async function clipped(page: Page, sel: string): Promise<string[]> {
  return page
    .locator(sel)
    .evaluateAll((els) =>
      els
        .filter(
          (e) =>
            e.scrollWidth > e.clientWidth + 1 &&
            !(getComputedStyle(e).textOverflow === 'ellipsis' && (e.getAttribute('title') || e.closest('[title]'))),
        )
        .map((e) => `${e.className}: ${e.textContent?.slice(0, 40)}`),
    );
}

test('Study view: every study.json row with intervals, paired Δ (neutral within noise), scan ρ; a row pinned as A', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = watchConsole(page);
  // the new study.json shape (fixture) in place of the committed file
  await page.route('**/models/vit-cifar10/study.json', (r) => r.fulfill({ body: FIXTURE, contentType: 'application/json' }));
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 8, view: 'study' }));
  const forest = page.getByTestId('study-forest');
  // mutation caught: "Study view plots only FP32"
  await expect(forest.locator('.forest-row')).toHaveCount(4);
  await expect(page.getByTestId('study-row-w8a8_per_token')).toContainText(/74\.4% \[\d+\.\d, \d+\.\d\]/);
  // within noise → neutral; a sure loss → red (mutation: "tone ignores the interval")
  await expect(page.getByTestId('study-row-w8a8_per_token').locator('[data-tone]')).toHaveAttribute('data-tone', 'neutral');
  await expect(page.getByTestId('study-row-int2_all').locator('[data-tone]')).toHaveAttribute('data-tone', 'neg');
  // chaotic rows carry their jitter band (mutation: "band dropped")
  await expect(page.getByTestId('study-row-int4_all')).toContainText('jitter 68.9–70.3%');
  await expect(page.getByTestId('scan-rho')).toContainText('Spearman ρ(val-sel, val-report) = 0.83 [0.10, 0.98], n = 6 sites');
  await expect(page.getByTestId('int4-share')).toContainText('2pp');
  await expect(page.getByText(/INT4 within a loss budget: chosen on val-sel, reported on val-report/)).toBeVisible();
  await expect(page.getByText(/greedy|order chosen on val-sel, reported on val-report/).first()).toBeVisible();
  // switch the cell to test: n changes to 1000
  await page.getByRole('radiogroup', { name: 'Study cell' }).getByRole('radio', { name: 'test' }).click();
  await expect(page.getByText(/paired on the same 1000 images/)).toBeVisible();
  expect(await clipped(page, '.forest-row > *')).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/study-v2-fixture-1440.png`, fullPage: true });
  // any row can be pinned as A (mutation: "row pin does nothing")
  await page.getByTestId('pin-row-int2_all').click();
  await expect(page.getByTestId('ab-live')).toContainText('all 38 sites INT2');
  await expect(page.getByTestId('ab-live-a')).toHaveText(ACC_WITH_CI, { timeout: 150_000 });
  expect(errors, errors.join('\n')).toEqual([]);
});

for (const [w, h] of [
  [1024, 768],
  [1920, 1080],
] as const) {
  test(`A/B compare fits at ${w}×${h}: strip, accuracy, study and outliers without clipped figures`, async ({ page }) => {
    test.setTimeout(300_000);
    await page.setViewportSize({ width: w, height: h });
    await page.route('**/models/vit-cifar10/study.json', (r) => r.fulfill({ body: FIXTURE, contentType: 'application/json' }));
    const c = { ...defaultConfig(), liveSize: 32, plan: P.allNote004(4), pinned: P.w8a8PerToken() };
    await page.goto('/#' + encodeConfig(c));
    await settled(page);
    await expect(page.getByTestId('ab-live-a')).toHaveText(ACC_WITH_CI, { timeout: 150_000 });
    await expect(page.getByTestId('ab-live-delta')).toHaveText(/pp \[/);
    // the A/B row stays inside the strip, its figures unclipped
    expect(await clipped(page, '.ab-row > *')).toEqual([]);
    const strip = await page.locator('.strip').boundingBox();
    const row = await page.getByTestId('ab-live').boundingBox();
    expect(row!.x + row!.width).toBeLessThanOrEqual(strip!.x + strip!.width + 1);
    await page.screenshot({ path: `${SHOTS}/compare-accuracy-${w}x${h}.png` });
    await page.getByRole('tab', { name: 'Study' }).click();
    await expect(page.getByTestId('study-forest').locator('.forest-row')).toHaveCount(4);
    expect(await clipped(page, '.forest-row > *')).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/compare-study-${w}x${h}.png` });
    await page.getByRole('tab', { name: 'Outliers' }).click();
    await expect(page.getByTestId('grid-a')).toBeAttached({ timeout: 150_000 });
    await expect(page.getByTestId('site-error-a')).toContainText('dB', { timeout: 150_000 });
    await expect(page.getByTestId('site-error-b')).toContainText('dB');
    expect(await clipped(page, '.site-ab .ab-name, .site-ab .k')).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/compare-outliers-${w}x${h}.png` });
    // Scale/zero: the same x through A's and B's quantizer (mutation: "explorer ignores A")
    await page.getByRole('tab', { name: 'Scale / zero' }).click();
    await expect(page.getByTestId('explorer-A')).toContainText('INT8', { timeout: 150_000 });
    await expect(page.getByTestId('explorer-B')).toContainText('INT4');
    await expect(page.getByTestId('explorer-A')).toContainText(/s = /);
    await expect(page.getByTestId('explorer-A')).toContainText("A's engine run", { timeout: 150_000 });
    expect(await clipped(page, '.ab-col .formula-title')).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/compare-explorer-${w}x${h}.png` });
    // Kernels: which kernel each plan runs (W8A8 per-token: integer GEMM at the weight sites)
    await page.getByRole('tab', { name: 'Kernels' }).click();
    const kab = page.getByTestId('kernels-ab');
    await expect(kab.locator('tr[data-path="int8-gemm"] td').nth(1)).not.toHaveText('0');
    await expect(kab).toContainText('images/s');
    await page.screenshot({ path: `${SHOTS}/compare-kernels-${w}x${h}.png` });
  });
}

test('stage: a pinned A is shown beside each step, Δ(step − A) paired on the live subset', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 32, pinned: P.allNote004(2), view: 'stage' }));
  const line = page.getByTestId('stage-pinned');
  await expect(line).toContainText('all 38');
  // step 1 is FP32: far above all-INT2 on the same images (mutation: "stage ignores A")
  await expect(page.getByTestId('stage-pinned-delta')).toHaveText(
    /this step − A on the live subset: \+\d+\.\d pp \[\d+\.\d, \d+\.\d\] paired, n = 32/,
    { timeout: 200_000 },
  );
  await page.screenshot({ path: `${SHOTS}/compare-stage-1440.png` });
});

test('full set: B and A scored on the same 1000 images, labelled "full set, n = 1000", Δ(B − A) paired', async ({ page }) => {
  test.setTimeout(480_000);
  const errors = watchConsole(page);
  await page.goto('/#' + encodeConfig({ ...defaultConfig(), liveSize: 8, plan: P.allNote004(2), pinned: P.w8a8PerToken() }));
  await settled(page);
  await page.getByTestId('score-full').click();
  // mutation caught: "A not scored on the full set" / "full-set Δ against the live subset's A"
  await expect(page.getByTestId('ab-full')).toContainText('full set, n = 1000', { timeout: 400_000 });
  await expect(page.getByTestId('ab-full-a')).toHaveText(ACC_WITH_CI, { timeout: 400_000 });
  await expect(page.getByTestId('ab-full-b')).toHaveText(ACC_WITH_CI);
  await expect(page.getByTestId('ab-full-delta')).toHaveText(LOSS);
  await expect(page.getByTestId('full-accuracy')).toContainText(/Full test set, n = 1000: \d+\.\d\d% \[/);
  expect(errors, errors.join('\n')).toEqual([]);
});
