// The job record's reads: a page of jobs (filters, sorting), one job, daily/hourly totals from the
// rollup and the idle rows, and the filter translation the CSV export shares.
import type {
  JobBucket,
  JobDetail,
  JobFilter,
  JobRow,
  JobsAggregates,
  JobsListParams,
  JobStatusSchema,
  JobKindSchema,
  JOB_SORT_FIELDS,
} from '../../../shared/api/jobs';
import { JobsListParamsSchema } from '../../../shared/api/jobs';
import { IdlerigError } from '../../../shared/errors';
import type { z } from 'zod';
import { fromLocal, localDate } from '../policy/local-time';
import { joinAmount } from './amounts';
import type { Db } from './db';

/** A jobs row as SQLite returns it. */
export interface DbJobRow {
  id: string;
  started_at: number;
  ended_at: number | null;
  gateway: string | null;
  model_id: string | null;
  model_sha256: string | null;
  kind: string | null;
  is_test: number;
  status: string;
  reason: string | null;
  error_code: string | null;
  tokens_in: number | null;
  tokens_out: number | null;
  duration_ms: number | null;
  ttft_ms: number | null;
  price: string | null;
  price_unit: string | null;
  token_symbol: string | null;
  token_decimals: number | null;
  token_address: string | null;
  earned: string | null;
  revenue: number | null;
  energy_wh: number | null;
  energy_cost: number | null;
  currency: string | null;
  energy_estimated: number | null;
  voucher_id: string | null;
  receipt?: string | null;
}

export const ROW_COLUMNS = `id, started_at, ended_at, gateway, model_id, model_sha256, kind,
  is_test, status, reason, error_code, tokens_in, tokens_out, duration_ms, ttft_ms, price,
  price_unit, token_symbol, token_decimals, token_address, earned, revenue, energy_wh,
  energy_cost, currency, energy_estimated, voucher_id`;

