// The gateway ledger (gateway/storage/sqlite.ts) with its writer thread, as a running gateway
// uses it: every finished job is readable right after it is recorded, survives a close, and is
// not lost when the database is locked for a while or when the writer thread dies.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJobId } from '../../gateway/ids';
import { SqliteStore } from '../../gateway/storage/sqlite';
import type { JobRecord, ReceiptRecord } from '../../gateway/storage/types';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idlerig-ledger-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PROVIDER = `0x${'ab'.repeat(20)}`;

function job(i: number): { job: JobRecord; receipt: ReceiptRecord } {
  const id = newJobId();
  const now = new Date().toISOString();
  return {
    job: {
      id,
      keyId: 'k1',
      api: 'chat',
      modelSha256: 'c'.repeat(64),
      modelName: 'stub',
      inputSha256: '0'.repeat(64),
      provider: PROVIDER,
      outcome: 'done',
      errorCode: null,
      attempts: 1,
      tokensIn: 3,
      tokensOut: i,
      charge: 10n ** 18n + BigInt(i),
      ttftMs: 1.5,
      durationMs: 2.5,
      startedAt: now,
      endedAt: now,
    },
    receipt: {
      jobId: id,
      provider: PROVIDER,
      receipt: {
        jobId: id,
        modelSha256: 'c'.repeat(64),
        inputSha256: '0'.repeat(64),
        outputSha256: '1'.repeat(64),
        tokensIn: 3,
        tokensOut: i,
        price: String(i),
        gateway: 'http://127.0.0.1:1',
        signature: `0x${'00'.repeat(65)}`,
      },
      verified: null,
    },
  };
}

function addKey(store: SqliteStore): void {
  store.createKey({
    id: 'k1',
    secretHash: '0'.repeat(64),
    name: 'test',
    createdAt: new Date().toISOString(),
    revokedAt: null,
    credit: 10n ** 24n,
    spent: 0n,
    spentToday: 0n,
    spentDay: '2026-12-01',
    budgetPerDay: null,
    rpm: null,
    tpm: null,
    maxParallel: null,
  });
}

