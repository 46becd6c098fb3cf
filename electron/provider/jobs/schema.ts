// The job database's schema, as versioned migrations (PRAGMA user_version), applied in order in
// one transaction each. Never edit a released step: add the next one.
//
// Amounts: `earned` and `price` are exact decimal strings of the token's smallest unit (bigint in
// the code). `earned_hi`/`earned_lo` split the same amount at 10^9 so SQLite's integer SUM adds it
// exactly (Σ lo < 2^63 for 9·10^9 rows; Σ hi < 2^63 up to 9.2·10^27 units); a reader joins them
// back as hi·10^9 + lo in bigint.
//
// Aggregates: `rollup` holds per-hour totals maintained by triggers on `jobs` in the same
// transaction as the row change (insert, update, delete: old contribution out, new one in), so
// the totals cannot disagree with the rows. Idle draw is its own rows (`idle`, per local hour and
// currency). `legacy_days` holds what an earlier version's days.json counted beyond the job lines
// it still had (its jobs.jsonl was rotated): imported once, added to the day totals.

export interface Migration {
  version: number;
  sql: string;
}

// Since schema 3 the rollup also sums `paid_hi`/`paid_lo`: the earned amount of the jobs a
// verified voucher covers (voucher_id set by JobStore.linkVoucher after the voucher's check), so
// the Dashboard charts what vouchers paid, not an estimate. `paid` false: schema 2's SQL as it
// was released.
const PAID_COLS = ', paid_hi, paid_lo';
const PAID_SET = `,
    paid_hi = paid_hi + excluded.paid_hi, paid_lo = paid_lo + excluded.paid_lo`;
const paidOf = (r: string, sign: string, part: 'hi' | 'lo'): string =>
  `, ${sign}iif(${r}.voucher_id IS NULL, 0, ifnull(${r}.earned_${part}, 0))`;

/** A job's contribution to the rollup, from the row `r` (NEW or OLD). */
const contribution = (r: string, sign: '+' | '-', paid = true): string => `
  INSERT INTO rollup (hour, currency, token_symbol, token_address, token_decimals, is_test,
                      jobs, declined, failed, tokens_in, tokens_out, earned_hi, earned_lo,
                      revenue, energy_wh, cost${paid ? PAID_COLS : ''})
  VALUES (${r}.hour, ifnull(${r}.currency, ''), ifnull(${r}.token_symbol, ''),
          ifnull(${r}.token_address, ''), ifnull(${r}.token_decimals, 0), ${r}.is_test,
          ${sign}(${r}.status IN ('done', 'failed', 'cancelled')),
          ${sign}(${r}.status = 'declined'),
          ${sign}(${r}.status IN ('failed', 'cancelled')),
          ${sign}ifnull(${r}.tokens_in, 0), ${sign}ifnull(${r}.tokens_out, 0),
          ${sign}ifnull(${r}.earned_hi, 0), ${sign}ifnull(${r}.earned_lo, 0),
          ${sign}ifnull(${r}.revenue, 0), ${sign}ifnull(${r}.energy_wh, 0),
          ${sign}ifnull(${r}.energy_cost, 0)${paid ? paidOf(r, sign, 'hi') + paidOf(r, sign, 'lo') : ''})
  ON CONFLICT (hour, currency, token_symbol, token_address, token_decimals, is_test)
  DO UPDATE SET
    jobs = jobs + excluded.jobs, declined = declined + excluded.declined,
    failed = failed + excluded.failed,
    tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
    earned_hi = earned_hi + excluded.earned_hi, earned_lo = earned_lo + excluded.earned_lo,
    revenue = revenue + excluded.revenue, energy_wh = energy_wh + excluded.energy_wh,
    cost = cost + excluded.cost${paid ? PAID_SET : ''};`;

/**
 * While this meta row exists (only inside a bulk-insert transaction: it is deleted before the
 * commit), the insert trigger stands aside and the bulk insert adds its rows to the rollup in
 * one statement, in the same transaction (JobStore.insertFinished).
 */
export const BULK_KEY = 'bulk-insert';

