// The Models page in Debian's Chromium against the real headless node: download a fixture model
// from a catalog whose urls point at a loopback server (IDLERIG_CATALOG), watch the progress bar
// reach Done, run Test through the engine, then delete the model. Offline (a catalog whose
// server refuses connections): the fit estimates say so once, and the node logs it once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from './helpers/fixtures';
import { startNode, type RunningNode } from './helpers/node';
import { rpc } from './helpers/rpc';
import { closedPort } from '../test/helpers/http';
import {
  FIXTURE,
  fixture,
  startRangeServer,
  writeTestCatalog,
  type RangeServer,
} from '../test/unit/models-helpers';

let server: RangeServer;
let dir: string;
let node: RunningNode;

// eslint-disable-next-line no-empty-pattern -- Playwright needs the destructuring form
test.beforeEach(async ({}, testInfo) => {
  server = await startRangeServer();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-e2e-models-'));
  const catalog = join(dir, 'catalog.json');
  if (testInfo.title.includes('offline')) {
    const offline = { url: `http://127.0.0.1:${await closedPort()}` } as unknown as RangeServer;
    writeTestCatalog(catalog, offline, [
      { id: 'fx-stories', route: '/stories.gguf', fixture: FIXTURE.stories },
      { id: 'fx-tiny', route: '/tiny.gguf', fixture: FIXTURE.tiny },
    ]);
  } else {
    writeTestCatalog(catalog, server, [
      { id: 'fx-stories', route: '/stories.gguf', fixture: FIXTURE.stories },
    ]);
  }
  // Slow enough to watch the bar move (about 3 s), fast enough for a test.
  server.routes.set('/stories.gguf', { body: fixture(FIXTURE.stories.file), throttle: 384 * 1024 });
  const before = process.env.IDLERIG_CATALOG;
  process.env.IDLERIG_CATALOG = catalog; // the node child process inherits it
  try {
    node = await startNode(join(dir, 'data'));
  } finally {
    if (before === undefined) delete process.env.IDLERIG_CATALOG;
    else process.env.IDLERIG_CATALOG = before;
  }
});

test.afterEach(async ({ page }) => {
  await page.close(); // before the node goes, or its polls log "connection refused"
  await node?.stop().catch((err: unknown) => console.error(String(err)));
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test('download a model from the catalog, watch it finish, test it, delete it', async ({
  page,
}, testInfo) => {
  test.setTimeout(90_000);
  await page.goto(node.url);
  await page.getByTestId('nav-models').click();
  await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
  await expect(page).toHaveTitle('Models · Idlerig');

  const card = page.getByTestId('model-card-fx-stories');
  await expect(card.getByRole('heading', { name: 'Test fx-stories' })).toBeVisible();
  await expect(page.getByTestId('model-size-fx-stories')).toHaveText('1.1 MiB');
  await expect(page.getByTestId('model-licence-fx-stories')).toHaveText('Licence: MIT');
  // The fit, from the GGUF header read over HTTP: no GPU here, so the CPU.
  await expect(page.getByTestId('fit-fx-stories')).toHaveText(
    /^CPU only · (high|medium) confidence$/,
  );

  await page.getByTestId('download-button-fx-stories').click();
  const state = page.getByTestId('download-state-fx-stories');
  await expect(state).toHaveText('Downloading');
  await expect(page.getByTestId('download-figures-fx-stories')).toHaveText(/ of 1\.1 MiB/);
  const bar = page.getByTestId('download-bar-fx-stories');
  await expect
    .poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 15_000 })
    .toBeGreaterThan(0);
  await expect(state).toHaveText('Done', { timeout: 30_000 });
  await expect(bar).toHaveAttribute('aria-valuenow', '100');
  await expect(page.getByTestId('model-installed-fx-stories')).toBeVisible();
  await expect(page.getByTestId('download-notification')).toContainText(
    'is downloaded and verified',
  );

  // Only the file's own bytes were fetched (header reads for the fit use Range).
  const full = server.requests.filter((r) => r.path === '/stories.gguf' && r.range === null);
  expect(full).toHaveLength(1);

  await page.getByTestId('tab-installed').click();
  const row = page.getByTestId('installed-fx-stories');
  await expect(row).toContainText('stories260K.gguf');
  await expect(page.getByTestId('models-disk')).toContainText('1 model, 1.1 MiB');
  await expect(page.getByTestId('models-disk')).toContainText(/ free$/);
  await expect(page.getByTestId('installed-id-fx-stories')).toHaveText(
    'idlerig models rm fx-stories',
  );
  await expect(page.getByTestId('state-fx-stories')).toHaveText('Ready');
  await page.screenshot({ path: testInfo.outputPath('installed-wide.png') });

  // Test: a completion through the engine process.
  await page.getByTestId('test-fx-stories').click();
  await expect(page.getByTestId('test-prompt')).toHaveValue('Once upon a time');
  await page.getByTestId('test-run').click();
  await expect(page.getByTestId('test-result')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('test-output')).toContainText('there was a little girl');
  await page.getByRole('button', { name: 'Close' }).click();

  await page.getByTestId('delete-fx-stories').click();
  await page.getByTestId('confirm-delete').click();
  await expect(page.getByTestId('installed-empty')).toBeVisible();
  await expect(row).toHaveCount(0);
  await page.getByTestId('tab-catalog').click();
  await expect(page.getByTestId('download-button-fx-stories')).toBeVisible();
});

