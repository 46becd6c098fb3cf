// CSV export of jobs (RFC 4180: comma, CRLF, fields with a comma, quote or line break quoted).
// Streams: rows are read in short keyset-paged batches (never one long-open statement, so job
// writes go on meanwhile) and written with backpressure; nothing buffers the whole table.
import type { Writable } from 'node:stream';
import type { JobFilter, JobRow } from '../../../shared/api/jobs';
import type { Db } from './db';
import { ROW_COLUMNS, toJobRow, whereOf, type DbJobRow } from './queries';

export const CSV_COLUMNS = [
  'id',
  'started_at',
  'ended_at',
  'gateway',
  'model_id',
  'model_sha256',
  'kind',
  'test',
  'status',
  'reason',
  'error_code',
  'tokens_in',
  'tokens_out',
  'duration_ms',
  'ttft_ms',
  'tokens_per_s',
  'price',
  'price_unit',
  'token_symbol',
  'token_decimals',
  'token_address',
  'earned',
  'revenue',
  'energy_wh',
  'energy_cost',
  'currency',
  'net',
  'energy_estimated',
  'voucher_id',
] as const;

/** One job's CSV values, in CSV_COLUMNS order (null: empty). */
export function csvValues(r: JobRow): (string | number | boolean | null)[] {
  return [
    r.id,
    r.startedAt,
    r.endedAt,
    r.gateway,
    r.modelId,
    r.modelSha256,
    r.kind,
    r.test,
    r.status,
    r.reason,
    r.errorCode,
    r.tokensIn,
    r.tokensOut,
    r.durationMs,
    r.ttftMs,
    r.tokensPerSecond,
    r.price,
    r.priceUnit,
    r.token?.symbol ?? null,
    r.token?.decimals ?? null,
    r.token?.address ?? null,
    r.earned,
    r.revenue,
    r.energyWh,
    r.energyCost,
    r.currency,
    r.net,
    r.energyEstimated,
    r.voucherId,
  ];
}

function field(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (values: readonly (string | number | boolean | null)[]): string =>
  `${values.map(field).join(',')}\r\n`;

// Rows per query and per write: small enough that a batch's row objects and its chunk stay in
// V8's young generation (2,000 grew the heap by up to 60 MB over a million-row export).
const BATCH = 500;

/**
 * Writes the header and every matching job, oldest first, to `out` (left open). Returns the
 * number of rows and bytes written.
 */
export async function writeJobsCsv(
  db: Db,
  filter: JobFilter,
  out: Writable,
  opts: { timeZone?: string } = {},
): Promise<{ rows: number; bytes: number }> {
  const { sql, params } = whereOf(filter, opts.timeZone);
  const next = db.prepare(
    `SELECT rowid AS rid, ${ROW_COLUMNS} FROM jobs ${sql ? `${sql} AND` : 'WHERE'}
     (started_at, rowid) > (?, ?) ORDER BY started_at, rowid LIMIT ${BATCH}`,
  );
  let rows = 0;
  let bytes = 0;
  const write = async (chunk: string): Promise<void> => {
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await waitDrain(out);
  };
  await write(csvLine(CSV_COLUMNS));
  let after: [number, number] = [Number.MIN_SAFE_INTEGER, 0];
  for (;;) {
    // The reader went away (a closed download): stop reading.
    if (out.destroyed) break;
    const batch = next.all(...params, ...after) as (DbJobRow & { rid: number })[];
    if (batch.length === 0) break;
    let chunk = '';
    for (const r of batch) chunk += csvLine(csvValues(toJobRow(r)));
    rows += batch.length;
    const last = batch[batch.length - 1]!;
    after = [last.started_at, last.rid];
    await write(chunk);
    // Let job writes and API calls in between batches.
    await new Promise((r) => setImmediate(r));
  }
  return { rows, bytes };
}

function waitDrain(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('error', fail);
      out.off('close', done);
      resolve();
    };
    const fail = (err: Error): void => {
      out.off('drain', done);
      out.off('close', done);
      reject(err);
    };
    out.once('drain', done);
    out.once('error', fail);
    out.once('close', done);
  });
}
