// The Settings page renders a section again only when that section's own data changes, in Debian's
// Chromium against the real headless node: React's commits are counted through a stand-in for
// React DevTools' hook (e2e/helpers/renders.ts), each section by its id. A pause and a resume
// from elsewhere (a status and a settings event each, about nothing a section shows) render none
// of them; Network follows only its market events; a new theme renders Appearance alone and a
// new node name the Node section alone.
import type { Page, WebSocket } from '@playwright/test';
import { expect, test } from './helpers/fixtures';
import { installRenderCounter, takeRenderCounts } from './helpers/renders';
import { rpc } from './helpers/rpc';

/** A SettingsSection (props id and title) is counted as "section <id>". */
const SECTION_KEY = String((props: unknown) => {
  const p = props as { id?: unknown; title?: unknown } | null;
  return p && typeof p.id === 'string' && typeof p.title === 'string' ? `section ${p.id}` : null;
});

/** The event frames the page's socket received, by type. */
function watchEvents(page: Page): { count(type: string): number; seen(re: RegExp): boolean } {
  const frames: string[] = [];
  page.on('websocket', (ws: WebSocket) =>
    ws.on('framereceived', (f) => frames.push(String(f.payload))),
  );
  return {
    count: (type) => frames.filter((f) => f.includes(`"type":"${type}"`)).length,
    seen: (re) => frames.some((f) => re.test(f)),
  };
}

/** Once React has committed what the page received (a frame, then a render). */
async function settled(page: Page): Promise<void> {
  await page.evaluate(() => {
    const { requestAnimationFrame: frame } = globalThis as unknown as {
      requestAnimationFrame(cb: () => void): void;
    };
    return new Promise<void>((done) => frame(() => setTimeout(() => frame(done), 50)));
  });
}

/**
 * The sections rendered since the last take, Network left out once checked against the market
 * events received meanwhile (it shows the market feed: each of its events is its own data).
 */
async function sectionsRendered(
  page: Page,
  events: ReturnType<typeof watchEvents>,
  marketBefore: number,
): Promise<Record<string, number>> {
  await settled(page);
  const { 'section network': network = 0, ...others } = await takeRenderCounts(page);
  const market = events.count('market') - marketBefore;
  expect(network, 'Network renders for its market events only').toBeLessThanOrEqual(market);
  return others;
}

test('Settings: a status event renders no section; a section renders for its own data', async ({
  page,
  node,
}) => {
  await installRenderCounter(page, SECTION_KEY);
  const events = watchEvents(page);
  await page.goto(`${node.url}#/settings`);
  await expect(page.getByTestId('settings-about')).toBeVisible();
  await expect(page.getByTestId('settings-token-value')).toBeVisible();
  // Loaded and quiet: no section renders while nothing happens.
  await expect
    .poll(async () => Object.keys(await takeRenderCounts(page)).length, { intervals: [500] })
    .toBe(0);
  await page.waitForTimeout(500);
  expect(await takeRenderCounts(page)).toEqual({});

  // Paused and resumed from elsewhere (the CLI, the tray): the node's state changes twice.
  const marketBefore = events.count('market');
  const statusBefore = events.count('status');
  await rpc(node, 'node.pause', { minutes: 60 });
  await expect.poll(() => events.seen(/"type":"status".*"state":"paused"/)).toBe(true);
  const paused = events.count('status');
  expect(paused).toBeGreaterThan(statusBefore);
  await rpc(node, 'node.resume', {});
  await expect.poll(() => events.count('status')).toBeGreaterThan(paused);
  expect(
    await sectionsRendered(page, events, marketBefore),
    'sections rendered by a pause and a resume',
  ).toEqual({});

  // A section's own data: the theme renders Appearance, the name the Node section, alone.
  let market = events.count('market');
  await rpc(node, 'settings.update', { appearance: { theme: 'dark' } });
  await expect(page.getByRole('button', { name: 'Dark' })).toHaveAttribute('aria-pressed', 'true');
  expect(await sectionsRendered(page, events, market)).toEqual({ 'section appearance': 1 });
  market = events.count('market');
  await rpc(node, 'settings.update', { node: { name: 'Rig in the attic' } });
  await expect(page.getByTestId('node-name-input')).toHaveValue('Rig in the attic');
  expect(await sectionsRendered(page, events, market)).toEqual({ 'section node': 1 });
});