test('a server error during a download: the state says it retries, with the attempt, and the caption says why (never "Stalled")', async ({
  page,
}) => {
  await page.goto(node.url);
  await page.getByTestId('nav-models').click();
  server.routes.set('/stories.gguf', { body: fixture(FIXTURE.stories.file), status: 503 });
  await page.getByTestId('download-button-fx-stories').click();
  const state = page.getByTestId('download-state-fx-stories');
  await expect(state).toHaveText(/^Retrying in \d+ s \(attempt \d+ of \d+\)$/, { timeout: 15_000 });
  await expect(page.getByTestId('download-fx-stories')).toContainText('server error (HTTP 503');
  await expect(page.getByTestId('download-fx-stories')).not.toContainText(/stalled/i);
  await page.getByTestId('download-fx-stories').getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByTestId('download-fx-stories')).toHaveCount(0);
  await expect(page.getByTestId('download-button-fx-stories')).toBeVisible();
});

test('offline: the fit estimates say so once, explain low confidence, and the node logs one warning', async ({
  page,
}) => {
  await page.goto(node.url);
  const nav = page.getByRole('navigation', { name: 'Main' });
  // Three visits of the Models page, each in a freshly loaded page (which asks for the fits again).
  for (let visit = 0; visit < 3; visit++) {
    if (visit > 0) await page.reload();
    await nav.getByRole('link', { name: 'Models' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
    for (const id of ['fx-stories', 'fx-tiny']) {
      await expect(page.getByTestId(`fit-${id}`)).toHaveText('CPU only · low confidence');
      await expect(page.getByTestId(`fit-${id}`)).toHaveAttribute('data-offline', 'true');
      await expect(page.getByTestId(`model-id-${id}`)).toHaveText(`idlerig models pull ${id}`);
    }
    // One notice for the page, not one per model.
    await expect(page.getByTestId('fit-offline')).toHaveCount(1);
    await expect(page.getByTestId('fit-offline')).toContainText('cannot be reached');
    await expect(page.getByTestId('fit-legend')).toContainText(
      "Low confidence: a rough guess from the download's file size alone",
    );
    await nav.getByRole('link', { name: 'Dashboard' }).click();
  }
  // The tooltip of a chip says why, and what low confidence means.
  await nav.getByRole('link', { name: 'Models' }).click();
  await page.getByTestId('fit-fx-tiny').hover();
  await expect(page.getByRole('tooltip')).toContainText("Offline: the model's header could not");
  await expect(page.getByRole('tooltip')).toContainText('Low confidence');

  const { entries } = await rpc<{ entries: { level: string; msg: string }[] }>(node, 'logs.tail', {
    limit: 2000,
    minLevel: 'warn',
  });
  const fitLines = entries.filter((e) => /fit estimate|GGUF header/.test(e.msg));
  expect(fitLines.map((e) => `${e.level} ${e.msg}`)).toEqual([
    'warn fit estimates cannot reach the network: catalog models are estimated from their file size until it can',
  ]);
});
