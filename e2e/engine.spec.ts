// The inference engine on the Dashboard: its state follows the supervisor (stopped until the
// first job, then ready with the model it holds), driven through the real headless node.
import { join, resolve } from 'node:path';
import { test, expect } from './helpers/fixtures';
import { rpc } from './helpers/rpc';

const FIXTURES = resolve(import.meta.dirname, '..', 'test', 'fixtures');

test('the Dashboard shows the engine: stopped until the first job, then ready with its model', async ({
  page,
  node,
}) => {
  test.setTimeout(60_000);
  await rpc(node, 'models.import', {
    path: join(FIXTURES, 'stories260K.gguf'),
    id: 'stories',
    name: 'Stories 260K',
  });
  await page.goto(node.url);
  const card = page.getByTestId('engine-card');
  await expect(card.getByRole('heading', { name: 'Inference engine' })).toBeVisible();
  await expect(page.getByTestId('engine-state')).toHaveText('Stopped');
  await expect(page.getByTestId('engine-summary')).toHaveText('Stopped; starts with the first job');

  const result = (await rpc(node, 'engine.test', {
    modelId: 'stories',
    mode: 'completion',
    temperature: 0,
    maxTokens: 16,
  })) as { text: string };
  expect(result.text).toContain('there was a little girl');

  await expect(page.getByTestId('engine-state')).toHaveText('Ready');
  await expect(page.getByTestId('engine-summary')).toHaveText('Ready');
  await expect(card).toContainText('Backend cpu');
  await expect(page.getByTestId('engine-model')).toContainText('stories260K.gguf');
  await expect(page.getByTestId('engine-model')).toContainText('1 thread');
});
