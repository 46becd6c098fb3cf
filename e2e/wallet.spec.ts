// Wallet page against real processes: anvil with the payment hub and a demo token (18
// decimals), a real gateway (`idlerig gateway --rpc --hub --token`, the operator key from the
// environment) that opens a channel to the node and sends a cumulative voucher after every job,
// the real headless node configured for that chain and gateway (settings), and the official
// `openai` package as the requester running three jobs on stories260K. In the page: the earnings
// equal the sum of the job prices in the node's job record; create a payout wallet with the
// backup check; claim; withdraw to an external address; see the transaction confirmed; the same
// page at 420 px wide.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { Wallet } from 'ethers';
import { test, expect } from './helpers/fixtures';
import { makeDataDir, removeDataDir, startNode, type RunningNode } from './helpers/node';
import { rpc } from './helpers/rpc';
import { startAnvil, type Anvil } from '../contracts/anvil';
import { deployDemoToken, deployHub, HubClient, TokenClient } from '../contracts/client';
import { devWallet } from '../test/contracts/chain';
import { createKey, startGatewayProc, type GatewayProc } from '../test/helpers/gateway';
import { SettingsStore } from '../electron/provider/settings/store';
import { formatTokenAmount } from '../shared/payments';

process.env.IDLERIG_KEY_PASSPHRASE = 'e2e-wallet';
process.env.IDLERIG_CLAIM_POLL_MS = '500';
const SHOTS = process.env.IDLERIG_SHOTS_DIR ?? '/tmp/h11-results';
const STORIES = resolve(import.meta.dirname, '..', 'test', 'fixtures', 'stories260K.gguf');
/** The gateway's ceiling per million output tokens (18 decimals): far above the node's floor. */
const PRICE_OUT = 10n ** 23n;
const DEPOSIT = 10n ** 21n;

let anvil: Anvil;
let token: TokenClient;
let dir: string;
let gwDir: string;
let gateway: GatewayProc | null = null;
let node: RunningNode | null = null;
/** The sum of the jobs' prices as the node's job record has them (three, then four). */
let jobsTotal = 0n;
/** The requester, with a key of the gateway. */
let client: OpenAI;
type Row = {
  gateway: string | null;
  status: string;
  earned: string | null;
  voucherId: string | null;
};
/** The gateway's jobs that are done, as the node's job record has them. */
const paid = async (): Promise<Row[]> =>
  (await rpc<{ rows: Row[] }>(node!, 'jobs.list', { limit: 100 })).rows.filter(
    (r) => r.gateway === gateway!.url && r.status === 'done',
  );
const paidTotal = async (): Promise<bigint> =>
  (await paid()).reduce((sum, r) => sum + BigInt(r.earned ?? '0'), 0n);
