// The job record's writes: one row per job (start, end, energy, voucher link) and the idle draw,
// each change in one transaction (the rollup triggers run inside it). Every write is synchronous:
// when it returns, the row is committed. A storage failure is logged and reported as `false`;
// it never fails the job it describes.
import type { Statement } from 'better-sqlite3';
import { IdlerigError, type ErrorCode } from '../../../shared/errors';
import type { ScopedLogger } from '../logs/logger';
import { checkAmount, localHour, splitAmount } from './amounts';
import { AwayStore } from './away-store';
import type { Db } from './db';
import { BULK_KEY, rollupOf } from './schema';
import {
  JOB_KINDS,
  type JobEnd,
  type JobEndInit,
  type JobSettlement,
  type JobEnergyWrite,
  type JobRecorder,
  type JobStart,
  type VoucherLink,
} from './types';

export interface JobStoreOptions {
  timeZone?: string;
  now?: () => number;
  log?: ScopedLogger;
}

export interface IdleWrite {
  /** Any instant in the hour; the row is the local hour's. */
  at: number;
  currency: string;
  wh: number;
  cost: number;
  estimated: boolean;
}

const ms = (v: number | Date | undefined, fallback: number): number =>
  v === undefined ? fallback : typeof v === 'number' ? v : v.getTime();

function checkId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200)
    throw new IdlerigError('INVALID_PARAMS', 'A job id is a string of 1 to 200 characters');
  return id;
}

function checkCount(name: string, v: number | null | undefined): number | null {
  if (v === undefined || v === null) return null;
  if (!Number.isSafeInteger(v) || v < 0)
    throw new IdlerigError('INVALID_PARAMS', `${name} must be a whole number ≥ 0`);
  return v;
}

function checkMs(name: string, v: number | null | undefined): number | null {
  if (v === undefined || v === null) return null;
  if (!Number.isFinite(v) || v < 0)
    throw new IdlerigError('INVALID_PARAMS', `${name} must be a number of milliseconds ≥ 0`);
  return v;
}

/** insertFinished's columns, in the order of its values. */
const FULL_COLUMNS = [
  'id',
  'started_at',
  'ended_at',
  'hour',
  'gateway',
  'model_id',
  'model_sha256',
  'kind',
  'is_test',
  'status',
  'reason',
  'error_code',
  'tokens_in',
  'tokens_out',
  'duration_ms',
  'ttft_ms',
  'price',
  'price_unit',
  'token_symbol',
  'token_decimals',
  'token_address',
  'earned',
  'earned_hi',
  'earned_lo',
  'revenue',
  'energy_wh',
  'energy_cost',
  'currency',
  'energy_estimated',
  'receipt',
] as const;
/** Rows per multi-row INSERT in insertFinished (30 columns: 3,000 parameters of SQLite's 32,766). */
const BULK_ROWS = 100;

export class JobStore implements JobRecorder {
  private readonly now: () => number;
  /** Reports to gateways that could not be sent (away-store.ts). */
  readonly away: AwayStore;
  private readonly st: Record<
    | 'insert'
    | 'end'
    | 'energy'
    | 'idle'
    | 'voucher'
    | 'settle'
    | 'link'
    | 'get'
    | 'bulkOn'
    | 'bulkOff'
    | 'maxRowid'
    | 'bulkRollup',
    Statement
  >;

