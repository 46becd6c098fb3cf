// What vouchers paid, in the job record's aggregates: on a real database file, per day and per
// token, `paid` equals the exact sum of the earned amounts of the rows a voucher is linked to
// (random jobs, links before and after a job's end, test jobs, unlinked jobs, retention
// deletions); a database of schema 2 with voucher-linked rows is backfilled by the migration.
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { openJobsDb } from '../../electron/provider/jobs/db';
import { JobStore } from '../../electron/provider/jobs/store';
import { JobQueries } from '../../electron/provider/jobs/queries';
import { SCHEMA_VERSION } from '../../electron/provider/jobs/schema';
import { tempDir } from '../helpers/tmp';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const TZ = 'Europe/Berlin';
const T0 = Date.parse('2026-03-27T12:00:00Z');
const TOKENS = [
  { symbol: 'IDLE', decimals: 18, address: '0x' + '1'.repeat(40) },
  { symbol: 'USDC', decimals: 6, address: '0x' + '2'.repeat(40) },
];

async function dbFile(): Promise<string> {
  const t = await tempDir('idlerig-paid-');
  cleanups.push(t.cleanup);
  return join(t.dir, 'jobs.db');
}

/** Σ earned per (local day, token) of the voucher-linked, non-test rows, summed in bigint. */
function paidFromRows(file: string): Map<string, bigint> {
  const { db } = openJobsDb(file);
  try {
    const rows = db
      .prepare(
        `SELECT substr(hour, 1, 10) AS day, token_symbol AS s, earned FROM jobs
         WHERE voucher_id IS NOT NULL AND is_test = 0 AND earned IS NOT NULL`,
      )
      .all() as { day: string; s: string; earned: string }[];
    const out = new Map<string, bigint>();
    for (const r of rows) {
      if (r.earned === '0') continue;
      const k = `${r.day} ${r.s}`;
      out.set(k, (out.get(k) ?? 0n) + BigInt(r.earned));
    }
    return out;
  } finally {
    db.close();
  }
}

function paidFromAggregates(file: string): Map<string, bigint> {
  const { db } = openJobsDb(file);
  try {
    const agg = new JobQueries(db, { timeZone: TZ }).aggregates({
      bucket: 'day',
      from: '2026-03-20',
      to: '2026-04-10',
      days: 30,
    });
    const out = new Map<string, bigint>();
    for (const b of agg.buckets)
      for (const p of b.paid) {
        const k = `${b.period} ${p.symbol}`;
        out.set(k, (out.get(k) ?? 0n) + BigInt(p.amount));
      }
    return out;
  } finally {
    db.close();
  }
}

const jobArb = fc.record({
  startOffsetMin: fc.integer({ min: 0, max: 4 * 24 * 60 }),
  test: fc.boolean(),
  token: fc.constantFrom(0, 1),
  earned: fc.bigInt({ min: 0n, max: 10n ** 24n }),
  currency: fc.constantFrom('EUR', 'USD'),
  // 0: never linked, 1: linked after its end, 2: linked while running (then ended).
  voucher: fc.constantFrom(0, 1, 2),
  deleted: fc.boolean(),
});