const show = (units: bigint): string =>
  formatTokenAmount(units, 18, 'IDD', { maxFraction: 6, locale: 'en-US' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  anvil = await startAnvil({ accounts: 20 });
  const owner = devWallet(anvil, 0);
  const tokenAddress = await deployDemoToken(owner, { decimals: 18 });
  const hubAddress = await deployHub(owner, { unlockDelay: 3600, tokens: [tokenAddress] });
  token = new TokenClient(tokenAddress, owner);
  const operator = devWallet(anvil, 4);
  await token.mint(operator.address, DEPOSIT * 10n);

  gwDir = await makeDataDir();
  const prices = join(gwDir, 'prices.json');
  await writeFile(
    prices,
    JSON.stringify({ default: { llm: { per: 'mtok', input: '0', output: PRICE_OUT.toString() } } }),
  );
  gateway = await startGatewayProc(
    gwDir,
    [
      '--price-file',
      prices,
      '--rpc',
      anvil.rpcUrl,
      '--hub',
      hubAddress,
      '--token',
      tokenAddress,
      '--deposit',
      DEPOSIT.toString(),
    ],
    { IDLERIG_OPERATOR_KEY: operator.privateKey },
  );

  dir = await makeDataDir();
  const settings = new SettingsStore(join(dir, 'settings.json'));
  await settings.load();
  await settings.update({
    // Dear electricity and a wide margin: the node's floor (what the gateway pays it) is then
    // large enough to read in the page's 6 decimals.
    power: {
      electricity: { ...settings.get().power.electricity, pricePerKwh: 100 },
      marginPercent: 1000,
    },
    network: { mode: 'custom', gateways: [{ url: gateway.url }] },
    wallet: { chain: { rpcUrl: anvil.rpcUrl, chainId: Number(anvil.chainId), hub: hubAddress } },
  });
  await settings.flush();
  node = await startNode(dir);
  const identity = async () =>
    (await rpc<{ address: string | null }>(node!, 'market.identity')).address;
  await expect.poll(identity, { timeout: 20_000 }).toMatch(/^0x/);
  // The node key pays the gas of claims.
  await (
    await devWallet(anvil, 1).sendTransaction({ to: (await identity())!, value: 10n ** 18n })
  ).wait();
  await rpc(node, 'models.import', { path: STORIES });

  const key = await createKey(gwDir, ['--credit', (10n ** 24n).toString()]);
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
  await expect
    .poll(async () => (await client.models.list()).data.map((m) => m.id), { timeout: 30_000 })
    .toContain('stories260K.gguf');
  for (const maxTokens of [8, 12, 16]) {
    const r = await client.completions.create({
      model: 'stories260K.gguf',
      prompt: 'Once upon a time',
      max_tokens: maxTokens,
      temperature: 0,
    });
    expect(r.usage!.completion_tokens).toBe(maxTokens);
  }
  // Every job's price in the job record, each linked to the voucher that paid it.
  await expect
    .poll(async () => (await paid()).filter((r) => r.voucherId).length, { timeout: 20_000 })
    .toBe(3);
  jobsTotal = await paidTotal();
  // Big enough to show in the page's 6 decimals.
  expect(jobsTotal).toBeGreaterThan(10n ** 13n);
});

test.afterAll(async () => {
  await node?.stop();
  await gateway?.stop();
  await anvil?.stop();
  if (dir) await removeDataDir(dir);
  if (gwDir) await removeDataDir(gwDir);
});

