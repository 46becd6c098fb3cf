// The gateway ledger's writer thread (worker_threads): it owns the writes of finished jobs so
// that a commit, or a WAL checkpoint copying thousands of pages, never stalls a request on the
// gateway's main thread. Messages from the store (ledger-thread.ts): { seq, batch } and
// { close: true }. After each batch it stores `seq` in the shared ack word and notifies (the store
// waits on it before a read, so reads see every job recorded before them). A batch that fails is
// kept and written with the next one (or a second later); one still failing when the ledger closes is written as JSON
// lines beside the database (NAME.unsaved-TIME.jsonl) and named in the error, so nothing is lost.
import { writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { batchSize, batchWriter, emptyBatch, mergeBatches, type LedgerBatch } from './ledger-batch';

export interface LedgerWorkerData {
  file: string;
  /** Int32 words: [0] the last batch written (or given up on), [1] 1 once closed. */
  ack: SharedArrayBuffer;
}

export type LedgerWorkerMessage = { seq: number; batch: LedgerBatch } | { close: true };
export type LedgerWorkerReport =
  { error: string; rows: number } | { spilled: string; rows: number };

const { file, ack } = workerData as LedgerWorkerData;
const words = new Int32Array(ack);
const port = parentPort!;
const db = new Database(file);
db.pragma('busy_timeout = 5000'); // first: it covers the pragmas below too
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const write = batchWriter(db);
let pending: LedgerBatch = emptyBatch();
let retry: NodeJS.Timeout | null = null;

function tryWrite(): boolean {
  if (retry) clearTimeout(retry);
  retry = null;
  if (batchSize(pending) === 0) return true;
  try {
    write(pending);
    pending = emptyBatch();
    return true;
  } catch (err) {
    port.postMessage({
      error: (err as Error).message,
      rows: batchSize(pending),
    } satisfies LedgerWorkerReport);
    // Tried again with the next batch, or in a second when none comes.
    retry = setTimeout(tryWrite, 1000);
    return false;
  }
}

const replacer = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

port.on('message', (m: LedgerWorkerMessage) => {
  if ('close' in m) {
    if (!tryWrite()) {
      const spill = `${file}.unsaved-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
      const lines = [
        ...pending.jobs.map((j) => JSON.stringify({ kind: 'job', ...j }, replacer)),
        ...pending.spends.map((s) => JSON.stringify({ kind: 'spend', s }, replacer)),
        ...pending.verifications.map((v) => JSON.stringify({ kind: 'verified', v })),
        ...pending.seen.map((s) => JSON.stringify({ kind: 'seen', s })),
        ...pending.late.map((r) => JSON.stringify({ kind: 'late-receipt', ...r })),
      ];
      writeFileSync(spill, `${lines.join('\n')}\n`);
      port.postMessage({ spilled: spill, rows: lines.length } satisfies LedgerWorkerReport);
    }
    db.close();
    Atomics.store(words, 1, 1);
    Atomics.notify(words, 1);
    port.close();
    return;
  }
  pending = batchSize(pending) ? mergeBatches(pending, m.batch) : m.batch;
  tryWrite();
  Atomics.store(words, 0, m.seq);
  Atomics.notify(words, 0);
});
