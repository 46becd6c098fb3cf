// Offline (the browser cannot reach the node): a failed load is not an empty record, the
// connection banner shows on every page, and the Jobs page loads again by itself once the node
// answers again.
import { test, expect } from './helpers/fixtures';
import { openPage } from './helpers/nav';

test('offline: Jobs says it could not load, every page shows the banner, and it recovers', async ({
  page,
  context,
  node,
  console: watch,
}) => {
  test.setTimeout(60_000);
  // The failed requests of the offline page, on purpose.
  watch.allow(/ERR_INTERNET_DISCONNECTED|Failed to load resource|WebSocket|Failed to fetch/i);
  await page.goto(node.url);
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await context.setOffline(true);
  const banner = page.getByTestId('connection-banner');
  // The Dashboard: its next poll gets no answer.
  await expect(banner).toContainText('Reconnecting to the node', { timeout: 20_000 });

  await openPage(page, 'Jobs');
  const failed = page.getByTestId('jobs-load-error');
  await expect(failed).toContainText('Could not load the jobs');
  await expect(failed).toContainText('The node does not answer');
  await expect(page.getByText('No jobs yet')).toHaveCount(0);
  await expect(page.getByText('0–0 of 0')).toHaveCount(0);
  await expect(banner).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('jobs-offline.png') });
  await page.setViewportSize({ width: 420, height: 800 });
  await page.screenshot({ path: test.info().outputPath('jobs-offline-420.png') });
  await page.setViewportSize({ width: 1280, height: 800 });

  await openPage(page, 'Wallet');
  await expect(banner).toBeVisible();

  await openPage(page, 'Jobs');
  await context.setOffline(false);
  await expect(banner).toBeHidden({ timeout: 20_000 });
  await expect(failed).toBeHidden();
  await expect(page.getByText('No jobs yet')).toBeVisible();
});
