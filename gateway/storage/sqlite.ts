// The embedded store: one SQLite database (better-sqlite3) in the gateway's data folder, in WAL
// mode so `idlerig gateway keys ...` can write keys and credit while the gateway runs. Finished
// jobs are queued and written in one transaction every few milliseconds (a job costs a few
// microseconds, not a commit); every read of jobs or receipts writes the queue first. A running
// gateway (writer: 'thread') hands those batches to a writer thread (ledger-thread.ts), so no
// commit or WAL checkpoint stalls its requests; should the thread fail, the store writes inline.
//
// better-sqlite3 is a native module: under Node it loads the prebuilt binary npm installed; in a
// packaged Electron app electron-builder's install-app-deps (@electron/rebuild) rebuilds it for
// Electron's ABI at packaging time (npmRebuild: true, the default), and asarUnpack keeps the
// .node file outside the archive.
import Database from 'better-sqlite3';
import type { SignedReceipt } from '../../shared/receipt';
import { batchSize, batchWriter, emptyBatch, mergeBatches, type LedgerBatch } from './ledger-batch';
import { LedgerThread } from './ledger-thread';
import type { GatewayStore, JobRecord, KeyRecord, ProviderRecord, ReceiptRecord } from './types';

// 1: the first ledger. 2: jobs.input_sha256 (what a late receipt's input hash is checked against).
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT,
  credit TEXT NOT NULL,
  spent TEXT NOT NULL,
  spent_today TEXT NOT NULL,
  spent_day TEXT NOT NULL,
  budget_per_day TEXT,
  rpm INTEGER,
  tpm INTEGER,
  max_parallel INTEGER
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  api TEXT NOT NULL,
  model_sha256 TEXT NOT NULL,
  model_name TEXT NOT NULL,
  input_sha256 TEXT,
  provider TEXT,
  outcome TEXT NOT NULL,
  error_code TEXT,
  attempts INTEGER NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  charge TEXT NOT NULL,
  ttft_ms REAL,
  duration_ms REAL NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_ended ON jobs (ended_at);
