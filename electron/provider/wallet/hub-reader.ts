// The provider's own view of the payment hub, read from the RPC it is configured with (never from
// what a gateway says), and the claims it sends with its node key. The ABI is shared/payments.ts's
// HUB_PROVIDER_ABI: the provider node does not import contracts/.
import { Contract, type ContractRunner, type TransactionReceipt } from 'ethers';
import { IdlerigError } from '../../../shared/errors';
import { HUB_PROVIDER_ABI, type ChannelState, type SignedVoucher } from '../../../shared/payments';

export interface HubReader {
  readonly address: string;
  channel(payer: string, provider: string, token: string): Promise<ChannelState>;
  payoutOf(provider: string): Promise<string>;
}

export interface HubWriter extends HubReader {
  /** Claims the vouchers (one `claim`, or one `claimBatch` for several); waits for the receipt. */
  claim(vouchers: SignedVoucher[]): Promise<TransactionReceipt>;
}

function chainError(what: string, err: unknown): IdlerigError {
  const e = err as { shortMessage?: string; message?: string };
  return new IdlerigError(
    'CHAIN_UNAVAILABLE',
    `Could not ${what}: ${e?.shortMessage ?? e?.message ?? String(err)}`,
  );
}

/** A hub client over ethers. `runner` is a provider (reads) or a signer with one (claims too). */
export function hubContract(address: string, runner: ContractRunner): HubWriter {
  const c = new Contract(address, HUB_PROVIDER_ABI, runner);
  return {
    address,
    async channel(payer, provider, token) {
      try {
        const r = (await c.getFunction('channel')(payer, provider, token)) as {
          deposited: bigint;
          claimed: bigint;
          epoch: bigint;
          unlockAt: bigint;
        };
        return {
          deposited: r.deposited,
          claimed: r.claimed,
          epoch: Number(r.epoch),
          unlockAt: Number(r.unlockAt),
        };
      } catch (err) {
        throw chainError('read the payment channel', err);
      }
    },
    async payoutOf(provider) {
      try {
        return (await c.getFunction('payoutOf')(provider)) as string;
      } catch (err) {
        throw chainError('read the payout address', err);
      }
    },
    async claim(vouchers) {
      if (vouchers.length === 0) throw new IdlerigError('INVALID_PARAMS', 'Nothing to claim');
      const tuple = (v: SignedVoucher) =>
        [v.payer, v.provider, v.token, v.epoch, v.cumulative, v.signature] as const;
      try {
        const tx =
          vouchers.length === 1
            ? await c.getFunction('claim')(...tuple(vouchers[0]!))
            : await c.getFunction('claimBatch')(vouchers.map(tuple));
        const receipt = (await tx.wait()) as TransactionReceipt | null;
        if (!receipt) throw new Error('the transaction was dropped');
        return receipt;
      } catch (err) {
        throw chainError('claim', err);
      }
    },
  };
}
