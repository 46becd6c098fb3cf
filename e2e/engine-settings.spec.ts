// Settings → Engine in Debian's Chromium against the real headless node: a refused value shows
// its typed error under its field, the saved backend and threads reach the engine (a job run
// after the change reports them), and both survive a restart of the node. With a FAKE
// nvidia-smi that refuses `-pl`, a power cap lowers the parallel jobs and the page says why.
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from './helpers/fixtures';
import { makeDataDir, removeDataDir, startNode } from './helpers/node';
import { installFakeTools } from '../test/unit/gpu-fake-tools';
import { openPage } from './helpers/nav';
import { rpc } from './helpers/rpc';

const FIXTURES = resolve(import.meta.dirname, '..', 'test', 'fixtures');

test('Settings → Engine: threads and backend are validated, reach the engine and survive a restart', async ({
  page,
  node,
  console: watch,
}) => {
  test.setTimeout(60_000);
  // The refused value below is answered 400 with a typed error, as designed (Chromium logs
  // every 4xx response of a fetch as a console error): only that response is allowed.
  watch.allow(
    /Failed to load resource: the server responded with a status of 400 .*\/api\/rpc\/settings\.update\)$/,
  );
  await page.goto(node.url);
  await openPage(page, 'Settings');
  const section = page.getByRole('region', { name: 'Engine' });
  const backend = section.getByRole('combobox', { name: 'Backend' });
  const autoThreads = section.getByRole('checkbox', { name: 'Automatic thread count' });
  const threads = section.getByRole('spinbutton', { name: 'Threads' });
  const parallel = section.getByRole('spinbutton', { name: 'Parallel jobs' });
  const save = section.getByRole('button', { name: 'Save' });

  // The defaults: automatic backend, the engine's thread rule, 4 jobs at a time.
  await expect(backend).toHaveValue('auto');
  await expect(autoThreads).toBeChecked();
  await expect(threads).toBeDisabled();
  await expect(parallel).toHaveValue('4');
  await expect(section.getByRole('checkbox', { name: 'Automatic memory budget' })).toBeChecked();
  await expect(save).toBeDisabled();

  // A value the node refuses: its typed error shows under the field, nothing is saved.
  await autoThreads.uncheck();
  await expect(threads).toBeEnabled();
  await threads.fill('0');
  await save.click();
  await expect(threads).toHaveAttribute('aria-invalid', 'true');
  await expect(section).toContainText('At least 1 thread');
  await expect(page.getByTestId('error-snackbar')).toHaveCount(0);
  expect(((await rpc(node, 'settings.get', {})) as { engine: unknown }).engine).toMatchObject({
    threads: null,
  });

  // More threads than this machine's CPU threads: a warning under the field, not an error.
  const cores = availableParallelism();
  const warning = section.getByTestId('engine-threads-warning');
  await threads.fill(String(cores + 1));
  await expect(warning).toContainText(`more than the ${cores} CPU thread`);
  await expect(threads).toHaveAttribute('aria-invalid', 'false');
  await threads.fill(String(cores));
  await expect(warning).toHaveCount(0);

  // Two threads on the CPU backend; Enter submits the form.
  await backend.selectOption('cpu');
  await threads.fill('2');
  await expect(threads).toHaveAttribute('aria-invalid', 'false');
  await threads.press('Enter');
  await expect(section.getByRole('status')).toHaveText('Saved');
  await expect(save).toBeDisabled();

  // The engine runs with them: a job after the change reports them.
  expect(((await rpc(node, 'engine.status', {})) as { config: unknown }).config).toMatchObject({
    backend: 'cpu',
    threads: 2,
  });
  await rpc(node, 'models.import', {
    path: join(FIXTURES, 'stories260K.gguf'),
    id: 'stories',
    name: 'Stories 260K',
  });
  const result = (await rpc(node, 'engine.test', {
    modelId: 'stories',
    mode: 'completion',
    temperature: 0,
    maxTokens: 8,
  })) as { backend: string; threads: number };
  expect(result).toMatchObject({ backend: 'cpu', threads: 2 });
  await page.close();

  // Restart the node on the same data folder (new port, new token): the values are kept.
  await node.stop();
  const again = await startNode(node.dataDir);
  try {
    const page2 = await page.context().newPage();
    await page2.goto(again.url);
    await openPage(page2, 'Settings');
    const section2 = page2.getByRole('region', { name: 'Engine' });
    await expect(section2.getByRole('combobox', { name: 'Backend' })).toHaveValue('cpu');
    await expect(
      section2.getByRole('checkbox', { name: 'Automatic thread count' }),
    ).not.toBeChecked();
    await expect(section2.getByRole('spinbutton', { name: 'Threads' })).toHaveValue('2');
    await expect(section2.getByRole('spinbutton', { name: 'Parallel jobs' })).toHaveValue('4');
    expect(((await rpc(again, 'engine.status', {})) as { config: unknown }).config).toMatchObject({
      backend: 'cpu',
      threads: 2,
      parallelism: 4,
      fixedByHost: [],
    });
    await page2.close();
  } finally {
    await again.stop();
  }
});

test('a power cap that nvidia-smi -pl refuses lowers the parallel jobs, and Settings → Engine says why (FAKE nvidia-smi)', async ({
  page,
}) => {
  // The node inherits this process's environment (e2e/helpers/node.ts): the fakes go on its PATH.
  const fake = await installFakeTools('rig-2x3090');
  const saved = { PATH: process.env.PATH, machine: process.env.IDLERIG_FAKE_GPU_MACHINE };
  process.env.PATH = fake.env.PATH;
  process.env.IDLERIG_FAKE_GPU_MACHINE = fake.env.IDLERIG_FAKE_GPU_MACHINE;
  const dir = await makeDataDir();
  let node: Awaited<ReturnType<typeof startNode>> | null = null;
  try {
    node = await startNode(dir);
    await page.goto(node.url);
    await openPage(page, 'Settings');
    const section = page.getByRole('region', { name: 'Engine' });
    const parallel = section.getByRole('spinbutton', { name: 'Parallel jobs' });
    await expect(parallel).toHaveAccessibleDescription(/1 to 16; more wait in a queue/);
    await rpc(node, 'settings.update', { power: { powerCap: { wattsPerGpu: 250 } } });
    // Two usable GPUs: one job per GPU at a time.
    await expect(section.getByTestId('engine-parallelism-capped')).toHaveText(
      'Running 2 at a time now, not 4: the power cap is kept by running fewer jobs at once (Power page).',
    );
    await expect(parallel).toHaveAccessibleDescription(/Running 2 at a time now, not 4/);
    await expect(parallel).toHaveValue('4');
    // Without the cap the setting applies in full again.
    await rpc(node, 'settings.update', { power: { powerCap: { wattsPerGpu: null } } });
    await expect(section.getByTestId('engine-parallelism-capped')).toHaveCount(0);
  } finally {
    await page.close(); // before the node goes, or its polls log "connection refused"
    await node?.stop();
    process.env.PATH = saved.PATH;
    if (saved.machine === undefined) delete process.env.IDLERIG_FAKE_GPU_MACHINE;
    else process.env.IDLERIG_FAKE_GPU_MACHINE = saved.machine;
    await fake.cleanup();
    await removeDataDir(dir);
  }
});
