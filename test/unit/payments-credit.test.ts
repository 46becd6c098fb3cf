// The provider's credit limit (electron/provider/wallet/credit.ts): which gateway jobs it takes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { creditDecision } from '../../electron/provider/wallet/credit';

const ch = (deposited: bigint, claimed = 0n, epoch = 0, unlockAt = 0) => ({
  deposited,
  claimed,
  epoch,
  unlockAt,
});

describe('creditDecision', () => {
  it('takes a job the lock covers while the unclaimed total stays under the limit', () => {
    expect(
      creditDecision({
        channel: ch(1_000n, 100n),
        latest: { epoch: 0, cumulative: 300n },
        limit: 500n,
        price: 100n,
      }),
    ).toEqual({ accept: true, reason: null, unclaimed: 200n, headroom: 700n });
  });

  it('refuses with the reason a user can read', () => {
    const latest = { epoch: 0, cumulative: 300n };
    expect(creditDecision({ channel: ch(0n), latest: null, limit: 500n, price: 1n }).reason).toBe(
      'no-channel',
    );
    expect(
      creditDecision({ channel: ch(1_000n, 0n, 0, 123), latest, limit: 500n, price: 1n }).reason,
    ).toBe('unlocking');
    expect(creditDecision({ channel: ch(1_000n), latest, limit: 350n, price: 100n }).reason).toBe(
      'credit-limit',
    );
    expect(creditDecision({ channel: ch(350n), latest, limit: 10_000n, price: 100n }).reason).toBe(
      'lock-exhausted',
    );
  });

  it('a voucher of an earlier epoch counts for nothing in the new one', () => {
    const d = creditDecision({
      channel: ch(1_000n, 0n, 1),
      latest: { epoch: 0, cumulative: 900n },
      limit: 500n,
      price: 100n,
    });
    expect(d).toMatchObject({ accept: true, unclaimed: 0n, headroom: 1_000n });
  });

  it('never accepts a job that would take the unclaimed total past the limit or promise beyond the lock', () => {
    fc.assert(
      fc.property(
        fc.bigInt(0n, 10n ** 9n),
        fc.bigInt(0n, 10n ** 9n),
        fc.bigInt(0n, 10n ** 9n),
        fc.bigInt(0n, 10n ** 9n),
        fc.bigInt(1n, 10n ** 8n),
        (deposited, claimedRaw, cumulativeRaw, limit, price) => {
          const cumulative = cumulativeRaw > deposited ? deposited : cumulativeRaw;
          const claimed = claimedRaw > cumulative ? cumulative : claimedRaw;
          const d = creditDecision({
            channel: ch(deposited, claimed),
            latest: { epoch: 0, cumulative },
            limit,
            price,
          });
          if (d.accept) {
            expect(cumulative - claimed + price).toBeLessThanOrEqual(limit);
            expect(cumulative + price).toBeLessThanOrEqual(deposited);
          }
        },
      ),
    );
  });
});
