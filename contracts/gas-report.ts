// Gas used by every hub operation, measured on a fresh anvil chain (gas is deterministic: the same
// sources, compiler settings and hardfork give the same figures). Used by bench/contracts-gas.ts
// (`npm run bench -- gas`) and asserted against the goals by test/contracts/gas.test.ts.
import { ContractFactory, HDNodeWallet } from 'ethers';
import { ANVIL_MNEMONIC, startAnvil } from './anvil';
import { deployDemoToken, HubClient, PaymentHub, signVoucher, TokenClient } from './client';
import { hubDomain, type SignedVoucher } from '../shared/payments';

/** The goals: a steady-state claim, and each channel a claimBatch adds. */
export const GAS_GOALS = { claimSteadyState: 60_000, claimBatchPerExtraChannel: 35_000 } as const;

export interface GasReport {
  deployHub: bigint;
  setPayout: bigint;
  depositOpen: bigint;
  depositTopUp: bigint;
  /** The first claim of a channel (to a payout address that already holds the token). */
  claimFirstInChannel: bigint;
  claimSteadyState: bigint;
  claimStale: bigint;
  claimBatch: Record<string, bigint>;
  claimBatchPerExtraChannel: bigint;
  requestUnlock: bigint;
  cancelUnlock: bigint;
  withdraw: bigint;
}

const BATCH = 5;

export async function measureGas(): Promise<GasReport> {
  const anvil = await startAnvil();
  try {
    const w = (i: number) =>
      HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(
        anvil.provider,
      );
    const owner = w(0);
    const provider = w(1);
    const payout = w(2);
    const relayer = w(3);
    const payers = Array.from({ length: BATCH }, (_, i) => w(4 + i));
    const tokenAddress = await deployDemoToken(owner, { decimals: 6 });
    const token = new TokenClient(tokenAddress, owner);
    const factory = new ContractFactory(PaymentHub.abi, PaymentHub.bytecode, owner);
    const deployed = await factory.deploy(owner.address, 3600);
    const deployReceipt = await deployed.deploymentTransaction()!.wait();
    const hubAddress = await deployed.getAddress();
    await new HubClient(hubAddress, owner).setTokenAllowed(tokenAddress, true);
    const hub = (x: HDNodeWallet) => new HubClient(hubAddress, x);
    const domain = hubDomain(anvil.chainId, hubAddress);
    const voucher = (p: HDNodeWallet, cumulative: bigint): Promise<SignedVoucher> =>
      signVoucher(p, domain, {
        payer: p.address,
        provider: provider.address,
        token: tokenAddress,
        epoch: 0,
        cumulative,
      });

    const setPayout = await hub(provider).setPayout(payout.address);
    // Payout already holds some of the token, as after any earlier claim (steady state).
    await token.mint(payout.address, 1n);
    for (const p of payers) {
      await token.mint(p.address, 10n ** 12n);
      await new TokenClient(tokenAddress, p).approve(hubAddress, 10n ** 12n);
    }
    const [p0] = payers as [HDNodeWallet];
    const depositOpen = await hub(p0).deposit(provider.address, tokenAddress, 1_000_000n);
    const depositTopUp = await hub(p0).deposit(provider.address, tokenAddress, 1_000_000n);
    const claimFirstInChannel = await hub(relayer).claim(await voucher(p0, 100_000n));
    const claimSteady = await hub(relayer).claim(await voucher(p0, 200_000n));
    const claimStale = await hub(relayer).claim(await voucher(p0, 150_000n));

    // Batches of 1..BATCH channels, each already claimed once (steady state).
    for (const p of payers.slice(1)) {
      await hub(p).deposit(provider.address, tokenAddress, 10_000_000n);
      await hub(relayer).claim(await voucher(p, 1_000n));
    }
    const claimBatch: Record<string, bigint> = {};
    let cumulative = 300_000n;
    for (let n = 1; n <= BATCH; n++) {
      const vs = await Promise.all(payers.slice(0, n).map((p) => voucher(p, cumulative)));
      claimBatch[String(n)] = (await hub(relayer).claimBatch(vs)).gasUsed;
      cumulative += 100_000n;
    }
    const perExtra = (claimBatch[String(BATCH)]! - claimBatch['1']!) / BigInt(BATCH - 1);

    const requestUnlock = await hub(p0).requestUnlock(provider.address, tokenAddress);
    const cancelUnlock = await hub(p0).cancelUnlock(provider.address, tokenAddress);
    await hub(p0).requestUnlock(provider.address, tokenAddress);
    await anvil.increaseTime(3600);
    const withdraw = await hub(p0).withdraw(provider.address, tokenAddress);

    return {
      deployHub: deployReceipt!.gasUsed,
      setPayout: setPayout.gasUsed,
      depositOpen: depositOpen.gasUsed,
      depositTopUp: depositTopUp.gasUsed,
      claimFirstInChannel: claimFirstInChannel.gasUsed,
      claimSteadyState: claimSteady.gasUsed,
      claimStale: claimStale.gasUsed,
      claimBatch,
      claimBatchPerExtraChannel: perExtra,
      requestUnlock: requestUnlock.gasUsed,
      cancelUnlock: cancelUnlock.gasUsed,
      withdraw: withdraw.gasUsed,
    };
  } finally {
    await anvil.stop();
  }
}
