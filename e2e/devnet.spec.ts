// The local demo network as a newcomer meets it: `idlerig devnet --headless` (real processes:
// anvil, the gateway paying on chain, the provider node on the real engine, the demo requester),
// its dashboard in Chromium: the first-run wizard (a new payout wallet with the backup check, the
// local demo network), then earnings above zero within 60 s, a screenshot of the Dashboard
// earning (the README's docs/dashboard.png with IDLERIG_UPDATE_DOCS=1), and a claim and a
// withdrawal to an external address confirmed on the demo chain.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, expect } from '@playwright/test';
import { Contract, JsonRpcProvider, Wallet } from 'ethers';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'idlerig.js');

interface Ready {
  gateway: string;
  apiKey: string;
  dashboard: string;
  rpc: string;
  chainId: number;
  contract: string;
  token: string;
  providerDataDir: string;
}

let devnet: ChildProcess | null = null;
let dir = '';
let ready: Ready;
let readyAt = 0;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idlerig-e2e-devnet-'));
  devnet = spawn(process.execPath, [CLI, 'devnet', '--headless', '--data-dir', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  devnet.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  devnet.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  ready = await new Promise<Ready>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ready line in 60 s:\n${err}`)), 60_000);
    devnet!.stdout!.on('data', () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        readyAt = Date.now();
        ok(JSON.parse(line) as Ready);
      }
    });
    devnet!.once('exit', (code) => fail(new Error(`devnet exited (${code}):\n${err}`)));
  });
});

test.afterAll(async () => {
  if (devnet && devnet.exitCode === null) {
    const exited = new Promise((r) => devnet!.once('exit', r));
    devnet.kill('SIGINT');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('first run on the demo network: wizard, earnings within 60 s, a withdrawal confirmed', async ({
  page,
}) => {
  test.setTimeout(150_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(ready.dashboard);

  // The wizard: a new payout wallet, its words shown once, then the backup check.
  const wizard = page.getByTestId('firstrun');
  await expect(wizard).toBeVisible();
  await expect(wizard.getByText('Welcome to Idlerig')).toBeVisible();
  await page.getByRole('button', { name: 'Create wallet' }).click();
  await expect(page.getByTestId('mnemonic')).toBeVisible();
  const words = await page.locator('[data-testid^="mnemonic-word-"]').allInnerTexts();
  expect(words).toHaveLength(12);
  const asked = page.locator('[data-testid^="backup-word-"]');
  for (let i = 0; i < (await asked.count()); i++) {
    const field = asked.nth(i);
    const n = Number((await field.getAttribute('data-testid'))!.replace('backup-word-', ''));
    await field.fill(words[n - 1]!.replace(/^\d+\.\s*/, ''));
  }
  await page.getByTestId('wallet-confirm').click();

  // The network: the local demo network is the default.
  await expect(page.getByText('Local demo network (runs on this computer)')).toBeVisible();
  await expect(page.getByTestId('network-demo').locator('input')).toBeChecked();
  await page.getByTestId('network-finish').click();
  await expect(wizard).toBeHidden();

  // The Dashboard says it is a demo and what a real network needs; earnings arrive.
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('demo-network-notice')).toContainText('play money');
  await expect(page.getByTestId('demo-network-notice')).toContainText('A real network needs');
  const earnings = page.getByTestId('stat-earnings-value');
  await expect(earnings).toHaveText(/^(\d[\d,]*(\.\d+)?|< 0\.0+1) IDLE$/, { timeout: 60_000 });
  await expect(earnings).not.toHaveText(/^0 IDLE$/);
  console.log(
    `earnings on the Dashboard ${((Date.now() - readyAt) / 1000).toFixed(1)} s after the ready line`,
  );
  // Let a few more jobs land so the figures and the chart have something to show.
  await expect(page.getByTestId('stat-jobs-today-value')).toHaveText(/^[1-9]\d+$/, {
    timeout: 30_000,
  });
  // The README's picture is rewritten only when asked (IDLERIG_UPDATE_DOCS=1): a test run leaves
  // the checkout as it found it.
  await page.screenshot({
    path: process.env.IDLERIG_UPDATE_DOCS
      ? join(ROOT, 'docs', 'dashboard.png')
      : test.info().outputPath('dashboard-devnet.png'),
  });

  // The Wallet page: claim the vouchers, then withdraw to an external address.
  await page.getByTestId('nav-wallet').click();
  await expect(page.getByRole('heading', { level: 1, name: 'Wallet' })).toBeVisible();
  await expect(page.getByTestId('wallet-payout')).toContainText('Wallet kept here');
  await expect(page.getByTestId('wallet-claimable')).not.toContainText(/^0 IDLE$/, {
    timeout: 20_000,
  });
  await page.getByRole('button', { name: 'Claim now' }).click();
  await page.getByRole('button', { name: 'Confirm claim' }).click();
  // The demo network keeps earning: the claim may name what arrived after the offer.
  await expect(page.getByRole('dialog')).toContainText(
    /Claimed [\d.,]+ IDLE( \([\d.,]+ IDLE of it earned after the offer\))?: confirmed/,
    { timeout: 30_000 },
  );
  await page.getByRole('button', { name: 'Close' }).click();
  const external = Wallet.createRandom().address;
  await page.getByRole('button', { name: 'Withdraw' }).click();
  await page.getByTestId('withdraw-to').fill(external);
  await page.getByTestId('withdraw-amount').fill('0.001');
  await page.getByRole('button', { name: 'Review' }).click();
  await expect(page.getByTestId('withdraw-quote')).toContainText(external);
  await page.getByRole('button', { name: 'Confirm and send' }).click();
  await expect(page.getByTestId('withdraw-result')).toContainText('Sent 0.001 IDLE: confirmed', {
    timeout: 30_000,
  });
  // On the chain: the external address holds exactly what was sent.
  const chain = new JsonRpcProvider(ready.rpc, ready.chainId, { staticNetwork: true });
  const token = new Contract(
    ready.token,
    ['function balanceOf(address) view returns (uint256)'],
    chain,
  );
  expect(await token.getFunction('balanceOf')(external)).toBe(10n ** 15n);
  chain.destroy();
});
