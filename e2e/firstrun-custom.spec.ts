// The first-run wizard's other paths, as a newcomer with a wallet and a gateway of their own
// meets them: a node started the way `npm start` starts it (IDLERIG_DEMO_DEFAULT=1, a fresh data
// folder: the wizard is due and the demo network its default), a real gateway (`idlerig
// gateway`), Debian's Chromium. The wallet step imports a private key (a bad secret is refused in
// words); the network step takes the gateway's URL (none, and a plain-http URL to another
// machine, are refused in words); the Dashboard then shows the gateway connected, no demo
// network (it was started while the wizard asked, never joined: no demo model or job), and the
// Wallet page pays the imported address.
import { Wallet } from 'ethers';
import { expect, test } from './helpers/fixtures';
import { startGateway, type Gateway } from './helpers/gateway';
import { makeDataDir, removeDataDir, startNode, type RunningNode } from './helpers/node';
import { openPage } from './helpers/nav';
import { rpc } from './helpers/rpc';

// The node makes its node key and keeps the imported wallet under this passphrase.
process.env.IDLERIG_KEY_PASSPHRASE = 'e2e-firstrun';

let gateway: Gateway | null = null;
let node: RunningNode | null = null;
let dir = '';
test.afterEach(async ({ context }) => {
  // The pages first: one still polling a node that has gone logs "connection refused".
  await Promise.all(context.pages().map((p) => p.close()));
  await node?.stop();
  await gateway?.stop();
  if (dir) await removeDataDir(dir);
});

test('first run with an imported wallet and a gateway of my own', async ({
  page,
  console: watch,
}) => {
  test.setTimeout(120_000);
  // The refused secret and URL are 400s from the API, on purpose.
  watch.allow(/400 \(Bad Request\).*(wallet\.import|settings\.update)/);
  gateway = await startGateway();
  dir = await makeDataDir();
  node = await startNode(dir, { IDLERIG_DEMO_DEFAULT: '1' });
  await page.goto(node.url);

  const wizard = page.getByTestId('firstrun');
  await expect(wizard).toBeVisible();
  await wizard.getByTestId('wallet-choice-import').click();
  // Not a recovery phrase nor a key: said in words, the wizard stays on the step.
  await wizard.getByTestId('wallet-secret').fill('twelve words I do not have');
  await wizard.getByTestId('wallet-import').click();
  await expect(wizard.getByTestId('wallet-secret')).toHaveAttribute('aria-invalid', 'true');
  await expect(wizard).toContainText('Not a valid recovery phrase');
  const key = `0x${'42'.repeat(32)}`;
  const address = new Wallet(key).address;
  await wizard.getByTestId('wallet-secret').fill(key);
  await wizard.getByTestId('wallet-import').click();
  await expect(wizard).toContainText(`Earnings go to ${address}`);

  // The network: the demo is the default; my own gateway instead.
  await expect(wizard.getByTestId('network-demo').locator('input')).toBeChecked();
  await wizard.getByTestId('network-custom').click();
  await wizard.getByTestId('network-finish').click();
  await expect(wizard.getByTestId('network-url-0')).toHaveAttribute('aria-invalid', 'true');
  await expect(wizard).toContainText('Enter a gateway URL');
  await wizard.getByTestId('network-url-0').fill('http://192.0.2.7:8080');
  await wizard.getByTestId('network-finish').click();
  await expect(wizard.getByTestId('network-url-0')).toHaveAttribute('aria-invalid', 'true');
  await expect(wizard).toContainText('Plain http/ws is allowed only to this computer');
  await wizard.getByTestId('network-url-0').fill(gateway.url);
  await wizard.getByTestId('network-finish').click();
  await expect(wizard).toBeHidden();

  // The Dashboard: the gateway connected, no demo network.
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('market-card').getByTestId('market-connected')).toHaveText(
    '1 of 1 gateway connected',
    { timeout: 20_000 },
  );
  await expect(page.getByTestId('demo-network-notice')).toHaveCount(0);
  const settings = (await rpc(node, 'settings.get', {})) as {
    network: { mode: string; gateways: { url: string }[] };
  };
  expect(settings.network).toMatchObject({ mode: 'custom', gateways: [{ url: gateway.url }] });
  // The demo network (started while the wizard asked) was never joined: no demo model, no job.
  expect(((await rpc(node, 'models.installed', {})) as { models: unknown[] }).models).toEqual([]);
  expect(((await rpc(node, 'jobs.list', {})) as { total: number }).total).toBe(0);
  // Reloaded, the wizard is not asked again.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await expect(wizard).toHaveCount(0);

  // The Wallet page pays the imported wallet, kept by the app.
  await openPage(page, 'Wallet');
  const status = (await rpc(node, 'wallet.status', {})) as {
    payout: { address: string; kind: string };
  };
  expect(status.payout).toMatchObject({ address, kind: 'app-wallet' });
  await expect(page.locator('main')).toContainText(address);
});

