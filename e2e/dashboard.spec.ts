// The dashboard in Debian's Chromium against the real headless node (a child process per test).
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, test, watchConsole } from './helpers/fixtures';
import { makeDataDir, removeDataDir, startNode } from './helpers/node';

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
  version: string;
};
const OFFLINE = 'Offline: no gateway configured';

const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name });
const reason = (page: Page) => page.getByTestId('state-reason');

test('the dashboard loads with the token and says why the node is not earning', async ({
  page,
  node,
}) => {
  await page.goto(node.url);
  // The token was swapped for an HttpOnly cookie and dropped from the address.
  expect(page.url()).toBe(`${node.origin}/`);
  const cookies = await page.context().cookies();
  // Named after the port, so two nodes (or other loopback services) on one host never share it.
  const cookieName = `idlerig_token_${new URL(node.origin).port}`;
  expect(cookies.find((c) => c.name === cookieName)).toMatchObject({ httpOnly: true });

  await expect(heading(page, 'Dashboard')).toBeVisible();
  await expect(reason(page)).toHaveText(OFFLINE);
  await expect(page.getByTestId('state-chip')).toHaveText('Offline');
  await expect(page.getByTestId('stat-earnings-value')).toHaveText('—');
  await expect(page.getByTestId('stat-mode-value')).toHaveText('Headless');
  await expect(page.getByTestId('stat-version-value')).toHaveText(pkg.version);
  await expect(page.getByTestId('stat-uptime-value')).toHaveText(/^\d+ s$/);
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await expect(page.getByTestId('connection-banner')).toHaveCount(0);
  await expect(page).toHaveTitle('Dashboard · Idlerig');
});

test('without the token the page and the API answer 401', async ({ node, request, browser }) => {
  // The `request` fixture shares no cookies with any page.
  const pageRes = await request.get(`${node.origin}/`);
  expect(pageRes.status()).toBe(401);
  expect(await pageRes.text()).toContain('Token required');

  const wrongToken = await request.get(`${node.origin}/?token=not-the-token`, {
    maxRedirects: 0,
  });
  expect(wrongToken.status()).toBe(401);

  const apiRes = await request.get(`${node.origin}/api/status`);
  expect(apiRes.status()).toBe(401);
  expect((await apiRes.json()) as unknown).toMatchObject({ error: { code: 'UNAUTHORIZED' } });

  const rpcRes = await request.post(`${node.origin}/api/rpc/status.get`, { data: {} });
  expect(rpcRes.status()).toBe(401);

  // With the token as a Bearer header, the same request works.
  const ok = await request.get(`${node.origin}/api/status`, {
    headers: { authorization: `Bearer ${node.token}` },
  });
  expect(ok.status()).toBe(200);
  expect((await ok.json()) as unknown).toMatchObject({ result: { state: 'offline' } });

  // And a browser without the token sees the explanation, not the dashboard. The 401 itself is
  // logged by Chromium as a failed resource: this context is watched separately and allowed that.
  const context = await browser.newContext();
  const watch = watchConsole(context);
  watch.allow(/status of 401/);
  const page = await context.newPage();
  const res = await page.goto(node.origin);
  expect(res?.status()).toBe(401);
  await expect(page.getByRole('heading', { name: 'Token required' })).toBeVisible();
  await context.close();
  expect(watch.problems).toEqual([]);
});

test('navigation between Dashboard and Settings, by mouse and by keyboard', async ({
  page,
  node,
}) => {
  await page.goto(node.url);
  await expect(heading(page, 'Dashboard')).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  const dashboardLink = nav.getByRole('link', { name: 'Dashboard' });
  const settingsLink = nav.getByRole('link', { name: 'Settings' });
  await expect(dashboardLink).toHaveAttribute('aria-current', 'page');

  // Mouse.
  await settingsLink.click();
  await expect(heading(page, 'Settings')).toBeVisible();
  await expect(settingsLink).toHaveAttribute('aria-current', 'page');
  await expect(dashboardLink).not.toHaveAttribute('aria-current', 'page');
  expect(new URL(page.url()).hash).toBe('#/settings');
  await expect(page).toHaveTitle('Settings · Idlerig');
  // A reload keeps the page (the route lives in the hash).
  await page.reload();
  await expect(heading(page, 'Settings')).toBeVisible();
  await dashboardLink.click();
  await expect(heading(page, 'Dashboard')).toBeVisible();

  // Keyboard: the skip link first, then the navigation in order; Enter follows a link and focus
  // moves to the new page's heading.
  await page.reload();
  await expect(reason(page)).toHaveText(OFFLINE);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(dashboardLink).toBeFocused();
  // The links in navigation order (the page registry's order).
  const navOrder = ['Models', 'Jobs', 'Power', 'Wallet'].map((name) =>
    nav.getByRole('link', { name, exact: true }),
  );
  for (const link of navOrder) {
    await page.keyboard.press('Tab');
    await expect(link).toBeFocused();
  }
  await page.keyboard.press('Tab');
  await expect(settingsLink).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(heading(page, 'Settings')).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(settingsLink).toBeFocused();
  for (const link of [...navOrder].reverse()) {
    await page.keyboard.press('Shift+Tab');
    await expect(link).toBeFocused();
  }
  await page.keyboard.press('Shift+Tab');
  await expect(dashboardLink).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(heading(page, 'Dashboard')).toBeFocused();
  // From the page heading, Tab reaches the pause controls.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Pause 1 hour' })).toBeFocused();

  // The skip link jumps over the navigation.
  await page.reload();
  await expect(reason(page)).toHaveText(OFFLINE);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await expect(page.locator('main#main')).toBeFocused();

  // An unknown page falls back to the dashboard.
  await page.goto(`${node.origin}/#/no-such-page`);
  await expect(heading(page, 'Dashboard')).toBeVisible();
});