CREATE TABLE IF NOT EXISTS receipts (
  job_id TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  receipt TEXT NOT NULL,
  verified INTEGER
);
CREATE INDEX IF NOT EXISTS receipts_unverified ON receipts (verified) WHERE verified IS NULL;
CREATE TABLE IF NOT EXISTS providers (
  address TEXT PRIMARY KEY,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  jobs_done INTEGER NOT NULL DEFAULT 0,
  jobs_failed INTEGER NOT NULL DEFAULT 0
);
`;

interface KeyRow {
  id: string;
  secret_hash: string;
  name: string;
  created_at: string;
  revoked_at: string | null;
  credit: string;
  spent: string;
  spent_today: string;
  spent_day: string;
  budget_per_day: string | null;
  rpm: number | null;
  tpm: number | null;
  max_parallel: number | null;
}

interface JobRow {
  id: string;
  key_id: string;
  api: JobRecord['api'];
  model_sha256: string;
  model_name: string;
  input_sha256: string | null;
  provider: string | null;
  outcome: JobRecord['outcome'];
  error_code: string | null;
  attempts: number;
  tokens_in: number;
  tokens_out: number;
  charge: string;
  ttft_ms: number | null;
  duration_ms: number;
  started_at: string;
  ended_at: string;
}

interface ReceiptRow {
  job_id: string;
  provider: string;
  receipt: string;
  verified: number | null;
}

const keyFromRow = (r: KeyRow): KeyRecord => ({
  id: r.id,
  secretHash: r.secret_hash,
  name: r.name,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  credit: BigInt(r.credit),
  spent: BigInt(r.spent),
  spentToday: BigInt(r.spent_today),
  spentDay: r.spent_day,
  budgetPerDay: r.budget_per_day === null ? null : BigInt(r.budget_per_day),
  rpm: r.rpm,
  tpm: r.tpm,
  maxParallel: r.max_parallel,
});

const jobFromRow = (r: JobRow): JobRecord => ({
  id: r.id,
  keyId: r.key_id,
  api: r.api,
  modelSha256: r.model_sha256,
  modelName: r.model_name,
  inputSha256: r.input_sha256,
  provider: r.provider,
  outcome: r.outcome,
  errorCode: r.error_code,
  attempts: r.attempts,
  tokensIn: r.tokens_in,
  tokensOut: r.tokens_out,
  charge: BigInt(r.charge),
  ttftMs: r.ttft_ms,
  durationMs: r.duration_ms,
  startedAt: r.started_at,
  endedAt: r.ended_at,
});

const receiptFromRow = (r: ReceiptRow): ReceiptRecord => ({
  jobId: r.job_id,
  provider: r.provider,
  receipt: JSON.parse(r.receipt) as SignedReceipt,
  verified: r.verified === null ? null : r.verified === 1,
});

export interface SqliteStoreOptions {
  /** How long finished jobs may wait in memory before they are written. */
  flushMs?: number;
  /** ... or how many. */
  flushRows?: number;
  /** 'thread': batches are written by a worker thread (a running gateway); default 'inline'. */
  writer?: 'inline' | 'thread';
  /** A batch could not be written (it is kept and tried again), or the writer thread failed. */
  onError?: (message: string) => void;
}

export class SqliteStore implements GatewayStore {
  private readonly db: Database.Database;
  private readonly st;
  private pending: LedgerBatch = emptyBatch();
  private timer: NodeJS.Timeout | null = null;
  private readonly flushMs: number;
  private readonly flushRows: number;
  private readonly writeInline: (b: LedgerBatch) => void;
  private thread: LedgerThread | null = null;
  private readonly onError: (message: string) => void;

  constructor(file: string, opts: SqliteStoreOptions = {}) {
    this.flushMs = opts.flushMs ?? 20;
    this.flushRows = opts.flushRows ?? 1000;
    this.onError = opts.onError ?? (() => undefined);
    this.db = new Database(file);
    // The wait for another connection's lock first, so that it covers the pragmas below too (a
    // second opener, e.g. `idlerig gateway keys` beside a running gateway, could otherwise get
    // "database is locked" at once).
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.db.close();
      throw new Error(`The gateway database is from a newer version (${version})`);
    }
    this.db.transaction(() => {
      this.db.exec(SCHEMA);
      // A ledger of schema 1 has a jobs table without input_sha256 (CREATE ... IF NOT EXISTS
      // left it as it was): its old jobs keep null there.
      const columns = this.db.pragma('table_info(jobs)') as { name: string }[];
      if (!columns.some((c) => c.name === 'input_sha256')) {
        this.db.exec('ALTER TABLE jobs ADD COLUMN input_sha256 TEXT');
      }
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
    const db = this.db;
    this.st = {
      insertKey: db.prepare(
        `INSERT INTO keys (id, secret_hash, name, created_at, revoked_at, credit, spent, spent_today,
           spent_day, budget_per_day, rpm, tpm, max_parallel)
         VALUES (@id, @secret_hash, @name, @created_at, @revoked_at, @credit, @spent, @spent_today,
           @spent_day, @budget_per_day, @rpm, @tpm, @max_parallel)`,
      ),
      getKey: db.prepare<[string], KeyRow>('SELECT * FROM keys WHERE id = ?'),
      listKeys: db.prepare<[], KeyRow>('SELECT * FROM keys ORDER BY created_at, id'),
      revokeKey: db.prepare('UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      setCredit: db.prepare('UPDATE keys SET credit = ? WHERE id = ?'),
      getProvider: db.prepare<
        [string],
        {
          address: string;
          first_seen: string;
          last_seen: string;
          jobs_done: number;
          jobs_failed: number;
        }
      >('SELECT * FROM providers WHERE address = ?'),
      getJob: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
      listJobs: db.prepare<[number], JobRow>(
        'SELECT * FROM jobs ORDER BY ended_at DESC, id DESC LIMIT ?',
      ),
      getReceipt: db.prepare<[string], ReceiptRow>('SELECT * FROM receipts WHERE job_id = ?'),
      unverified: db.prepare<[number], ReceiptRow>(
        'SELECT * FROM receipts WHERE verified IS NULL ORDER BY rowid LIMIT ?',
      ),
    };
    this.writeInline = batchWriter(db);
    if (opts.writer === 'thread') {
      try {
        this.thread = new LedgerThread(file, {
          report: (r) =>
            this.onError(
              'error' in r
                ? `The ledger could not write ${r.rows} rows (kept, tried again): ${r.error}`
                : `The ledger could not write ${r.rows} rows at close; they are in ${r.spilled}`,
            ),
          died: (unwritten, why) => {
            this.thread = null;
            this.onError(`${why}; the ledger is written inline from now on`);
            // Oldest first, before what came since: a key's latest spend must be written last.
            this.pending = unwritten.reduceRight(
              (later, b) => mergeBatches(b, later),
              this.pending,
            );
            this.schedule();
          },
        });
      } catch (err) {
        this.onError(`The ledger writer thread did not start (${(err as Error).message}); inline`);
      }
    }
  }

  private schedule(): void {
    if (batchSize(this.pending) >= this.flushRows) this.write();
    else this.timer ??= setTimeout(() => this.write(), this.flushMs);
  }

  /** Hands what waits in memory to the writer thread, or writes it here. */
  private write(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (batchSize(this.pending) === 0) return;
    const batch = this.pending;
    this.pending = emptyBatch();
    if (this.thread?.alive) return this.thread.post(batch);
    try {
      this.writeInline(batch);
    } catch (err) {
      // Kept for the next try: a full disk or a long lock must not lose a finished job.
      this.pending = mergeBatches(batch, this.pending);
      this.onError(
        `The ledger could not write ${batchSize(batch)} rows (kept, tried again): ${(err as Error).message}`,
      );
      this.timer ??= setTimeout(() => this.write(), Math.max(this.flushMs, 1000));
    }
  }

  /** Writes what waits in memory; when it returns, reads see it. */
  flush(): void {
    this.write();
    this.thread?.sync();
    // The thread died while we waited: what it had not written came back to be written here.
    if (!this.thread && batchSize(this.pending)) this.write();
  }

  createKey(k: KeyRecord): void {
    this.st.insertKey.run({
      id: k.id,
      secret_hash: k.secretHash,
      name: k.name,
      created_at: k.createdAt,
      revoked_at: k.revokedAt,
      credit: k.credit.toString(),
      spent: k.spent.toString(),
      spent_today: k.spentToday.toString(),
      spent_day: k.spentDay,
      budget_per_day: k.budgetPerDay === null ? null : k.budgetPerDay.toString(),
      rpm: k.rpm,
      tpm: k.tpm,
      max_parallel: k.maxParallel,
    });
  }

  getKey(id: string): KeyRecord | null {
    const row = this.st.getKey.get(id);
    return row ? keyFromRow(row) : null;
  }

  listKeys(): KeyRecord[] {
    this.flush();
    return this.st.listKeys.all().map(keyFromRow);
  }

  revokeKey(id: string, at: string): boolean {
    return this.st.revokeKey.run(at, id).changes > 0;
  }

  addCredit(id: string, amount: bigint): bigint | null {
    return this.db.transaction((): bigint | null => {
      const row = this.st.getKey.get(id);
      if (!row) return null;
      const credit = BigInt(row.credit) + amount;
      this.st.setCredit.run(credit.toString(), id);
      return credit;
    })();
  }

  saveSpend(id: string, spent: bigint, spentToday: bigint, spentDay: string): void {
    this.pending.spends.push([id, spent, spentToday, spentDay]);
    this.schedule();
  }

  recordJob(job: JobRecord, receipt: ReceiptRecord | null): void {
    this.pending.jobs.push({ job, receipt });
    this.schedule();
  }

  addLateReceipt(receipt: ReceiptRecord): void {
    this.pending.late.push(receipt);
    this.schedule();
  }

  setReceiptVerified(jobId: string, verified: boolean): void {
    this.pending.verifications.push([jobId, verified]);
    this.schedule();
  }

  getJob(id: string): JobRecord | null {
    this.flush();
    const row = this.st.getJob.get(id);
    return row ? jobFromRow(row) : null;
  }

  listJobs(limit: number): JobRecord[] {
    this.flush();
    return this.st.listJobs.all(limit).map(jobFromRow);
  }

  getReceipt(jobId: string): ReceiptRecord | null {
    this.flush();
    const row = this.st.getReceipt.get(jobId);
    return row ? receiptFromRow(row) : null;
  }

  unverifiedReceipts(limit: number): ReceiptRecord[] {
    this.flush();
    return this.st.unverified.all(limit).map(receiptFromRow);
  }

  providerSeen(address: string, at: string): void {
    this.pending.seen.push([address, at]);
    this.schedule();
  }

  getProvider(address: string): ProviderRecord | null {
    this.flush();
    const r = this.st.getProvider.get(address);
    return r
      ? {
          address: r.address,
          firstSeen: r.first_seen,
          lastSeen: r.last_seen,
          jobsDone: r.jobs_done,
          jobsFailed: r.jobs_failed,
        }
      : null;
  }

  close(): void {
    try {
      this.flush();
      this.thread?.close();
      // Written inline when the thread failed at the end.
      if (batchSize(this.pending)) this.writeInline(this.pending);
    } finally {
      if (this.timer) clearTimeout(this.timer);
      this.db.close();
    }
  }
}
