// The Power page and the Dashboard's GPU cards in Debian's Chromium against the real headless node,
// with a FAKE nvidia-smi and lspci on PATH replaying the recorded 2× RTX 3090 rig
// (test/fixtures/gpu): the node detects those GPUs and samples them through the fake's loop mode.
import type { Page } from '@playwright/test';
import { expect, test } from './helpers/fixtures';
import { openPage } from './helpers/nav';
import { startNode } from './helpers/node';
import { installFakeTools, type FakeTools } from '../test/unit/gpu-fake-tools';

const OFFLINE = 'Offline: no gateway configured';
const reason = (page: Page) => page.getByTestId('state-reason');

let fake: FakeTools;
const saved = { PATH: process.env.PATH, machine: process.env.IDLERIG_FAKE_GPU_MACHINE };

// The node inherits this process's environment (e2e/helpers/node.ts): put the fakes on its PATH.
test.beforeAll(async () => {
  fake = await installFakeTools('rig-2x3090');
  process.env.PATH = fake.env.PATH;
  process.env.IDLERIG_FAKE_GPU_MACHINE = fake.env.IDLERIG_FAKE_GPU_MACHINE;
});
test.afterAll(async () => {
  process.env.PATH = saved.PATH;
  if (saved.machine === undefined) delete process.env.IDLERIG_FAKE_GPU_MACHINE;
  else process.env.IDLERIG_FAKE_GPU_MACHINE = saved.machine;
  await fake.cleanup();
});

test('the Power page edits the schedule and the price, and both survive a restart of the node', async ({
  page,
  node,
  console: watch,
}) => {
  // The refused value below is answered 400 on purpose (Chromium logs every 4xx as an error).
  watch.allow(/status of 400 \(Bad Request\).*settings\.update\)$/);
  await page.goto(node.url);
  await openPage(page, 'Power');
  await expect(page.getByTestId('policy-check-schedule')).toContainText('No schedule');

  // Schedule: on, with Monday 03:00 and Sunday 23:00 taken out.
  await page.getByTestId('schedule-enabled').locator('input').check();
  await page.getByTestId('schedule-cell-0-3').click();
  await page.getByTestId('schedule-cell-6-23').click();
  await expect(page.getByTestId('schedule-cell-0-3')).toHaveAttribute('aria-checked', 'false');
  await page.getByTestId('schedule-save').click();
  await expect(page.getByTestId('settings-schedule').getByRole('status')).toHaveText('Saved');
  await expect(page.getByTestId('policy-check-schedule')).not.toContainText('No schedule');

  // Price: 0.42 USD per kWh, 35 % margin. The currency is picked from the ISO 4217 list: typing
  // its name narrows the list to it.
  await page.getByTestId('price-kwh').fill('0.42');
  await page.getByTestId('price-currency').fill('us dollar');
  await page.getByRole('option', { name: 'USD — US Dollar' }).click();
  await expect(page.getByTestId('price-currency')).toHaveValue('USD');
  await page.getByTestId('price-currency').fill('zzz');
  await expect(page.getByRole('option')).toHaveCount(0);
  await page.getByTestId('price-currency').blur();
  await expect(page.getByTestId('price-currency')).toHaveValue('USD');
  await page.getByTestId('price-margin').fill('35');
  await page.getByTestId('electricity-save').click();
  await expect(page.getByTestId('settings-electricity').getByRole('status')).toHaveText('Saved');
  await expect(page.getByTestId('price-floor')).toContainText('USD per hour');
  await expect(page.getByTestId('policy-check-price')).toContainText('0.420 USD/kWh + 35 %');

  // A value the node refuses is shown on its field (like Node name in Settings), and nothing
  // changes; an empty number is caught before it is sent.
  const maxField = page.getByTestId('settings-conditions').getByRole('spinbutton', {
    name: 'Stop at (°C)',
  });
  await page.getByTestId('temp-max').fill('150');
  await page.getByTestId('conditions-save').click();
  await expect(maxField).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('settings-conditions')).toContainText('At most 105 °C');
  await expect(page.getByTestId('power-save-error')).toHaveCount(0);
  await page.getByTestId('temp-max').fill('84');
  await expect(maxField).toHaveAttribute('aria-invalid', 'false');
  await page.getByTestId('temp-hysteresis').fill('');
  await page.getByTestId('conditions-save').click();
  await expect(page.getByTestId('settings-conditions')).toContainText('Enter a number');
  await page.getByTestId('temp-max').fill('83');
  await page.getByTestId('temp-hysteresis').fill('8');

  // The CPU power figure: empty is the estimate; a figure of your own is kept; 0 is refused on
  // its field.
  await expect(page.getByTestId('settings-cpu-power')).toContainText(/Empty: estimated/);
  await page.getByTestId('cpu-watts').fill('0');
  await page.getByTestId('cpu-save').click();
  await expect(page.getByTestId('settings-cpu-power')).toContainText('At least 1 W');
  await page.getByTestId('cpu-watts').fill('95');
  await page.getByTestId('cpu-save').click();
  await expect(page.getByTestId('settings-cpu-power').getByRole('status')).toHaveText('Saved');
  await page.close();

  // Restart the node on the same data folder (new port, new token).
  await node.stop();
  const again = await startNode(node.dataDir);
  try {
    const page2 = await page.context().newPage();
    await page2.goto(again.url);
    await openPage(page2, 'Power');
    await expect(page2.getByTestId('schedule-enabled').locator('input')).toBeChecked();
    await expect(page2.getByTestId('schedule-cell-0-3')).toHaveAttribute('aria-checked', 'false');
    await expect(page2.getByTestId('schedule-cell-6-23')).toHaveAttribute('aria-checked', 'false');
    await expect(page2.getByTestId('schedule-cell-0-4')).toHaveAttribute('aria-checked', 'true');
    await expect(page2.getByTestId('price-kwh')).toHaveValue('0.42');
    await expect(page2.getByTestId('price-currency')).toHaveValue('USD');
    await expect(page2.getByTestId('price-margin')).toHaveValue('35');
    await expect(page2.getByTestId('temp-max')).toHaveValue('83');
    await expect(page2.getByTestId('cpu-watts')).toHaveValue('95');
    await page2.close();
  } finally {
    await again.stop();
  }
});

