// The node's wallet (electron/provider/wallet/service.ts) on anvil: creating a payout wallet with
// its backup check, importing one, earnings from real vouchers signed by a gateway payer, claim to
// the payout wallet, withdrawals that move exactly the amount, transaction states and a damaged
// history file. The payments the service reads (the node's market/payments.ts in production) are
// here a real voucher book and a real claimer over the same chain (WalletPayments adapter below).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HDNodeWallet, Mnemonic, Wallet } from 'ethers';
import { ChannelPayer } from '../../gateway/payments/payer';
import { PayerLedger } from '../../gateway/payments/ledger';
import { VoucherBook } from '../../electron/provider/wallet/vouchers';
import { hubContract } from '../../electron/provider/wallet/hub-reader';
import { Claimer } from '../../electron/provider/wallet/claimer';
import { loadOrCreateNodeKey, type NodeKey } from '../../electron/provider/wallet/node-key';
import { WalletService, type WalletPayments } from '../../electron/provider/wallet/service';
import { PAYOUT_KEY_FILE, PayoutKeyStore } from '../../electron/provider/wallet/payout-key';
import {
  explorerTxUrl,
  TX_HISTORY_FILE,
  TxHistory,
} from '../../electron/provider/wallet/tx-history';
import { Balances } from '../../electron/provider/wallet/balances';
import { Withdrawals } from '../../electron/provider/wallet/withdraw';
import { claimableFrom } from '../../shared/payments';
import { defaultWalletSettings, type Earnings, type WalletSettings } from '../../shared/api/wallet';
import { IdlerigError } from '../../shared/errors';
import { tempDir } from '../helpers/tmp';
import { fakeKeychain } from '../helpers/fake-keychain';
import { devWallet, startChain, type Deployed } from '../contracts/chain';

const PASSPHRASE = 'correct horse battery staple';
const protection = {
  kind: 'passphrase' as const,
  passphrase: async () => PASSPHRASE,
  scryptN: 1 << 10,
};

let d: Deployed;
let tmp: { dir: string; cleanup: () => Promise<void> };
let nodeKey: NodeKey;
let payer: ChannelPayer;
let operator: HDNodeWallet;
let book: VoucherBook;
let settings: WalletSettings;
let lastClaim: Earnings['lastClaim'] = null;

/** The payments the wallet reads: the voucher book's channels and a claimer, on the test chain. */
const payments: WalletPayments = {
  async earnings() {
    const hub = hubContract(d.hubAddress, d.anvil.provider);
    const channels: Earnings['channels'] = [];
    for (const v of book.latest()) {
      const ch = await hub.channel(v.payer, v.provider, v.token);
      channels.push({
        gateway: 'wss://gw.test',
        payer: v.payer,
        token: { address: v.token, symbol: 'IDD', decimals: 6 },
        epoch: v.epoch,
        earned: (v.cumulative + v.earnedEarlier).toString(),
        claimable: claimableFrom(ch, v).toString(),
        claimed: (ch.epoch === v.epoch ? ch.claimed : 0n).toString(),
        unbacked: '0',
        locked: ch.deposited.toString(),
        unlockAt: null,
        latestVoucherAt: v.receivedAt,
      });
    }
    return { problem: null, chain: settings.chain, provider: nodeKey.address, channels, lastClaim };
  },
  async claimNow() {
    const round = await new Claimer({
      hub: hubContract(d.hubAddress, nodeKey.signer(d.anvil.provider)),
      provider: nodeKey.address,
      vouchers: () => book.latest(),
      policy: { threshold: null, scheduleMs: null, minClaim: 1n },
    }).claimNow();
    if (round.claim)
      lastClaim = {
        at: new Date().toISOString(),
        reason: 'manual',
        txHash: round.claim.txHash,
        amount: round.claim.amount.toString(),
        channels: round.claim.channels,
      };
    return lastClaim;
  },
};

