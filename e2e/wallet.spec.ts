// Wallet page against real processes: anvil with the payment hub and a demo token, the real
// headless node configured for that chain, and a gateway payer (gateway/payments/payer.ts) that
// locks funds and signs a cumulative voucher per job. The earnings are seeded through those real
// signed vouchers, checked and stored by the node's own voucher book before the node starts (no
// gateway process runs the jobs here). In the page: create a payout wallet with the backup check,
// see the earnings, claim them, withdraw to an external address, see the transaction confirmed,
// and the same page at 420 px wide.
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { test, expect } from './helpers/fixtures';
import { makeDataDir, removeDataDir, startNode, type RunningNode } from './helpers/node';
import { startAnvil, type Anvil } from '../contracts/anvil';
import { deploy, devWallet, type Deployed } from '../test/contracts/chain';
import { ChannelPayer } from '../gateway/payments/payer';
import { PayerLedger } from '../gateway/payments/ledger';
import { VoucherBook } from '../electron/provider/wallet/vouchers';
import { hubContract } from '../electron/provider/wallet/hub-reader';
import { loadOrCreateNodeKey } from '../electron/provider/wallet/node-key';
import { SettingsStore } from '../electron/provider/settings/store';

process.env.IDLERIG_KEY_PASSPHRASE = 'e2e-wallet';
const SHOTS = process.env.IDLERIG_SHOTS_DIR ?? '/tmp/h11-results';
const PRICES = [12_500n, 8_000n, 11_000n]; // three jobs, IDD has 6 decimals: 0.0315 IDD in all

let anvil: Anvil;
let d: Deployed;
let dir: string;
let node: RunningNode | null = null;

test.beforeAll(async () => {
  anvil = await startAnvil({ accounts: 20 });
  d = await deploy(anvil);
  dir = await makeDataDir();
  const key = await loadOrCreateNodeKey({
    dataDir: dir,
    protection: {
      kind: 'passphrase',
      passphrase: async () => process.env.IDLERIG_KEY_PASSPHRASE!,
      scryptN: 1 << 10,
    },
  });
  const provider = key.key.address;
  const settings = new SettingsStore(join(dir, 'settings.json'));
  await settings.load();
  await settings.update({
    wallet: { chain: { rpcUrl: anvil.rpcUrl, chainId: Number(anvil.chainId), hub: d.hubAddress } },
  });
  await settings.flush();
  // The node key pays the gas of claims.
  await (await devWallet(anvil, 1).sendTransaction({ to: provider, value: 10n ** 18n })).wait();
  const operator = devWallet(anvil, 4);
  await d.token(d.owner).mint(operator.address, 10_000_000n);
  const payer = new ChannelPayer({
    wallet: new Wallet(operator.privateKey, anvil.provider),
    hub: d.hub(operator),
    token: d.tokenAddress,
    chainId: anvil.chainId,
    ledger: await PayerLedger.open(join(dir, 'e2e-payer-ledger.json')),
  });
  await payer.ensureChannel(provider, 1_000_000n);
  const book = await VoucherBook.open({
    file: join(dir, 'vouchers.json'),
    chainId: Number(anvil.chainId),
    hub: d.hubAddress,
    provider,
    reader: hubContract(d.hubAddress, anvil.provider),
  });
  for (const price of PRICES) {
    const { voucher } = await payer.pay(provider, price);
    await book.accept(voucher, { payer: operator.address });
  }
  node = await startNode(dir);
});

test.afterAll(async () => {
  await node?.stop();
  await anvil?.stop();
  if (dir) await removeDataDir(dir);
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

  // Earnings from the three vouchers, read by the node from the chain.
  await expect(page.getByTestId('wallet-earned')).toContainText('0.0315 IDD');
  await expect(page.getByTestId('wallet-claimable')).toContainText('0.0315 IDD');
  await expect(page.getByTestId('wallet-payout')).toContainText('Node key (kept here)');

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

  // Claim now, confirmed first.
  await page.getByRole('button', { name: 'Claim now' }).click();
  await expect(page.getByRole('dialog')).toContainText('0.0315 IDD');
  await expect(page.getByRole('dialog')).toContainText(payoutAddress);
  await page.getByRole('button', { name: 'Confirm claim' }).click();
  await expect(page.getByRole('dialog')).toContainText('Claimed 0.0315 IDD: confirmed', {
    timeout: 20_000,
  });
  await page.getByRole('button', { name: 'Close' }).click();
  await expect(page.getByTestId('wallet-claimed')).toContainText('0.0315 IDD');
  await expect(page.getByTestId('wallet-claimable')).toContainText('0 IDD');
  expect(await d.token(d.owner).balanceOf(payoutAddress)).toBe(31_500n);

  // The payout wallet pays the gas of its withdrawals.
  await (
    await devWallet(anvil, 2).sendTransaction({ to: payoutAddress, value: 10n ** 17n })
  ).wait();
  const external = Wallet.createRandom().address;
  await page.getByRole('button', { name: 'Withdraw' }).click();
  await page.getByTestId('withdraw-to').fill('0x1234');
  await page.getByTestId('withdraw-amount').fill('0.02');
  await page.getByRole('button', { name: 'Review' }).click();
  await expect(page.getByText('An address is 0x followed by 40 hex digits')).toBeVisible();
  await page.getByTestId('withdraw-to').fill(external);
  await page.getByRole('button', { name: 'Review' }).click();
  const quote = page.getByTestId('withdraw-quote');
  await expect(quote).toContainText('Send 0.02 IDD');
  await expect(quote).toContainText(external);
  await expect(quote).toContainText(/Estimated fee: about 0\.\d+ ETH/);
  await page.screenshot({ path: `${SHOTS}/wallet-withdraw-quote.png` });
  await page.getByRole('button', { name: 'Confirm and send' }).click();
  await expect(page.getByTestId('withdraw-result')).toContainText('Sent 0.02 IDD: confirmed', {
    timeout: 20_000,
  });
  await page.getByRole('button', { name: 'Close' }).click();
  expect(await d.token(d.owner).balanceOf(external)).toBe(20_000n);
  expect(await d.token(d.owner).balanceOf(payoutAddress)).toBe(11_500n);

  const txs = page.getByTestId('wallet-tx');
  await expect(txs.first()).toContainText('Withdrawal');
  await expect(txs.first()).toContainText('0.02 IDD');
  await expect(txs.first()).toHaveAttribute('data-state', 'confirmed');
  await expect(page.getByTestId('wallet-withdrawn')).toContainText('0.02 IDD');
  await page.screenshot({ path: `${SHOTS}/wallet-desktop.png`, fullPage: true });

  // The same page at 420 px: nothing wider than the screen.
  await page.setViewportSize({ width: 420, height: 800 });
  await expect(page.getByTestId('wallet-earnings')).toBeVisible();
  const width = await page.locator('html').evaluate((html) => html.scrollWidth);
  expect(width).toBeLessThanOrEqual(420);
  await page.screenshot({ path: `${SHOTS}/wallet-420.png`, fullPage: true });
});
