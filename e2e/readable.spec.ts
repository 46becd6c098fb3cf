// Every figure a user reads is whole, at 1280 and at 420 px, in Debian's Chromium against the real
// headless node with a job record seeded as the market client writes it (voucher-paid jobs over
// the last days, a test job, a failed one with a long reason): the Jobs table's cells, the job
// detail's words and money, the earnings chart's day labels, the Power page's fields.
import { join } from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { expect, test } from './helpers/fixtures';
import { makeDataDir, removeDataDir, startNode, type RunningNode } from './helpers/node';
import { rpc } from './helpers/rpc';
import { openJobsDb } from '../electron/provider/jobs/db';
import { JobStore } from '../electron/provider/jobs/store';

const TOKEN = { symbol: 'IDLE', decimals: 18, address: '0x' + 'c'.repeat(40) };
const GATEWAY = 'ws://127.0.0.1:9/provider';
const FAILED_ID = '01a233bc-d985-7c45-8dc0-afa02a8ba387';
const FAILED_REASON = 'max_tokens 5000 is over the limit of 4096';
/** What the seeded paid jobs earned (18 decimals) and how the Jobs table writes it. */
const EARNED: [bigint, string][] = [
  [10n ** 13n, '< 0.0001 IDLE'],
  [123n * 10n ** 14n, '0.0123 IDLE'],
  [15n * 10n ** 17n, '1.5 IDLE'],
];

test.use({ locale: 'en-US' });

let dir: string;
let node: RunningNode;

test.beforeAll(async () => {
  dir = await makeDataDir();
  const { db } = openJobsDb(join(dir, 'jobs.db'));
  const store = new JobStore(db);
  const now = Date.now();
  const paid: string[] = [];
  for (let d = 0; d < 12; d++) {
    const id = `job-${d}`;
    const test = d % 4 === 3;
    const startedAt = now - d * 2 * 86_400_000 - 60_000;
    const earned = EARNED[d % EARNED.length]![0];
    store.start({
      id,
      startedAt,
      gateway: test ? null : GATEWAY,
      model: { id: 'stories260k', sha256: 'ab'.repeat(32) },
      kind: d % 2 ? 'chat' : 'completion',
      tokensIn: 25,
      price: { amount: earned, unit: 'per-request' },
      token: TOKEN,
      test,
    });
    store.recordEnergy({
      id,
      startedAt,
      endedAt: startedAt + 3000,
      wh: 2,
      cost: 0.0006,
      currency: 'EUR',
      estimated: false,
      revenue: test ? 0 : 0.02,
    });
    store.end(id, {
      status: d % 5 === 2 ? 'cancelled' : 'done',
      endedAt: startedAt + 3000,
      tokensOut: 2041,
      ttftMs: 20,
      earned: test ? null : earned,
    });
    if (!test) paid.push(id);
  }
  // The newest job: refused by the engine, nothing earned, no energy measured.
  store.start({
    id: FAILED_ID,
    startedAt: now - 1000,
    gateway: GATEWAY,
    model: { id: 'stories260k', sha256: 'ab'.repeat(32) },
    kind: 'chat',
    price: { amount: 0n, unit: 'per-request' },
    token: TOKEN,
  });
  store.end(FAILED_ID, {
    status: 'failed',
    endedAt: now - 996,
    reason: FAILED_REASON,
    errorCode: 'LIMIT_EXCEEDED',
    tokensOut: 0,
    earned: 0n,
    revenue: 0,
  });
  store.linkVoucher({
    voucherId: '0x' + 'e'.repeat(64),
    gateway: GATEWAY,
    token: TOKEN.address,
    cumulative: 10n ** 20n,
    jobIds: paid,
  });
  db.close();
  node = await startNode(dir);
});

test.afterAll(async () => {
  await node?.stop();
  if (dir) await removeDataDir(dir);
});

/** Elements whose content is wider than their box (cut off or ellipsised). */
async function overflowing(cells: Locator): Promise<string[]> {
  return cells.evaluateAll((els) =>
    els
      .filter((e) => e.scrollWidth > e.clientWidth)
      .map(
        (e) =>
          `${e.getAttribute('data-field')}: ${e.textContent} (${e.scrollWidth} > ${e.clientWidth})`,
      ),
  );
}

