// The node restarted (a new token) under an open dashboard: the page must say that it needs the
// new link, not "Reconnecting…" forever; and the server's token page shows its text as text.
import { test, expect } from '@playwright/test';
import { watchConsole } from './helpers/fixtures';
import { makeDataDir, removeDataDir, startNode, type RunningNode } from './helpers/node';

test('after a restart with a new token the banner asks for the new link', async ({
  page,
  context,
}) => {
  test.setTimeout(60_000);
  const watch = watchConsole(context);
  // The refused calls and socket of the page, on purpose.
  watch.allow(/401|Unauthorized|WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/i);
  const dir = await makeDataDir();
  let node: RunningNode | null = await startNode(dir);
  try {
    await page.goto(node.url);
    await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
    const port = node.port;
    const oldToken = node.token;
    await node.stop();
    node = await startNode(dir, {}, port);
    expect(node.token).not.toBe(oldToken);
    const banner = page.getByTestId('connection-banner');
    await expect(banner).toContainText('The node restarted with a new link', { timeout: 20_000 });
    await expect(banner).toContainText('idlerig --headless');
    await expect(banner).not.toContainText('Reconnecting');
    // Said once, by the banner: no snackbar with the server's token message.
    await expect(page.getByText('A token is required')).toHaveCount(0);
    // It stays (the retries in between do not turn it back into "Reconnecting…").
    await page.waitForTimeout(3000);
    await expect(banner).toContainText('The node restarted with a new link');
    await page.screenshot({ path: test.info().outputPath('restart-banner.png') });
    await page.setViewportSize({ width: 420, height: 800 });
    await page.screenshot({ path: test.info().outputPath('restart-banner-420.png') });

    // The new link in another tab gives the cookie: this page connects again by itself.
    const other = await context.newPage();
    await other.goto(node.url);
    await expect(banner).toBeHidden({ timeout: 20_000 });
    await other.close();

    // Without a valid token: the server's page, its `<token>` shown as text.
    const bare = await context.browser()!.newContext();
    const anon = await bare.newPage();
    const res = await anon.goto(node.origin + '/');
    expect(res?.status()).toBe(401);
    await expect(anon.locator('body')).toContainText('Authorization: Bearer <token>.');
    await bare.close();
  } finally {
    await Promise.all(context.pages().map((p) => p.close()));
    await node?.stop().catch(() => undefined);
    await removeDataDir(dir);
  }
  expect(watch.problems).toEqual([]);
});
