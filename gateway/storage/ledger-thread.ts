// The store's side of the ledger's writer thread (ledger-worker.ts): batches are posted to it
// and kept here until it has acknowledged them; `sync()` blocks (Atomics.wait, bounded) until
// everything posted is written, for a read that must see it. When the thread cannot start or
// dies, the batches it had not acknowledged come back to the caller to be written inline.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LedgerBatch } from './ledger-batch';
import type { LedgerWorkerData, LedgerWorkerMessage, LedgerWorkerReport } from './ledger-worker';

const SYNC_TIMEOUT_MS = 10_000;

/**
 * dist/main/ledger-worker.js beside the bundle (or one folder up from a shared chunk); in a
 * source checkout (tests, `node --import tsx`) tsx compiles ledger-worker.ts in the thread.
 */
function startWorker(workerData: LedgerWorkerData): Worker {
  const js = ['./ledger-worker.js', '../ledger-worker.js']
    .map((p) => fileURLToPath(new URL(p, import.meta.url)))
    .find((p) => existsSync(p));
  if (js) return new Worker(js, { workerData });
  const ts = fileURLToPath(new URL('./ledger-worker.ts', import.meta.url));
  // Resolved here, not in the thread: an eval'd thread resolves from the working directory.
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(ts)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(code, { eval: true, workerData });
}

export class LedgerThread {
  private readonly worker: Worker;
  private readonly words: Int32Array;
  private seq = 0;
  private readonly unacked = new Map<number, LedgerBatch>();
  private dead = false;

  constructor(
    file: string,
    private readonly hooks: {
      /** A write failed (kept and retried by the thread), or rows were spilled at close. */
      report(r: LedgerWorkerReport): void;
      /** The thread is gone: these batches were never written and are the caller's again. */
      died(unwritten: LedgerBatch[], why: string): void;
    },
  ) {
    const ack = new SharedArrayBuffer(8);
    this.words = new Int32Array(ack);
    this.worker = startWorker({ file, ack });
    this.worker.unref();
    this.worker.on('message', (r: LedgerWorkerReport) => hooks.report(r));
    this.worker.on('error', (err) => this.die(`the ledger writer failed: ${err.message}`));
    this.worker.on('exit', (code) => {
      if (Atomics.load(this.words, 1) !== 1) this.die(`the ledger writer stopped (${code})`);
    });
  }

  get alive(): boolean {
    return !this.dead;
  }

  post(batch: LedgerBatch): void {
    const seq = ++this.seq;
    this.unacked.set(seq, batch);
    this.worker.postMessage({ seq, batch } satisfies LedgerWorkerMessage);
    this.forgetAcked();
  }

  /** Blocks until every posted batch is written (or the thread is gone). */
  sync(): void {
    const until = Date.now() + SYNC_TIMEOUT_MS;
    while (!this.dead && Atomics.load(this.words, 0) < this.seq) {
      // -1 once the thread has ended, which may be before its 'exit' event can be delivered.
      if (this.worker.threadId === -1) return this.die('the ledger writer stopped');
      const left = until - Date.now();
      if (left <= 0) throw new Error('The gateway ledger writer did not answer in 10 s');
      Atomics.wait(this.words, 0, Atomics.load(this.words, 0), Math.min(left, 100));
    }
    this.forgetAcked();
  }

  /** Writes what is posted, then stops the thread (blocking, bounded). */
  close(): void {
    if (this.dead) return;
    this.sync();
    this.worker.postMessage({ close: true } satisfies LedgerWorkerMessage);
    const until = Date.now() + SYNC_TIMEOUT_MS;
    while (Atomics.load(this.words, 1) !== 1 && this.worker.threadId !== -1 && Date.now() < until) {
      Atomics.wait(this.words, 1, 0, 100);
    }
    this.dead = true;
  }

  private forgetAcked(): void {
    const done = Atomics.load(this.words, 0);
    for (const seq of this.unacked.keys()) {
      if (seq > done) break;
      this.unacked.delete(seq);
    }
  }

  private die(why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.forgetAcked();
    const unwritten = [...this.unacked.values()];
    this.unacked.clear();
    this.hooks.died(unwritten, why);
  }
}
