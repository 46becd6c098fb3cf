// Settings → Network against real processes: a real gateway (`idlerig gateway`, port 0), the
// real headless node with stories260K imported, and a real requester streaming a completion from
// the gateway. The gateway is added in the page; the node signs in; the Dashboard shows the job
// running through it with its live tokens/s; "What this app shares" shows the exact messages.
import { join, resolve } from 'node:path';
import { test, expect } from './helpers/fixtures';
import { runCli, startGateway, type Gateway } from './helpers/gateway';
import { rpc } from './helpers/rpc';

const ROOT = resolve(import.meta.dirname, '..');
const STORIES = join(ROOT, 'test', 'fixtures', 'stories260K.gguf');
const STORIES_SHA = '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d';

// The node the fixture starts makes its node key under this passphrase.
process.env.IDLERIG_KEY_PASSPHRASE = 'e2e-network';

let gateway: Gateway | null = null;
test.afterEach(async () => {
  await gateway?.stop();
  gateway = null;
});

test('Settings → Network adds the gateway; the Dashboard shows a job running through it; the shared messages are shown', async ({
  page,
  node,
  console,
}) => {
  test.setTimeout(120_000);
  // The refused URL below is a 400 from the API, on purpose.
  console.allow(/400 \(Bad Request\).*market\.addGateway/);
  gateway = await startGateway();
  const created = await runCli([
    'gateway',
    'keys',
    'create',
    '--credit',
    '1000000000000000000000',
    '--data-dir',
    gateway.dir,
    '--json',
  ]);
  expect(created.code, created.stderr).toBe(0);
  const apiKey = (JSON.parse(created.stdout) as { key: string }).key;
  await rpc(node, 'models.import', { path: STORIES });
  // More threads than cores: llama.cpp's threads contend and decoding drops to a few tokens per
  // second (README: the thread count decides everything), so the job is still running while the
  // page looks at it.
  await rpc(node, 'settings.update', { engine: { threads: 3 } });

  await page.goto(node.url);
  await page.getByRole('link', { name: 'Settings' }).click();
  const section = page.getByTestId('settings-network');
  await expect(section.getByRole('heading', { name: 'Network' })).toBeVisible();
  await expect(section.getByTestId('node-address')).toHaveText(/^0x[0-9a-fA-F]{40}$/);

  // A plain-http URL to another machine is refused with the reason.
  await section.getByTestId('gateway-url-input').fill('http://192.0.2.7:8080');
  await section.getByRole('button', { name: 'Add' }).click();
  await expect(section).toContainText('Plain http/ws is allowed only to this computer');

  await section.getByTestId('gateway-url-input').fill(gateway.url);
  await section.getByRole('button', { name: 'Add' }).click();
  const row = section.getByTestId('gateway-row');
  await expect(row).toHaveAttribute('data-url', gateway.url);
  await expect(row.getByTestId('gateway-state')).toHaveText('Connected', { timeout: 20_000 });
  await expect(row.getByTestId('gateway-latency')).toHaveText(/^\d+(\.\d)? ms$/, {
    timeout: 10_000,
  });

  // What this app shares: the exact capability and heartbeat messages, as JSON.
  const caps = JSON.parse(
    (await section.getByTestId('shared-capabilities-json').textContent()) ?? '',
  ) as { type: string; models: { sha256: string; name: string }[] };
  expect(caps.type).toBe('capabilities');
  expect(caps.models).toEqual([
    expect.objectContaining({ sha256: STORIES_SHA, name: 'stories260K.gguf' }),
  ]);
  const beat = JSON.parse(
    (await section.getByTestId('shared-heartbeat-json').textContent()) ?? '',
  ) as { type: string; telemetry: { activeJobs: number } };
  expect(beat.type).toBe('heartbeat');
  await expect(section.getByTestId('shared-telemetry-json')).toContainText('"activeJobs"');

  // A requester streams a completion through the gateway.
  const abort = new AbortController();
  const response = fetch(`${gateway.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({
      model: 'stories260K.gguf',
      prompt: 'Once upon a time',
      max_tokens: 400,
      temperature: 0,
      stream: true,
    }),
    signal: abort.signal,
  }).catch(() => null);

  await page.getByRole('link', { name: 'Dashboard' }).click();
  const card = page.getByTestId('market-card');
  await expect(card.getByTestId('market-connected')).toHaveText('1 of 1 gateway connected');
  const job = card.getByTestId('running-job');
  await expect(job).toHaveCount(1, { timeout: 30_000 });
  await expect(job).toContainText('stories260K.gguf');
  await expect(job).toContainText(gateway.url);
  await expect(page.getByTestId('state-chip')).toHaveText('Earning');
  await expect(job.getByTestId('running-job-speed')).toHaveText(/^\d+(\.\d)? tok\/s$/, {
    timeout: 60_000,
  });
  const res = await response;
  expect(res?.status).toBe(200);

  // The requester leaves: the job is cancelled on the node and leaves the Dashboard.
  abort.abort();
  await expect(job).toHaveCount(0, { timeout: 15_000 });
  // Connected and accepting, but no job: the chip does not claim it earns.
  await expect(page.getByTestId('state-chip')).toHaveText('Ready');
  await expect(page.getByTestId('state-reason')).toHaveText('Connected, waiting for jobs');
  await rpc(node, 'settings.update', { engine: { threads: null } });

  // Settings → Token value: one IDLE worth twice as much halves the floor the node advertises
  // (its electricity cost, now in fewer tokens), as the shared capabilities message shows.
  await page.getByRole('link', { name: 'Settings' }).click();
  const floorNow = async (): Promise<bigint> => {
    const c = JSON.parse(
      (await section.getByTestId('shared-capabilities-json').textContent()) ?? '',
    ) as { models: { floor: { output: string } }[] };
    return BigInt(c.models[0]!.floor.output);
  };
  const before = await floorNow();
  expect(before).toBeGreaterThan(0n);
  const value = page.getByTestId('settings-token-value');
  await value.getByTestId('token-value').fill('2');
  await value.getByTestId('token-save').click();
  await expect(value.getByRole('status')).toHaveText('Saved');
  // Half, to the millionth of a token the node rounds its floor up to (10^12 of 18 decimals).
  const micro = 10n ** 12n;
  await expect.poll(floorNow, { timeout: 10_000 }).toBeLessThanOrEqual(before / 2n + micro);
  expect(await floorNow()).toBeGreaterThanOrEqual(before / 2n - micro);
});
