// PaymentHub on a real chain (anvil) through ethers v6: deposits, cumulative vouchers, claims,
// the timelocked exit, and the attacks audits of payment channels found (replay across chains,
// contracts and epochs; malleable and short signatures; reentrant tokens; fee-on-transfer).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContractFactory,
  Interface,
  Signature,
  concat,
  toBeHex,
  type HDNodeWallet,
  type TransactionReceipt,
} from 'ethers';
import { hubDomain, type SignedVoucher } from '../../shared/payments';
import { deployHub, HubClient, PaymentHub, signVoucher, TokenClient } from '../../contracts/client';
import { ReentrantToken } from '../../contracts/generated/test/ReentrantToken';
import { FeeOnTransferToken } from '../../contracts/generated/test/FeeOnTransferToken';
import { devWallet, revertOf, startChain, UNLOCK_DELAY, type Deployed } from './chain';

const hubIface = new Interface(PaymentHub.abi);
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function events(receipt: TransactionReceipt, name: string): Record<string, unknown>[] {
  return receipt.logs
    .map((l) => {
      try {
        return hubIface.parseLog(l);
      } catch {
        return null;
      }
    })
    .filter((e) => e?.name === name)
    .map((e) => e!.args.toObject());
}

let d: Deployed;
let payer: HDNodeWallet;
let provider: HDNodeWallet;
let payout: HDNodeWallet;
let relayer: HDNodeWallet;
let payer2: HDNodeWallet;
let payer3: HDNodeWallet;

beforeAll(async () => {
  d = await startChain();
  [payer, provider, payout, relayer, payer2, payer3] = [1, 2, 3, 4, 5, 6].map((i) =>
    devWallet(d.anvil, i),
  ) as [HDNodeWallet, HDNodeWallet, HDNodeWallet, HDNodeWallet, HDNodeWallet, HDNodeWallet];
  for (const p of [payer, payer2, payer3]) await d.token(d.owner).mint(p.address, 1_000_000_000n);
  await d.hub(provider).setPayout(payout.address);
});
afterAll(async () => d?.anvil.stop());

async function voucher(
  from: HDNodeWallet,
  cumulative: bigint,
  opts: { epoch?: number; chainId?: bigint; hub?: string; to?: string } = {},
): Promise<SignedVoucher> {
  const domain = hubDomain(opts.chainId ?? d.anvil.chainId, opts.hub ?? d.hubAddress);
  return signVoucher(from, domain, {
    payer: from.address,
    provider: opts.to ?? provider.address,
    token: d.tokenAddress,
    epoch: opts.epoch ?? 0,
    cumulative,
  });
}

const balance = (who: string) => d.token(d.owner).balanceOf(who);

