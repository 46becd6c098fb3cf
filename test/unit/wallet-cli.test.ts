// `idlerig wallet` (the built CLI, a real process) on anvil: status --json with every amount a
// decimal string of the smallest unit beside its decimals and symbol, claim of real vouchers (a
// gateway payer's, stored in the data folder's voucher book), withdraw of an exact amount, a bad
// address in one line with exit 2, and status through the running node's API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { ChannelPayer } from '../../gateway/payments/payer';
import { PayerLedger } from '../../gateway/payments/ledger';
import { VoucherBook } from '../../electron/provider/wallet/vouchers';
import { hubContract } from '../../electron/provider/wallet/hub-reader';
import { loadOrCreateNodeKey } from '../../electron/provider/wallet/node-key';
import { SettingsStore } from '../../electron/provider/settings/store';
import type { WalletStatus } from '../../shared/api/wallet';
import { runCli, startCli, waitForDashboard } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';
import { devWallet, startChain, type Deployed } from '../contracts/chain';

const env = { IDLERIG_KEY_PASSPHRASE: 'wallet cli test passphrase' };
let d: Deployed;
let tmp: { dir: string; cleanup: () => Promise<void> };
let nodeAddress: string;

beforeAll(async () => {
  d = await startChain();
  tmp = await tempDir('idlerig-wallet-cli-');
  const key = await loadOrCreateNodeKey({
    dataDir: tmp.dir,
    protection: {
      kind: 'passphrase',
      passphrase: async () => env.IDLERIG_KEY_PASSPHRASE,
      scryptN: 1 << 10,
    },
  });
  nodeAddress = key.key.address;
  const settings = new SettingsStore(join(tmp.dir, 'settings.json'));
  await settings.load();
  await settings.update({
    wallet: {
      chain: { rpcUrl: d.anvil.rpcUrl, chainId: Number(d.anvil.chainId), hub: d.hubAddress },
    },
  });
  await settings.flush();
  await (
    await devWallet(d.anvil, 1).sendTransaction({ to: nodeAddress, value: 10n ** 18n })
  ).wait();
  // A gateway payer locks funds and pays two jobs; the node's voucher book keeps the latest.
  const operator = devWallet(d.anvil, 4);
  await d.token(d.owner).mint(operator.address, 10_000_000n);
  const payer = new ChannelPayer({
    wallet: new Wallet(operator.privateKey, d.anvil.provider),
    hub: d.hub(operator),
    token: d.tokenAddress,
    chainId: d.anvil.chainId,
    ledger: await PayerLedger.open(join(tmp.dir, 'test-payer-ledger.json')),
  });
  await payer.ensureChannel(nodeAddress, 1_000_000n);
  const book = await VoucherBook.open({
    file: join(tmp.dir, 'vouchers.json'),
    chainId: Number(d.anvil.chainId),
    hub: d.hubAddress,
    provider: nodeAddress,
    reader: hubContract(d.hubAddress, d.anvil.provider),
  });
  for (const price of [250_000n, 120_500n]) {
    const { voucher } = await payer.pay(nodeAddress, price);
    await book.accept(voucher, { payer: operator.address });
  }
}, 60_000);
afterAll(async () => {
  await d?.anvil.stop();
  await tmp?.cleanup();
});

describe('idlerig wallet', () => {
  it('status --json: addresses, balances and earnings as smallest-unit strings with decimals and symbol', async () => {
    const r = await runCli(['wallet', 'status', '--json', '--data-dir', tmp.dir], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as WalletStatus;
    expect(s).toMatchObject({
      problem: null,
      chainId: Number(d.anvil.chainId),
      hub: d.hubAddress,
      node: { address: nodeAddress, kind: 'node-key' },
      payout: { address: nodeAddress, kind: 'node-key', managed: true },
      earnings: [
        {
          token: { address: d.tokenAddress, symbol: 'IDD', decimals: 6 },
          earned: '370500',
          claimable: '370500',
          claimed: '0',
          withdrawn: '0',
        },
      ],
    });
    expect(s.node!.balances).toEqual([
      { amount: (10n ** 18n).toString(), token: { address: null, symbol: 'ETH', decimals: 18 } },
      { amount: '0', token: { address: d.tokenAddress, symbol: 'IDD', decimals: 6 } },
    ]);
  }, 60_000);

  it('claim collects the vouchers; withdraw sends exactly --amount; a bad address is one line, exit 2', async () => {
    const claim = await runCli(['wallet', 'claim', '--json', '--data-dir', tmp.dir], env);
    expect(claim.code).toBe(0);
    expect(JSON.parse(claim.stdout).tx).toMatchObject({
      kind: 'claim',
      state: 'confirmed',
      value: { amount: '370500', token: { decimals: 6, symbol: 'IDD' } },
    });
    expect(await d.token(d.owner).balanceOf(nodeAddress)).toBe(370_500n);

    const bad = await runCli(['wallet', 'withdraw', '--to', '0x1234', '--data-dir', tmp.dir], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--to is not an address: 0x1234/);
    const none = await runCli(['wallet', 'withdraw', '--data-dir', tmp.dir], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/needs --to ADDRESS/);

    const to = Wallet.createRandom().address;
    const w = await runCli(
      ['wallet', 'withdraw', '--to', to, '--amount', '0.1205', '--json', '--data-dir', tmp.dir],
      env,
    );
    expect(w.stderr).toBe('');
    expect(w.code).toBe(0);
    const out = JSON.parse(w.stdout) as {
      quote: { fee: { amount: string } };
      tx: { state: string };
    };
    expect(out.tx.state).toBe('confirmed');
    expect(BigInt(out.quote.fee.amount)).toBeGreaterThan(0n);
    expect(await d.token(d.owner).balanceOf(to)).toBe(120_500n);
    expect(await d.token(d.owner).balanceOf(nodeAddress)).toBe(250_000n);

    const text = await runCli(['wallet', 'status', '--data-dir', tmp.dir], env);
    expect(text.stdout).toMatch(
      /Earnings: 0\.3705 IDD earned, 0 IDD claimable, 0\.3705 IDD claimed, 0\.1205 IDD withdrawn/,
    );
    expect(text.stdout).toMatch(/withdraw 0\.1205 IDD confirmed/);
  }, 90_000);

  it('status goes through the running node', async () => {
    const node = startCli(['--headless', '--port', '0', '--data-dir', tmp.dir, '--quiet'], env);
    try {
      await waitForDashboard(node, 30_000);
      const r = await runCli(['wallet', 'status', '--json', '--data-dir', tmp.dir], env);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout) as WalletStatus;
      expect(s.node?.address).toBe(nodeAddress);
      expect(s.earnings[0]).toMatchObject({ claimed: '370500', withdrawn: '120500' });
      expect(s.transactions.map((t) => t.kind)).toEqual(['withdraw', 'claim']);
    } finally {
      node.child.kill('SIGTERM');
      await node.exited;
    }
  }, 90_000);
});