test('create a payout wallet with the backup check, claim the earnings, withdraw, see it confirmed', async ({
  page,
  console,
}) => {
  test.setTimeout(120_000);
  // The wrong backup word below is refused by the node (400), which the browser logs.
  console.allow(/api\/rpc\/wallet\.confirmBackup.*400|400.*wallet\.confirmBackup/);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${node!.url}#/wallet`);
  await expect(page.getByRole('heading', { level: 1, name: 'Wallet' })).toBeVisible();

  // Earnings: the sum of the three jobs' prices, vouchers checked against the chain.
  let total = show(jobsTotal);
  await expect(page.getByTestId('wallet-earned')).toContainText(total, { timeout: 15_000 });
  await expect(page.getByTestId('wallet-claimable')).toContainText(total);
  await expect(page.getByTestId('wallet-payout')).toContainText('Node key (kept here)');
  // The same per gateway: one channel, the gateway's, fully covered by its deposit.
  const channel = page.getByTestId('wallet-channel');
  await expect(channel).toHaveCount(1);
  await expect(channel).toContainText(new URL(gateway!.url).host);
  await expect(channel.getByTestId('wallet-channel-earned')).toContainText(total);
  await expect(channel.getByTestId('wallet-channel-claimable')).toContainText(total);
  await expect(channel.getByTestId('wallet-channel-unbacked')).toHaveCount(0);
  await expect(channel.getByTestId('wallet-channel-leaving')).toHaveCount(0);

  // A new payout wallet: the words once, then three of them back.
  await page.getByRole('button', { name: 'Set up payout wallet' }).click();
  await page.getByRole('button', { name: 'Create wallet' }).click();
  const wordItems = page.getByTestId('mnemonic-word');
  await expect(wordItems).toHaveCount(12);
  const words = (await wordItems.allInnerTexts()).map((t) => t.replace(/^\d+\.\s*/, '').trim());
  await page.screenshot({ path: `${SHOTS}/wallet-words.png` });
  await page.getByRole('button', { name: 'I wrote them down' }).click();
  const inputs = page.locator('[data-testid^="check-word-"]');
  await expect(inputs).toHaveCount(3);
  const positions = await inputs.evaluateAll((els) =>
    els.map((e) => Number(e.getAttribute('data-testid')!.replace('check-word-', ''))),
  );
  // A wrong word is refused, in words, and nothing is saved.
  for (const [i, pos] of positions.entries())
    await inputs.nth(i).fill(i === 1 ? 'wrongword' : words[pos - 1]!);
  await page.getByRole('button', { name: 'Check and save' }).click();
  await expect(page.getByRole('alert')).toContainText(
    `Word ${positions[1]} does not match the recovery phrase`,
  );
  await inputs.nth(1).fill(words[positions[1]! - 1]!);
  await page.getByRole('button', { name: 'Check and save' }).click();
  await expect(page.getByRole('dialog')).toBeHidden();
  await expect(page.getByTestId('wallet-payout')).toContainText('Wallet kept here');
  const payoutAddress = (await page.getByTestId('wallet-payout-address').innerText()).trim();
  expect(payoutAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);
  expect(payoutAddress).not.toBe(
    (await page.getByTestId('wallet-node-address').innerText()).trim(),
  );
  // Its QR code is drawn in the page.
  await page.getByTestId('wallet-payout').getByRole('button', { name: 'QR code' }).click();
  await expect(page.getByTestId('wallet-payout-qr')).toBeVisible();

  // Claim now, confirmed first. The offer is "at least" what is claimable now: one more job
  // ends while the dialog is open (the page's refreshes of the wallet held back meanwhile, so
  // the offer stays as read), the claim collects its voucher too and says by how much.
  await page.getByRole('button', { name: 'Claim now' }).click();
  const claimDialog = page.getByRole('dialog');
  await expect(claimDialog).toContainText(`Collect at least ${total} in one transaction`);
  await expect(claimDialog).toContainText(payoutAddress);
  let release = (): void => undefined;
  const held = new Promise<void>((done) => (release = done));
  await page.route('**/api/rpc/wallet.status', async (route) => {
    await held;
    await route.continue();
  });
  const offered = jobsTotal;
  await client.completions.create({
    model: 'stories260K.gguf',
    prompt: 'Once upon a time',
    max_tokens: 10,
    temperature: 0,
  });
  await expect
    .poll(async () => (await paid()).filter((r) => r.voucherId).length, { timeout: 20_000 })
    .toBe(4);
  jobsTotal = await paidTotal();
  expect(jobsTotal).toBeGreaterThan(offered);
  await expect(claimDialog).toContainText(`Collect at least ${total}`);
  await claimDialog.screenshot({ path: test.info().outputPath('claim-offer.png') });
  await page.getByRole('button', { name: 'Confirm claim' }).click();
  total = show(jobsTotal);
  await expect(claimDialog).toContainText(
    `Claimed ${total} (${show(jobsTotal - offered)} of it earned after the offer): confirmed`,
    { timeout: 20_000 },
  );
  await claimDialog.screenshot({ path: test.info().outputPath('claim-done.png') });
  // (The refreshes go on from here, through the route.)
  release();
  await page.getByRole('button', { name: 'Close' }).click();
  await expect(page.getByTestId('wallet-claimed')).toContainText(total);
  await expect(page.getByTestId('wallet-claimable')).toContainText('0 IDD');
  await expect(channel.getByTestId('wallet-channel-claimed')).toContainText(total);
  expect(await token.balanceOf(payoutAddress)).toBe(jobsTotal);

  // The payout wallet pays the gas of its withdrawals.
  await (
    await devWallet(anvil, 2).sendTransaction({ to: payoutAddress, value: 10n ** 17n })
  ).wait();
  const external = Wallet.createRandom().address;
  await page.getByRole('button', { name: 'Withdraw' }).click();
  await page.getByTestId('withdraw-to').fill('0x1234');
  // Empty amount: everything.
  await page.getByRole('button', { name: 'Review' }).click();
  await expect(page.getByText('An address is 0x followed by 40 hex digits')).toBeVisible();
  await page.getByTestId('withdraw-to').fill(external);
  // Zero is not "everything": a field error on Amount, nothing asked of the node.
  await page.getByTestId('withdraw-amount').fill('0');
  await page.getByRole('button', { name: 'Review' }).click();
  await expect(page.getByTestId('withdraw-amount')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByRole('dialog')).toContainText('Enter an amount above 0');
  await expect(page.getByRole('dialog')).not.toContainText('There is nothing to withdraw');
  await expect(page.getByTestId('withdraw-quote')).toHaveCount(0);
  await page.getByTestId('withdraw-amount').fill('');
  await expect(page.getByTestId('withdraw-amount')).toHaveAttribute('aria-invalid', 'false');
  await page.getByRole('button', { name: 'Review' }).click();
  const quote = page.getByTestId('withdraw-quote');
  await expect(quote).toContainText(`Send ${total}`);
  await expect(quote).toContainText(external);
  await expect(quote).toContainText(/Estimated fee: about 0\.\d+ ETH/);
  await page.screenshot({ path: `${SHOTS}/wallet-withdraw-quote.png` });
  await page.getByRole('button', { name: 'Confirm and send' }).click();
  await expect(page.getByTestId('withdraw-result')).toContainText(`Sent ${total}: confirmed`, {
    timeout: 20_000,
  });
  await page.getByRole('button', { name: 'Close' }).click();
  expect(await token.balanceOf(external)).toBe(jobsTotal);
  expect(await token.balanceOf(payoutAddress)).toBe(0n);

  const txs = page.getByTestId('wallet-tx');
  await expect(txs.first()).toContainText('Withdrawal');
  await expect(txs.first()).toContainText(total);
  await expect(txs.first()).toHaveAttribute('data-state', 'confirmed');
  await expect(page.getByTestId('wallet-withdrawn')).toContainText(total);

  // The gateway's payer asks to take its deposit back: its channel says so.
  const hub = new HubClient(
    ((await rpc(node!, 'wallet.status', {})) as { hub: string }).hub,
    devWallet(anvil, 4),
  );
  await hub.requestUnlock(
    (await page.getByTestId('wallet-node-address').innerText()).trim(),
    token.address,
  );
  await expect(channel.getByTestId('wallet-channel-leaving')).toContainText('Payer leaving', {
    timeout: 15_000,
  });
  await page.screenshot({ path: `${SHOTS}/wallet-desktop.png`, fullPage: true });

  // The same page at 420 px: nothing wider than the screen.
  await page.setViewportSize({ width: 420, height: 800 });
  await expect(page.getByTestId('wallet-earnings')).toBeVisible();
  const width = await page.locator('html').evaluate((html) => html.scrollWidth);
  expect(width).toBeLessThanOrEqual(420);
  await page.screenshot({ path: `${SHOTS}/wallet-420.png`, fullPage: true });
});

