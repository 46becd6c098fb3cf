// The provider's watchtower and claimer: it reads every channel it holds a voucher for from its
// own RPC and turns the latest vouchers into tokens (one claim, or one claimBatch for several)
// when a payer has requested an unlock (the claim must land inside the timelock), when the
// unclaimed total passes a threshold, or on a schedule. The node key sends the transaction and
// pays its gas; the hub pays the earnings to the payout address.
import { IdlerigError } from '../../../shared/errors';
import { claimableFrom, type SignedVoucher } from '../../../shared/payments';
import type { HubWriter } from './hub-reader';
import type { StoredVoucher } from './vouchers';

export type ClaimReason = 'unlock' | 'threshold' | 'schedule' | 'manual';

export interface ClaimPolicy {
  /** Claim when the unclaimed total (all channels of one token) reaches this; null: never. */
  threshold: bigint | null;
  /** Claim whatever is unclaimed this often (ms); null: no schedule. */
  scheduleMs: number | null;
  /** Channels owing less than this are left for later, unless a payer is leaving. */
  minClaim: bigint;
}

export interface ClaimerOptions {
  hub: HubWriter;
  /** This node's address (the provider of every channel). */
  provider: string;
  /** The latest vouchers to consider (the voucher book's). */
  vouchers: () => StoredVoucher[];
  policy: ClaimPolicy;
  now?: () => number;
  log?: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
}

export interface OwedChannel {
  voucher: StoredVoucher;
  owed: bigint;
  unlocking: boolean;
}

export interface ClaimRound {
  reason: ClaimReason | null;
  /** What was owed on chain before the round, channel by channel. */
  owed: OwedChannel[];
  /** The claim sent (null: nothing was due). */
  claim: null | { txHash: string; gasUsed: bigint; channels: number; amount: bigint };
}

export class Claimer {
  private lastScheduled: number;
  private running: Promise<ClaimRound> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ClaimerOptions) {
    this.lastScheduled = this.now();
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** What every channel owes now, read from the chain. */
  async owed(): Promise<OwedChannel[]> {
    const out: OwedChannel[] = [];
    for (const v of this.opts.vouchers()) {
      const ch = await this.opts.hub.channel(v.payer, this.opts.provider, v.token);
      const owed = claimableFrom(ch, v);
      if (owed > 0n) out.push({ voucher: v, owed, unlocking: ch.unlockAt > 0 });
    }
    return out;
  }

  /**
   * One round: decide, and claim if something is due. Rounds never overlap: a forced round (claim
   * now) asked while a watch round runs waits for it and then runs, so it is never swallowed.
   */
  tick(force: ClaimReason | null = null): Promise<ClaimRound> {
    if (this.running && force)
      return this.running.catch(() => undefined).then(() => this.tick(force));
    if (this.running) return this.running;
    this.running = this.round(force).finally(() => (this.running = null));
    return this.running;
  }

  /** Claims everything owed now (the wallet's "claim now"). */
  claimNow(): Promise<ClaimRound> {
    return this.tick('manual');
  }

  private async round(force: ClaimReason | null): Promise<ClaimRound> {
    const owed = await this.owed();
    const { policy } = this.opts;
    let reason: ClaimReason | null = force;
    if (!reason && owed.some((o) => o.unlocking)) reason = 'unlock';
    if (!reason && policy.threshold !== null) {
      const byToken = new Map<string, bigint>();
      for (const o of owed) {
        const t = o.voucher.token.toLowerCase();
        byToken.set(t, (byToken.get(t) ?? 0n) + o.owed);
      }
      if ([...byToken.values()].some((sum) => sum >= policy.threshold!)) reason = 'threshold';
    }
    if (
      !reason &&
      policy.scheduleMs !== null &&
      this.now() - this.lastScheduled >= policy.scheduleMs
    ) {
      reason = 'schedule';
    }
    if (reason === 'schedule' || reason === 'manual') this.lastScheduled = this.now();
    const due = owed.filter((o) => o.unlocking || reason === 'manual' || o.owed >= policy.minClaim);
    if (!reason || due.length === 0) return { reason: null, owed, claim: null };

    const vouchers: SignedVoucher[] = due.map((o) => o.voucher);
    const receipt = await this.opts.hub.claim(vouchers);
    const amount = due.reduce((s, o) => s + o.owed, 0n);
    const claim = { txHash: receipt.hash, gasUsed: receipt.gasUsed, channels: due.length, amount };
    this.opts.log?.info(
      { reason, ...claim, gasUsed: claim.gasUsed.toString(), amount: amount.toString() },
      'Claimed earnings',
    );
    return { reason, owed, claim };
  }

  /** Watches the chain every `pollMs` and claims when due; errors are logged, never thrown. */
  start(pollMs: number): void {
    if (this.timer) return;
    const loop = (): void => {
      this.tick()
        .catch((err: unknown) =>
          this.opts.log?.warn(
            { code: err instanceof IdlerigError ? err.code : undefined, err: String(err) },
            'The claim round failed; it is tried again at the next poll',
          ),
        )
        .finally(() => {
          if (this.timer) this.timer = setTimeout(loop, pollMs).unref();
        });
    };
    this.timer = setTimeout(loop, 0).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
