// Property tests of PaymentHub on anvil: random sequences of deposits, vouchers, claims (single
// and batched, latest and stale), unlock requests, clock moves and withdrawals, run against a
// small model. After every step the chain must agree with the model, the provider must never
// have been paid more than was deposited, and no token may appear or vanish; whenever a channel
// is in its timelock, the provider's latest voucher must still collect everything it is owed.
// Runs are bounded (a chain snapshot is restored between them) to keep the file near 30 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { HDNodeWallet } from 'ethers';
import { hubDomain, type SignedVoucher } from '../../shared/payments';
import { signVoucher } from '../../contracts/client';
import { devWallet, revertOf, startChain, UNLOCK_DELAY, type Deployed } from './chain';

type Op =
  | { kind: 'deposit'; payer: number; amount: bigint }
  | { kind: 'sign'; payer: number; increment: bigint }
  | { kind: 'claim'; payer: number; stale: boolean }
  | { kind: 'claimBatch' }
  | { kind: 'requestUnlock'; payer: number }
  | { kind: 'wait'; long: boolean }
  | { kind: 'withdraw'; payer: number };

const PAYERS = 2;
const payerArb = fc.integer({ min: 0, max: PAYERS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('deposit' as const),
      payer: payerArb,
      amount: fc.bigInt(1n, 50_000n),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('sign' as const),
      payer: payerArb,
      increment: fc.bigInt(0n, 30_000n),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('claim' as const),
      payer: payerArb,
      stale: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('claimBatch' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('requestUnlock' as const), payer: payerArb }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), long: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), payer: payerArb }) },
);

interface ModelChannel {
  deposited: bigint;
  claimed: bigint;
  epoch: number;
  /** 'none', or an unlock requested and its timelock still running, or past. */
  unlock: 'none' | 'pending' | 'open';
  vouchers: SignedVoucher[];
}

let d: Deployed;
let payers: HDNodeWallet[];
let provider: HDNodeWallet;
let payout: HDNodeWallet;
let relayer: HDNodeWallet;
let snapshot: string;
const FUNDS = 10n ** 12n;

beforeAll(async () => {
  d = await startChain();
  payers = Array.from({ length: PAYERS }, (_, i) => devWallet(d.anvil, 1 + i));
  provider = devWallet(d.anvil, 5);
  payout = devWallet(d.anvil, 6);
  relayer = devWallet(d.anvil, 7);
  await d.hub(provider).setPayout(payout.address);
  for (const p of payers) {
    await d.token(d.owner).mint(p.address, FUNDS);
    await d.token(p).approve(d.hubAddress, FUNDS);
  }
  snapshot = (await d.anvil.provider.send('evm_snapshot', [])) as string;
});
afterAll(async () => d?.anvil.stop());