const SORT_SQL: Record<(typeof JOB_SORT_FIELDS)[number], string> = {
  startedAt: 'started_at',
  endedAt: 'ended_at',
  modelId: 'model_id',
  status: 'status',
  tokensOut: 'tokens_out',
  durationMs: 'duration_ms',
  energyWh: 'energy_wh',
  earned: 'earned_hi',
};

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function toJobRow(r: DbJobRow): JobRow {
  const gen =
    r.duration_ms !== null && r.ttft_ms !== null ? r.duration_ms - r.ttft_ms : r.duration_ms;
  const tps =
    r.tokens_out !== null && r.tokens_out > 0 && gen !== null && gen > 0
      ? r.tokens_out / (gen / 1000)
      : null;
  return {
    id: r.id,
    startedAt: iso(r.started_at)!,
    endedAt: iso(r.ended_at),
    gateway: r.gateway,
    modelId: r.model_id,
    modelSha256: r.model_sha256,
    kind: r.kind as z.infer<typeof JobKindSchema> | null,
    test: r.is_test === 1,
    status: r.status as z.infer<typeof JobStatusSchema>,
    reason: r.reason,
    errorCode: r.error_code,
    tokensIn: r.tokens_in,
    tokensOut: r.tokens_out,
    durationMs: r.duration_ms,
    ttftMs: r.ttft_ms,
    tokensPerSecond: tps,
    price: r.price,
    priceUnit: r.price_unit,
    token:
      r.token_symbol === null
        ? null
        : { symbol: r.token_symbol, decimals: r.token_decimals ?? 0, address: r.token_address },
    earned: r.earned,
    revenue: r.revenue,
    energyWh: r.energy_wh,
    energyCost: r.energy_cost,
    currency: r.currency,
    net: r.revenue === null ? null : r.revenue - (r.energy_cost ?? 0),
    energyEstimated: r.energy_estimated === 1,
    voucherId: r.voucher_id,
  };
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A filter bound as ms: a date alone is its local midnight (`until`: the next one). */
export function boundMs(value: string, end: boolean, timeZone?: string): number {
  if (DATE_ONLY.test(value)) {
    const [y, m, d] = value.split('-').map(Number) as [number, number, number];
    return fromLocal(y, m, d + (end ? 1 : 0), 0, 0, timeZone).getTime();
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new IdlerigError('INVALID_PARAMS', `Not a date or time: ${value}`);
  return t;
}

/** WHERE clause and parameters of a filter. */
export function whereOf(
  f: JobFilter,
  timeZone?: string,
): { sql: string; params: (string | number)[] } {
  const clauses: string[] = [];
  const params: (string | number)[] = [];
  if (f.since !== undefined) {
    clauses.push('started_at >= ?');
    params.push(boundMs(f.since, false, timeZone));
  }
  if (f.until !== undefined) {
    clauses.push('started_at < ?');
    params.push(boundMs(f.until, true, timeZone));
  }
  if (f.model !== undefined) {
    clauses.push('model_id = ?');
    params.push(f.model);
  }
  if (f.gateway !== undefined) {
    clauses.push('gateway = ?');
    params.push(f.gateway);
  }
  if (f.status !== undefined && f.status.length > 0) {
    clauses.push(`status IN (${f.status.map(() => '?').join(', ')})`);
    params.push(...f.status);
  }
  if (f.test !== undefined) {
    clauses.push('is_test = ?');
    params.push(f.test ? 1 : 0);
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

export class JobQueries {
  constructor(
    private readonly db: Db,
    private readonly opts: { timeZone?: string; now?: () => number } = {},
  ) {}

  list(input: JobsListParams): { rows: JobRow[]; total: number } {
    const p = JobsListParamsSchema.parse(input);
    const { sql, params } = whereOf(p, this.opts.timeZone);
    const col = SORT_SQL[p.sort];
    const dir = p.dir === 'asc' ? 'ASC' : 'DESC';
    const order =
      p.sort === 'earned'
        ? `earned_hi ${dir}, earned_lo ${dir}, rowid ${dir}`
        : `${col} ${dir}, rowid ${dir}`;
    const rows = this.db
      .prepare(`SELECT ${ROW_COLUMNS} FROM jobs ${sql} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .all(...params, p.limit, p.offset) as DbJobRow[];
    const total = (
      this.db.prepare(`SELECT count(*) AS n FROM jobs ${sql}`).get(...params) as { n: number }
    ).n;
    return { rows: rows.map(toJobRow), total };
  }

  get(id: string): JobDetail {
    const r = this.db.prepare(`SELECT ${ROW_COLUMNS}, receipt FROM jobs WHERE id = ?`).get(id) as
      DbJobRow | undefined;
    if (!r) throw new IdlerigError('NOT_FOUND', `No job ${JSON.stringify(id)}`);
    let receipt: unknown = null;
    if (r.receipt) {
      try {
        receipt = JSON.parse(r.receipt);
      } catch {
        receipt = r.receipt;
      }
    }
    return { ...toJobRow(r), receipt };
  }

  /** Totals per local day or hour from `from` to `to` (local dates, both included). */
  aggregates(p: {
    bucket: 'day' | 'hour';
    from?: string | undefined;
    to?: string | undefined;
    days: number;
  }): JobsAggregates {
    const now = new Date(this.opts.now?.() ?? Date.now());
    const to = p.to ?? localDate(now, this.opts.timeZone);
    const from =
      p.from ??
      localDate(
        new Date(boundMs(to, false, this.opts.timeZone) - (p.days - 1) * 86_400_000 + 43_200_000),
        this.opts.timeZone,
      );
    const len = p.bucket === 'day' ? 10 : 13;
    const range = [`${from}T00`, `${to}T99`];
    const rows = this.db
      .prepare(
        `SELECT substr(hour, 1, ${len}) AS period, currency, token_symbol, token_address,
                token_decimals, is_test, sum(jobs) AS jobs, sum(failed) AS failed,
                sum(declined) AS declined, sum(tokens_in) AS tokens_in,
                sum(tokens_out) AS tokens_out, sum(earned_hi) AS hi, sum(earned_lo) AS lo,
                sum(paid_hi) AS paid_hi, sum(paid_lo) AS paid_lo, total(revenue) AS revenue, total(energy_wh) AS wh, total(cost) AS cost
         FROM rollup WHERE hour >= ? AND hour <= ?
         GROUP BY 1, 2, 3, 4, 5, 6`,
      )
      .all(...range) as {
      period: string;
      currency: string;
      token_symbol: string;
      token_address: string;
      token_decimals: number;
      is_test: number;
      jobs: number;
      failed: number;
      declined: number;
      tokens_in: number;
      tokens_out: number;
      hi: number;
      lo: number;
      paid_hi: number;
      paid_lo: number;
      revenue: number;
      wh: number;
      cost: number;
    }[];
    const idle = this.db
      .prepare(
        `SELECT substr(hour, 1, ${len}) AS period, currency, total(wh) AS wh, total(cost) AS cost
         FROM idle WHERE hour >= ? AND hour <= ? GROUP BY 1, 2`,
      )
      .all(...range) as { period: string; currency: string; wh: number; cost: number }[];

    const legacy = this.db
      .prepare(
        `SELECT ${p.bucket === 'day' ? 'date' : "date || 'T00'"} AS period, currency,
                sum(jobs) AS jobs, total(job_wh) AS wh, total(job_cost) AS cost,
                total(revenue) AS revenue
         FROM legacy_days WHERE date >= ? AND date <= ? GROUP BY 1, 2`,
      )
      .all(from, to) as {
      period: string;
      currency: string;
      jobs: number;
      wh: number;
      cost: number;
      revenue: number;
    }[];

    const buckets = new Map<
      string,
      JobBucket & { earned: Map<string, bigint>; paidBy: Map<string, bigint> }
    >();
    const bucket = (period: string, currency: string) => {
      const key = `${period}\u0000${currency}`;
      let b = buckets.get(key);
      if (!b) {
        b = {
          period,
          currency,
          jobs: 0,
          failed: 0,
          declined: 0,
          testJobs: 0,
          tokensIn: 0,
          tokensOut: 0,
          earnings: [],
          revenue: 0,
          jobKwh: 0,
          jobCost: 0,
          idleKwh: 0,
          idleCost: 0,
          net: 0,
          paid: [],
          earned: new Map(),
          paidBy: new Map(),
        };
        buckets.set(key, b);
      }
      return b;
    };
    for (const r of rows) {
      // A rollup row can sum to nothing (a job moved to another hour or currency): skip it.
      if (
        r.jobs === 0 &&
        r.declined === 0 &&
        r.tokens_in === 0 &&
        r.tokens_out === 0 &&
        Number(r.hi) === 0 &&
        Number(r.lo) === 0 &&
        Math.abs(r.wh) < 1e-9 &&
        Math.abs(r.cost) < 1e-12 &&
        Math.abs(r.revenue) < 1e-12
      )
        continue;
      const b = bucket(r.period, r.currency);
      if (r.is_test) b.testJobs += r.jobs;
      else {
        b.jobs += r.jobs;
        b.failed += r.failed;
        b.declined += r.declined;
        b.revenue += r.revenue;
        const amount = joinAmount(r.hi, r.lo);
        if (r.token_symbol !== '' && (amount > 0n || !b.earned.has(tokenKey(r)))) {
          b.earned.set(tokenKey(r), (b.earned.get(tokenKey(r)) ?? 0n) + amount);
        }
        const paid = joinAmount(r.paid_hi, r.paid_lo);
        if (paid > 0n) b.paidBy.set(tokenKey(r), (b.paidBy.get(tokenKey(r)) ?? 0n) + paid);
      }
      b.tokensIn += r.tokens_in;
      b.tokensOut += r.tokens_out;
      b.jobKwh += r.wh / 1000;
      b.jobCost += r.cost;
    }
    for (const r of legacy) {
      const b = bucket(r.period, r.currency);
      b.jobs += r.jobs;
      b.jobKwh += r.wh / 1000;
      b.jobCost += r.cost;
      b.revenue += r.revenue;
    }
    for (const r of idle) {
      const b = bucket(r.period, r.currency);
      b.idleKwh += r.wh / 1000;
      b.idleCost += r.cost;
    }
    const out: JobBucket[] = [...buckets.values()]
      .sort((a, b) => a.period.localeCompare(b.period) || a.currency.localeCompare(b.currency))
      .map(({ earned, paidBy, ...b }) => ({
        ...b,
        earnings: tokenAmounts(earned),
        paid: tokenAmounts(paidBy),
        net: b.revenue - b.jobCost,
      }));
    return { bucket: p.bucket, from, to, buckets: out };
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
  }

  oldestStartedAt(): string | null {
    const r = this.db.prepare('SELECT min(started_at) AS t FROM jobs').get() as {
      t: number | null;
    };
    return iso(r.t);
  }
}

function tokenAmounts(byKey: Map<string, bigint>): JobBucket['earnings'] {
  return [...byKey].map(([k, amount]) => {
    const [symbol, address, decimals] = k.split('\u0000') as [string, string, string];
    return {
      symbol,
      address: address === '' ? null : address,
      decimals: Number(decimals),
      amount: amount.toString(),
    };
  });
}

function tokenKey(r: { token_symbol: string; token_address: string; token_decimals: number }) {
  return `${r.token_symbol}\u0000${r.token_address}\u0000${r.token_decimals}`;
}