test('first run at 420 px: refused gateway URLs are said on their own fields, the address wraps', async ({
  page,
  console: watch,
}) => {
  test.setTimeout(90_000);
  watch.allow(/400 \(Bad Request\).*settings\.update/);
  dir = await makeDataDir();
  node = await startNode(dir, { IDLERIG_DEMO_DEFAULT: '1' });
  await page.setViewportSize({ width: 420, height: 900 });
  await page.goto(node.url);

  const wizard = page.getByTestId('firstrun');
  await wizard.getByTestId('wallet-choice-import').click();
  const key = `0x${'42'.repeat(32)}`;
  const address = new Wallet(key).address;
  await wizard.getByTestId('wallet-secret').fill(key);
  await wizard.getByTestId('wallet-import').click();
  // The address, one long word, is broken inside the dialog rather than run past its edge.
  const summary = wizard.getByTestId('firstrun-wallet-summary');
  await expect(summary).toHaveText(`Earnings go to ${address}`);
  const dialog = (await page.getByRole('dialog').boundingBox())!;
  const line = (await summary.boundingBox())!;
  expect(line.x + line.width).toBeLessThanOrEqual(dialog.x + dialog.width);
  expect(await summary.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);

  // Two gateways, both refused: each one's reason on its own field, no list of paths.
  await wizard.getByTestId('network-custom').click();
  await wizard.getByTestId('network-url-0').fill('foo bar');
  await wizard.getByTestId('network-url-add').click();
  await wizard.getByTestId('network-url-1').fill('http://example.com');
  await wizard.getByTestId('network-finish').click();
  for (const i of [0, 1])
    await expect(wizard.getByTestId(`network-url-${i}`)).toHaveAttribute('aria-invalid', 'true');
  const field = (i: number) =>
    wizard.getByTestId('network-url-list').locator('.MuiFormControl-root').nth(i);
  await expect(field(0)).toContainText('A gateway URL looks like https://host');
  await expect(field(1)).toContainText('Plain http/ws is allowed only to this computer');
  await expect(wizard).not.toContainText('Invalid parameters');
  await expect(wizard).not.toContainText('gateways.0');
  await expect(wizard.getByRole('alert')).toHaveText('Not saved: check the marked fields.');
  for (const id of ['network-url-0', 'network-url-1', 'network-finish']) {
    const box = (await wizard.getByTestId(id).boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(dialog.x + dialog.width);
  }
  await page.getByRole('dialog').screenshot({ path: test.info().outputPath('firstrun-420.png') });
  // Typing clears the errors; the wizard is still there, nothing was saved.
  await wizard.getByTestId('network-url-0').fill('https://gateway.example.com');
  await expect(wizard.getByTestId('network-url-0')).toHaveAttribute('aria-invalid', 'false');
  const settings = (await rpc(node, 'settings.get', {})) as { network: { mode: unknown } };
  expect(settings.network.mode).toBeNull();
});

test('first run, Import: 0x… is answered as a private key, and an emptied field has no error', async ({
  page,
  console: watch,
}) => {
  watch.allow(/400 \(Bad Request\).*wallet\.import/);
  dir = await makeDataDir();
  node = await startNode(dir, { IDLERIG_DEMO_DEFAULT: '1' });
  await page.goto(node.url);
  const wizard = page.getByTestId('firstrun');
  await wizard.getByTestId('wallet-choice-import').click();
  const secret = wizard.getByTestId('wallet-secret');
  await secret.fill('0x1234');
  await wizard.getByTestId('wallet-import').click();
  await expect(secret).toHaveAttribute('aria-invalid', 'true');
  await expect(wizard).toContainText('Not a valid private key (64 hex digits');
  await expect(wizard).not.toContainText('recovery phrase (12 to 24');
  await page.setViewportSize({ width: 420, height: 800 });
  await page.getByRole('dialog').screenshot({ path: test.info().outputPath('import-420.png') });
  // Words that are not a phrase still get the phrase's message, on the field.
  await secret.fill('twelve words I do not have');
  await expect(secret).toHaveAttribute('aria-invalid', 'false');
  await wizard.getByTestId('wallet-import').click();
  await expect(wizard).toContainText('Not a valid recovery phrase');
  // Cleared: no error left under the empty field.
  await secret.fill('');
  await expect(secret).toHaveAttribute('aria-invalid', 'false');
  await expect(wizard).not.toContainText('Not a valid');
  await expect(wizard.getByRole('alert')).toHaveCount(0);
  await expect(wizard).toContainText('Kept encrypted by this app');
});