function service(dir = tmp.dir): WalletService {
  return new WalletService({
    dataDir: dir,
    protection,
    nodeKey: async () => nodeKey,
    settings: () => settings,
    chain: () => settings.chain,
    setPayoutAddress: async (a) => {
      settings = { ...settings, payoutAddress: a };
    },
    payments: () => payments,
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof IdlerigError ? `${err.code}: ${err.message}` : String(err);
  }
  return 'resolved';
}

beforeAll(async () => {
  d = await startChain();
  tmp = await tempDir('idlerig-wallet-');
  nodeKey = (await loadOrCreateNodeKey({ dataDir: tmp.dir, protection })).key;
  settings = {
    ...defaultWalletSettings(),
    chain: { rpcUrl: d.anvil.rpcUrl, chainId: Number(d.anvil.chainId), hub: d.hubAddress },
  };
  // The node key pays the gas of claims.
  const bank = devWallet(d.anvil, 1);
  await (await bank.sendTransaction({ to: nodeKey.address, value: 10n ** 18n })).wait();
  operator = devWallet(d.anvil, 4);
  await d.token(d.owner).mint(operator.address, 10_000_000n);
  payer = new ChannelPayer({
    wallet: new Wallet(operator.privateKey, d.anvil.provider),
    hub: d.hub(operator),
    token: d.tokenAddress,
    chainId: d.anvil.chainId,
    ledger: await PayerLedger.open(join(tmp.dir, 'payer-ledger.json')),
  });
  await payer.ensureChannel(nodeKey.address, 1_000_000n);
  book = await VoucherBook.open({
    file: join(tmp.dir, 'vouchers.json'),
    chainId: Number(d.anvil.chainId),
    hub: d.hubAddress,
    provider: nodeKey.address,
    reader: hubContract(d.hubAddress, d.anvil.provider),
  });
});
afterAll(async () => {
  await d?.anvil.stop();
  await tmp?.cleanup();
});

describe('creating and importing a payout wallet', () => {
  it('shows the words once, saves nothing until the backup check passes, then pays to it', async () => {
    const w = service();
    const created = w.create();
    expect(created.words).toHaveLength(12);
    expect(Mnemonic.isValidMnemonic(created.words.join(' '))).toBe(true);
    expect(created.check).toHaveLength(3);
    expect(HDNodeWallet.fromPhrase(created.words.join(' ')).address).toBe(created.address);
    const file = join(tmp.dir, PAYOUT_KEY_FILE);
    expect(existsSync(file)).toBe(false);

    const right = Object.fromEntries(created.check.map((p) => [String(p), created.words[p - 1]!]));
    const wrong = { ...right, [String(created.check[1])]: 'notaword' };
    expect(await code(w.confirmBackup(created.pendingId, wrong))).toBe(
      `INVALID_PARAMS: Word ${created.check[1]} does not match the recovery phrase; check your backup`,
    );
    expect(existsSync(file)).toBe(false);
    expect(settings.payoutAddress).toBeNull();

    const status = await w.confirmBackup(created.pendingId, {
      ...right,
      [String(created.check[0])]: ` ${created.words[created.check[0]! - 1]!.toUpperCase()} `,
    });
    expect(status.payout).toMatchObject({
      address: created.address,
      kind: 'app-wallet',
      managed: true,
    });
    expect(settings.payoutAddress).toBe(created.address);
    // The hub was told at once (the node key paid the gas): a 'payout' transaction, confirmed.
    expect(status.payoutOnChain).toBe(created.address);
    expect(status.transactions[0]).toMatchObject({ kind: 'payout', state: 'confirmed' });
    // The API's answer carries addresses only, never the key or the words.
    const key0 = HDNodeWallet.fromPhrase(created.words.join(' ')).privateKey;
    expect(JSON.stringify(status)).not.toContain(key0.slice(2));
    expect(JSON.stringify(status)).not.toContain(created.words.join(' '));
    // Encrypted at rest: neither the words nor the key are in the file.
    const text = readFileSync(file, 'utf8');
    const key = HDNodeWallet.fromPhrase(created.words.join(' ')).privateKey;
    expect(text).not.toContain(key.slice(2));
    expect(text).not.toContain(created.words.join(' '));
    expect(text).not.toContain(created.words.slice(0, 2).join(' '));
    // The same creation cannot be confirmed twice; a fresh service opens the saved wallet.
    expect(await code(w.confirmBackup(created.pendingId, right))).toMatch(/^NOT_FOUND/);
    const again = await service().status();
    expect(again.payout?.kind).toBe('app-wallet');
    expect((await service().payoutKeys.open())?.address).toBe(created.address);
  });

  it('imports a mnemonic or a private key, keeps a replaced key file aside, refuses bad secrets', async () => {
    const { dir, cleanup } = await tempDir('idlerig-wallet-import-');
    const saved = settings;
    try {
      const w = service(dir);
      const phrase = Wallet.createRandom().mnemonic!.phrase;
      const s1 = await w.importSecret({ mnemonic: `  ${phrase.toUpperCase()}  ` });
      expect(s1.payout?.address).toBe(HDNodeWallet.fromPhrase(phrase).address);
      const pk = Wallet.createRandom().privateKey;
      const s2 = await w.importSecret({ privateKey: pk.slice(2) });
      expect(s2.payout?.address).toBe(new Wallet(pk).address);
      expect(
        readdirSync(dir).filter((f) => f.startsWith(`${PAYOUT_KEY_FILE}.replaced-`)),
      ).toHaveLength(1);
      expect(await code(w.importSecret({ mnemonic: 'test test test' }))).toMatch(
        /^INVALID_PARAMS: Not a valid recovery phrase/,
      );
      expect(await code(w.importSecret({ privateKey: '0x1234' }))).toMatch(
        /^INVALID_PARAMS: Not a valid private key/,
      );
      // A damaged key file: said in words in the status, and kept aside when replaced.
      writeFileSync(join(dir, PAYOUT_KEY_FILE), '{"half":');
      const w2 = service(dir);
      const damaged = await w2.status();
      expect(damaged.problem).toMatch(/^The payout wallet key in .*payout-key\.json is damaged/);
      expect((await w2.status()).problem).toBe(damaged.problem);
      // Asked twice, copied aside once.
      expect(
        readdirSync(dir).filter((f) => f.includes(`${PAYOUT_KEY_FILE}.unreadable-`)),
      ).toHaveLength(1);
      const pk2 = Wallet.createRandom().privateKey;
      const s4 = await w2.importSecret({ privateKey: pk2 });
      expect(s4.payout?.address).toBe(new Wallet(pk2).address);
      expect(
        readdirSync(dir).filter((f) => f.startsWith(`${PAYOUT_KEY_FILE}.replaced-`)),
      ).toHaveLength(2);
      // An external payout address: no key kept for it, nothing to withdraw from it here.
      const ext = Wallet.createRandom().address;
      const s3 = await w.setPayout(ext);
      expect(s3.payout).toMatchObject({ address: ext, kind: 'external', managed: false });
    } finally {
      settings = saved;
      await cleanup();
    }
  });
});

describe('payout wallet under Electron (FAKE safeStorage: no Electron binary here)', () => {
  it('is kept by the keychain like the node key, and a headless start cannot open it', async () => {
    const { dir, cleanup } = await tempDir('idlerig-wallet-keychain-');
    try {
      const box = fakeKeychain();
      const store = new PayoutKeyStore(dir, { kind: 'safeStorage', box });
      const pk = Wallet.createRandom().privateKey;
      const key = await store.importSecret({ privateKey: pk });
      const text = readFileSync(join(dir, PAYOUT_KEY_FILE), 'utf8');
      expect(JSON.parse(text)).toMatchObject({
        format: 'idlerig-node-key-safestorage',
        address: key.address,
      });
      expect(text).not.toContain(pk.slice(2));
      expect((await new PayoutKeyStore(dir, { kind: 'safeStorage', box }).open())?.address).toBe(
        key.address,
      );
      expect(await code(new PayoutKeyStore(dir, protection).open())).toMatch(
        /^KEY_LOCKED: The payout wallet key in .* is protected by the desktop app's keychain/,
      );
    } finally {
      await cleanup();
    }
  });
});

describe('earnings, claim and withdrawal', () => {
  it('shows earnings from vouchers, claims them to the payout wallet, withdraws exactly the amount', async () => {
    const w = service();
    const payoutAddr = settings.payoutAddress!;
    const prices = [12_345n, 20_000n, 7_655n];
    for (const price of prices) {
      const { voucher } = await payer.pay(nodeKey.address, price);
      await book.accept(voucher, { payer: operator.address });
    }
    const total = prices.reduce((a, b) => a + b, 0n);
    const before = await w.status();
    expect(before.problem).toBeNull();
    expect(before.earnings).toEqual([
      {
        token: { address: d.tokenAddress, symbol: 'IDD', decimals: 6 },
        earned: total.toString(),
        claimable: total.toString(),
        claimed: '0',
        withdrawn: '0',
      },
    ]);
    // Per gateway: the one channel, with what is at risk in it (nothing here).
    expect(before.channels).toEqual([
      expect.objectContaining({
        gateway: 'wss://gw.test',
        earned: total.toString(),
        claimable: total.toString(),
        unbacked: '0',
        unlockAt: null,
      }),
    ]);

    const claim = await w.claim();
    expect(claim).toMatchObject({
      kind: 'claim',
      state: 'confirmed',
      value: { amount: total.toString() },
    });
    expect(await d.token(d.owner).balanceOf(payoutAddr)).toBe(total);
    expect(await w.claim()).toBeNull(); // nothing more owed
    const after = await w.status();
    expect(after.earnings[0]).toMatchObject({ claimable: '0', claimed: total.toString() });
    const tokenBal = after.payout!.balances!.find((b) => b.token.address === d.tokenAddress);
    expect(tokenBal?.amount).toBe(total.toString());

    // The payout wallet pays its own gas.
    await (
      await devWallet(d.anvil, 1).sendTransaction({ to: payoutAddr, value: 10n ** 17n })
    ).wait();
    const external = Wallet.createRandom().address;
    const quote = await w.withdrawQuote({ to: external, amount: '10000' });
    expect(quote).toMatchObject({
      from: payoutAddr,
      to: external,
      value: { amount: '10000', token: { symbol: 'IDD', decimals: 6 } },
      available: { amount: total.toString() },
    });
    expect(BigInt(quote.fee.amount)).toBeGreaterThan(0n);
    expect(quote.fee.token.symbol).toBe('ETH');

    const tx = await w.withdraw({ to: external, amount: '10000' });
    expect(tx).toMatchObject({
      kind: 'withdraw',
      state: 'confirmed',
      to: external,
      explorerUrl: null,
    });
    expect(await d.token(d.owner).balanceOf(external)).toBe(10_000n);
    expect(await d.token(d.owner).balanceOf(payoutAddr)).toBe(total - 10_000n);
    // Everything else (no amount): the rest, exactly.
    await w.withdraw({ to: external });
    expect(await d.token(d.owner).balanceOf(external)).toBe(total);
    expect(await d.token(d.owner).balanceOf(payoutAddr)).toBe(0n);
    const final = await w.status();
    expect(final.earnings[0]?.withdrawn).toBe(total.toString());
    expect(final.transactions.slice(0, 3).map((t) => [t.kind, t.state])).toEqual([
      ['withdraw', 'confirmed'],
      ['withdraw', 'confirmed'],
      ['claim', 'confirmed'],
    ]);
    // The history is on disk: a new service reads it back.
    expect((await service().status()).transactions).toHaveLength(final.transactions.length);
  });

  it('a claim the watchtower made by itself joins the history when the wallet sees it', async () => {
    const w = service();
    const { voucher } = await payer.pay(nodeKey.address, 4_321n);
    await book.accept(voucher, { payer: operator.address });
    const watched = await payments.claimNow(); // the node's claimer, not the wallet
    const s = await w.status();
    expect(s.transactions[0]).toMatchObject({
      hash: watched!.txHash,
      kind: 'claim',
      state: 'confirmed',
      sentAt: watched!.at,
      value: { amount: '4321', token: { symbol: 'IDD' } },
    });
    expect((await w.status()).transactions.filter((t) => t.hash === watched!.txHash)).toHaveLength(
      1,
    );
    // Sent on to the external address it went to before, so the next test starts from zero.
    await w.withdraw({ to: Wallet.createRandom().address });
  });

  it('refuses a bad address, too much, nothing, and the address the funds are in, in words', async () => {
    const w = service();
    const ext = Wallet.createRandom().address;
    expect(await code(w.withdrawQuote({ to: '0x12' }))).toBe(
      'INVALID_PARAMS: Not an address: 0x12',
    );
    expect(await code(w.withdraw({ to: ext }))).toBe(
      'INVALID_PARAMS: There is nothing to withdraw',
    );
    expect(await code(w.withdraw({ to: ext, amount: '1' }))).toBe(
      'INVALID_PARAMS: That is more than the 0 IDD available',
    );
    expect(
      await code(w.withdrawQuote({ to: ext, token: 'gas', amount: (10n ** 30n).toString() })),
    ).toMatch(/^INVALID_PARAMS: That is more than the 0\.\d+ ETH available$/);
    expect(await code(w.withdrawQuote({ to: settings.payoutAddress! }))).toBe(
      'INVALID_PARAMS: That is the address the funds are already in',
    );
  });
});

describe('transaction history', () => {
  it('a reverted transaction is failed with the reason; pending ones settle after a restart', async () => {
    const { dir, cleanup } = await tempDir('idlerig-wallet-txs-');
    try {
      const file = join(dir, TX_HISTORY_FILE);
      const history = await TxHistory.open(file);
      const sender = devWallet(d.anvil, 6);
      await d.token(d.owner).mint(sender.address, 500n);
      const balances = new Balances(d.anvil.provider);
      const withdrawals = new Withdrawals(
        d.anvil.provider,
        balances,
        history,
        Number(d.anvil.chainId),
      );
      const to = Wallet.createRandom().address;
      const plan = await withdrawals.quote(sender.address, { to, amount: '500' }, d.tokenAddress);
      plan.amount = 10n ** 20n; // more than it holds: mined, and reverted by the token
      const failed = await withdrawals.send(sender, plan);
      expect(failed.state).toBe('failed');
      expect(failed.error).toBeTruthy();
      expect(failed.blockNumber).toBeGreaterThan(0);

      // Written as pending, then the process "dies" before waiting: the next open settles it.
      const sent = await sender.sendTransaction({ to, value: 1n });
      await history.add({
        hash: sent.hash,
        kind: 'withdraw',
        chainId: 31337,
        from: sender.address,
        to,
        value: null,
      });
      const lost = `0x${'ab'.repeat(32)}`;
      await history.add({
        hash: lost,
        kind: 'withdraw',
        chainId: 31337,
        from: sender.address,
        to,
        value: null,
      });
      const later = await TxHistory.open(file, () => new Date(Date.now() + 3_600_000));
      expect(later.get(sent.hash)?.state).toBe('pending');
      await later.recheck(d.anvil.provider);
      expect(later.get(sent.hash)).toMatchObject({ state: 'confirmed' });
      expect(later.get(lost)).toMatchObject({
        state: 'failed',
        error: 'The chain dropped the transaction',
      });
    } finally {
      await cleanup();
    }
  });

  it('an empty, half-written or invalid history file is kept aside and the history starts over', async () => {
    const { dir, cleanup } = await tempDir('idlerig-wallet-txs-bad-');
    try {
      const file = join(dir, TX_HISTORY_FILE);
      for (const bad of [
        '',
        '{"format":"idlerig-wallet-txs","version":1,"transac',
        '{"format":1}',
      ]) {
        writeFileSync(file, bad);
        const h = await TxHistory.open(file);
        expect(h.recoveredFrom?.backup).toMatch(/wallet-txs\.json\.corrupt-/);
        expect(h.list()).toEqual([]);
        await h.add({
          hash: `0x${'cd'.repeat(32)}`,
          kind: 'claim',
          chainId: 8453,
          from: Wallet.createRandom().address,
          to: Wallet.createRandom().address,
          value: null,
        });
        const reread = await TxHistory.open(file);
        expect(reread.list()[0]).toMatchObject({
          state: 'pending',
          explorerUrl: `https://basescan.org/tx/0x${'cd'.repeat(32)}`,
        });
      }
      expect(readdirSync(dir).filter((f) => f.includes('.corrupt-'))).toHaveLength(3);
      expect(explorerTxUrl(31337, '0x00')).toBeNull();
    } finally {
      await cleanup();
    }
  });
});

describe('the chain given on the command line', () => {
  it('is the chain the status names, when the settings hold none (--chain-rpc / --hub)', async () => {
    const cli = settings.chain!;
    const w = new WalletService({
      dataDir: tmp.dir,
      protection,
      nodeKey: async () => nodeKey,
      settings: () => ({ ...settings, chain: null }),
      chain: () => cli,
      setPayoutAddress: async () => undefined,
      payments: () => payments,
    });
    const s = await w.status();
    expect(s).toMatchObject({ chainId: cli.chainId, hub: cli.hub });
    expect(s.problem ?? '').not.toMatch(/No payment chain/);
  });
});