async function run(ops: Op[]): Promise<void> {
  // Restore the funded, empty chain (a snapshot can be used once: take the next one at once).
  await d.anvil.provider.send('evm_revert', [snapshot]);
  snapshot = (await d.anvil.provider.send('evm_snapshot', [])) as string;
  const domain = hubDomain(d.anvil.chainId, d.hubAddress);
  const model: ModelChannel[] = payers.map(() => ({
    deposited: 0n,
    claimed: 0n,
    epoch: 0,
    unlock: 'none',
    vouchers: [],
  }));
  let totalDeposited = 0n;
  let totalWithdrawn = 0n;
  let totalPaid = 0n;
  const token = d.token(d.owner);
  const payoutStart = await token.balanceOf(payout.address);
  const latest = (m: ModelChannel): SignedVoucher | undefined => m.vouchers[m.vouchers.length - 1];
  const pays = (m: ModelChannel, v: SignedVoucher): bigint => {
    const capped = v.cumulative < m.deposited ? v.cumulative : m.deposited;
    return capped > m.claimed ? capped - m.claimed : 0n;
  };
  const settle = (m: ModelChannel, v: SignedVoucher): void => {
    const amount = pays(m, v);
    m.claimed += amount;
    totalPaid += amount;
  };

  for (const op of ops) {
    const i = 'payer' in op ? op.payer : 0;
    const p = payers[i]!;
    const m = model[i]!;
    switch (op.kind) {
      case 'deposit':
        await d.hub(p).deposit(provider.address, d.tokenAddress, op.amount);
        m.deposited += op.amount;
        totalDeposited += op.amount;
        break;
      case 'sign': {
        const cumulative = (latest(m)?.cumulative ?? 0n) + op.increment;
        m.vouchers.push(
          await signVoucher(p, domain, {
            payer: p.address,
            provider: provider.address,
            token: d.tokenAddress,
            epoch: m.epoch,
            cumulative,
          }),
        );
        break;
      }
      case 'claim': {
        const v = op.stale ? m.vouchers[0] : latest(m);
        if (!v) break;
        await d.hub(relayer).claim(v);
        settle(m, v);
        break;
      }
      case 'claimBatch': {
        const vs = model.map(latest).filter((v): v is SignedVoucher => v !== undefined);
        if (vs.length === 0) break;
        await d.hub(relayer).claimBatch(vs);
        model.forEach((mm) => latest(mm) && settle(mm, latest(mm)!));
        break;
      }
      case 'requestUnlock':
        if (m.deposited === 0n) {
          expect(await revertOf(d.hub(p).requestUnlock(provider.address, d.tokenAddress))).toBe(
            'NothingToWithdraw',
          );
          break;
        }
        await d.hub(p).requestUnlock(provider.address, d.tokenAddress);
        m.unlock = 'pending';
        break;
      case 'wait':
        // Short waits stay far inside the timelock; long ones pass it.
        await d.anvil.increaseTime(op.long ? UNLOCK_DELAY + 60 : 60);
        if (op.long) for (const mm of model) if (mm.unlock === 'pending') mm.unlock = 'open';
        break;
      case 'withdraw': {
        const w = d.hub(p).withdraw(provider.address, d.tokenAddress);
        if (m.unlock !== 'open') {
          expect(await revertOf(w)).toBe(
            m.unlock === 'none' ? 'UnlockNotRequested' : 'UnlockPending',
          );
          break;
        }
        await w;
        totalWithdrawn += m.deposited - m.claimed;
        Object.assign(m, {
          deposited: 0n,
          claimed: 0n,
          epoch: m.epoch + 1,
          unlock: 'none',
          vouchers: [],
        });
        break;
      }
    }

    // The chain agrees with the model, and money is conserved.
    for (let k = 0; k < PAYERS; k++) {
      const ch = await d.hub(relayer).channel(payers[k]!.address, provider.address, d.tokenAddress);
      const mm = model[k]!;
      expect(ch).toMatchObject({ deposited: mm.deposited, claimed: mm.claimed, epoch: mm.epoch });
      expect(ch.unlockAt > 0).toBe(mm.unlock !== 'none');
      expect(ch.claimed).toBeLessThanOrEqual(ch.deposited);
    }
    const paid = (await token.balanceOf(payout.address)) - payoutStart;
    expect(paid).toBe(totalPaid);
    expect(paid).toBeLessThanOrEqual(totalDeposited);
    expect(await token.balanceOf(d.hubAddress)).toBe(totalDeposited - totalPaid - totalWithdrawn);
  }

  // While a timelock runs, the provider's latest voucher collects all it is owed.
  for (let k = 0; k < PAYERS; k++) {
    const m = model[k]!;
    const v = latest(m);
    if (m.unlock !== 'pending' || !v) continue;
    const owed = pays(m, v);
    const before = await token.balanceOf(payout.address);
    await d.hub(provider).claim(v);
    expect((await token.balanceOf(payout.address)) - before).toBe(owed);
  }
}

describe('PaymentHub properties', () => {
  it('paid ≤ deposited, conservation, model agreement; the latest voucher collects during the timelock', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Every run ends with an unlock request from each payer, so the timelock claim is exercised.
        fc
          .array(opArb, { minLength: 4, maxLength: 18 })
          .map((ops) => [
            ...ops,
            ...payers.map((_, payer) => ({ kind: 'requestUnlock' as const, payer })),
            { kind: 'wait' as const, long: false },
          ]),
        run,
      ),
      { numRuns: 12, endOnFailure: true },
    );
  }, 120_000);
});