describe('PaymentHub', () => {
  it('refuses a timelock shorter than the minimum', async () => {
    const factory = new ContractFactory(PaymentHub.abi, PaymentHub.bytecode, d.owner);
    expect(await revertOf(factory.deploy(d.owner.address, 60))).toBe('UnlockDelayTooShort');
  });

  it('happy path: deposit, two cumulative vouchers, claims by anyone pay the difference to the payout address', async () => {
    const r = await d.hub(payer).deposit(provider.address, d.tokenAddress, 100_000n);
    expect(events(r, 'Deposited')[0]).toMatchObject({
      amount: 100_000n,
      deposited: 100_000n,
      epoch: 0n,
    });
    expect(await d.hub(payer).channel(payer.address, provider.address, d.tokenAddress)).toEqual({
      deposited: 100_000n,
      claimed: 0n,
      epoch: 0,
      unlockAt: 0,
    });
    const before = await balance(payout.address);
    const c1 = await d.hub(relayer).claim(await voucher(payer, 30_000n));
    expect(events(c1, 'Claimed')[0]).toMatchObject({
      amount: 30_000n,
      claimed: 30_000n,
      payout: payout.address,
    });
    await d.hub(relayer).claim(await voucher(payer, 70_000n));
    expect((await balance(payout.address)) - before).toBe(70_000n);
    expect(await balance(provider.address)).toBe(0n);
    expect(await balance(relayer.address)).toBe(0n);
    expect(
      (await d.hub(payer).channel(payer.address, provider.address, d.tokenAddress)).claimed,
    ).toBe(70_000n);
  });

  it('a lower or repeated cumulative pays nothing (and does not revert)', async () => {
    const before = await balance(payout.address);
    const stale = await voucher(payer, 50_000n);
    expect(await d.hub(relayer).claimable(stale)).toBe(0n);
    const r = await d.hub(relayer).claim(stale);
    expect(events(r, 'Claimed')).toEqual([]);
    await d.hub(relayer).claim(await voucher(payer, 70_000n));
    expect(await balance(payout.address)).toBe(before);
  });

  it('a voucher beyond the deposit pays only what is locked; the rest after a top-up', async () => {
    const v = await voucher(payer, 130_000n);
    const before = await balance(payout.address);
    await d.hub(relayer).claim(v);
    expect((await balance(payout.address)) - before).toBe(30_000n); // 100,000 locked - 70,000 claimed
    const ch = await d.hub(payer).channel(payer.address, provider.address, d.tokenAddress);
    expect(ch.claimed).toBe(ch.deposited); // never more claimed than transferred
    await d.hub(payer).deposit(provider.address, d.tokenAddress, 50_000n);
    await d.hub(relayer).claim(v);
    expect((await balance(payout.address)) - before).toBe(60_000n);
  });

  it('refuses a voucher signed by someone else than the payer', async () => {
    const forged = { ...(await voucher(relayer, 500_000n)), payer: payer.address };
    expect(await revertOf(d.hub(relayer).claim(forged))).toBe('WrongSigner');
  });

  it('refuses high-s (malleable), 64-byte (EIP-2098) and zero-signer signatures', async () => {
    const v = await voucher(payer, 140_000n);
    const sig = Signature.from(v.signature);
    // The same signature's twin (s' = n - s, v flipped) recovers the same signer: malleable.
    const highS = concat([
      sig.r,
      toBeHex(SECP256K1_N - BigInt(sig.s), 32),
      toBeHex(sig.v === 27 ? 28 : 27, 1),
    ]);
    expect(await revertOf(d.hub(relayer).claim({ ...v, signature: highS }))).toBe(
      'ECDSAInvalidSignatureS',
    );
    expect(await revertOf(d.hub(relayer).claim({ ...v, signature: sig.compactSerialized }))).toBe(
      'ECDSAInvalidSignatureLength',
    );
    const zero = `0x${'00'.repeat(64)}1b`;
    expect(await revertOf(d.hub(relayer).claim({ ...v, signature: zero }))).toBe(
      'ECDSAInvalidSignature',
    );
    // The well-formed signature of the same voucher still pays.
    const before = await balance(payout.address);
    await d.hub(relayer).claim(v);
    expect((await balance(payout.address)) - before).toBe(10_000n);
  });

  it('a voucher for another contract does not pay on this one', async () => {
    const otherHub = await deployHub(d.owner, {
      unlockDelay: UNLOCK_DELAY,
      tokens: [d.tokenAddress],
    });
    await new HubClient(otherHub, payer2).deposit(provider.address, d.tokenAddress, 10_000n);
    const forHub1 = await voucher(payer2, 10_000n);
    expect(await revertOf(new HubClient(otherHub, relayer).claim(forHub1))).toBe('WrongSigner');
    const forHub2 = await voucher(payer2, 10_000n, { hub: otherHub });
    await new HubClient(otherHub, relayer).claim(forHub2);
    expect(
      (
        await new HubClient(otherHub, relayer).channel(
          payer2.address,
          provider.address,
          d.tokenAddress,
        )
      ).claimed,
    ).toBe(10_000n);
  });

  it('a voucher for another chain id does not pay, even on a hub at the same address', async () => {
    // A second chain where the same deployer, nonce for nonce, puts the token and hub at the
    // very same addresses: the classic cross-chain replay.
    const other = await startChain(31338);
    try {
      expect(other.hubAddress).toBe(d.hubAddress);
      expect(other.tokenAddress).toBe(d.tokenAddress);
      const p = devWallet(other.anvil, 1);
      await other.token(other.owner).mint(p.address, 50_000n);
      await other.hub(p).deposit(provider.address, other.tokenAddress, 50_000n);
      const mainChainVoucher = await voucher(payer, 50_000n); // chainId 31337, payer == p
      expect(await revertOf(other.hub(devWallet(other.anvil, 4)).claim(mainChainVoucher))).toBe(
        'WrongSigner',
      );
      const right = await voucher(payer, 50_000n, { chainId: 31338n });
      await other.hub(devWallet(other.anvil, 4)).claim(right);
      expect(await other.token(other.owner).balanceOf(provider.address)).toBe(50_000n);
    } finally {
      await other.anvil.stop();
    }
  });

  it('unlock → timelock → withdraw: the provider claims during the timelock; afterwards old vouchers pay nothing', async () => {
    const hub = d.hub(payer3);
    await hub.deposit(provider.address, d.tokenAddress, 80_000n);
    await hub.claim(await voucher(payer3, 10_000n));
    const latest = await voucher(payer3, 45_000n);
    const ur = await hub.requestUnlock(provider.address, d.tokenAddress);
    const [req] = events(ur, 'UnlockRequested');
    const block = await d.anvil.provider.getBlock(ur.blockNumber);
    expect(req).toMatchObject({ epoch: 0n, unlockAt: BigInt(block!.timestamp + UNLOCK_DELAY) });
    expect(await revertOf(hub.withdraw(provider.address, d.tokenAddress))).toBe('UnlockPending');

    await d.anvil.increaseTime(UNLOCK_DELAY / 2);
    const before = await balance(payout.address);
    await d.hub(provider).claim(latest); // the watchtower's claim, inside the timelock
    expect((await balance(payout.address)) - before).toBe(35_000n);

    await d.anvil.increaseTime(UNLOCK_DELAY / 2);
    const payerBefore = await balance(payer3.address);
    const wr = await hub.withdraw(provider.address, d.tokenAddress);
    expect(events(wr, 'Withdrawn')[0]).toMatchObject({ epoch: 0n, amount: 35_000n });
    expect((await balance(payer3.address)) - payerBefore).toBe(35_000n);
    expect(await hub.channel(payer3.address, provider.address, d.tokenAddress)).toEqual({
      deposited: 0n,
      claimed: 0n,
      epoch: 1,
      unlockAt: 0,
    });

    // Nothing more is paid: the old epoch's vouchers are refused, even with fresh funds locked.
    await hub.deposit(provider.address, d.tokenAddress, 80_000n);
    const old = await voucher(payer3, 80_000n);
    expect(await revertOf(d.hub(relayer).claim(old))).toBe('WrongEpoch');
    expect(await revertOf(d.hub(relayer).claim(latest))).toBe('WrongEpoch');
    expect(await balance(payout.address)).toBe(before + 35_000n);
    // A voucher of the new epoch starts from zero again.
    await d.hub(relayer).claim(await voucher(payer3, 5_000n, { epoch: 1 }));
    expect(await balance(payout.address)).toBe(before + 40_000n);
  });

  it('withdraw needs an unlock request; cancelUnlock keeps the channel', async () => {
    const hub = d.hub(payer3);
    expect(await revertOf(hub.withdraw(provider.address, d.tokenAddress))).toBe(
      'UnlockNotRequested',
    );
    await hub.requestUnlock(provider.address, d.tokenAddress);
    const cr = await hub.cancelUnlock(provider.address, d.tokenAddress);
    expect(events(cr, 'UnlockCancelled')).toHaveLength(1);
    await d.anvil.increaseTime(UNLOCK_DELAY + 1);
    expect(await revertOf(hub.withdraw(provider.address, d.tokenAddress))).toBe(
      'UnlockNotRequested',
    );
  });

  it('claimBatch pays several channels in one transaction, skipping stale vouchers', async () => {
    const prov = devWallet(d.anvil, 7);
    const payers = [payer, payer2, payer3];
    for (const p of payers) await d.hub(p).deposit(prov.address, d.tokenAddress, 20_000n);
    const epochs = await Promise.all(
      payers.map(
        async (p) => (await d.hub(p).channel(p.address, prov.address, d.tokenAddress)).epoch,
      ),
    );
    const vs = await Promise.all(
      payers.map((p, i) =>
        voucher(p, BigInt(5_000 * (i + 1)), { to: prov.address, epoch: epochs[i] }),
      ),
    );
    await d.hub(relayer).claim(vs[0]!); // already claimed: stale in the batch
    const r = await d.hub(relayer).claimBatch(vs);
    expect(events(r, 'Claimed').map((e) => e.amount)).toEqual([10_000n, 15_000n]);
    expect(await balance(prov.address)).toBe(30_000n); // no payout set: the provider itself
  });

  it('only the owner manages the token allow-list; deposits need an allowed token', async () => {
    const other = await new ContractFactory(
      FeeOnTransferToken.abi,
      FeeOnTransferToken.bytecode,
      payer,
    ).deploy();
    const otherAddress = await other.getAddress();
    expect(await revertOf(d.hub(payer).deposit(provider.address, otherAddress, 1_000n))).toBe(
      'TokenNotAllowed',
    );
    expect(await revertOf(d.hub(payer).setTokenAllowed(otherAddress, true))).toBe(
      'OwnableUnauthorizedAccount',
    );
    const r = await d.hub(d.owner).setTokenAllowed(otherAddress, true);
    expect(events(r, 'TokenAllowed')[0]).toMatchObject({ token: otherAddress, allowed: true });
    // Allow-listed by mistake, a fee-on-transfer token is still refused by the balance check.
    expect(await revertOf(d.hub(payer).deposit(provider.address, otherAddress, 1_000n))).toBe(
      'FeeOnTransfer',
    );
  });

  it('a delisted token stays claimable and withdrawable (the owner freezes nobody)', async () => {
    const prov = devWallet(d.anvil, 8);
    await d.hub(payer2).deposit(prov.address, d.tokenAddress, 9_000n);
    await d.hub(d.owner).setTokenAllowed(d.tokenAddress, false);
    try {
      expect(await revertOf(d.hub(payer2).deposit(prov.address, d.tokenAddress, 1n))).toBe(
        'TokenNotAllowed',
      );
      await d.hub(relayer).claim(await voucher(payer2, 4_000n, { to: prov.address }));
      await d.hub(payer2).requestUnlock(prov.address, d.tokenAddress);
      await d.anvil.increaseTime(UNLOCK_DELAY);
      await d.hub(payer2).withdraw(prov.address, d.tokenAddress);
      expect(await balance(prov.address)).toBe(4_000n);
    } finally {
      await d.hub(d.owner).setTokenAllowed(d.tokenAddress, true);
    }
  });

  it('refuses a deposit that would overflow the packed channel, and only the owner mints demo tokens', async () => {
    const whale = devWallet(d.anvil, 11);
    await d.token(d.owner).mint(whale.address, 2n ** 96n);
    expect(await revertOf(d.hub(whale).deposit(provider.address, d.tokenAddress, 2n ** 96n))).toBe(
      'AmountTooLarge',
    );
    expect(await d.token(d.owner).balanceOf(whale.address)).toBe(2n ** 96n); // nothing moved
    expect(await revertOf(d.token(whale).mint(whale.address, 1n))).toBe(
      'OwnableUnauthorizedAccount',
    );
  });

  it('setPayout emits PayoutSet and redirects later claims', async () => {
    const prov = devWallet(d.anvil, 9);
    const r = await d.hub(prov).setPayout(payout.address);
    expect(events(r, 'PayoutSet')[0]).toMatchObject({
      provider: prov.address,
      payout: payout.address,
    });
    expect(await d.hub(relayer).payoutOf(prov.address)).toBe(payout.address);
  });
});