describe('gateway ledger with its writer thread', () => {
  it('a job is readable as soon as it is recorded, and every job survives a close', () => {
    const errors: string[] = [];
    const file = join(dir, 'gateway.sqlite');
    const store = new SqliteStore(file, { writer: 'thread', onError: (m) => errors.push(m) });
    addKey(store);
    const made = Array.from({ length: 1500 }, (_, i) => job(i));
    for (const [i, m] of made.entries()) {
      store.recordJob(m.job, m.receipt);
      store.saveSpend('k1', BigInt(i + 1), BigInt(i + 1), '2026-12-01');
    }
    // Read right after: the read waits for the thread to write what came before it.
    expect(store.getJob(made[1499]!.job.id)).toEqual(made[1499]!.job);
    expect(store.getReceipt(made[7]!.job.id)?.receipt).toEqual(made[7]!.receipt.receipt);
    store.setReceiptVerified(made[7]!.job.id, true);
    expect(store.getReceipt(made[7]!.job.id)?.verified).toBe(true);
    expect(store.getProvider(PROVIDER)).toMatchObject({ jobsDone: 1500, jobsFailed: 0 });
    store.close();
    expect(errors).toEqual([]);

    const again = new SqliteStore(file);
    expect(again.listJobs(5000)).toHaveLength(1500);
    expect(again.getKey('k1')?.spent).toBe(1500n);
    again.close();
  });

  it('a receipt that comes later is kept for a job without one, and never replaces one', () => {
    const store = new SqliteStore(join(dir, 'gateway.sqlite'), { writer: 'thread' });
    addKey(store);
    const withOne = job(1);
    const without = job(2);
    store.recordJob(withOne.job, withOne.receipt);
    store.recordJob({ ...without.job, outcome: 'error', errorCode: 'PROVIDER_LOST' }, null);
    const other = { ...withOne.receipt.receipt, tokensOut: 99 };
    store.addLateReceipt({ ...withOne.receipt, receipt: other });
    store.addLateReceipt(without.receipt);
    expect(store.getReceipt(withOne.job.id)?.receipt.tokensOut).toBe(1);
    expect(store.getReceipt(without.job.id)).toEqual(without.receipt);
    expect(store.unverifiedReceipts(10).map((r) => r.jobId)).toContain(without.job.id);
    store.close();
  });

  it('a database locked for longer than the busy timeout: the write fails, is reported, and lands once the lock goes', async () => {
    const errors: string[] = [];
    const file = join(dir, 'gateway.sqlite');
    const store = new SqliteStore(file, { writer: 'thread', onError: (m) => errors.push(m) });
    addKey(store);
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE'); // another writer holds the lock (busy_timeout is 5 s)
    const made = Array.from({ length: 20 }, (_, i) => job(i));
    for (const m of made) store.recordJob(m.job, m.receipt);
    await expect.poll(() => errors.length, { timeout: 15_000 }).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/could not write 20 rows \(kept, tried again\).*locked/);
    other.exec('COMMIT');
    other.close();
    // Retried by the thread on its own (no further job comes): all of them arrive.
    const reader = new Database(file, { readonly: true });
    await expect
      .poll(() => (reader.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n, {
        timeout: 15_000,
      })
      .toBe(20);
    reader.close();
    store.close();
  }, 40_000);

  it('the writer thread dies: what it had not written is written inline, and so is what follows', async () => {
    const errors: string[] = [];
    const file = join(dir, 'gateway.sqlite');
    const store = new SqliteStore(file, { writer: 'thread', onError: (m) => errors.push(m) });
    addKey(store);
    const made = Array.from({ length: 300 }, (_, i) => job(i));
    for (const m of made.slice(0, 200)) store.recordJob(m.job, m.receipt);
    store['write'](); // hand them to the thread now
    // A crash of the thread, as an out-of-memory or a native fault would end it.
    await (
      store as unknown as { thread: { worker: { terminate(): Promise<number> } } }
    ).thread.worker.terminate();
    await expect.poll(() => errors.some((e) => /written inline/.test(e))).toBe(true);
    for (const m of made.slice(200)) store.recordJob(m.job, m.receipt);
    expect(store.listJobs(1000)).toHaveLength(300);
    store.close();
    expect(await readdir(dir)).not.toContainEqual(expect.stringMatching(/unsaved/));
  });

  it('a ledger of schema 1 opens as schema 2: its jobs are kept and have no input hash; new jobs record theirs', () => {
    const file = join(dir, 'gateway.sqlite');
    // Schema 1's jobs table as it shipped (stop 16), with one job in it.
    const old = new Database(file);
    old.exec(`CREATE TABLE jobs (
      id TEXT PRIMARY KEY, key_id TEXT NOT NULL, api TEXT NOT NULL, model_sha256 TEXT NOT NULL,
      model_name TEXT NOT NULL, provider TEXT, outcome TEXT NOT NULL, error_code TEXT,
      attempts INTEGER NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,
      charge TEXT NOT NULL, ttft_ms REAL, duration_ms REAL NOT NULL, started_at TEXT NOT NULL,
      ended_at TEXT NOT NULL)`);
    const before = job(5).job;
    old
      .prepare('INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        before.id,
        before.keyId,
        before.api,
        before.modelSha256,
        before.modelName,
        before.provider,
        before.outcome,
        before.errorCode,
        before.attempts,
        before.tokensIn,
        before.tokensOut,
        before.charge.toString(),
        before.ttftMs,
        before.durationMs,
        before.startedAt,
        before.endedAt,
      );
    old.pragma('user_version = 1');
    old.close();

    const store = new SqliteStore(file);
    expect(store.getJob(before.id)).toEqual({ ...before, inputSha256: null });
    const after = job(6);
    store.recordJob(after.job, after.receipt);
    expect(store.getJob(after.job.id)?.inputSha256).toBe('0'.repeat(64));
    store.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
  });
});