/** Adds the jobs matching `where` (over `jobs`) to the rollup. */
export function rollupOf(where: string, paid = true): string {
  return `
  INSERT INTO rollup (hour, currency, token_symbol, token_address, token_decimals, is_test,
                      jobs, declined, failed, tokens_in, tokens_out, earned_hi, earned_lo,
                      revenue, energy_wh, cost${paid ? PAID_COLS : ''})
    SELECT hour, ifnull(currency, ''), ifnull(token_symbol, ''), ifnull(token_address, ''),
           ifnull(token_decimals, 0), is_test,
           sum(status IN ('done', 'failed', 'cancelled')), sum(status = 'declined'),
           sum(status IN ('failed', 'cancelled')),
           sum(ifnull(tokens_in, 0)), sum(ifnull(tokens_out, 0)),
           sum(ifnull(earned_hi, 0)), sum(ifnull(earned_lo, 0)),
           total(revenue), total(energy_wh), total(energy_cost)${
             paid
               ? `, sum(iif(voucher_id IS NULL, 0, ifnull(earned_hi, 0))),
                 sum(iif(voucher_id IS NULL, 0, ifnull(earned_lo, 0)))`
               : ''
           }
    FROM jobs WHERE ${where}
    GROUP BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (hour, currency, token_symbol, token_address, token_decimals, is_test)
  DO UPDATE SET
    jobs = jobs + excluded.jobs, declined = declined + excluded.declined,
    failed = failed + excluded.failed,
    tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
    earned_hi = earned_hi + excluded.earned_hi, earned_lo = earned_lo + excluded.earned_lo,
    revenue = revenue + excluded.revenue, energy_wh = energy_wh + excluded.energy_wh,
    cost = cost + excluded.cost${paid ? PAID_SET : ''}`;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    // The first job table: one row per job, its timings, tokens, pay and energy.
    version: 1,
    sql: `
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        hour TEXT NOT NULL,
        gateway TEXT,
        model_id TEXT,
        model_sha256 TEXT,
        kind TEXT,
        is_test INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'running',
        reason TEXT,
        error_code TEXT,
        tokens_in INTEGER,
        tokens_out INTEGER,
        duration_ms REAL,
        ttft_ms REAL,
        price TEXT,
        price_unit TEXT,
        token_symbol TEXT,
        token_decimals INTEGER,
        token_address TEXT,
        earned TEXT,
        earned_hi INTEGER,
        earned_lo INTEGER,
        revenue REAL,
        energy_wh REAL,
        energy_cost REAL,
        currency TEXT,
        energy_estimated INTEGER
      ) STRICT;
      CREATE INDEX jobs_started ON jobs (started_at);
      CREATE TABLE idle (
        hour TEXT NOT NULL,
        currency TEXT NOT NULL,
        wh REAL NOT NULL,
        cost REAL NOT NULL,
        estimated INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, currency)
      ) STRICT;
      CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT;`,
  },
  {
    // Receipts, voucher links, filter indexes, imported day totals and the hourly rollup kept by
    // triggers (backfilled from the rows).
    version: 2,
    sql: `
      ALTER TABLE jobs ADD COLUMN receipt TEXT;
      ALTER TABLE jobs ADD COLUMN voucher_id TEXT;
      CREATE INDEX jobs_model ON jobs (model_id, status, started_at);
      CREATE INDEX jobs_status ON jobs (status, started_at);
      CREATE INDEX jobs_gateway ON jobs (gateway, started_at);
      CREATE TABLE vouchers (
        id TEXT PRIMARY KEY NOT NULL,
        gateway TEXT NOT NULL,
        token TEXT NOT NULL,
        cumulative TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE rollup (
        hour TEXT NOT NULL,
        currency TEXT NOT NULL,
        token_symbol TEXT NOT NULL,
        token_address TEXT NOT NULL,
        token_decimals INTEGER NOT NULL,
        is_test INTEGER NOT NULL,
        jobs INTEGER NOT NULL,
        declined INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        tokens_in INTEGER NOT NULL,
        tokens_out INTEGER NOT NULL,
        earned_hi INTEGER NOT NULL,
        earned_lo INTEGER NOT NULL,
        revenue REAL NOT NULL,
        energy_wh REAL NOT NULL,
        cost REAL NOT NULL,
        PRIMARY KEY (hour, currency, token_symbol, token_address, token_decimals, is_test)
      ) STRICT;
      CREATE TABLE legacy_days (
        date TEXT NOT NULL,
        currency TEXT NOT NULL,
        jobs INTEGER NOT NULL,
        job_wh REAL NOT NULL,
        job_cost REAL NOT NULL,
        revenue REAL NOT NULL,
        PRIMARY KEY (date, currency)
      ) STRICT;
      ${triggers(false)}
      ${rollupOf('true', false)};`,
  },
  {
    // What verified vouchers paid: the rollup sums the earned amount of voucher-linked jobs
    // (paid_hi/paid_lo), its triggers replaced, backfilled from the rows.
    version: 3,
    sql: `
      ALTER TABLE rollup ADD COLUMN paid_hi INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup ADD COLUMN paid_lo INTEGER NOT NULL DEFAULT 0;
      DROP TRIGGER jobs_rollup_insert;
      DROP TRIGGER jobs_rollup_delete;
      DROP TRIGGER jobs_rollup_update;
      ${triggers(true)}
      WITH p AS (
        SELECT hour, ifnull(currency, '') AS c, ifnull(token_symbol, '') AS s,
               ifnull(token_address, '') AS a, ifnull(token_decimals, 0) AS d, is_test AS t,
               sum(ifnull(earned_hi, 0)) AS hi, sum(ifnull(earned_lo, 0)) AS lo
        FROM jobs WHERE voucher_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6)
      UPDATE rollup SET paid_hi = p.hi, paid_lo = p.lo FROM p
      WHERE rollup.hour = p.hour AND rollup.currency = p.c AND rollup.token_symbol = p.s
        AND rollup.token_address = p.a AND rollup.token_decimals = p.d AND rollup.is_test = p.t;`,
  },
  {
    // Reports to a gateway that could not be sent (the connection was down when the job ended):
    // kept until that gateway acknowledges them, across restarts (market/away.ts). `report` is
    // the away_report entry as JSON, checked against the protocol's schema when read.
    version: 4,
    sql: `
      CREATE TABLE away (
        gateway TEXT NOT NULL,
        job_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        report TEXT NOT NULL,
        PRIMARY KEY (gateway, job_id)
      ) STRICT;
      CREATE INDEX away_by_age ON away (gateway, at);`,
  },
];

/** The rollup's triggers (schema 2's without `paid`). */
function triggers(paid: boolean): string {
  return `
      CREATE TRIGGER jobs_rollup_insert AFTER INSERT ON jobs
        WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = '${BULK_KEY}')
        BEGIN ${contribution('NEW', '+', paid)} END;
      CREATE TRIGGER jobs_rollup_delete AFTER DELETE ON jobs BEGIN ${contribution('OLD', '-', paid)} END;
      CREATE TRIGGER jobs_rollup_update AFTER UPDATE ON jobs BEGIN
        ${contribution('OLD', '-', paid)}
        ${contribution('NEW', '+', paid)}
      END;`;
}

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