  constructor(
    readonly db: Db,
    private readonly opts: JobStoreOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.away = new AwayStore(db, { now: this.now, ...(opts.log ? { log: opts.log } : {}) });
    this.st = {
      insert: db.prepare(`
        INSERT INTO jobs (id, started_at, hour, gateway, model_id, model_sha256, kind, is_test,
                          tokens_in, price, price_unit, token_symbol, token_decimals, token_address)
        VALUES (@id, @started_at, @hour, @gateway, @model_id, @model_sha256, @kind, @is_test,
                @tokens_in, @price, @price_unit, @token_symbol, @token_decimals, @token_address)
        ON CONFLICT (id) DO UPDATE SET
          started_at = excluded.started_at, gateway = excluded.gateway,
          model_id = excluded.model_id, model_sha256 = excluded.model_sha256,
          kind = excluded.kind, is_test = excluded.is_test,
          tokens_in = coalesce(excluded.tokens_in, tokens_in), price = excluded.price,
          price_unit = excluded.price_unit, token_symbol = excluded.token_symbol,
          token_decimals = excluded.token_decimals, token_address = excluded.token_address,
          hour = CASE WHEN ended_at IS NULL THEN excluded.hour ELSE hour END`),
      end: db.prepare(`
        UPDATE jobs SET status = @status, ended_at = @ended_at, hour = @hour, reason = @reason,
          error_code = @error_code, tokens_in = coalesce(@tokens_in, tokens_in),
          tokens_out = coalesce(@tokens_out, tokens_out),
          ttft_ms = coalesce(@ttft_ms, ttft_ms),
          duration_ms = coalesce(@duration_ms, @ended_at - started_at),
          earned = CASE WHEN is_test THEN NULL ELSE @earned END,
          earned_hi = CASE WHEN is_test THEN NULL ELSE @earned_hi END,
          earned_lo = CASE WHEN is_test THEN NULL ELSE @earned_lo END,
          revenue = CASE WHEN is_test THEN NULL ELSE coalesce(@revenue, revenue) END,
          receipt = coalesce(@receipt, receipt)
        WHERE id = @id`),
      energy: db.prepare(`
        INSERT INTO jobs (id, started_at, ended_at, hour, status, energy_wh, energy_cost, currency,
                          energy_estimated, revenue, duration_ms)
        VALUES (@id, @started_at, @ended_at, @hour, 'done', @wh, @cost, @currency, @estimated,
                @revenue, @ended_at - @started_at)
        ON CONFLICT (id) DO UPDATE SET
          energy_wh = excluded.energy_wh, energy_cost = excluded.energy_cost,
          currency = excluded.currency, energy_estimated = excluded.energy_estimated,
          revenue = CASE WHEN is_test THEN NULL ELSE coalesce(excluded.revenue, revenue) END`),
      idle: db.prepare(`
        INSERT INTO idle (hour, currency, wh, cost, estimated)
        VALUES (@hour, @currency, @wh, @cost, @estimated)
        ON CONFLICT (hour, currency) DO UPDATE SET
          wh = wh + excluded.wh, cost = cost + excluded.cost,
          estimated = max(estimated, excluded.estimated)`),
      voucher: db.prepare(`
        INSERT INTO vouchers (id, gateway, token, cumulative, at)
        VALUES (@id, @gateway, @token, @cumulative, @at)
        ON CONFLICT (id) DO NOTHING`),
      link: db.prepare(`UPDATE jobs SET voucher_id = ? WHERE id = ?`),
      settle: db.prepare(`
        UPDATE jobs SET earned = @earned, earned_hi = @earned_hi, earned_lo = @earned_lo,
          revenue = coalesce(@revenue, revenue), reason = coalesce(@reason, reason)
        WHERE id = @id AND gateway = @gateway AND NOT is_test AND status <> 'running'`),
      get: db.prepare(`SELECT id FROM jobs WHERE id = ?`),
      bulkOn: db.prepare(`INSERT INTO meta (key, value) VALUES ('${BULK_KEY}', '1')`),
      bulkOff: db.prepare(`DELETE FROM meta WHERE key = '${BULK_KEY}'`),
      maxRowid: db.prepare(`SELECT max(rowid) AS r FROM jobs`),
      bulkRollup: db.prepare(rollupOf('rowid > ?')),
    };
  }

  private hour(at: number): string {
    return localHour(at, this.opts.timeZone);
  }

