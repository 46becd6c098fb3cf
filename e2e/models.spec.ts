// The Models page in Debian's Chromium against the real headless node: download a fixture model
// from a catalog whose urls point at a loopback server (IDLERIG_CATALOG), watch the progress bar
// reach Done, run Test through the engine, then delete the model.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from './helpers/fixtures';
import { startNode, type RunningNode } from './helpers/node';
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

test.beforeEach(async () => {
  server = await startRangeServer();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-e2e-models-'));
  const catalog = join(dir, 'catalog.json');
  writeTestCatalog(catalog, server, [
    { id: 'fx-stories', route: '/stories.gguf', fixture: FIXTURE.stories },
  ]);
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

test.afterEach(async () => {
  await node?.stop().catch((err: unknown) => console.error(String(err)));
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test('download a model from the catalog, watch it finish, test it, delete it', async ({ page }) => {
  test.setTimeout(90_000);
  await page.goto(node.url);
  await page.getByTestId('nav-models').click();
  await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
  await expect(page).toHaveTitle('Models · Idlerig');

  const card = page.getByTestId('model-card-fx-stories');
  await expect(card.getByRole('heading', { name: 'Test fx-stories' })).toBeVisible();
  await expect(page.getByTestId('model-size-fx-stories')).toHaveText('1.1 MB');
  await expect(page.getByTestId('model-licence-fx-stories')).toHaveText('Licence: MIT');
  // The fit, from the GGUF header read over HTTP: no GPU here, so the CPU.
  await expect(page.getByTestId('fit-fx-stories')).toHaveText(
    /^CPU only · (high|medium) confidence$/,
  );

  await page.getByTestId('download-button-fx-stories').click();
  const state = page.getByTestId('download-state-fx-stories');
  await expect(state).toHaveText('Downloading');
  await expect(page.getByTestId('download-figures-fx-stories')).toHaveText(/ of 1\.1 MB/);
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
  await expect(page.getByTestId('models-disk')).toContainText('1 model, 1.1 MB');

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