/** The little of the page's DOM the layout checks use (the e2e code is type-checked without it). */
interface PageDom {
  document: {
    createRange(): {
      setStart(node: unknown, offset: number): void;
      setEnd(node: unknown, offset: number): void;
      getClientRects(): ArrayLike<{ top: number }>;
    };
  };
}
type TextNodes = { childNodes: ArrayLike<{ nodeType: number; textContent: string | null }> };

/**
 * How the element's own text is drawn: over how many lines, and its words (split at white
 * space) that are drawn over more than one.
 */
async function textLines(el: Locator): Promise<{ lines: number; broken: string[] }> {
  return el.evaluate((root) => {
    const { document } = globalThis as unknown as PageDom;
    const tops = (node: unknown, from: number, to: number) => {
      const range = document.createRange();
      range.setStart(node, from);
      range.setEnd(node, to);
      return new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
    };
    const broken: string[] = [];
    const lines = new Set<number>();
    for (const node of Array.from((root as unknown as TextNodes).childNodes)) {
      if (node.nodeType !== 3) continue;
      const text = node.textContent ?? '';
      for (const top of tops(node, 0, text.length)) lines.add(top);
      for (const m of text.matchAll(/\S+/g))
        if (tops(node, m.index, m.index + m[0].length).size > 1) broken.push(m[0]);
    }
    return { lines: lines.size, broken };
  });
}

async function openJobs(page: Page, width: number): Promise<Locator> {
  await page.setViewportSize({ width, height: 800 });
  await page.goto(`${node.url}#/jobs`);
  const grid = page.getByTestId('jobs-grid');
  await expect(grid).toHaveAttribute('data-total', '13');
  await expect(grid.getByRole('row')).toHaveCount(14);
  return grid;
}

test('Jobs table at 1280 px: every column fits and no cell is cut off', async ({ page }) => {
  const grid = await openJobs(page, 1280);
  // Every cell's content, headers included, is whole; the last column ends inside the grid.
  expect(await overflowing(grid.locator('.MuiDataGrid-cell'))).toEqual([]);
  expect(await overflowing(grid.locator('.MuiDataGrid-columnHeaderTitle'))).toEqual([]);
  const gridBox = (await grid.locator('.MuiDataGrid-main').boundingBox())!;
  const earnedHeader = (await grid.getByRole('columnheader', { name: 'Earned' }).boundingBox())!;
  expect(earnedHeader.x + earnedHeader.width).toBeLessThanOrEqual(gridBox.x + gridBox.width + 1);
  // The grid draws a horizontal scrollbar only when its columns are wider than it.
  await expect(grid.locator('.MuiDataGrid-scrollbar--horizontal')).toHaveCount(0);

  // The Earned cells are the whole amounts; a voucher-paid job has the voucher mark.
  const earned = grid.getByTestId('job-earned-cell');
  const texts = (await earned.allInnerTexts()).map((t) => t.trim());
  for (const [, shown] of EARNED) expect(texts).toContain(shown);
  expect(texts).toContain('Test (unpaid)');
  expect(texts).toContain('0 IDLE');
  for (const cell of await earned.all()) {
    const text = (await cell.innerText()).trim();
    if (text === 'Test (unpaid)' || text === '0 IDLE') {
      await expect(cell.getByTestId('job-voucher-mark')).toHaveCount(0);
    } else {
      await expect(cell.getByTestId('job-voucher-mark')).toHaveCount(1);
    }
  }
  // Started: date and time, short; the cell's title has it in full.
  const started = grid.locator('[data-field="startedAt"][role="gridcell"]').first();
  await expect(started).toHaveText(/^\w{3} \d{1,2}, \d{1,2}:\d\d\s?[AP]M$/);
  await expect(started.locator('span')).toHaveAttribute('title', /\d{4}, \d{1,2}:\d\d:\d\d/);
  await page.screenshot({ path: test.info().outputPath('jobs-1280.png') });
});

