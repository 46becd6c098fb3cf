// The provider's credit limit towards one gateway (payer) in one token: whether to take its next
// job, decided from the latest voucher it holds and the channel as its own RPC reads it. It stops
// taking work when the payer is leaving (unlock requested), when what is earned but not yet
// claimed reaches the limit, or when the lock cannot cover the job's price.
import { claimableFrom, type ChannelState, type Voucher } from '../../../shared/payments';

export type CreditRefusal = 'no-channel' | 'unlocking' | 'credit-limit' | 'lock-exhausted';

export interface CreditDecision {
  accept: boolean;
  reason: CreditRefusal | null;
  /** Earned and payable but not yet claimed. */
  unclaimed: bigint;
  /** What the lock can still cover beyond the latest voucher. */
  headroom: bigint;
}

export function creditDecision(input: {
  channel: ChannelState;
  /** The latest voucher held for this channel (null: none yet). */
  latest: Pick<Voucher, 'epoch' | 'cumulative'> | null;
  /** Most unclaimed earnings to carry for one payer and token. */
  limit: bigint;
  /** The price of the job being considered (its worst case). */
  price: bigint;
}): CreditDecision {
  const { channel: ch, latest, limit, price } = input;
  const promised = latest && latest.epoch === ch.epoch ? latest.cumulative : 0n;
  const unclaimed = latest ? claimableFrom(ch, latest) : 0n;
  const headroom = ch.deposited > promised ? ch.deposited - promised : 0n;
  const refuse = (reason: CreditRefusal): CreditDecision => ({
    accept: false,
    reason,
    unclaimed,
    headroom,
  });
  if (ch.deposited === 0n) return refuse('no-channel');
  if (ch.unlockAt > 0) return refuse('unlocking');
  if (unclaimed + price > limit) return refuse('credit-limit');
  if (headroom < price) return refuse('lock-exhausted');
  return { accept: true, reason: null, unclaimed, headroom };
}
