import { expect, test, type Page } from '@playwright/test';
import { copyFileSync, mkdirSync } from 'node:fs';
import { encodeConfig } from '../src/state/urlCodec';
import { defaultConfig, type Config } from '../src/state/config';

// Layouts at the four screen sizes of issue 11: the main regions do not overlap, nothing is
// clipped, the site controls are above the fold at 1280 wide, the map's text is legible, and the
// stage's map neither covers the figures nor loses its legend. CPU backend, 8 live images.
// Screenshots: test-results/layout/<size>-<view>.png, copied to /work/notes/shots/ when present.
const SIZES = [
  { width: 1024, height: 768 },
  { width: 1280, height: 720 },
  { width: 1440, height: 900 },
  { width: 1920, height: 1080 },
];
const OUT = 'test-results/layout';
mkdirSync(OUT, { recursive: true });

function hash(patch: Partial<Config> = {}): string {
  return '#' + encodeConfig({ ...defaultConfig(), liveSize: 8, backend: 'cpu', ...patch });
}

type Box = { x: number; y: number; width: number; height: number };
const overlap = (a: Box, b: Box) =>
  Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)) *
  Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));

async function box(page: Page, sel: string): Promise<Box> {
  const b = await page.locator(sel).first().boundingBox();
  if (!b) throw new Error(`${sel} has no box (not rendered)`);
  return b;
}

async function shoot(page: Page, name: string) {
  const path = `${OUT}/${name}.png`;
  await page.screenshot({ path });
  try {
    mkdirSync('/work/notes/shots', { recursive: true });
    copyFileSync(path, `/work/notes/shots/${name}.png`);
  } catch {
    /* outside this workspace the copy is optional; the screenshot stays under test-results */
  }
}

/** elements among `sel` whose content is wider than their box (clipped or ellipsized text) */
async function clipped(page: Page, sel: string): Promise<string[]> {
  return page
    .locator(sel)
    .evaluateAll((els) =>
      els
        .filter((e) => e.scrollWidth > e.clientWidth + 1)
        .map((e) => `${e.className}: "${(e.textContent ?? '').slice(0, 40)}" ${e.scrollWidth}>${e.clientWidth}`),
    );
}

async function minFontPx(page: Page, sel: string): Promise<number> {
  return page
    .locator(sel)
    .evaluateAll((els) =>
      Math.min(...els.filter((e) => (e as HTMLElement).offsetParent !== null).map((e) => parseFloat(getComputedStyle(e).fontSize))),
    );
}

async function ready(page: Page) {
  await expect(page.getByTestId('backend-label')).not.toHaveText(/starting|engine error/, { timeout: 120_000 });
  await expect(page.getByTestId('live-accuracy')).toHaveText(/\d+(\.\d)?%/, { timeout: 150_000 });
}