test('Job detail at 420 px: words wrap between words, the net has its currency', async ({
  page,
}) => {
  const grid = await openJobs(page, 420);
  await grid.getByRole('row').nth(1).click();
  await expect(page.getByTestId('job-status')).toHaveText('Failed (LIMIT_EXCEEDED)');
  const reason = page.getByTestId('job-reason');
  await expect(reason).toHaveText(FAILED_REASON);
  // The reason and the times need more than one line at this width: they break between words.
  expect((await textLines(reason)).lines, 'the reason wraps').toBeGreaterThan(1);
  for (const id of ['job-reason', 'job-started', 'job-ended', 'job-status'])
    expect((await textLines(page.getByTestId(id))).broken, id).toEqual([]);
  // A hash longer than its column still fits the dialog (it may break anywhere).
  const sha = page.getByTestId('job-model-sha-');
  const dialog = (await page.getByRole('dialog').boundingBox())!;
  const shaBox = (await sha.boundingBox())!;
  expect(shaBox.x + shaBox.width).toBeLessThanOrEqual(dialog.x + dialog.width);
  // Nothing earned, no energy measured: the net is zero in the electricity currency.
  const { power } = await rpc<{ power: { electricity: { currency: string } } }>(
    node,
    'settings.get',
  );
  await expect(page.getByTestId('job-net-after-electricity')).toHaveText(
    `0.000 ${power.electricity.currency}`,
  );
  await page.screenshot({ path: test.info().outputPath('job-detail-failed-420.png') });
  await page.getByRole('button', { name: 'Close' }).click();
});

/** The x axis's tick labels of the earnings chart, left to right, with their boxes. */
async function dayLabels(page: Page): Promise<{ text: string; left: number; right: number }[]> {
  const chart = page.getByTestId('earnings-chart');
  await expect(chart).toHaveAttribute('data-days', '30');
  const labels = chart.locator('.MuiChartsAxis-directionX .MuiChartsAxis-tickLabel');
  await expect.poll(() => labels.count()).toBeGreaterThan(1);
  const boxes = await labels.evaluateAll((els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { text: e.textContent ?? '', left: r.left, right: r.right };
    }),
  );
  return boxes.filter((b) => b.text !== '').sort((a, b) => a.left - b.left);
}

test('Earnings chart: the day labels never run together, at 420 or 1280 px', async ({ page }) => {
  for (const width of [420, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    await page.goto(node.url);
    await page.getByTestId('earnings-chart').scrollIntoViewIfNeeded();
    const labels = await dayLabels(page);
    expect(labels.length, `${width} px: several days are labelled`).toBeGreaterThanOrEqual(
      width === 420 ? 2 : 5,
    );
    for (let i = 1; i < labels.length; i++)
      expect(
        labels[i]!.left - labels[i - 1]!.right,
        `${width} px: '${labels[i - 1]!.text}' and '${labels[i]!.text}' are apart`,
      ).toBeGreaterThanOrEqual(8);
    for (const l of labels) expect(l.text).toMatch(/^[A-Z][a-z]{2} \d{1,2}$/);
    await page
      .getByTestId('earnings-chart')
      .screenshot({ path: test.info().outputPath(`earnings-chart-${width}.png`) });
  }
});

test('Power page: the field labels are whole and the two switches line up, at 420 and 1280 px', async ({
  page,
}) => {
  for (const width of [420, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    await page.goto(`${node.url}#/power`);
    const section = page.getByTestId('settings-conditions');
    await expect(section.getByTestId('power-cap')).toBeVisible();
    await section.scrollIntoViewIfNeeded();
    const cut = await page
      .locator('label.MuiInputLabel-root')
      .evaluateAll((els) =>
        els
          .filter((e) => e.scrollWidth > e.clientWidth)
          .map((e) => `${e.textContent} (${e.scrollWidth} > ${e.clientWidth})`),
      );
    expect(cut, `${width} px: labels cut off`).toEqual([]);
    // No cap set: the field is empty, its label above it and "No cap" inside.
    await expect(section.getByTestId('power-cap')).toHaveValue('');
    await expect(section.getByTestId('power-cap')).toHaveAttribute('placeholder', 'No cap');
    await expect(section.locator('label', { hasText: 'Power cap per GPU (W)' })).toHaveAttribute(
      'data-shrink',
      'true',
    );
    // "Only earn when I am away" and "Pause while on battery": their switches start at one x
    // (the thumbs inside move with the state).
    const track = (id: string) => section.locator('.MuiSwitch-root', { has: page.getByTestId(id) });
    const idle = (await track('idle-enabled').boundingBox())!;
    const battery = (await track('battery-pause').boundingBox())!;
    expect(Math.abs(idle.x - battery.x), `${width} px: the switches line up`).toBeLessThan(1);
    await section.screenshot({ path: test.info().outputPath(`power-conditions-${width}.png`) });
  }
});
