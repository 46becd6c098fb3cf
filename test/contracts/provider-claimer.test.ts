// The provider's claimer / watchtower (electron/provider/wallet/claimer.ts) on anvil, fed by a
// real gateway payer's vouchers through the provider's voucher book: it claims by threshold, on a
// schedule, in one claimBatch across payers, and by itself when a payer requests an unlock —
// inside the timelock, so the payer's withdrawal takes back only what was never earned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Wallet, type HDNodeWallet } from 'ethers';
import { ChannelPayer } from '../../gateway/payments/payer';
import { PayerLedger } from '../../gateway/payments/ledger';
import { VoucherBook } from '../../electron/provider/wallet/vouchers';
import { hubContract } from '../../electron/provider/wallet/hub-reader';
import { Claimer, type ClaimPolicy } from '../../electron/provider/wallet/claimer';
import { tempDir } from '../helpers/tmp';
import { rpcProvider } from '../../contracts/anvil';
import { devWallet, startChain, UNLOCK_DELAY, type Deployed } from './chain';

let d: Deployed;
let provider: HDNodeWallet;
let payout: HDNodeWallet;
let operators: HDNodeWallet[];
let payers: ChannelPayer[];
let book: VoucherBook;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  d = await startChain();
  provider = devWallet(d.anvil, 2);
  payout = devWallet(d.anvil, 3);
  operators = [devWallet(d.anvil, 4), devWallet(d.anvil, 5)];
  tmp = await tempDir('idlerig-claimer-');
  await d.hub(provider).setPayout(payout.address);
  payers = [];
  for (const [i, op] of operators.entries()) {
    await d.token(d.owner).mint(op.address, 10_000_000n);
    const payer = new ChannelPayer({
      wallet: new Wallet(op.privateKey, d.anvil.provider),
      hub: d.hub(op),
      token: d.tokenAddress,
      chainId: d.anvil.chainId,
      ledger: await PayerLedger.open(join(tmp.dir, `ledger-${i}.json`)),
    });
    await payer.ensureChannel(provider.address, 100_000n);
    payers.push(payer);
  }
  book = await VoucherBook.open({
    file: join(tmp.dir, 'vouchers.json'),
    chainId: Number(d.anvil.chainId),
    hub: d.hubAddress,
    provider: provider.address,
    reader: hubContract(d.hubAddress, d.anvil.provider),
  });
});
afterAll(async () => {
  await d?.anvil.stop();
  await tmp?.cleanup();
});

/** A job of `price` from gateway `i`: the payer signs, the provider checks and stores. */
async function job(i: number, price: bigint): Promise<void> {
  const { voucher } = await payers[i]!.pay(provider.address, price);
  await book.accept(voucher, { payer: operators[i]!.address });
}

const paidOut = () => d.token(d.owner).balanceOf(payout.address);

function claimer(policy: Partial<ClaimPolicy>, now?: () => number): Claimer {
  return new Claimer({
    hub: hubContract(d.hubAddress, provider), // the node key sends and pays gas
    provider: provider.address,
    vouchers: () => book.latest(),
    policy: { threshold: null, scheduleMs: null, minClaim: 1n, ...policy },
    ...(now ? { now } : {}),
  });
}

describe('Claimer', () => {
  it('waits below the threshold, then claims all channels in one claimBatch', async () => {
    const c = claimer({ threshold: 10_000n });
    await job(0, 3_000n);
    await job(1, 4_000n);
    const quiet = await c.tick();
    expect(quiet.reason).toBeNull();
    expect(quiet.owed.map((o) => o.owed)).toEqual([3_000n, 4_000n]);
    await job(1, 3_500n);
    const before = await paidOut();
    const round = await c.tick();
    expect(round.reason).toBe('threshold');
    expect(round.claim).toMatchObject({ channels: 2, amount: 10_500n });
    expect((await paidOut()) - before).toBe(10_500n);
    // Claimed: nothing owed, nothing sent.
    expect((await c.tick()).claim).toBeNull();
  });

  it('claims on a schedule, leaving dust below minClaim', async () => {
    let now = 0;
    const c = claimer({ scheduleMs: 60_000, minClaim: 100n }, () => now);
    await job(0, 500n);
    await job(1, 50n);
    expect((await c.tick()).reason).toBeNull();
    now = 60_000;
    const before = await paidOut();
    const round = await c.tick();
    expect(round).toMatchObject({ reason: 'schedule', claim: { channels: 1, amount: 500n } });
    expect((await paidOut()) - before).toBe(500n);
    // claim now (the wallet's button) takes the dust too.
    const manual = await c.claimNow();
    expect(manual.claim).toMatchObject({ channels: 1, amount: 50n });
  });

  it('watching by itself, it claims inside the timelock when a payer requests an unlock', async () => {
    const c = claimer({ threshold: null, scheduleMs: null, minClaim: 1_000_000n });
    await job(0, 7_000n);
    c.start(100);
    try {
      const before = await paidOut();
      const op = operators[0]!;
      await d.hub(op).requestUnlock(provider.address, d.tokenAddress);
      // No threshold, no schedule, dust limit high: only the unlock makes it claim.
      await expect
        .poll(async () => (await paidOut()) - before, { timeout: 10_000, interval: 100 })
        .toBe(7_000n);
      const ch = await d.hub(op).channel(op.address, provider.address, d.tokenAddress);
      expect(ch.unlockAt).toBeGreaterThan(0); // still inside the timelock
      expect(Number((await d.anvil.provider.getBlock('latest'))!.timestamp)).toBeLessThan(
        ch.unlockAt,
      );
      await d.anvil.increaseTime(UNLOCK_DELAY);
      const opBefore = await d.token(d.owner).balanceOf(op.address);
      await d.hub(op).withdraw(provider.address, d.tokenAddress);
      // The payer takes back only what the provider never earned.
      expect((await d.token(d.owner).balanceOf(op.address)) - opBefore).toBe(
        100_000n - 3_000n - 500n - 7_000n,
      );
    } finally {
      await c.stop();
    }
  });

  it('a claim round on a chain it cannot reach fails with CHAIN_UNAVAILABLE; the loop keeps going', async () => {
    const warnings: object[] = [];
    const c = new Claimer({
      // An RPC nobody listens on.
      hub: hubContract(
        d.hubAddress,
        new Wallet(provider.privateKey, rpcProvider('http://127.0.0.1:9', d.anvil.chainId)),
      ),
      provider: provider.address,
      vouchers: () => book.latest(),
      policy: { threshold: 1n, scheduleMs: null, minClaim: 1n },
      log: { info: () => undefined, warn: (obj) => warnings.push(obj) },
    });
    await expect(c.tick()).rejects.toMatchObject({ code: 'CHAIN_UNAVAILABLE' });
    c.start(50);
    await expect.poll(() => warnings.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    await c.stop();
    expect(warnings[0]).toMatchObject({ code: 'CHAIN_UNAVAILABLE' });
  });
});