test.describe('with the OS in light mode', () => {
  test.use({ colorScheme: 'light' });

  test('a settings change survives a restart of the node', async ({
    page,
    node,
    console: watch,
  }) => {
    // The invalid name below is answered 400 with a typed error, as designed; Chromium logs every
    // 4xx response of a fetch as a console error. Only that one response is allowed.
    watch.allow(
      /Failed to load resource: the server responded with a status of 400 .*\/api\/rpc\/settings\.update\)$/,
    );
    await page.goto(node.url);
    await page.getByRole('link', { name: 'Settings' }).click();
    await expect(heading(page, 'Settings')).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('data-color-mode', 'light');

    // An invalid name is refused by the node; its typed error shows next to the field.
    const name = page.getByRole('textbox', { name: 'Node name' });
    await name.fill('bad/name!');
    await page.getByTestId('settings-node').getByRole('button', { name: 'Save' }).click();
    await expect(name).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByTestId('settings-node')).toContainText(
      'Use letters, digits, spaces, dots, dashes or underscores',
    );
    await expect(page.getByTestId('error-snackbar')).toHaveCount(0);

    // A valid one is saved (Enter submits the form).
    await name.fill('Rig one');
    await name.press('Enter');
    await expect(page.getByTestId('settings-node').getByRole('status')).toHaveText('Saved');
    await expect(name).toHaveAttribute('aria-invalid', 'false');

    // Dark theme, chosen in Settings, applies at once.
    const dark = page.getByRole('button', { name: 'Dark' });
    await dark.click();
    await expect(dark).toHaveAttribute('aria-pressed', 'true');
    await expect(page.locator('html')).toHaveAttribute('data-color-mode', 'dark');
    await page.close();

    // Restart the node on the same data folder (new port, new token).
    await node.stop();
    const again = await startNode(node.dataDir);
    try {
      const page2 = await page.context().newPage();
      await page2.goto(again.url);
      await expect(reason(page2)).toHaveText(OFFLINE);
      await expect(page2.locator('html')).toHaveAttribute('data-color-mode', 'dark');
      await expect(page2.getByTestId('state-card')).toContainText('Rig one');
      await page2.getByRole('link', { name: 'Settings' }).click();
      await expect(page2.getByRole('textbox', { name: 'Node name' })).toHaveValue('Rig one');
      await expect(page2.getByRole('button', { name: 'Dark' })).toHaveAttribute(
        'aria-pressed',
        'true',
      );
      // Back to following the OS (light here).
      await page2.getByRole('button', { name: 'System' }).click();
      await expect(page2.locator('html')).toHaveAttribute('data-color-mode', 'light');
      await page2.close();
    } finally {
      await again.stop();
    }
  });
});

test('pause and resume update the dashboard live, from the page and from elsewhere', async ({
  page,
  node,
  request,
}) => {
  await page.goto(node.url);
  await expect(reason(page)).toHaveText(OFFLINE);

  // From the page.
  await page.getByRole('button', { name: 'Pause 1 hour' }).click();
  await expect(reason(page)).toHaveText(/^Paused by you until .*\d\d:\d\d/);
  await expect(page.getByTestId('state-chip')).toHaveText('Paused');
  await expect(page.getByTestId('state-card')).toHaveAttribute('data-state', 'paused');
  await page.getByRole('button', { name: 'Pause until resumed' }).click();
  await expect(reason(page)).toHaveText('Paused by you');
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(reason(page)).toHaveText(OFFLINE);
  await expect(page.getByTestId('state-chip')).toHaveText('Offline');

  // From another client (the CLI, another window): only the event stream can tell the page.
  const rpc = (method: string, params: unknown) =>
    request.post(`${node.origin}/api/rpc/${method}`, {
      data: params,
      headers: { authorization: `Bearer ${node.token}` },
    });
  expect((await rpc('node.pause', { minutes: null })).status()).toBe(200);
  await expect(reason(page)).toHaveText('Paused by you');
  await expect(page.getByRole('button', { name: 'Resume', exact: true })).toBeVisible();
  expect((await rpc('node.resume', {})).status()).toBe(200);
  await expect(reason(page)).toHaveText(OFFLINE);
  // A settings change elsewhere shows up too.
  expect((await rpc('settings.update', { node: { name: 'Renamed elsewhere' } })).status()).toBe(
    200,
  );
  await expect(page.getByTestId('state-card')).toContainText('Renamed elsewhere');
});