test("Dashboard earnings chart: today's bar is what the vouchers verified on anvil paid", async ({
  page,
}) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(node!.url);
  const chart = page.getByTestId('earnings-chart');
  // Exactly the voucher-linked jobs' prices, in the paying token's units (not an estimate).
  await expect(chart).toHaveAttribute('data-paid', jobsTotal.toString(), { timeout: 15_000 });
  await expect(chart).toHaveAttribute('data-token', 'IDD');
  await expect(page.getByTestId('earnings-chart-totals')).toContainText(
    `Paid by vouchers ${formatTokenAmount(jobsTotal, 18, 'IDD', { locale: 'en-US' })}`,
  );
  // IDD has no price in the electricity currency here (settings price IDLE): the electricity
  // cost is its own series on its own axis, no net is made up.
  await expect(chart).toHaveAttribute('data-priced', 'false');
  await expect(page.getByTestId('earnings-chart-note')).toContainText('IDD has no price in');
  await expect(chart.locator('.MuiChartsAxis-directionY')).toHaveCount(2);
  const heights = await chart
    .locator('.MuiBarChart-element')
    .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
  expect(heights.filter((h) => h > 1).length).toBe(1);
  await chart.screenshot({ path: `${SHOTS}/dashboard-earnings-vouchers.png` });
});
