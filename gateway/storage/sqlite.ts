// The embedded store: one SQLite database (better-sqlite3) in the gateway's data folder, in WAL
// mode so `idlerig gateway keys ...` can write keys and credit while the gateway runs. Finished
// jobs are queued and written in one transaction every few milliseconds (a job costs a few
// microseconds, not a commit); every read of jobs or receipts writes the queue first.
//
// better-sqlite3 is a native module: under Node it loads the prebuilt binary npm installed; in a
// packaged Electron app electron-builder's install-app-deps (@electron/rebuild) rebuilds it for
// Electron's ABI at packaging time (npmRebuild: true, the default), and asarUnpack keeps the
// .node file outside the archive.
import Database from 'better-sqlite3';
import type { SignedReceipt } from '../../shared/receipt';
import type { GatewayStore, JobRecord, KeyRecord, ProviderRecord, ReceiptRecord } from './types';

const SCHEMA_VERSION = 1;

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
}

export class SqliteStore implements GatewayStore {
  private readonly db: Database.Database;
  private readonly st;
  private queue: { job: JobRecord; receipt: ReceiptRecord | null }[] = [];
  private spends = new Map<string, [bigint, bigint, string]>();
  private verifications = new Map<string, boolean>();
  private timer: NodeJS.Timeout | null = null;
  private readonly flushMs: number;
  private readonly flushRows: number;
  private readonly writeBatch: () => void;

  constructor(file: string, opts: SqliteStoreOptions = {}) {
    this.flushMs = opts.flushMs ?? 20;
    this.flushRows = opts.flushRows ?? 1000;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.db.close();
      throw new Error(`The gateway database is from a newer version (${version})`);
    }
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
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
      saveSpend: db.prepare(
        'UPDATE keys SET spent = ?, spent_today = ?, spent_day = ? WHERE id = ?',
      ),
      insertJob: db.prepare(
        `INSERT OR REPLACE INTO jobs (id, key_id, api, model_sha256, model_name, provider, outcome,
           error_code, attempts, tokens_in, tokens_out, charge, ttft_ms, duration_ms, started_at,
           ended_at)
         VALUES (@id, @key_id, @api, @model_sha256, @model_name, @provider, @outcome, @error_code,
           @attempts, @tokens_in, @tokens_out, @charge, @ttft_ms, @duration_ms, @started_at,
           @ended_at)`,
      ),
      insertReceipt: db.prepare(
        'INSERT OR REPLACE INTO receipts (job_id, provider, receipt, verified) VALUES (?, ?, ?, ?)',
      ),
      setVerified: db.prepare('UPDATE receipts SET verified = ? WHERE job_id = ?'),
      tally: db.prepare(
        `INSERT INTO providers (address, first_seen, last_seen, jobs_done, jobs_failed)
         VALUES (@address, @at, @at, @done, @failed)
         ON CONFLICT (address) DO UPDATE SET jobs_done = jobs_done + @done,
           jobs_failed = jobs_failed + @failed`,
      ),
      seen: db.prepare(
        `INSERT INTO providers (address, first_seen, last_seen) VALUES (?, ?, ?)
         ON CONFLICT (address) DO UPDATE SET last_seen = excluded.last_seen`,
      ),
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
    this.writeBatch = db.transaction(() => {
      const queue = this.queue;
      this.queue = [];
      const tallies = new Map<string, { at: string; done: number; failed: number }>();
      for (const { job, receipt } of queue) {
        this.st.insertJob.run({
          id: job.id,
          key_id: job.keyId,
          api: job.api,
          model_sha256: job.modelSha256,
          model_name: job.modelName,
          provider: job.provider,
          outcome: job.outcome,
          error_code: job.errorCode,
          attempts: job.attempts,
          tokens_in: job.tokensIn,
          tokens_out: job.tokensOut,
          charge: job.charge.toString(),
          ttft_ms: job.ttftMs,
          duration_ms: job.durationMs,
          started_at: job.startedAt,
          ended_at: job.endedAt,
        });
        if (receipt) {
          this.st.insertReceipt.run(
            receipt.jobId,
            receipt.provider,
            JSON.stringify(receipt.receipt),
            receipt.verified === null ? null : receipt.verified ? 1 : 0,
          );
        }
        if (job.provider) {
          const t = tallies.get(job.provider) ?? { at: job.endedAt, done: 0, failed: 0 };
          if (job.outcome === 'done') t.done++;
          else if (job.outcome === 'error') t.failed++;
          tallies.set(job.provider, t);
        }
      }
      // One upsert per provider per batch, not per job.
      for (const [address, t] of tallies) this.st.tally.run({ address, ...t });
      for (const [id, [spent, today, day]] of this.spends) {
        this.st.saveSpend.run(spent.toString(), today.toString(), day, id);
      }
      this.spends.clear();
      for (const [jobId, ok] of this.verifications) this.st.setVerified.run(ok ? 1 : 0, jobId);
      this.verifications.clear();
    });
  }

  private schedule(): void {
    if (this.queue.length >= this.flushRows) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** Writes what waits in memory. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.queue.length || this.spends.size || this.verifications.size) this.writeBatch();
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
    this.spends.set(id, [spent, spentToday, spentDay]);
    this.schedule();
  }

  recordJob(job: JobRecord, receipt: ReceiptRecord | null): void {
    this.queue.push({ job, receipt });
    this.schedule();
  }

  setReceiptVerified(jobId: string, verified: boolean): void {
    this.verifications.set(jobId, verified);
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
    this.st.seen.run(address, at, at);
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
    } finally {
      this.db.close();
    }
  }
}
