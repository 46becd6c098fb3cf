// sha256 of a download while it streams.
//
// Small files are hashed inline from the network chunks. Big ones are hashed by a worker thread
// that reads the partial file right behind the writer (from the page cache) and hashes what is
// on disk: the event loop that reads the socket does no hashing at all, the hash runs on another
// core, and its tail overlaps the final fsync. Resuming is the same operation: the worker starts
// at byte 0 of the partial file, whose bytes are all "written" already.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { InstalledModel } from './registry';
import { checkModelFileName, engineFromFile, slugFromFile } from './policy';

export interface StreamHasher {
  /** Bytes received from the network, in order (hashed by the inline hasher). */
  update(chunk: Buffer): void;
  /** The partial file now holds this many bytes (hashed by the file hasher). */
  written(bytes: number): void;
  /** Hashes the first `length` bytes already in the partial file (a resume). */
  updateFromFile(length: number): Promise<number>;
  /** The sha256 once `totalBytes` bytes are in. */
  digest(totalBytes: number): Promise<string>;
  close(): void;
}

/** Files at least this big are hashed by a worker thread from the file. */
export const WORKER_HASH_MIN_BYTES = 64 * 1024 * 1024;

export async function createStreamHasher(
  partPath: string,
  expectedBytes: number | null,
  workerFromBytes = WORKER_HASH_MIN_BYTES,
): Promise<StreamHasher> {
  if (expectedBytes !== null && expectedBytes < workerFromBytes) return new InlineHasher(partPath);
  try {
    const fh = await open(partPath, 'a+');
    return new FileTailHasher(fh);
  } catch {
    return new InlineHasher(partPath);
  }
}

class InlineHasher implements StreamHasher {
  private readonly hash = createHash('sha256');
  constructor(private readonly path: string) {}

  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }

  written(): void {}

  async updateFromFile(length: number): Promise<number> {
    let seen = 0;
    if (length <= 0) return 0;
    const stream = createReadStream(this.path, {
      start: 0,
      end: length - 1,
      highWaterMark: 1 << 20,
    });
    for await (const chunk of stream) {
      this.hash.update(chunk as Buffer);
      seen += (chunk as Buffer).length;
    }
    return seen;
  }

  async digest(): Promise<string> {
    return this.hash.digest('hex');
  }

  close(): void {}
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const fd = workerData.fd;
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(4 << 20);
let pos = 0;
let target = 0;
let failed = null;
function pump() {
  while (!failed && pos < target) {
    try {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, target - pos), pos);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    } catch (err) {
      failed = String((err && err.message) || err);
    }
  }
}
parentPort.on('message', (m) => {
  if (m.t === 'upto') {
    if (m.n > target) target = m.n;
    pump();
    if (m.reply) parentPort.postMessage({ t: 'upto', n: pos, error: failed });
  } else if (m.t === 'digest') {
    if (m.n > target) target = m.n;
    pump();
    parentPort.postMessage({ t: 'digest', n: pos, hex: failed ? null : hash.digest('hex'), error: failed });
  }
});
`;

/** Posts "the file holds N bytes" at most every 4 MiB (and at the end). */
const POST_EVERY = 4 * 1024 * 1024;

class FileTailHasher implements StreamHasher {
  private readonly worker: Worker;
  private posted = 0;
  private pending: {
    kind: string;
    resolve(v: { n: number; hex?: string }): void;
    reject(e: Error): void;
  } | null = null;
  private failed: Error | null = null;

  constructor(private readonly fh: FileHandle) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fd: fh.fd } });
    this.worker.unref();
    this.worker.on(
      'message',
      (m: { t: string; n: number; hex?: string | null; error?: string | null }) => {
        const p = this.pending;
        if (!p || p.kind !== m.t) return;
        this.pending = null;
        if (m.error) p.reject(new Error(`Could not read the partial file to hash it: ${m.error}`));
        else p.resolve({ n: m.n, ...(m.hex ? { hex: m.hex } : {}) });
      },
    );
    this.worker.on('error', (err) => {
      this.failed = err;
      this.pending?.reject(err);
      this.pending = null;
    });
  }

  update(): void {}

  written(bytes: number): void {
    if (bytes - this.posted < POST_EVERY) return;
    this.posted = bytes;
    this.worker.postMessage({ t: 'upto', n: bytes });
  }

  private ask(kind: string, n: number, reply: boolean): Promise<{ n: number; hex?: string }> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending = { kind, resolve, reject };
      this.worker.postMessage({ t: kind, n, reply });
    });
  }

  async updateFromFile(length: number): Promise<number> {
    this.posted = Math.max(this.posted, length);
    return (await this.ask('upto', length, true)).n;
  }

  async digest(totalBytes: number): Promise<string> {
    const r = await this.ask('digest', totalBytes, true);
    if (r.n !== totalBytes || !r.hex) {
      throw new Error(`The partial file holds ${r.n} bytes, ${totalBytes} were written`);
    }
    return r.hex;
  }

  close(): void {
    void this.worker
      .terminate()
      .catch(() => undefined)
      .then(() => this.fh.close())
      .catch(() => undefined);
  }
}

/** sha256 and size of a whole file, streamed. */
export async function hashWholeFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hasher = new InlineHasher(path);
  const bytes = await hasher.updateFromFile(Number.MAX_SAFE_INTEGER);
  return { sha256: await hasher.digest(), bytes };
}

/**
 * The models index rebuilt from the model files in the folder (the index itself was lost): each
 * .gguf / .onnx file (not a partial download) hashed again and listed as an import, ids from the
 * file names. Where the catalog it came from is unknown, it is named after its file.
 */
export async function rebuildIndex(dir: string, now: Date): Promise<InstalledModel[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const models: InstalledModel[] = [];
  const ids = new Set<string>();
  for (const file of names) {
    const engine = engineFromFile(file);
    if (!engine) continue;
    try {
      checkModelFileName(file);
    } catch {
      continue;
    }
    const path = join(dir, file);
    const st = await stat(path).catch(() => null);
    if (!st?.isFile()) continue;
    const { sha256, bytes } = await hashWholeFile(path);
    const after = await stat(path).catch(() => null);
    if (!after || after.size !== bytes || after.mtimeMs !== st.mtimeMs) continue; // changed meanwhile
    let id = slugFromFile(file);
    for (let n = 2; ids.has(id); n++) id = `${slugFromFile(file)}-${n}`;
    ids.add(id);
    models.push({
      id,
      name: file.replace(/\.(gguf|onnx)$/i, ''),
      engine,
      file,
      sha256,
      sizeBytes: bytes,
      source: { kind: 'import', originalPath: path },
      installedAt: st.mtime.toISOString(),
      lastUsedAt: null,
      verifiedAt: now.toISOString(),
      verifiedFile: { size: bytes, mtimeMs: st.mtimeMs },
    });
  }
  return models;
}
