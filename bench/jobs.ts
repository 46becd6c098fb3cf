// `npm run bench -- jobs [--rows N]`: the job record at one million rows (a real database file, WAL, full
// fsync): batched insert rate, a filtered and sorted page query and the 30-day aggregates (p95
// over 100 queries each), and a full CSV export's rate and RSS growth. Goals from issue 11:
// ≥ 20,000 rows/s inserted in batches; each query p95 < 50 ms; the export grows RSS < 50 MB.
import { createWriteStream, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { openJobsDb } from '../electron/provider/jobs/db';
import { JobStore } from '../electron/provider/jobs/store';
import { JobQueries } from '../electron/provider/jobs/queries';
import { writeJobsCsv } from '../electron/provider/jobs/csv';
import type { JobStatus } from '../electron/provider/jobs/types';
import { machine } from './_machine';

const rowsAt = process.argv.indexOf('--rows');
const ROWS = Number(
  rowsAt >= 0 ? process.argv[rowsAt + 1] : (process.env.JOBS_BENCH_ROWS ?? 1_000_000),
);
if (!Number.isSafeInteger(ROWS) || ROWS < 1) {
  process.stderr.write('--rows (or JOBS_BENCH_ROWS) is a whole number of rows ≥ 1\n');
  process.exit(2);
}
const BATCH = 10_000;
const DAYS = 365;
const QUERIES = 100;

function p(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** A small deterministic generator, so every run inserts the same rows. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const STATUSES: Exclude<JobStatus, 'running'>[] = [
  'done',
  'done',
  'done',
  'done',
  'done',
  'done',
  'failed',
  'cancelled',
  'declined',
];
const TOKENS = [
  { symbol: 'IDLE', decimals: 18, address: '0x' + '1'.repeat(40) },
  { symbol: 'USDC', decimals: 6, address: '0x' + '2'.repeat(40) },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'idlerig-bench-jobs-'));
  const file = join(dir, 'jobs.db');
  try {
    const { db } = openJobsDb(file);
    const store = new JobStore(db);
    const now = Date.now();
    const t0 = now - DAYS * 86_400_000;
    const rand = rng(42);

    // 1. Insert: batches of BATCH rows, one transaction each.
    let batch: Parameters<JobStore['insertFinished']>[0][number][] = [];
    // Timed: the inserts themselves (building the rows' objects is not the store's cost).
    let insertMs = 0;
    const insert = (rows: typeof batch): void => {
      const t = performance.now();
      store.insertFinished(rows);
      insertMs += performance.now() - t;
    };
    for (let i = 0; i < ROWS; i++) {
      const startedAt = t0 + Math.floor((i / ROWS) * DAYS * 86_400_000);
      const durationMs = 200 + Math.floor(rand() * 20_000);
      const status = STATUSES[Math.floor(rand() * STATUSES.length)]!;
      const token = TOKENS[i % 2]!;
      const test = rand() < 0.02;
      const wh = rand() * 2;
      batch.push({
        start: {
          id: `job-${i}`,
          startedAt,
          gateway: `wss://gw${i % 3}.example/provider`,
          model: { id: `model-${i % 10}`, sha256: (i % 10).toString(16).repeat(64) },
          kind: i % 7 === 0 ? 'tensor' : i % 2 ? 'chat' : 'completion',
          tokensIn: Math.floor(rand() * 2000),
          price: { amount: 1500n, unit: 'per-million-output-tokens' },
          token,
          test,
        },
        end: {
          status,
          endedAt: startedAt + durationMs,
          tokensOut: status === 'declined' ? 0 : Math.floor(rand() * 1000),
          ttftMs: 20 + rand() * 100,
          durationMs,
          earned: status === 'done' ? BigInt(Math.floor(rand() * 1e9)) * 10n ** 6n : 0n,
          revenue: status === 'done' ? rand() * 0.01 : null,
          ...(status === 'declined' ? { reason: 'PRICE_BELOW_FLOOR' } : {}),
        },
        energy: {
          id: `job-${i}`,
          startedAt,
          endedAt: startedAt + durationMs,
          wh,
          cost: (wh / 1000) * 0.3,
          currency: 'EUR',
          estimated: false,
          revenue: null,
        },
      });
      if (batch.length === BATCH) {
        insert(batch);
        batch = [];
      }
    }
    if (batch.length) insert(batch);
    const insertSec = insertMs / 1000;
    const insertRate = ROWS / insertSec;
    // Idle rows, one per hour, as the ledger writes them.
    store.recordIdle(
      Array.from({ length: DAYS * 24 }, (_, h) => ({
        at: t0 + h * 3_600_000,
        currency: 'EUR',
        wh: 40,
        cost: 0.012,
        estimated: false,
      })),
    );

    // 2. A filtered, sorted page: one model, done jobs, the last 60 days, newest first, a page
    //    somewhere in the first 1,000 rows, with the total that matches.
    const q = new JobQueries(db);
    const since = new Date(now - 60 * 86_400_000).toISOString();
    const pageMs: number[] = [];
    let matched = 0;
    for (let i = 0; i < QUERIES; i++) {
      const t = performance.now();
      const r = q.list({
        model: `model-${i % 10}`,
        status: ['done'],
        since,
        sort: 'startedAt',
        dir: 'desc',
        offset: (i * 37) % 1000,
        limit: 50,
      });
      pageMs.push(performance.now() - t);
      matched = r.total;
      if (r.rows.length !== Math.min(50, Math.max(0, r.total - ((i * 37) % 1000))))
        throw new Error('page query returned a short page');
    }
    // The same with a sort on a column without an index (duration), for the record.
    const unindexedMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      q.list({ model: `model-${i % 10}`, since, sort: 'durationMs', dir: 'desc', limit: 50 });
      unindexedMs.push(performance.now() - t);
    }

    // 3. The 30-day aggregates, per day (the Dashboard's chart).
    const aggMs: number[] = [];
    let buckets = 0;
    for (let i = 0; i < QUERIES; i++) {
      const t = performance.now();
      const a = q.aggregates({ bucket: 'day', days: 30 });
      aggMs.push(performance.now() - t);
      buckets = a.buckets.length;
    }
    const hourMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      q.aggregates({ bucket: 'hour', days: 30 });
      hourMs.push(performance.now() - t);
    }

    // 4. Full CSV export to a file; RSS sampled every 20 ms while it runs.
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    const out = createWriteStream(join(dir, 'export.csv'));
    const csvStart = performance.now();
    const csv = await writeJobsCsv(db, {}, out);
    out.end();
    await finished(out);
    const csvSec = (performance.now() - csvStart) / 1000;
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    const rssGrowthMB = (rssPeak - rssBefore) / 2 ** 20;
    db.close();

    // 5. Opening the million-row file again, with the integrity check the node runs at start.
    const openStart = performance.now();
    const again = openJobsDb(file);
    const openMs = performance.now() - openStart;
    again.db.close();

    const dbBytes = statSync(file).size;
    const result = {
      benchmark: 'jobs',
      machine: machine(),
      note: 'A real database file (WAL, synchronous=FULL) in the temporary folder. Figures measured while other work shares the CPUs vary run to run.',
      rows: ROWS,
      databaseMB: Math.round((dbBytes / 2 ** 20) * 10) / 10,
      insert: {
        batchRows: BATCH,
        seconds: Math.round(insertSec * 100) / 100,
        rowsPerSecond: Math.round(insertRate),
        goalRowsPerSecond: 20_000,
        ratioToGoal: Math.round((insertRate / 20_000) * 100) / 100,
      },
      pageQuery: {
        what: 'model = M, status = done, last 60 days, newest first, 50 rows at offset < 1000, with the matching total',
        matchingRows: matched,
        p50Ms: round(p(pageMs, 0.5)),
        p95Ms: round(p(pageMs, 0.95)),
        goalP95Ms: 50,
        ratioToGoal: round(50 / p(pageMs, 0.95)),
        unindexedSortP95Ms: round(p(unindexedMs, 0.95)),
      },
      aggregates30Days: {
        buckets,
        p50Ms: round(p(aggMs, 0.5)),
        p95Ms: round(p(aggMs, 0.95)),
        goalP95Ms: 50,
        ratioToGoal: round(50 / p(aggMs, 0.95)),
        hourlyP95Ms: round(p(hourMs, 0.95)),
      },
      csvExport: {
        rows: csv.rows,
        MB: round(csv.bytes / 2 ** 20),
        seconds: round(csvSec),
        rowsPerSecond: Math.round(csv.rows / csvSec),
        rssGrowthMB: round(rssGrowthMB),
        goalRssGrowthMB: 50,
        ratioToGoal: round(50 / Math.max(rssGrowthMB, 0.1)),
      },
      openWithIntegrityCheckMs: Math.round(openMs),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

await main();