for (const size of SIZES) {
  const tag = `${size.width}x${size.height}`;
  test.describe(`layout ${tag}`, () => {
    test.use({ viewport: size });

    test(`main view regions apart, unclipped, legible (${tag})`, async ({ page }) => {
      test.setTimeout(300_000);
      await page.goto('/' + hash());
      await ready(page);
      const regions = { header: '.topbar', map: '.pane-map', accuracy: '.strip', inspector: '.pane-inspector', view: '#view-panel' };
      const boxes = Object.fromEntries(await Promise.all(Object.entries(regions).map(async ([k, s]) => [k, await box(page, s)] as const)));
      const names = Object.keys(boxes);
      for (let i = 0; i < names.length; i++)
        for (let j = i + 1; j < names.length; j++)
          expect(overlap(boxes[names[i]], boxes[names[j]]), `${names[i]} overlaps ${names[j]}`).toBeLessThanOrEqual(1);
      // nothing inside the page is wider than the viewport, no region scrolls sideways
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(size.width);
      for (const s of Object.values(regions)) expect(await clipped(page, s), s).toEqual([]);
      expect(
        await clipped(page, '.chip-name, .chip-idx, .chip-bits, .legend-item, .tab, .metric-value, .backend-label, .map-block-label'),
      ).toEqual([]);
      // the legend is inside the map pane horizontally and not cut
      const legend = await box(page, '.pane-map .legend');
      expect(legend.x).toBeGreaterThanOrEqual(boxes.map.x);
      expect(legend.x + legend.width).toBeLessThanOrEqual(boxes.map.x + boxes.map.width + 0.5);
      // model map text ≥ 12 px
      expect(
        await minFontPx(
          page,
          '.pane-map .chip-name, .pane-map .chip-idx, .pane-map .chip-bits, .pane-map .legend, .pane-map .map-block-label',
        ),
      ).toBeGreaterThanOrEqual(12);
      // site controls above the fold from 1280 wide
      if (size.width >= 1280) {
        const ctl = await box(page, '.pane-inspector fieldset');
        expect(ctl.y, 'first site control starts above the fold').toBeLessThan(size.height - 40);
      }
      await shoot(page, `${tag}-main`);
    });

    test(`outliers and kernels views fit (${tag})`, async ({ page }) => {
      test.setTimeout(300_000);
      await page.goto('/' + hash({ view: 'outliers' }));
      await ready(page);
      await expect(page.getByTestId('histogram')).toBeVisible({ timeout: 150_000 });
      const panel = await box(page, '#view-panel');
      console.log(`outliers view at ${tag}: ${Math.round(panel.height)} px tall`);
      // the Outliers view fits one screen from 1440×900 up (it was 1566 px tall there); smaller
      // screens scroll, but by less than half a screen more
      expect(panel.height, 'outliers view height').toBeLessThanOrEqual(size.width >= 1440 ? size.height : 1.5 * size.height);
      expect(await clipped(page, '#view-panel')).toEqual([]);
      await shoot(page, `${tag}-outliers`);
      await page.getByRole('tab', { name: 'Kernels' }).click();
      await expect(page.getByTestId('kernels-committed')).toBeVisible({ timeout: 60_000 });
      expect(await clipped(page, '.table-wrap, .ratio, .ratio-k, .ratio-v')).toEqual([]);
      await shoot(page, `${tag}-kernels`);
    });

    test(`stage: map beside the figures, legend in view, chips legible (${tag})`, async ({ page }) => {
      test.setTimeout(300_000);
      await page.goto('/' + hash({ view: 'stage' }));
      await expect(page.getByTestId('stage-title')).toHaveText('The reference');
      await expect(page.locator('.stage .site-chip')).toHaveCount(38);
      const map = await box(page, '.stage-map .model-map');
      for (const s of [
        '[data-testid="stage-figure"]',
        '[data-testid="stage-title"]',
        '.stage-caption',
        '[data-testid="stage-live"]',
        '.stage-top',
      ])
        expect(overlap(map, await box(page, s)), `map covers ${s}`).toBeLessThanOrEqual(1);
      const legend = await box(page, '.stage-map .legend');
      expect(legend.y + legend.height, 'legend bottom inside the map card').toBeLessThanOrEqual(map.y + map.height + 0.5);
      expect(legend.y + legend.height, 'legend bottom inside the viewport').toBeLessThanOrEqual(size.height);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(size.width);
      expect(await clipped(page, '.stage .chip-name, .stage .chip-idx, .stage .chip-bits, .stage .legend-item, .stage-v')).toEqual([]);
      const minChip = await minFontPx(page, '.stage .chip-name, .stage .chip-idx, .stage .chip-bits');
      expect(minChip).toBeGreaterThanOrEqual(size.width >= 1920 ? 16 : 12);
      await shoot(page, `${tag}-stage`);
    });
  });
}

test('first visit: the introduction shows once, is remembered, reopens from "? Intro"; terms explain themselves', async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto('/');
  await expect(page.getByTestId('intro')).toBeVisible();
  await expect(page.getByTestId('intro')).toContainText('95% interval');
  await page.getByRole('button', { name: 'Show the glossary' }).click();
  await expect(page.getByTestId('glossary')).toContainText('dot4I8Packed');
  await expect(page.getByTestId('glossary')).toContainText('within noise');
  await page.getByTestId('intro-close').click();
  await expect(page.getByTestId('intro')).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Quantization Playground' })).toBeVisible();
  await expect(page.getByTestId('intro')).toHaveCount(0);
  await page.getByTestId('intro-open').click();
  await expect(page.getByTestId('intro')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('intro')).toHaveCount(0);
  // a glossary term in the site controls: its explanation appears on keyboard focus
  const term = page.locator('.pane-inspector [data-term="granularity"]').first();
  await term.focus();
  await expect(term.getByRole('tooltip')).toBeVisible();
  await expect(term.getByRole('tooltip')).toContainText('per-token');
});
