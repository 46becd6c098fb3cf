// A finished market job's earnings set to what its gateway settled (JobStore.settle, from an
// away_ack): the row and the hourly rollup change together; another gateway's job, a test job
// and a running job do not change.
import { describe, expect, it } from 'vitest';
import { openJobsDb } from '../../electron/provider/jobs/db';
import { JobStore } from '../../electron/provider/jobs/store';

const GW = 'ws://127.0.0.1:9/provider';
const TOKEN = { symbol: 'IDLE', decimals: 18, address: `0x${'1'.repeat(40)}` };

describe('settling a job with the gateway', () => {
  it("takes the gateway's amount in the row and the totals, only for its own finished market jobs", () => {
    const { db } = openJobsDb(':memory:');
    const store = new JobStore(db);
    const model = { id: 'm', sha256: 'a'.repeat(64) };
    const begin = (id: string, gateway: string | null, test = false) =>
      store.start({ id, gateway, model, kind: 'completion', token: TOKEN, test });
    begin('lost', GW);
    store.end('lost', {
      status: 'cancelled',
      reason: 'lost',
      tokensOut: 9,
      earned: 90n * 10n ** 18n,
    });
    begin('other', 'ws://elsewhere/provider');
    store.end('other', { status: 'done', tokensOut: 5, earned: 50n });
    begin('test', GW, true);
    store.end('test', { status: 'done', tokensOut: 5 });
    begin('running', GW);

    const row = (id: string) =>
      db.prepare('SELECT earned, revenue, reason FROM jobs WHERE id = ?').get(id) as {
        earned: string | null;
        revenue: number | null;
        reason: string | null;
      };
    const totals = () =>
      db
        .prepare('SELECT sum(earned_hi) AS hi, sum(earned_lo) AS lo FROM rollup WHERE is_test = 0')
        .get() as { hi: number; lo: number };
    const total = () => BigInt(totals().hi) * 10n ** 9n + BigInt(totals().lo);
    expect(total()).toBe(90n * 10n ** 18n + 50n);

    const amount = 3n * 10n ** 18n + 7n; // both halves of the split change
    expect(
      store.settle('lost', { gateway: GW, earned: amount, revenue: 0.25, reason: 'settled' }),
    ).toBe(true);
    expect(row('lost')).toEqual({ earned: amount.toString(), revenue: 0.25, reason: 'settled' });
    expect(total()).toBe(amount + 50n);
    // No reason given: the one there stays.
    expect(store.settle('lost', { gateway: GW, earned: amount })).toBe(true);
    expect(row('lost')).toEqual({ earned: amount.toString(), revenue: 0.25, reason: 'settled' });

    expect(store.settle('other', { gateway: GW, earned: 1n })).toBe(false);
    expect(row('other').earned).toBe('50');
    expect(store.settle('test', { gateway: GW, earned: 1n })).toBe(false);
    expect(row('test').earned).toBeNull();
    expect(store.settle('running', { gateway: GW, earned: 1n })).toBe(false);
    expect(row('running').earned).toBeNull();
    expect(store.settle('no-such-job', { gateway: GW, earned: 1n })).toBe(false);
    expect(total()).toBe(amount + 50n);
    expect(() => store.settle('lost', { gateway: GW, earned: -1n })).toThrow(/earned/);
    db.close();
  });
});
