// The gateway as payer (gateway/payments) on anvil: the operator wallet from the environment or
// an encrypted keystore, channels opened and topped up, cumulative vouchers that never exceed the
// lock, exhaustion that stops dispatch until a top-up, and a ledger that survives a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Wallet, type HDNodeWallet } from 'ethers';
import { voucherFromWire } from '../../shared/payments';
import type { IdlerigError } from '../../shared/errors';
import {
  createOperatorKeystore,
  loadOperatorWallet,
  OPERATOR_KEY_ENV,
  OPERATOR_PASSPHRASE_ENV,
} from '../../gateway/payments/operator-wallet';
import { PayerLedger } from '../../gateway/payments/ledger';
import { ChannelPayer } from '../../gateway/payments/payer';
import { tempDir } from '../helpers/tmp';
import { devWallet, startChain, type Deployed } from './chain';

let d: Deployed;
let operator: HDNodeWallet;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  d = await startChain();
  operator = devWallet(d.anvil, 1);
  await d.token(d.owner).mint(operator.address, 10_000_000n);
  tmp = await tempDir('idlerig-payer-');
});
afterAll(async () => {
  await d?.anvil.stop();
  await tmp?.cleanup();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as IdlerigError).code;
  }
  return 'resolved';
}

describe('operator wallet', () => {
  it('comes from IDLERIG_OPERATOR_KEY on servers', async () => {
    const w = await loadOperatorWallet({
      env: { [OPERATOR_KEY_ENV]: operator.privateKey.slice(2) },
    });
    expect(w.address).toBe(operator.address);
    expect(await codeOf(loadOperatorWallet({ env: { [OPERATOR_KEY_ENV]: '0x1234' } }))).toBe(
      'KEY_UNREADABLE',
    );
    expect(await codeOf(loadOperatorWallet({ env: {} }))).toBe('KEY_LOCKED');
  });

  it('or from an encrypted keystore and its passphrase, never in plain text', async () => {
    const file = join(tmp.dir, 'operator.json');
    const address = await createOperatorKeystore(file, 'correct horse', { scryptN: 1024 });
    const text = await import('node:fs/promises').then((fs) => fs.readFile(file, 'utf8'));
    const w = await loadOperatorWallet({
      env: { [OPERATOR_PASSPHRASE_ENV]: 'correct horse' },
      keystoreFile: file,
    });
    expect(w.address).toBe(address);
    expect(text).not.toContain(w.privateKey.slice(2));
    expect(await codeOf(loadOperatorWallet({ env: {}, keystoreFile: file }))).toBe('KEY_LOCKED');
    expect(
      await codeOf(loadOperatorWallet({ env: {}, keystoreFile: file, passphrase: 'wrong one' })),
    ).toBe('KEY_UNREADABLE');
    await writeFile(join(tmp.dir, 'junk.json'), '{"not":"a keystore"}');
    expect(
      await codeOf(
        loadOperatorWallet({ env: {}, keystoreFile: join(tmp.dir, 'junk.json'), passphrase: 'x' }),
      ),
    ).toBe('KEY_UNREADABLE');
    expect(await codeOf(createOperatorKeystore(join(tmp.dir, 'short.json'), 'short'))).toBe(
      'INVALID_PARAMS',
    );
  });
});