describe('PaymentHub against a reentrant token', () => {
  it('a token that re-enters claim or withdraw during its transfer cannot be paid twice', async () => {
    const evil = await new ContractFactory(
      ReentrantToken.abi,
      ReentrantToken.bytecode,
      payer,
    ).deploy();
    const evilAddress = await evil.getAddress();
    await d.hub(d.owner).setTokenAllowed(evilAddress, true);
    const evilToken = new TokenClient(evilAddress, payer);
    const prov = devWallet(d.anvil, 10);
    await d.hub(payer).deposit(prov.address, evilAddress, 100_000n);
    const domain = hubDomain(d.anvil.chainId, d.hubAddress);
    const v = await signVoucher(payer, domain, {
      payer: payer.address,
      provider: prov.address,
      token: evilAddress,
      epoch: 0,
      cumulative: 60_000n,
    });
    const again = hubIface.encodeFunctionData('claim', [
      v.payer,
      v.provider,
      v.token,
      v.epoch,
      v.cumulative,
      v.signature,
    ]);
    const arm = evil.getFunction('arm');
    await (await arm(d.hubAddress, again)).wait();
    await d.hub(relayer).claim(v);
    expect(await evil.getFunction('attempted')()).toBe(true);
    expect(await evil.getFunction('refused')()).toBe(true);
    const refusal = (await evil.getFunction('refusal')()) as string;
    expect(hubIface.parseError(refusal)?.name).toBe('ReentrancyGuardReentrantCall');
    expect(await evilToken.balanceOf(prov.address)).toBe(60_000n);
    expect(await evilToken.balanceOf(d.hubAddress)).toBe(40_000n);

    // Re-entering claim (with a higher voucher) while the payer withdraws: refused too.
    const higher = await signVoucher(payer, domain, { ...v, cumulative: 100_000n });
    await (
      await arm(
        d.hubAddress,
        hubIface.encodeFunctionData('claim', [
          higher.payer,
          higher.provider,
          higher.token,
          higher.epoch,
          higher.cumulative,
          higher.signature,
        ]),
      )
    ).wait();
    await d.hub(payer).requestUnlock(prov.address, evilAddress);
    await d.anvil.increaseTime(UNLOCK_DELAY);
    await d.hub(payer).withdraw(prov.address, evilAddress);
    expect(await evil.getFunction('refused')()).toBe(true);
    expect(await evilToken.balanceOf(prov.address)).toBe(60_000n);
    expect(await evilToken.balanceOf(d.hubAddress)).toBe(0n);
  });
});