test("the Dashboard shows the fake rig's GPUs with live sparklines, and its reason follows a manual pause", async ({
  page,
  node,
}, testInfo) => {
  await page.goto(node.url);
  await expect(reason(page)).toHaveText(OFFLINE);

  const cards = page.getByTestId('gpu-card');
  await expect(cards).toHaveCount(3);
  await expect(page.getByTestId('gpu-summary')).toHaveText(/^GPU provider: 2 of 3 GPUs usable/);
  const rtx = cards.filter({ hasText: 'NVIDIA GeForce RTX 3090' }).first();
  await expect(rtx).toContainText('24 GiB VRAM');
  await expect(rtx).toContainText('CUDA');
  await expect(cards.filter({ hasText: 'ASPEED' }).getByTestId('gpu-reason')).toContainText(
    'basic display adapter',
  );
  // The idle pace samples every 5 s: wait for two points of the recorded loop.
  await expect(rtx.getByTestId('gpu-power-spark')).toHaveAttribute(
    'data-points',
    /^([2-9]|\d\d+)$/,
    {
      timeout: 20_000,
    },
  );
  await expect(rtx.getByTestId('gpu-power-value')).toHaveText(/^\d+ W$/);
  // The sparklines are drawn by MUI X Charts: a line path inside each.
  await expect(rtx.getByTestId('gpu-power-spark').locator('path').first()).toBeVisible();
  await page.getByTestId('gpu-cards').screenshot({ path: testInfo.outputPath('gpu-cards.png') });
  await expect(rtx.getByTestId('gpu-temp-value')).toHaveText(/^\d+ °C$/);

  await page.getByRole('button', { name: 'Pause 1 hour' }).click();
  // An hour from 23:00 on ends tomorrow, said with its weekday.
  await expect(reason(page)).toHaveText(/^Paused by you until (\w{3} )?\d\d:\d\d$/);
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(reason(page)).toHaveText(OFFLINE);
  await page.getByRole('button', { name: 'Until tomorrow' }).click();
  await expect(reason(page)).toHaveText(/^Paused by you until \w{3} 07:00$/);

  // The Power page says the same, rule by rule.
  await openPage(page, 'Power');
  await expect(page.getByTestId('policy-check-pause')).toHaveAttribute('data-ok', 'false');
  await expect(page.getByTestId('policy-verdict')).toHaveText('Your rules hold the node now');
  await expect(page.getByTestId('policy-reason')).toHaveText(/^Paused by you until \w{3} 07:00$/);
  await expect(page.getByTestId('power-chart')).toHaveAttribute('data-points', /^[1-9]\d*$/);
  await expect(page.getByTestId('power-chart').locator('path').first()).toBeVisible();
  await page
    .getByTestId('settings-power-chart')
    .screenshot({ path: testInfo.outputPath('power-chart.png') });
  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: 'Dashboard' })
    .click();
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(reason(page)).toHaveText(OFFLINE);
});