describe('ChannelPayer', () => {
  const provider = new Wallet('0x' + '07'.repeat(32)).address;
  const ledgerFile = () => join(tmp.dir, 'payer-ledger.json');
  const payerWith = async () =>
    new ChannelPayer({
      wallet: new Wallet(operator.privateKey, d.anvil.provider),
      hub: d.hub(operator),
      token: d.tokenAddress,
      chainId: d.anvil.chainId,
      ledger: await PayerLedger.open(ledgerFile()),
    });

  it('opens a channel, signs cumulative vouchers the hub pays, and never signs beyond the lock', async () => {
    const payer = await payerWith();
    expect(payer.canDispatch(provider)).toBe(false); // no channel yet
    await payer.ensureChannel(provider, 1_000n);
    expect(
      (await d.hub(operator).channel(operator.address, provider, d.tokenAddress)).deposited,
    ).toBe(1_000n);
    expect(payer.headroom(provider)).toBe(1_000n);

    const p1 = await payer.pay(provider, 300n);
    const p2 = await payer.pay(provider, 400n);
    expect(voucherFromWire(p1.voucher).voucher.cumulative).toBe(300n);
    expect(voucherFromWire(p2.voucher).voucher.cumulative).toBe(700n);
    expect(p2.unpaid).toBe(0n);
    expect(payer.canDispatch(provider, 300n)).toBe(true);
    expect(payer.canDispatch(provider, 301n)).toBe(false);

    // Exhausted: the voucher covers the lock and no more; the rest is owed.
    const p3 = await payer.pay(provider, 500n);
    expect(voucherFromWire(p3.voucher).voucher.cumulative).toBe(1_000n);
    expect(p3.unpaid).toBe(200n);
    expect(payer.canDispatch(provider)).toBe(false);
    const p4 = await payer.pay(provider, 50n);
    expect(p4.voucher).toBeNull(); // nothing new can be signed
    expect(p4.unpaid).toBe(250n);

    // The hub pays exactly the latest voucher.
    await d.hub(d.owner).claim(voucherFromWire(p3.voucher).voucher);
    expect(await d.token(d.owner).balanceOf(provider)).toBe(1_000n);

    // A top-up signs the owed remainder at once and frees dispatch again.
    const top = await payer.ensureChannel(provider, 500n);
    expect(voucherFromWire(top.voucher).voucher.cumulative).toBe(1_250n);
    expect(top.unpaid).toBe(0n);
    expect(payer.headroom(provider)).toBe(500n);
    expect(payer.canDispatch(provider)).toBe(true);
  });

  it('keeps its cumulative across a restart (the ledger is on disk before a voucher leaves)', async () => {
    const again = await payerWith();
    expect(voucherFromWire(again.latest(provider)).voucher.cumulative).toBe(1_250n);
    const p = await again.pay(provider, 10n);
    expect(voucherFromWire(p.voucher).voucher.cumulative).toBe(1_260n);
  });

  it('recovers from a damaged ledger by adopting the provider-held voucher it signed', async () => {
    const before = (await payerWith()).latest(provider)!;
    await writeFile(ledgerFile(), '{"format":"idlerig-payer-ledger","vers');
    const ledger = await PayerLedger.open(ledgerFile());
    expect(ledger.recoveredFrom?.problem).toMatch(/not valid JSON/);
    expect((await readdir(tmp.dir)).some((f) => f.startsWith('payer-ledger.json.corrupt-'))).toBe(
      true,
    );
    const payer = new ChannelPayer({
      wallet: new Wallet(operator.privateKey, d.anvil.provider),
      hub: d.hub(operator),
      token: d.tokenAddress,
      chainId: d.anvil.chainId,
      ledger,
    });
    const held = voucherFromWire(before).voucher;
    // A voucher someone else signed is not adopted.
    const forged = {
      ...held,
      signature: await new Wallet('0x' + '09'.repeat(32)).signMessage('x'),
    };
    expect(await payer.adopt(forged)).toBe(false);
    expect(await payer.adopt(held)).toBe(true);
    const p = await payer.pay(provider, 40n);
    expect(voucherFromWire(p.voucher).voucher.cumulative).toBe(1_300n);
  });

  it('starts from zero in the next epoch after the payer withdrew', async () => {
    const payer = await payerWith();
    const hub = d.hub(operator);
    await hub.requestUnlock(provider, d.tokenAddress);
    await d.anvil.increaseTime(3600);
    await hub.withdraw(provider, d.tokenAddress);
    await payer.ensureChannel(provider, 100n);
    const p = await payer.pay(provider, 25n);
    const v = voucherFromWire(p.voucher).voucher;
    expect(v).toMatchObject({ epoch: 1, cumulative: 25n });
    await hub.claim(v);
    // Epoch 0's unclaimed vouchers went back with the withdrawal (a provider's claimer claims
    // them during the timelock); only what was claimed and the new epoch's 25 reached it.
    expect(await d.token(d.owner).balanceOf(provider)).toBe(1_000n + 25n);
  });

  it('with no ledger at all, what the provider already claimed is the floor of the next voucher', async () => {
    const payer = new ChannelPayer({
      wallet: new Wallet(operator.privateKey, d.anvil.provider),
      hub: d.hub(operator),
      token: d.tokenAddress,
      chainId: d.anvil.chainId,
      ledger: await PayerLedger.open(join(tmp.dir, 'fresh-ledger.json')),
    });
    const p = await payer.pay(provider, 10n);
    expect(voucherFromWire(p.voucher).voucher).toMatchObject({ epoch: 1, cumulative: 35n });
    expect(await d.hub(operator).claimable(voucherFromWire(p.voucher).voucher)).toBe(10n);
  });

  it('refuses a negative payment', async () => {
    const payer = await payerWith();
    expect(() => payer.pay(provider, -1n)).toThrow(/negative/);
  });
});
