// The job record in Debian's Chromium against the real headless node: test jobs run from the
// Models page (a real engine, real models) are listed on the Jobs page, filtered by model and
// status, one is opened, and the CSV export downloads; the Dashboard's earnings chart renders
// from a job database seeded with paid jobs (the market client's rows, written by its recorder):
// the bars are what vouchers paid (voucher links as the recorder writes them after a voucher's
// check; no chain here, e2e/wallet.spec.ts charts vouchers verified on anvil), the net line the
// cost converted at the token's price, or the cost on its own axis when the token has none.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { expect, test } from './helpers/fixtures';
import { makeDataDir, removeDataDir, startNode } from './helpers/node';
import { rpc } from './helpers/rpc';
import { openJobsDb } from '../electron/provider/jobs/db';
import { JobStore } from '../electron/provider/jobs/store';

const FIXTURES = resolve(import.meta.dirname, '..', 'test', 'fixtures');

test('Jobs page: test jobs from the Models page, filters, detail, CSV export', async ({
  page,
  node,
}) => {
  test.setTimeout(120_000);
  await rpc(node, 'models.import', {
    path: join(FIXTURES, 'stories260K.gguf'),
    id: 'stories',
    name: 'Stories 260K',
  });
  await rpc(node, 'models.import', {
    path: join(FIXTURES, 'mnist-8.onnx'),
    id: 'mnist',
    name: 'MNIST',
  });

  // Two test jobs, run the way a user runs them: Models → Installed → Test.
  await page.goto(node.url);
  await page.getByRole('link', { name: 'Models' }).click();
  await page.getByTestId('tab-installed').click();
  for (const id of ['stories', 'mnist']) {
    await page.getByTestId(`test-${id}`).click();
    await page.getByTestId('test-run').click();
    await expect(page.getByTestId('test-result')).toBeVisible({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Close' }).click();
  }

  await page.getByRole('link', { name: 'Jobs' }).click();
  await expect(page.getByRole('heading', { name: 'Jobs', level: 1 })).toBeVisible();
  const grid = page.getByTestId('jobs-grid');
  await expect(grid).toHaveAttribute('data-total', '2');
  await expect(grid.getByRole('row')).toHaveCount(3); // header + 2
  await expect(grid).toContainText('stories');
  await expect(grid).toContainText('mnist');
  // Kind is the kind; a test job says so in Earned.
  await expect(grid).toContainText('Completion');
  await expect(grid).toContainText('Tensor');
  await expect(grid.getByTestId('job-earned-cell')).toHaveText(['Test (unpaid)', 'Test (unpaid)']);

  // Filter by model: only the stories job.
  await page.getByTestId('filter-model').click();
  await page.getByRole('option', { name: 'stories' }).click();
  await expect(grid).toHaveAttribute('data-total', '1');
  await expect(grid).not.toContainText('mnist');
  // By status: none failed; one done.
  await page.getByTestId('filter-status').click();
  await page.getByRole('option', { name: 'Failed' }).click();
  await expect(grid).toHaveAttribute('data-total', '0');
  await expect(grid).toContainText('No jobs yet');
  await page.getByTestId('filter-status').click();
  await page.getByRole('option', { name: 'Done' }).click();
  await expect(grid).toHaveAttribute('data-total', '1');

  // Open it: timings, tokens, energy, receipt.
  await grid.getByRole('row').nth(1).click();
  const detail = page.getByTestId('job-detail');
  await expect(detail).toBeVisible();
  await expect(page.getByTestId('job-model')).toHaveText('stories');
  await expect(page.getByTestId('job-status')).toHaveText('Done');
  await expect(page.getByTestId('job-gateway')).toHaveText('Local test job');
  await expect(page.getByTestId('job-tokens-in-out')).toHaveText(/^\d+ \/ \d+$/);
  await expect(page.getByTestId('job-time-to-first-token')).toHaveText(/\d+ ms|\d\.\d\d s/);
  await expect(page.getByTestId('job-energy')).not.toHaveText('');
  await expect(page.getByTestId('job-receipt')).toHaveText('Test jobs have no receipt.');
  await page.getByRole('button', { name: 'Close' }).click();

  // Export CSV (the filtered jobs): a real download.
  const downloading = page.waitForEvent('download');
  await page.getByTestId('jobs-export').click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^idlerig-jobs-\d{4}-\d{2}-\d{2}\.csv$/);
  const records = parse(readFileSync((await download.path())!, 'utf8'), {
    columns: true,
  }) as Record<string, string>[];
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({
    model_id: 'stories',
    status: 'done',
    test: 'true',
    kind: 'completion',
  });
});

test('Dashboard: job figures for today and the 30-day earnings chart of voucher-paid jobs', async ({
  page,
  console: _console,
}) => {
  const dir = await makeDataDir();
  try {
    // Paid jobs over the last days, as the market client records them.
    const { db } = openJobsDb(join(dir, 'jobs.db'));
    const store = new JobStore(db);
    const now = Date.now();
    const paidIds: string[] = [];
    for (let d = 0; d < 6; d++)
      for (let j = 0; j < 3; j++) {
        const id = `paid-${d}-${j}`;
        const startedAt = now - d * 86_400_000 - (j + 1) * 60_000;
        store.start({
          id,
          startedAt,
          gateway: 'ws://127.0.0.1:9/provider',
          model: { id: 'stories', sha256: 'ab'.repeat(32) },
          kind: 'chat',
          tokensIn: 10,
          price: { amount: 10n ** 16n, unit: 'per-request' },
          token: { symbol: 'IDLE', decimals: 18, address: '0x' + 'c'.repeat(40) },
        });
        store.recordEnergy({
          id,
          startedAt,
          endedAt: startedAt + 30_000,
          wh: 2,
          cost: 0.0006,
          currency: 'EUR',
          estimated: false,
          revenue: 0.02,
        });
        store.end(id, {
          status: 'done',
          endedAt: startedAt + 30_000,
          tokensOut: 100,
          ttftMs: 20,
          earned: 10n ** 16n,
        });
        if (d < 4) paidIds.push(id);
      }
    // Vouchers cover the jobs of the last 4 days; the 2 older days earned but are unpaid.
    store.linkVoucher({
      voucherId: '0x' + 'e'.repeat(64),
      gateway: 'ws://127.0.0.1:9/provider',
      token: '0x' + 'c'.repeat(40),
      cumulative: 12n * 10n ** 16n,
      jobIds: paidIds,
    });
    db.close();
    const node = await startNode(dir);
    try {
      await page.goto(node.url);
      await expect(page.getByTestId('stat-jobs-today')).toContainText('3');
      await expect(page.getByTestId('stat-tokens-today')).toContainText('330');
      await expect(page.getByTestId('stat-earnings-value')).toHaveText('0.03 IDLE');
      await expect(page.getByTestId('stat-jobs-net-today')).toContainText('0.058 EUR');
      const chart = page.getByTestId('earnings-chart');
      await expect(chart).toHaveAttribute('data-days', '30');
      // 4 paid days (bars) + 6 days with a net (paid − electricity at 1 IDLE = 1 EUR, the
      // default price): 0.12 IDLE paid, 18 × 0.0006 EUR of electricity = 0.0108 IDLE.
      await expect(chart).toHaveAttribute('data-points', /^(1[0-2]|[6-9])$/);
      await expect(chart).toHaveAttribute('data-paid', String(12n * 10n ** 16n));
      await expect(chart).toHaveAttribute('data-priced', 'true');
      await expect(page.getByTestId('earnings-chart-totals')).toHaveText(
        'Paid by vouchers 0.12 IDLE · electricity 0.011 EUR · net after electricity 0.1092 IDLE',
      );
      await expect(page.getByTestId('earnings-chart-note')).toContainText(
        'Electricity converted at 1 IDLE = 1 EUR',
      );
      // Drawn: a bar for each of the 4 days vouchers paid (the unpaid days have none), the net.
      await expect
        .poll(() => chart.locator('.MuiBarChart-element').count())
        .toBeGreaterThanOrEqual(4);
      await expect(chart.locator('.MuiLineChart-line')).toHaveCount(1);
      const heights = await chart
        .locator('.MuiBarChart-element')
        .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
      expect(heights.filter((h) => h > 1).length).toBe(4);
      await chart.screenshot({ path: test.info().outputPath('earnings-chart-priced.png') });

      // A token without a price in the electricity currency: no net, the cost on its own axis.
      await rpc(node, 'settings.update', {
        network: { pricing: { currencyPerToken: 1, tokenDecimals: 6, tokenSymbol: 'USDC' } },
      });
      await page.reload();
      await expect(chart).toHaveAttribute('data-priced', 'false');
      await expect(chart).toHaveAttribute('data-paid', String(12n * 10n ** 16n));
      await expect(page.getByTestId('earnings-chart-totals')).toHaveText(
        'Paid by vouchers 0.12 IDLE · electricity 0.011 EUR',
      );
      await expect(page.getByTestId('earnings-chart-note')).toContainText(
        'IDLE has no price in EUR',
      );
      await expect(chart.locator('.MuiChartsAxis-directionY')).toHaveCount(2);
      await chart.screenshot({ path: test.info().outputPath('earnings-chart-unpriced.png') });
      await page.goto('about:blank');
    } finally {
      await node.stop();
    }
  } finally {
    await removeDataDir(dir);
  }
});

test('Dashboard: a tiny negative net (unpaid jobs) has readable ticks and no negative zero', async ({
  page,
  console: _console,
}) => {
  const dir = await makeDataDir();
  try {
    // Unpaid jobs whose electricity cost is tiny: the net after electricity is a hair below 0.
    const { db } = openJobsDb(join(dir, 'jobs.db'));
    const store = new JobStore(db);
    const now = Date.now();
    for (let d = 0; d < 3; d++) {
      const id = `unpaid-${d}`;
      const startedAt = now - d * 86_400_000 - 60_000;
      store.start({
        id,
        startedAt,
        gateway: 'ws://127.0.0.1:9/provider',
        model: { id: 'stories', sha256: 'ab'.repeat(32) },
        kind: 'chat',
        tokensIn: 10,
        price: { amount: 0n, unit: 'per-request' },
        token: { symbol: 'IDLE', decimals: 18, address: '0x' + 'c'.repeat(40) },
      });
      store.recordEnergy({
        id,
        startedAt,
        endedAt: startedAt + 30_000,
        wh: 0.0001,
        cost: 0.00001 * (d + 1),
        currency: 'EUR',
        estimated: false,
        revenue: 0,
      });
      store.end(id, { status: 'done', endedAt: startedAt + 30_000, tokensOut: 5, ttftMs: 20 });
    }
    db.close();
    const node = await startNode(dir);
    try {
      await page.goto(node.url);
      await expect(page.getByTestId('stat-jobs-today')).toContainText('1');
      await expect(page.getByTestId('stat-jobs-net-today')).toContainText('0.000 EUR');
      await expect(page.getByTestId('stat-jobs-net-today')).not.toContainText('-0.000');
      const chart = page.getByTestId('earnings-chart');
      await expect(chart).toHaveAttribute('data-priced', 'true');
      const ticks = chart.locator('.MuiChartsAxis-directionY .MuiChartsAxis-tickLabel');
      await expect.poll(() => ticks.count()).toBeGreaterThan(2);
      const labels = await ticks.allTextContents();
      expect(labels.join(' | ')).not.toContain('<');
      expect(new Set(labels).size, labels.join(' | ')).toBe(labels.length);
      expect(labels).toContain('0');
      expect(labels.some((l) => l.startsWith('−0.0000'))).toBe(true);
      // The price is set in Settings → Token value.
      await expect(page.getByTestId('earnings-chart-note')).toContainText(
        '(Settings → Token value)',
      );
      await chart.screenshot({ path: test.info().outputPath('earnings-chart-tiny-net.png') });
      await page.setViewportSize({ width: 420, height: 900 });
      await chart.screenshot({ path: test.info().outputPath('earnings-chart-tiny-net-420.png') });
      await page.goto('about:blank');
    } finally {
      await node.stop();
    }
  } finally {
    await removeDataDir(dir);
  }
});
