// Models → Installed → Test, "Tokens at most": a number the engine would not take as asked (0,
// -5, empty, over the engine's limit: the test cap or the loaded model's context) is said on the
// field and runs nothing, where it used to run 48, 1, 48 or up to the context without a word; a
// good one runs, and its result line counts one token as "1 token". Real headless node and engine, the tiny random GGUF of the fixtures.
import { join, resolve } from 'node:path';
import { test, expect } from './helpers/fixtures';
import { rpc } from './helpers/rpc';

const FIXTURES = resolve(import.meta.dirname, '..', 'test', 'fixtures');

test('Test dialog: a token count out of range is a field error and runs nothing', async ({
  page,
  node,
}) => {
  test.setTimeout(90_000);
  await rpc(node, 'models.import', {
    path: join(FIXTURES, 'llama-2-tiny-random.gguf'),
    id: 'tiny',
    name: 'Tiny random',
  });
  await page.goto(node.url);
  await page.getByTestId('nav-models').click();
  await page.getByTestId('tab-installed').click();
  await page.getByTestId('test-tiny').click();
  const dialog = page.getByRole('dialog');
  const tokens = dialog.getByTestId('test-max-tokens');
  const tested = async () =>
    ((await rpc(node, 'jobs.list', {})) as { total: number }).total +
    ((await rpc(node, 'engine.status', {})) as { jobs: unknown[] }).jobs.length;
  const before = await tested();

  // Not loaded yet: the engine's own cap for a test.
  for (const value of ['0', '-5', '', '999999', '2.5']) {
    await tokens.fill(value);
    await dialog.getByTestId('test-run').click();
    await expect(tokens).toHaveAttribute('aria-invalid', 'true');
    await expect(dialog).toContainText('Enter a whole number from 1 to 4096');
    await expect(dialog.getByTestId('test-result')).toHaveCount(0);
    await expect(dialog.getByTestId('test-output')).toHaveText('');
  }
  // Typing clears it; one token runs one token, said in the singular.
  await tokens.fill('1');
  await expect(tokens).toHaveAttribute('aria-invalid', 'false');
  await dialog.getByTestId('test-run').click();
  await expect(dialog.getByTestId('test-result')).toContainText(' · 1 token · ', {
    timeout: 30_000,
  });
  await expect(dialog.getByTestId('test-result')).not.toContainText('1 tokens');
  await expect(dialog.getByTestId('test-result')).not.toContainText(/\b1 threads/);
  // Loaded now: the limit is the model's context as the engine holds it (4096 here, the test's
  // cap too; 2048 where the engine's context is smaller), one over it is refused.
  const loaded = (await rpc(node, 'engine.models', {})) as {
    models: { llm?: { contextSize: number } }[];
  };
  const limit = Math.min(4096, loaded.models[0]!.llm!.contextSize);
  await expect(dialog).toContainText(`1 to ${limit}`);
  await tokens.fill(String(limit + 1));
  await dialog.getByTestId('test-run').click();
  await expect(tokens).toHaveAttribute('aria-invalid', 'true');
  await expect(dialog).toContainText(`Enter a whole number from 1 to ${limit}`);
  await page.setViewportSize({ width: 420, height: 800 });
  await dialog.screenshot({ path: test.info().outputPath('test-tokens-420.png') });
  expect(await tested()).toBeLessThanOrEqual(before + 1);
});
