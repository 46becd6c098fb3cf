// A "Test a model" job cancelled from its dialog, against the real headless node and engine
// process: the Dashboard's engine card lists the job while it runs, Cancel stops it with the
// text generated so far, and the card's list empties. Then a job left running when the dialog
// closes is cancelled too (the engine reports no job afterwards).
import { join, resolve } from 'node:path';
import { test, expect } from './helpers/fixtures';
import { rpc } from './helpers/rpc';

const FIXTURES = resolve(import.meta.dirname, '..', 'test', 'fixtures');

test('a Test job is cancelled from its dialog, and when the dialog closes', async ({
  page,
  node,
}) => {
  test.setTimeout(90_000);
  // Random weights: it never ends early, so 2,000 tokens take seconds (and fit
  // a context of 2,048, over which the dialog refuses the count).
  await rpc(node, 'models.import', {
    path: join(FIXTURES, 'llama-2-tiny-random.gguf'),
    id: 'tiny',
    name: 'Tiny random',
  });
  const jobs = async () => ((await rpc(node, 'engine.status', {})) as { jobs: unknown[] }).jobs;

  await page.goto(node.url);
  await expect(page.getByTestId('engine-jobs-summary')).toHaveText('No job running');
  await page.getByTestId('nav-models').click();
  await page.getByTestId('tab-installed').click();
  await page.getByTestId('test-tiny').click();
  await page.getByTestId('test-max-tokens').fill('2000');
  await page.getByTestId('test-run').click();
  // Text streams in; then Cancel.
  await expect(page.getByTestId('test-output')).not.toHaveText('', { timeout: 30_000 });
  await expect.poll(jobs).toHaveLength(1);
  await page.getByTestId('test-cancel').click();
  await expect(page.getByTestId('test-cancelled')).toBeVisible();
  await expect(page.getByTestId('test-result')).toContainText('cancelled');
  await expect(page.getByTestId('test-cancel')).toHaveCount(0);
  const partial = await page.getByTestId('test-output').textContent();
  expect(partial!.length).toBeGreaterThan('Once upon a time'.length);
  await expect.poll(jobs).toEqual([]);

  // Closing the dialog while a job runs cancels it as well.
  await page.getByTestId('test-run').click();
  await expect(page.getByTestId('test-cancel')).toBeVisible();
  await expect.poll(jobs).toHaveLength(1);
  await page.getByRole('button', { name: 'Close' }).click();
  await expect.poll(jobs).toEqual([]);

  // The Dashboard's card lists a running job, then empties when it ends.
  await page.getByTestId('nav-dashboard').click();
  await expect(page.getByTestId('engine-jobs-summary')).toHaveText('No job running');
  const running = rpc(node, 'engine.test', {
    modelId: 'tiny',
    testId: 'from-rpc',
    mode: 'completion',
    temperature: 0,
    maxTokens: 4000,
  });
  await expect(page.getByTestId('engine-job')).toContainText('Test · tiny · completion');
  await expect(page.getByTestId('engine-jobs-summary')).toHaveText('1 job running');
  await rpc(node, 'engine.testCancel', { testId: 'from-rpc' });
  await running;
  await expect(page.getByTestId('engine-jobs-summary')).toHaveText('No job running');
});
