import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import writeFileAtomicLib from 'write-file-atomic';

/** Rename failures that are transient on Windows (antivirus, indexers, another reader). */
const TRANSIENT = new Set(['EPERM', 'EBUSY', 'EACCES']);
const RETRY_DELAYS_MS = [20, 50, 100, 200, 400, 800];

/**
 * Writes a file so that a reader sees either the old or the new content, never a torn one
 * (write-file-atomic: a temporary file beside it, fsynced, renamed over the target; writes to one
 * file are serialised). A write that fails with EPERM/EBUSY/EACCES (Windows: antivirus or an
 * indexer holds the file) is tried again a few times, about 1.5 s in all. The folder is fsynced
 * after the rename where the platform allows it.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFileAtomicLib(path, typeof data === 'string' ? data : Buffer.from(data), {
        mode,
        fsync: true,
      });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const delay = RETRY_DELAYS_MS[attempt];
      if (!TRANSIENT.has(code) || delay === undefined) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  // Persist the rename itself. Not every platform can open a folder (Windows cannot): best effort.
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* folder fsync unsupported here */
  }
}

/** Runs tasks one after another: the single writer of a file. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Resolves when everything queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
