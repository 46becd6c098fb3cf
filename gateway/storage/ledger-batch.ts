// The ledger's writes of one batch, in one transaction: finished jobs with their receipts, the
// providers' tallies, the keys' spend, receipts that came later (away reports), receipt
// verifications and provider sightings. Used by the
// ledger's writer thread (ledger-worker.ts) and, where there is none, by the store itself.
import type Database from 'better-sqlite3';
import { REQUEST_FAULT_ERROR_CODES } from '../dispatch-error';
import type { JobRecord, ReceiptRecord } from './types';

export interface LedgerBatch {
  jobs: { job: JobRecord; receipt: ReceiptRecord | null }[];
  /** key id → [spent, spent today, its UTC day] (the latest figures). */
  spends: [string, bigint, bigint, string][];
  verifications: [string, boolean][];
  /** provider address → when it logged in. */
  seen: [string, string][];
  /** Receipts that came after their job was recorded (away reports): never replace one. */
  late: ReceiptRecord[];
}

export const emptyBatch = (): LedgerBatch => ({
  jobs: [],
  spends: [],
  verifications: [],
  seen: [],
  late: [],
});

export const batchSize = (b: LedgerBatch): number =>
  b.jobs.length + b.spends.length + b.verifications.length + b.seen.length + b.late.length;

/** Later batch after earlier, as one (a failed write is retried with the next). */
export function mergeBatches(a: LedgerBatch, b: LedgerBatch): LedgerBatch {
  return {
    jobs: [...a.jobs, ...b.jobs],
    spends: [...a.spends, ...b.spends],
    verifications: [...a.verifications, ...b.verifications],
    seen: [...a.seen, ...b.seen],
    late: [...a.late, ...b.late],
  };
}

/** A function writing a batch in one transaction on `db` (it throws when the write fails). */
export function batchWriter(db: Database.Database): (b: LedgerBatch) => void {
  const st = {
    insertJob: db.prepare(
      `INSERT OR REPLACE INTO jobs (id, key_id, api, model_sha256, model_name, input_sha256,
         provider, outcome, error_code, attempts, tokens_in, tokens_out, charge, ttft_ms,
         duration_ms, started_at, ended_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertReceipt: db.prepare(
      'INSERT OR REPLACE INTO receipts (job_id, provider, receipt, verified) VALUES (?, ?, ?, ?)',
    ),
    insertLate: db.prepare(
      'INSERT OR IGNORE INTO receipts (job_id, provider, receipt, verified) VALUES (?, ?, ?, ?)',
    ),
    setVerified: db.prepare('UPDATE receipts SET verified = ? WHERE job_id = ?'),
    saveSpend: db.prepare('UPDATE keys SET spent = ?, spent_today = ?, spent_day = ? WHERE id = ?'),
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
  };
  return db.transaction((b: LedgerBatch) => {
    for (const [address, at] of b.seen) st.seen.run(address, at, at);
    const tallies = new Map<string, { at: string; done: number; failed: number }>();
    for (const { job, receipt } of b.jobs) {
      st.insertJob.run(
        job.id,
        job.keyId,
        job.api,
        job.modelSha256,
        job.modelName,
        job.inputSha256,
        job.provider,
        job.outcome,
        job.errorCode,
        job.attempts,
        job.tokensIn,
        job.tokensOut,
        job.charge.toString(),
        job.ttftMs,
        job.durationMs,
        job.startedAt,
        job.endedAt,
      );
      if (receipt) {
        st.insertReceipt.run(
          receipt.jobId,
          receipt.provider,
          JSON.stringify(receipt.receipt),
          receipt.verified === null ? null : receipt.verified ? 1 : 0,
        );
      }
      if (job.provider) {
        const t = tallies.get(job.provider) ?? { at: job.endedAt, done: 0, failed: 0 };
        if (job.outcome === 'done') t.done++;
        // A request's fault (its errorCode) is not counted against the provider.
        else if (job.outcome === 'error' && !REQUEST_FAULT_ERROR_CODES.has(job.errorCode ?? ''))
          t.failed++;
        tallies.set(job.provider, t);
      }
    }
    // One upsert per provider per batch, not per job.
    for (const [address, t] of tallies) st.tally.run({ address, ...t });
    // The latest figures of each key win (a batch may hold several of one key).
    const spends = new Map<string, [bigint, bigint, string]>();
    for (const [id, spent, today, day] of b.spends) spends.set(id, [spent, today, day]);
    for (const [id, [spent, today, day]] of spends) {
      st.saveSpend.run(spent.toString(), today.toString(), day, id);
    }
    for (const r of b.late) {
      st.insertLate.run(r.jobId, r.provider, JSON.stringify(r.receipt), null);
    }
    for (const [jobId, ok] of b.verifications) st.setVerified.run(ok ? 1 : 0, jobId);
  });
}