  /** Runs a write; a storage failure is logged and becomes `false` (bad input still throws). */
  private guard(what: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      if (err instanceof IdlerigError) throw err;
      this.opts.log?.error(`could not record ${what} in the job database`, {
        error: (err as Error).message,
      });
      return false;
    }
  }

  private startParams(job: JobStart): Record<string, unknown> {
    const id = checkId(job.id);
    if (!JOB_KINDS.includes(job.kind))
      throw new IdlerigError('INVALID_PARAMS', `A job kind is one of ${JOB_KINDS.join(', ')}`);
    if (!job.model || typeof job.model.id !== 'string')
      throw new IdlerigError('INVALID_PARAMS', 'A job names its model');
    const startedAt = ms(job.startedAt, this.now());
    const price = job.price ? checkAmount('price', job.price.amount) : null;
    return {
      id,
      started_at: startedAt,
      hour: this.hour(startedAt),
      gateway: job.gateway ?? null,
      model_id: job.model.id,
      model_sha256: job.model.sha256 ?? null,
      kind: job.kind,
      is_test: job.test ? 1 : 0,
      tokens_in: checkCount('tokensIn', job.tokensIn),
      price: price === null ? null : price.toString(),
      price_unit: job.price?.unit ?? null,
      token_symbol: job.token?.symbol ?? null,
      token_decimals: job.token ? checkCount('token decimals', job.token.decimals) : null,
      token_address: job.token?.address ?? null,
    };
  }

  /**
   * A job's start is committed without waiting for the disk (synchronous NORMAL for this one
   * statement; WAL mode): a crash of the process loses nothing, a power cut may lose the start
   * row of a job that was running at that moment, never an end, an energy row or a voucher
   * (those stay FULL and their fsync carries the start along). The fsync of a start sat between
   * every market job's offer and its first token (~0.2 ms here quiet, 2–3 ms under load).
   */
  start(job: JobStart): boolean {
    const params = this.startParams(job);
    return this.guard('a job start', () => {
      this.db.pragma('synchronous = NORMAL');
      try {
        this.st.insert.run(params);
      } finally {
        this.db.pragma('synchronous = FULL');
      }
    });
  }

  private endParams(id: string, end: JobEnd): Record<string, string | number | null> {
    checkId(id);
    if (!['done', 'failed', 'cancelled', 'declined'].includes(end.status))
      throw new IdlerigError('INVALID_PARAMS', 'A job ends done, failed, cancelled or declined');
    const endedAt = ms(end.endedAt, this.now());
    const earned =
      end.earned === undefined || end.earned === null ? null : checkAmount('earned', end.earned);
    const split = earned === null ? null : splitAmount(earned);
    return {
      id,
      status: end.status,
      ended_at: endedAt,
      hour: this.hour(endedAt),
      reason: end.reason ?? null,
      error_code: end.errorCode ?? null,
      tokens_in: checkCount('tokensIn', end.tokensIn),
      tokens_out: checkCount('tokensOut', end.tokensOut),
      ttft_ms: checkMs('ttftMs', end.ttftMs),
      duration_ms: checkMs('durationMs', end.durationMs),
      earned: earned === null ? null : earned.toString(),
      earned_hi: split?.hi ?? null,
      earned_lo: split?.lo ?? null,
      revenue: typeof end.revenue === 'number' && Number.isFinite(end.revenue) ? end.revenue : null,
      receipt: end.receipt === undefined || end.receipt === null ? null : toJson(end.receipt),
    };
  }

  end(id: string, end: JobEnd, init?: JobEndInit): boolean {
    const params = this.endParams(id, end);
    const initParams = init ? this.startParams({ ...init, id }) : null;
    return this.guard('a job end', () =>
      this.db.transaction(() => {
        if (!this.st.get.get(id)) {
          if (!initParams)
            throw new IdlerigError('NOT_FOUND', `No job ${JSON.stringify(id)} was started`);
          this.st.insert.run(initParams);
        }
        this.st.end.run(params);
      })(),
    );
  }

  settle(id: string, s: JobSettlement): boolean {
    checkId(id);
    const earned = checkAmount('earned', s.earned);
    const split = splitAmount(earned);
    let changed = false;
    const ok = this.guard('a job settlement', () => {
      changed =
        this.st.settle.run({
          id,
          gateway: s.gateway,
          earned: earned.toString(),
          earned_hi: split.hi,
          earned_lo: split.lo,
          revenue: typeof s.revenue === 'number' && Number.isFinite(s.revenue) ? s.revenue : null,
          reason: s.reason ?? null,
        }).changes > 0;
    });
    return ok && changed;
  }

  /** The energy ledger: a finished job's energy, into its row (created if the job has none). */
  recordEnergy(e: JobEnergyWrite): boolean {
    return this.guard('a job energy', () =>
      this.st.energy.run({
        id: checkId(e.id),
        started_at: e.startedAt,
        ended_at: e.endedAt,
        hour: this.hour(e.endedAt),
        wh: e.wh,
        cost: e.cost,
        currency: e.currency,
        estimated: e.estimated ? 1 : 0,
        revenue: e.revenue,
      }),
    );
  }

  /** The energy ledger: idle draw, added to its hour's row. */
  recordIdle(rows: readonly IdleWrite[]): boolean {
    if (rows.length === 0) return true;
    return this.guard('idle energy', () =>
      this.db.transaction(() => {
        for (const r of rows)
          this.st.idle.run({
            hour: this.hour(r.at),
            currency: r.currency,
            wh: r.wh,
            cost: r.cost,
            estimated: r.estimated ? 1 : 0,
          });
      })(),
    );
  }

  linkVoucher(link: VoucherLink): boolean {
    checkAmount('cumulative', link.cumulative);
    const at = ms(link.at, this.now());
    return this.guard('a voucher', () =>
      this.db.transaction(() => {
        this.st.voucher.run({
          id: link.voucherId,
          gateway: link.gateway,
          token: link.token,
          cumulative: link.cumulative.toString(),
          at,
        });
        for (const j of link.jobIds) this.st.link.run(link.voucherId, checkId(j));
      })(),
    );
  }

  /**
   * Many finished jobs in one transaction (imports, the benchmark): the same checks and columns
   * as start() + recordEnergy() + end(), written BULK_ROWS rows per multi-row INSERT with
   * positional parameters (one statement step and one native call per chunk, not per row).
   */
  insertFinished(jobs: readonly { start: JobStart; end: JobEnd; energy?: JobEnergyWrite }[]): void {
    this.db.transaction(() => {
      // The insert trigger stands aside; the batch goes into the rollup in one statement below.
      this.st.bulkOn.run();
      const before = (this.st.maxRowid.get() as { r: number | null }).r ?? 0;
      let values: unknown[] = [];
      for (const j of jobs) {
        const s = this.startParams(j.start);
        const e = this.endParams(j.start.id, j.end);
        const test = s.is_test === 1;
        // FULL_COLUMNS' order; the end's fields over the start's, as the spread they replace.
        values.push(
          s.id,
          s.started_at,
          e.ended_at,
          e.hour,
          s.gateway,
          s.model_id,
          s.model_sha256,
          s.kind,
          s.is_test,
          e.status,
          e.reason,
          e.error_code,
          // As end() does (coalesce): an end that gives no prompt count keeps the start's.
          e.tokens_in ?? s.tokens_in,
          e.tokens_out,
          e.duration_ms ?? (e.ended_at as number) - (s.started_at as number),
          e.ttft_ms,
          s.price,
          s.price_unit,
          s.token_symbol,
          s.token_decimals,
          s.token_address,
          test ? null : e.earned,
          test ? null : e.earned_hi,
          test ? null : e.earned_lo,
          test ? null : (e.revenue ?? j.energy?.revenue ?? null),
          j.energy?.wh ?? null,
          j.energy?.cost ?? null,
          j.energy?.currency ?? null,
          j.energy ? (j.energy.estimated ? 1 : 0) : null,
          e.receipt,
        );
        if (values.length === BULK_ROWS * FULL_COLUMNS.length) {
          this.bulkInsert(BULK_ROWS).run(values);
          values = [];
        }
      }
      if (values.length) this.bulkInsert(values.length / FULL_COLUMNS.length).run(values);
      this.st.bulkRollup.run(before);
      this.st.bulkOff.run();
    })();
  }

  private readonly bulk = new Map<number, Statement>();

  /** The INSERT of `rows` full rows (prepared once per row count). */
  private bulkInsert(rows: number): Statement {
    let st = this.bulk.get(rows);
    if (!st) {
      const one = `(${FULL_COLUMNS.map(() => '?').join(', ')})`;
      st = this.db.prepare(
        `INSERT INTO jobs (${FULL_COLUMNS.join(', ')}) VALUES ${Array(rows).fill(one).join(', ')}`,
      );
      this.bulk.set(rows, st);
    }
    return st;
  }

  private energyParams(e: JobEnergyWrite): Record<string, unknown> {
    return {
      id: e.id,
      started_at: e.startedAt,
      ended_at: e.endedAt,
      hour: this.hour(e.endedAt),
      wh: e.wh,
      cost: e.cost,
      currency: e.currency,
      estimated: e.estimated ? 1 : 0,
      revenue: e.revenue,
    };
  }

  /** Retention: deletes finished jobs started (and idle hours) before `beforeMs`; returns rows gone. */
  deleteBefore(beforeMs: number): number {
    const hour = this.hour(beforeMs);
    return this.db.transaction(() => {
      const jobs = this.db
        .prepare(`DELETE FROM jobs WHERE started_at < ? AND status <> 'running'`)
        .run(beforeMs).changes;
      this.db.prepare(`DELETE FROM idle WHERE hour < ?`).run(hour);
      this.db.prepare(`DELETE FROM rollup WHERE hour < ? AND jobs = 0 AND declined = 0`).run(hour);
      return jobs;
    })();
  }

  /** Jobs left 'running' by a crash: marked failed at start (they cannot still be running). */
  closeInterrupted(at = this.now()): number {
    const code: ErrorCode = 'INTERRUPTED';
    return this.db
      .prepare(
        `UPDATE jobs SET status = 'failed', error_code = ?,
           reason = 'The node stopped while the job ran', ended_at = ?, hour = ?
         WHERE status = 'running'`,
      )
      .run(code, at, this.hour(at)).changes;
  }
}

function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}
