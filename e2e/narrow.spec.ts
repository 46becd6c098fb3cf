// The dashboard in a 420 × 800 window (a small laptop split screen, a phone) in Debian's Chromium
// against the real headless node: on the Models page every installed model's row and its Test /
// Verify / Delete actions lie inside the window, a file deleted behind the node's back shows as
// missing and a touched one as changed until verified, and the Test output fits; on the Power page the whole schedule grid (7 × 24 cells)
// lies inside the window and can be edited and saved. The page itself never scrolls sideways.
import { unlink, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { expect, test } from './helpers/fixtures';
import { rpc } from './helpers/rpc';

const FIXTURES = resolve(import.meta.dirname, '..', 'test', 'fixtures');
const WIDTH = 420;

test.use({ viewport: { width: WIDTH, height: 800 } });

async function openPage(page: Page, name: 'Models' | 'Power'): Promise<void> {
  // Narrow: the navigation is behind the menu button.
  await page.getByRole('button', { name: 'Open navigation' }).click();
  await page.getByTestId(`nav-${name.toLowerCase()}`).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

/** The element lies inside the window's width once scrolled into view (nothing cut off). */
async function expectInsideWidth(locator: Locator, what: string): Promise<void> {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  expect(box, `${what} is rendered`).not.toBeNull();
  expect(box!.x, `${what} starts inside the window`).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width, `${what} ends inside the window`).toBeLessThanOrEqual(WIDTH);
}

async function expectNoSidewaysScroll(page: Page): Promise<void> {
  const width = await page.locator('html').evaluate((html) => html.scrollWidth);
  expect(width, 'the page is no wider than the window').toBeLessThanOrEqual(WIDTH);
}

test('Models at 420 px: installed rows and their actions fit, a deleted file shows missing, the Test output fits', async ({
  page,
  node,
}, testInfo) => {
  test.setTimeout(90_000);
  const stories = await rpc<{ id: string; file: string }>(node, 'models.import', {
    path: join(FIXTURES, 'stories260K.gguf'),
    name: 'Stories 260K (a tiny story model)',
  });
  const tiny = await rpc<{ id: string; file: string }>(node, 'models.import', {
    path: join(FIXTURES, 'llama-2-tiny-random.gguf'),
    name: 'Llama 2 tiny random weights',
  });
  await page.goto(node.url);
  await openPage(page, 'Models');
  // The catalog's cards (the bundled catalog: its servers cannot be reached from the test
  // machine, so the offline notice shows too) fit the window.
  const cards = page.locator('[data-testid^="model-card-"]');
  await expect(cards.first()).toBeVisible();
  for (const card of await cards.all()) await expectInsideWidth(card, 'a catalog card');
  await expectNoSidewaysScroll(page);
  await page.screenshot({ path: testInfo.outputPath('models-catalog-420.png') });
  await page.getByTestId('tab-installed').click();
  await expect(page.getByTestId('models-disk')).toContainText(/2 models, .* free$/);

  for (const m of [stories, tiny]) {
    const row = page.getByTestId(`installed-${m.id}`);
    await expectInsideWidth(row, `the row of ${m.id}`);
    await expect(page.getByTestId(`installed-id-${m.id}`)).toContainText(
      `idlerig models rm ${m.id}`,
    );
    for (const action of ['test', 'verify', 'delete'])
      await expectInsideWidth(page.getByTestId(`${action}-${m.id}`), `${action} of ${m.id}`);
    await expect(page.getByTestId(`state-${m.id}`)).toHaveText('Ready');
  }
  await expectNoSidewaysScroll(page);
  await page.screenshot({ path: testInfo.outputPath('models-installed-420.png'), fullPage: true });

  // One model's file is deleted behind the node's back, the other's touched (a new date, the same
  // bytes): opening the tab again shows both; Verify clears the touched one.
  await unlink(join(node.dataDir, 'models', tiny.file));
  const later = new Date(Date.now() + 60_000);
  await utimes(join(node.dataDir, 'models', stories.file), later, later);
  await page.getByTestId('tab-catalog').click();
  await page.getByTestId('tab-installed').click();
  await expect(page.getByTestId(`state-${stories.id}`)).toHaveText('Changed on disk');
  await expect(page.getByTestId(`file-note-${stories.id}`)).toContainText('Verify hashes it again');
  await page.getByTestId(`verify-${stories.id}`).click();
  await expect(page.getByTestId(`verified-${stories.id}`)).toHaveText('Verified just now');
  await expect(page.getByTestId(`state-${stories.id}`)).toHaveText('Ready');
  await expect(page.getByTestId(`state-${tiny.id}`)).toHaveText('File missing');
  await expect(page.getByTestId(`file-note-${tiny.id}`)).toContainText(
    'no longer in the models folder',
  );
  await expect(page.getByTestId(`test-${tiny.id}`)).toBeDisabled();
  await expectInsideWidth(page.getByTestId(`delete-${tiny.id}`), 'delete of the missing model');
  await expectNoSidewaysScroll(page);

  // Test: the dialog's prompt, output and buttons fit the window.
  await page.getByTestId(`test-${stories.id}`).click();
  await page.getByTestId('test-run').click();
  await expect(page.getByTestId('test-result')).toBeVisible({ timeout: 60_000 });
  const output = page.getByTestId('test-output');
  await expect(output).toContainText('there was a little girl');
  await expectInsideWidth(output, 'the Test output');
  await expectInsideWidth(page.getByTestId('test-result'), 'the Test figures');
  await expectInsideWidth(page.getByRole('button', { name: 'Close' }), 'the Close button');
  await page.screenshot({ path: testInfo.outputPath('models-test-420.png') });
  await page.getByRole('button', { name: 'Close' }).click();

  // The missing model's entry is removed from its row.
  await page.getByTestId(`delete-${tiny.id}`).click();
  // (The page then asks for the list again: wait for that answer before the node stops.)
  const relisted = page.waitForResponse((r) => r.url().endsWith('/api/rpc/models.installed'));
  await page.getByTestId('confirm-delete').click();
  await expect(page.getByTestId(`installed-${tiny.id}`)).toHaveCount(0);
  await relisted;
});

test('Power at 420 px: every cell of the schedule lies inside the window and an edit is saved', async ({
  page,
  node,
}, testInfo) => {
  await page.goto(node.url);
  await openPage(page, 'Power');
  const grid = page.getByTestId('schedule-grid');
  await expectInsideWidth(grid, 'the schedule grid');
  // Every one of the 168 cells: rendered, of a clickable size, inside the window.
  const boxes = await grid.locator('[role="checkbox"]').evaluateAll((cells) =>
    cells.map((c) => {
      const r = c.getBoundingClientRect();
      return {
        id: c.getAttribute('data-testid'),
        left: r.left,
        right: r.right,
        w: r.width,
        h: r.height,
      };
    }),
  );
  expect(boxes).toHaveLength(7 * 24);
  for (const b of boxes) {
    expect(b.left, `${b.id} starts inside the window`).toBeGreaterThanOrEqual(0);
    expect(b.right, `${b.id} ends inside the window`).toBeLessThanOrEqual(WIDTH);
    expect(b.w, `${b.id} is wide enough to tap`).toBeGreaterThanOrEqual(24);
    expect(b.h, `${b.id} is tall enough to tap`).toBeGreaterThanOrEqual(16);
  }
  await expectNoSidewaysScroll(page);

  // The corners of the week: Monday 00:00 and Sunday 23:00.
  await page.getByTestId('schedule-enabled').locator('input').check();
  await page.getByTestId('schedule-cell-0-0').click();
  await page.getByTestId('schedule-cell-6-23').click();
  await expect(page.getByTestId('schedule-cell-6-23')).toHaveAttribute('aria-checked', 'false');
  await expectInsideWidth(page.getByTestId('schedule-save'), 'Save schedule');
  await page.getByTestId('schedule-save').click();
  await expect(page.getByTestId('settings-schedule').getByRole('status')).toHaveText('Saved');
  const settings = await rpc<{ power: { schedule: { enabled: boolean; days: string[] } } }>(
    node,
    'settings.get',
  );
  expect(settings.power.schedule.enabled).toBe(true);
  expect(settings.power.schedule.days[0]![0]).toBe('0');
  expect(settings.power.schedule.days[6]![23]).toBe('0');
  expect(settings.power.schedule.days[3]).toBe('1'.repeat(24));

  for (const id of ['price-kwh', 'price-currency', 'cpu-watts', 'electricity-save', 'cpu-save'])
    await expectInsideWidth(page.getByTestId(id), id);
  // A CPU provider: the chart shows the CPU's estimated power once the sampler reported twice.
  const chart = page.getByTestId('power-chart');
  await expect(chart).toHaveAttribute('data-points', /^([2-9]|\d\d+)$/, { timeout: 20_000 });
  await expectInsideWidth(chart, 'the live power chart');
  await expectNoSidewaysScroll(page);
  await page.screenshot({ path: testInfo.outputPath('power-420.png'), fullPage: true });
  for (const id of ['power-chart', 'schedule', 'conditions', 'electricity', 'cpu-power'])
    await page
      .getByTestId(`settings-${id}`)
      .screenshot({ path: testInfo.outputPath(`power-${id}-420.png`) });
});