test('a corrupt settings file shows a warning; logs and diagnostics in Settings', async ({
  page,
  request,
}) => {
  // A node whose settings file is damaged before it starts.
  const dir = await makeDataDir();
  await writeFile(join(dir, 'settings.json'), '{ this is not json');
  const node = await startNode(dir);
  try {
    await page.goto(node.url);
    const warning = page.getByTestId('warning-SETTINGS_RECOVERED');
    await expect(warning).toBeVisible();
    await expect(warning).toContainText('could not be read');
    await expect(warning).toContainText('defaults were restored');

    await page.getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByTestId('data-dir')).toHaveValue(node.dataDir);

    // The log view: the tail first, then live entries from the event stream.
    const logs = page.getByTestId('log-lines');
    await expect(logs).toContainText('settings file was corrupt');
    await request.post(`${node.origin}/api/rpc/node.pause`, {
      data: { minutes: 30 },
      headers: { authorization: `Bearer ${node.token}` },
    });
    await expect(logs).toContainText('paused by the user');
    // The level filter: errors only hides the rest.
    await page.getByRole('combobox', { name: 'Level' }).selectOption('error');
    await expect(logs).not.toContainText('paused by the user');
    await page.getByRole('combobox', { name: 'Level' }).selectOption('debug');
    await expect(logs).toContainText('paused by the user');

    // Diagnostics: export, then download over HTTP (the headless node offers it).
    await page.getByRole('button', { name: 'Export diagnostics' }).click();
    const result = page.getByTestId('diagnostics-result');
    await expect(result).toContainText('Bundle written');
    const download = page.waitForEvent('download');
    await result.getByRole('link', { name: 'Download' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/\.(tar\.gz|tgz|gz|zip)$/);

    // Start at login belongs to the desktop app: not offered headless.
    await expect(page.getByTestId('settings-login')).toHaveCount(0);
    await expect(page.getByTestId('settings-about')).toContainText(pkg.version);
  } finally {
    await page.close(); // before the node goes, or its polls log "connection refused"
    await node.stop();
    await removeDataDir(dir);
  }
});

test('a banner says so when the node goes away', async ({ page, node, console: watch }) => {
  await page.goto(node.url);
  await expect(reason(page)).toHaveText(OFFLINE);
  await expect(page.getByTestId('connection-banner')).toHaveCount(0);
  // Chromium logs each refused reconnection attempt of the event stream; those are expected here.
  watch.allow(new RegExp(`WebSocket connection to 'ws://127\\.0\\.0\\.1:${node.port}/api/events'`));
  // And the page's question after each drop, whether the node answers and refuses its token.
  watch.allow(new RegExp(`ERR_CONNECTION_REFUSED \\(http://127\\.0\\.0\\.1:${node.port}/api/rpc/`));
  await node.stop();
  await expect(page.getByTestId('connection-banner')).toContainText('Reconnecting to the node');
});

for (const scheme of ['light', 'dark'] as const) {
  test.describe(`screenshots, ${scheme}`, () => {
    test.use({ colorScheme: scheme, viewport: { width: 1280, height: 800 } });

    test(`dashboard and settings look right in ${scheme} mode`, async ({ page, node }, info) => {
      const suffix = scheme === 'light' ? '' : '-dark';
      await page.goto(node.url);
      await expect(reason(page)).toHaveText(OFFLINE);
      await expect(page.locator('html')).toHaveAttribute('data-color-mode', scheme);
      const dashboard = join(info.project.outputDir, `dashboard${suffix}.png`);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: dashboard, fullPage: true, animations: 'disabled' });
      await info.attach(`dashboard${suffix}`, { path: dashboard, contentType: 'image/png' });

      await page.getByRole('link', { name: 'Settings' }).click();
      await expect(page.getByTestId('log-lines')).toContainText('node');
      const settings = join(info.project.outputDir, `settings${suffix}.png`);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: settings, fullPage: true, animations: 'disabled' });
      await info.attach(`settings${suffix}`, { path: settings, contentType: 'image/png' });
    });
  });
}
