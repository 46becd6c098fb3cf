// A page's first answer must not undo an event that came before it: the node answers a call
// and pushes events in either order, so a snapshot the page asked for before a change can reach
// it after the event that told of the change (seen in CI: the Dashboard's engine card said "No
// job running" for the whole of a job that had started while its first engine.status answer
// was on its way). Here that answer is held back on purpose (Playwright's route: fetched from
// the real node at once, handed to the page 1.2 s later) while a Test job starts.
import { join, resolve } from 'node:path';
import { test, expect } from './helpers/fixtures';
import { rpc } from './helpers/rpc';

const FIXTURES = resolve(import.meta.dirname, '..', 'test', 'fixtures');

test('a late engine.status answer does not hide a job the page heard of first', async ({
  page,
  node,
}) => {
  test.setTimeout(60_000);
  await rpc(node, 'models.import', {
    path: join(FIXTURES, 'llama-2-tiny-random.gguf'),
    id: 'tiny',
    name: 'Tiny random',
  });
  // The engine running and the model loaded first: no later engine event can mend a stale view.
  await rpc(node, 'engine.test', { modelId: 'tiny', mode: 'completion', maxTokens: 2 });
  let held = 0;
  let delivered = 0;
  await page.route('**/api/rpc/engine.status', async (route) => {
    // The node's answer as it was when asked (no job yet), delivered late.
    const response = await route.fetch();
    held++;
    await new Promise((r) => setTimeout(r, 1200));
    await route.fulfill({ response });
    delivered++;
  });
  const socket = page.waitForEvent('websocket');
  await page.goto(node.url);
  await socket;
  await expect.poll(() => held).toBeGreaterThan(0);
  const running = rpc(node, 'engine.test', {
    modelId: 'tiny',
    testId: 'while-held',
    mode: 'completion',
    temperature: 0,
    maxTokens: 4000,
  });
  await expect(page.getByTestId('engine-job')).toContainText('Test · tiny · completion');
  // Past the held answer: the job is still shown (before the fix the stale answer replaced it).
  await expect.poll(() => delivered).toBe(held);
  await expect(page.getByTestId('engine-job')).toContainText('Test · tiny · completion');
  await expect(page.getByTestId('engine-jobs-summary')).toHaveText('1 job running');
  await rpc(node, 'engine.testCancel', { testId: 'while-held' });
  await running;
  await expect(page.getByTestId('engine-jobs-summary')).toHaveText('No job running');
});