describe('jobs.aggregates paid = Σ voucher-linked rows (real SQLite file)', () => {
  it('holds for random jobs, links and deletions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(jobArb, { minLength: 1, maxLength: 40 }), async (jobs) => {
        const file = await dbFile();
        const { db } = openJobsDb(file);
        const store = new JobStore(db, { timeZone: TZ });
        let voucher = 0;
        const link = (ids: string[], token: number) =>
          store.linkVoucher({
            voucherId: `0xv${voucher++}`,
            gateway: 'ws://gw',
            token: TOKENS[token]!.address,
            cumulative: BigInt(voucher) * 1000n,
            jobIds: ids,
          });
        jobs.forEach((j, i) => {
          const id = `j${i}`;
          const startedAt = T0 + j.startOffsetMin * 60_000;
          store.start({
            id,
            startedAt,
            gateway: 'ws://gw',
            model: { id: 'm', sha256: 'ab'.repeat(32) },
            kind: 'chat',
            test: j.test,
            token: TOKENS[j.token]!,
          });
          store.recordEnergy({
            id,
            startedAt,
            endedAt: startedAt + 1000,
            wh: 1,
            cost: 0.001,
            currency: j.currency,
            estimated: false,
            revenue: null,
          });
          if (j.voucher === 2) expect(link([id], j.token)).toBe(true);
          store.end(id, { status: 'done', endedAt: startedAt + 1000, earned: j.earned });
          if (j.voucher === 1) expect(link([id], j.token)).toBe(true);
        });
        // Retention removes some rows: their payments leave the totals with them.
        for (const [i, j] of jobs.entries())
          if (j.deleted) db.prepare('DELETE FROM jobs WHERE id = ?').run(`j${i}`);
        db.close();
        expect(paidFromAggregates(file)).toEqual(paidFromRows(file));
      }),
      { numRuns: 25 },
    );
  }, 60_000);

  it('paid is what the linked rows earned, exactly, beside the unlinked earnings', async () => {
    const file = await dbFile();
    const { db } = openJobsDb(file);
    const store = new JobStore(db, { timeZone: TZ });
    const big = 8_123_456_789_012_345_678_901_234n; // beyond a double's exact range
    for (const [id, earned] of [
      ['a', big],
      ['b', 1n],
      ['c', 5n * 10n ** 17n],
    ] as const) {
      store.start({
        id,
        startedAt: T0,
        gateway: 'ws://gw',
        model: { id: 'm', sha256: 'ab'.repeat(32) },
        kind: 'chat',
        token: TOKENS[0]!,
      });
      store.end(id, { status: 'done', endedAt: T0 + 10, earned });
    }
    store.linkVoucher({
      voucherId: '0xabc',
      gateway: 'ws://gw',
      token: TOKENS[0]!.address,
      cumulative: big + 1n,
      jobIds: ['a', 'b'],
    });
    const [bucket] = new JobQueries(db, { timeZone: TZ }).aggregates({
      bucket: 'day',
      from: '2026-03-27',
      to: '2026-03-27',
      days: 1,
    }).buckets;
    db.close();
    expect(bucket?.paid).toEqual([
      { symbol: 'IDLE', address: TOKENS[0]!.address, decimals: 18, amount: (big + 1n).toString() },
    ]);
    expect(bucket?.earnings[0]?.amount).toBe((big + 1n + 5n * 10n ** 17n).toString());
  });

  it('a schema-2 database with linked jobs is backfilled by the migration', async () => {
    const file = await dbFile();
    const old = openJobsDb(file, { targetVersion: 2 });
    expect(old.db.pragma('user_version', { simple: true })).toBe(2);
    old.db
      .prepare(
        `INSERT INTO jobs (id, started_at, ended_at, hour, status, earned, earned_hi, earned_lo,
           token_symbol, token_decimals, token_address, currency, voucher_id)
         VALUES (?, 1774612800000, 1774612801000, '2026-03-27T13', 'done', ?, ?, ?, 'IDLE', 18,
           ?, 'EUR', ?)`,
      )
      .run('p1', '7000000000042', 7000, 42, TOKENS[0]!.address, '0xv1');
    old.db
      .prepare(
        `INSERT INTO jobs (id, started_at, ended_at, hour, status, earned, earned_hi, earned_lo,
           token_symbol, token_decimals, token_address, currency)
         VALUES ('u1', 1774612800000, 1774612801000, '2026-03-27T13', 'done', '9', 0, 9, 'IDLE',
           18, ?, 'EUR')`,
      )
      .run(TOKENS[0]!.address);
    old.db.close();
    const now = openJobsDb(file);
    expect(now.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    now.db.close();
    expect(paidFromAggregates(file)).toEqual(new Map([['2026-03-27 IDLE', 7000000000042n]]));
    expect(paidFromRows(file)).toEqual(paidFromAggregates(file));
  });
});
