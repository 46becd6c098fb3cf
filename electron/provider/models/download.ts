// One verified, resumable download into the models folder. Its parts: HTTP and its errors in
// words (download-http.ts), the partial file and its sidecar (download-partial.ts), when to try
// again (download-retry.ts); this file runs one download with them.
//
// Resume sends Range + If-Range with the stored validator and keeps the partial bytes only on a
// 206 whose Content-Range starts where the file ends and whose validator still matches; a 200
// (server ignores Range, or the file changed) restarts from zero and says so. The sha256 is
// computed while streaming (after re-hashing the partial bytes on a resume), the size is checked,
// and the file is renamed into place only when both match and the download was not cancelled
// meanwhile. Free space is checked before the first byte. No bytes for stallTimeoutMs is a stall.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat, statfs, truncate } from 'node:fs/promises';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IdlerigError, type ErrorCode } from '../../../shared/errors';
import { VERSION } from '../../../shared/version';
import { SerialQueue } from '../util/atomic-write';
import type { ScopedLogger } from '../logs/logger';
import { resolveModelPath } from './registry';
import { checkDownloadUrl, checkModelFileName } from './policy';
import { createStreamHasher, type StreamHasher } from './hasher';
import {
  httpFailure,
  networkFailure,
  openRequest,
  secs,
  TransientError,
  type RateLimiter,
} from './download-http';
import {
  discardReason,
  ifRangeOf,
  partialPaths,
  readSidecar,
  sameValidator,
  validatorOf,
  writeSidecar,
  type Sidecar,
} from './download-partial';
import { RestartFromZero, withRetries, type RetryInfo } from './download-retry';
import { formatBytes } from '../../../shared/format';

export { RateLimiter, resolveFinalUrl } from './download-http';
export { partialBytes, partialPaths, removePartial, type Sidecar } from './download-partial';
export { retryDelayMs, type RetryInfo } from './download-retry';

export interface DownloadSpec {
  /** Plain file name inside the models folder. */
  file: string;
  /** The publisher's url first, then mirrors. */
  urls: string[];
  /** Pinned sha256 (lowercase hex), or null for an unpinned URL pull (hashed and recorded). */
  sha256: string | null;
  /** Pinned size, or null when only the server knows. */
  sizeBytes: number | null;
  /**
   * The user typed the url (a URL pull): a name not found or a refused connection is said at
   * once instead of retried (download-retry.ts). Default false (a catalog model).
   */
  typedUrl?: boolean;
}

export interface DownloadEvents {
  /** downloading (bytes flowing), verifying (re-hashing a partial, final check), stalled (waiting to retry). */
  state(state: 'downloading' | 'verifying' | 'stalled', retry?: RetryInfo): void;
  progress(bytes: number, totalBytes: number | null): void;
  /** Something worth telling the user that is not an error (a restart from zero, a mirror switch). */
  notice(text: string): void;
}

export interface DownloaderOptions {
  modelsDir: string;
  /** No bytes for this long is a stall (default 30 s). */
  stallTimeoutMs: number;
  /** Retries after a stall or a transient error, per url (default 5). */
  maxRetries: number;
  /** First retry delay; doubles each time (± 20 % jitter), up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Free bytes on the models folder's file system (fs.statfs); injectable for tests. */
  freeSpace(dir: string): Promise<number>;
  /** Bytes that other running downloads still need (so two downloads do not count the same space). */
  reservedBytes?(): number;
  /** Free space to leave untouched, on top of the file. */
  spaceMarginBytes?: number;
  limiter?: RateLimiter | null;
  /** Files at least this big are hashed by a worker thread from the partial file (default 64 MiB). */
  hashInWorkerFromBytes?: number;
  signal: AbortSignal;
  events: DownloadEvents;
  log?: ScopedLogger;
}

export interface DownloadResult {
  path: string;
  sha256: string;
  sizeBytes: number;
  url: string;
  /** Byte offset the last attempt resumed from (0: from the start). */
  resumedFrom: number;
}

export async function freeSpaceOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

const fatal = (code: ErrorCode, message: string, details?: unknown): IdlerigError =>
  new IdlerigError(code, message, details);

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err as Error)?.name === 'AbortError';
}

/** sha256 and size of a file, streamed. */
export async function sha256File(
  path: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = createReadStream(path, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Downloads spec into the models folder and returns the verified file. Throws IdlerigError
 * (DOWNLOAD_FAILED, STALLED, HASH_MISMATCH, INSUFFICIENT_SPACE, UNSAFE_PATH, INSECURE_URL), or an
 * AbortError when opts.signal fires (the partial file and sidecar are kept for a resume).
 */
export async function downloadModel(
  spec: DownloadSpec,
  opts: DownloaderOptions,
): Promise<DownloadResult> {
  // Names and urls are checked before anything touches the disk or the network.
  checkModelFileName(spec.file);
  const target = resolveModelPath(opts.modelsDir, spec.file);
  const { part, sidecar: sidecarPath } = partialPaths(opts.modelsDir, spec.file);
  if (spec.urls.length === 0) throw fatal('INVALID_PARAMS', 'No url to download from');
  const urls = spec.urls.map((u) => checkDownloadUrl(u));
  const expectedSha = spec.sha256?.toLowerCase() ?? null;
  return withRetries(
    urls,
    (url) => attemptOnce(url, spec, expectedSha, target, part, sidecarPath, opts),
    {
      policy: opts,
      signal: opts.signal,
      file: spec.file,
      typedUrl: spec.typedUrl ?? false,
      onRetry: (info) => opts.events.state('stalled', info),
      notice: (text) => opts.events.notice(text),
      ...(opts.log ? { log: opts.log } : {}),
    },
  );
}

async function attemptOnce(
  url: URL,
  spec: DownloadSpec,
  expectedSha: string | null,
  target: string,
  part: string,
  sidecarPath: string,
  opts: DownloaderOptions,
): Promise<DownloadResult> {
  const hashers: StreamHasher[] = [];
  try {
    return await attempt(url, spec, expectedSha, target, part, sidecarPath, opts, hashers);
  } finally {
    for (const h of hashers) h.close();
  }
}

async function attempt(
  url: URL,
  spec: DownloadSpec,
  expectedSha: string | null,
  target: string,
  part: string,
  sidecarPath: string,
  opts: DownloaderOptions,
  hashers: StreamHasher[],
): Promise<DownloadResult> {
  const { events, signal } = opts;

  // 1. What is on disk already, and may it be resumed?
  let offset = 0;
  const partStat = await stat(part).catch(() => null);
  let sidecar = partStat ? await readSidecar(sidecarPath) : null;
  if (partStat && partStat.size > 0) {
    const why = discardReason(partStat, sidecar, url, expectedSha, spec.sizeBytes);
    if (why) {
      events.notice(`A partial download was discarded (${why}); starting from zero`);
      await rm(part, { force: true });
      await rm(sidecarPath, { force: true });
      sidecar = null;
    } else {
      offset = partStat.size;
    }
  } else if (partStat) {
    sidecar = null;
  }

  // 2. Free space, before the first byte (pinned size known: before the request).
  const checkSpace = async (total: number | null, have: number): Promise<void> => {
    if (total === null) return;
    const need = total - have + (opts.spaceMarginBytes ?? 16 * 1024 * 1024);
    const free = await opts.freeSpace(opts.modelsDir);
    const reserved = opts.reservedBytes?.() ?? 0;
    if (free - reserved < need) {
      throw fatal(
        'INSUFFICIENT_SPACE',
        `Not enough free disk space for ${spec.file}: it needs ${formatBytes(total - have)} more, ${formatBytes(Math.max(0, free - reserved))} is free in ${opts.modelsDir}`,
        { needBytes: total - have, freeBytes: free, reservedBytes: reserved },
      );
    }
  };
  await checkSpace(spec.sizeBytes, offset);

  // 3. Re-hash what is there (its bytes are part of the final sha256).
  let hash: StreamHasher | null = null;
  if (offset > 0) {
    hash = await createStreamHasher(part, spec.sizeBytes, opts.hashInWorkerFromBytes);
    hashers.push(hash);
    events.state('verifying');
    offset = await abortable(hash.updateFromFile(offset), signal);
    if (spec.sizeBytes !== null && offset === spec.sizeBytes) {
      return finish(hash, offset, offset, url, spec, expectedSha, target, part, sidecarPath, opts);
    }
  }

  // 4. Ask.
  const headers: OutgoingHttpHeaders = {
    'user-agent': `Idlerig/${VERSION}`,
    'accept-encoding': 'identity',
    accept: '*/*',
  };
  if (offset > 0 && sidecar) {
    headers.range = `bytes=${offset}-`;
    headers['if-range'] = ifRangeOf(sidecar.validator)!;
  }
  const { res } = await openRequest(url, headers, signal, opts.stallTimeoutMs);
  const status = res.statusCode ?? 0;
  const validator = validatorOf(res);

  try {
    if (status === 416 && offset > 0) {
      res.resume();
      events.notice('The server refused the resume request (416); starting from zero');
      await rm(part, { force: true });
      await rm(sidecarPath, { force: true });
      throw new RestartFromZero();
    }
    if (status !== 200 && status !== 206) {
      res.resume();
      throw httpFailure(status, url);
    }

    let total: number | null = spec.sizeBytes;
    let append = false;
    if (status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(
        String(res.headers['content-range'] ?? ''),
      );
      const start = range ? Number(range[1]) : NaN;
      const end = range ? Number(range[2]) : NaN;
      const whole = range && range[3] !== '*' ? Number(range[3]) : null;
      if (offset === 0 || !sidecar) {
        res.resume();
        throw new TransientError(
          'The server sent a partial answer to a request for the whole file',
        );
      }
      const matches = sameValidator(sidecar.validator, validator);
      if (!matches || start !== offset || (whole !== null && end !== whole - 1)) {
        res.destroy();
        events.notice(
          !matches
            ? 'The file changed on the server (its ETag / Last-Modified differ); downloading again from zero'
            : `The server resumed at byte ${start}, not ${offset}; downloading again from zero`,
        );
        await rm(part, { force: true });
        await rm(sidecarPath, { force: true });
        throw new RestartFromZero();
      }
      if (whole !== null && spec.sizeBytes !== null && whole !== spec.sizeBytes) {
        res.destroy();
        throw fatal(
          'DOWNLOAD_FAILED',
          `The server's file is ${whole} bytes; ${spec.sizeBytes} were expected`,
        );
      }
      total = total ?? whole;
      append = true;
    } else {
      // 200: the whole file. After a Range request this means no resume: start over, and say why.
      if (offset > 0) {
        const changed = sidecar && !sameValidator(sidecar.validator, validator);
        events.notice(
          changed
            ? 'The file changed on the server since the download began (new ETag / Last-Modified); downloading again from zero'
            : 'The server does not support resuming (it ignored the Range request); downloading again from zero',
        );
        opts.log?.warn('resume refused by the server; restarting from zero', {
          file: spec.file,
          changed: Boolean(changed),
        });
        offset = 0;
      }
      const length = Number(res.headers['content-length']);
      const known = Number.isSafeInteger(length) && length >= 0 ? length : null;
      if (spec.sizeBytes !== null && known !== null && known !== spec.sizeBytes) {
        res.resume();
        throw fatal(
          'DOWNLOAD_FAILED',
          `The server's file is ${known} bytes; ${spec.sizeBytes} were expected`,
          { status },
        );
      }
      total = total ?? known;
      if (spec.sizeBytes === null) await checkSpace(total, 0);
    }

    // 5. Record how to resume, then stream: hash, count, write.
    if (!append) await truncate(part, 0).catch(() => undefined);
    let freshHash = hash;
    if (!append || !freshHash) {
      freshHash = await createStreamHasher(part, total, opts.hashInWorkerFromBytes);
      hashers.push(freshHash);
    }
    const startAt = append ? offset : 0;
    const record: Sidecar = {
      version: 1,
      url: url.href,
      validator,
      bytes: startAt,
      totalBytes: total,
      sha256: expectedSha,
      updatedAt: new Date().toISOString(),
    };
    await writeSidecar(sidecarPath, record);
    events.state('downloading');
    events.progress(startAt, total);

    const bytes = await streamBody(
      res,
      part,
      append,
      freshHash,
      startAt,
      total,
      record,
      sidecarPath,
      opts,
    );
    if (total !== null && bytes < total) {
      throw new TransientError(`The connection closed at ${bytes} of ${total} bytes`);
    }
    return await finish(
      freshHash,
      bytes,
      startAt,
      url,
      spec,
      expectedSha,
      target,
      part,
      sidecarPath,
      opts,
    );
  } finally {
    if (!res.complete) res.destroy();
  }
}

async function streamBody(
  res: IncomingMessage,
  part: string,
  append: boolean,
  hash: StreamHasher,
  startAt: number,
  total: number | null,
  record: Sidecar,
  sidecarPath: string,
  opts: DownloaderOptions,
): Promise<number> {
  const { events, signal } = opts;
  let bytes = startAt;
  let lastByteAt = performance.now();
  let lastProgress = 0;
  let lastSidecar = performance.now();
  const sidecarQueue = new SerialQueue();
  let stalled = false;

  const stallError = (): TransientError =>
    new TransientError(
      `No data for ${secs(opts.stallTimeoutMs)} from ${new URL(record.url).host}`,
      'stalled',
    );
  const watchdog = setInterval(
    () => {
      if (performance.now() - lastByteAt > opts.stallTimeoutMs) {
        stalled = true;
        res.destroy(stallError());
      }
    },
    Math.max(50, Math.min(1000, opts.stallTimeoutMs / 4)),
  );
  watchdog.unref();

  const out = createWriteStream(part, { flags: append ? 'a' : 'w', highWaterMark: 1 << 20 });
  const meter = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, callback) {
      lastByteAt = performance.now();
      bytes += chunk.length;
      if (total !== null && bytes > total) {
        callback(fatal('DOWNLOAD_FAILED', `The server sent more than the expected ${total} bytes`));
        return;
      }
      hash.update(chunk);
      hash.written(startAt + out.bytesWritten);
      const now = lastByteAt;
      if (now - lastProgress >= 100) {
        lastProgress = now;
        events.progress(bytes, total);
      }
      if (now - lastSidecar >= 2000) {
        lastSidecar = now;
        // The sidecar's byte count is informational (the partial file's size is what resumes).
        const snapshot = { ...record, bytes, updatedAt: new Date().toISOString() };
        void sidecarQueue.run(() => writeSidecar(sidecarPath, snapshot)).catch(() => undefined);
      }
      const limiter = opts.limiter;
      if (limiter?.bytesPerSecond) {
        limiter.take(chunk.length, signal).then(
          () => {
            lastByteAt = performance.now(); // waiting on the cap is not a stall
            callback(null, chunk);
          },
          (err: unknown) => callback(err as Error),
        );
        return;
      }
      callback(null, chunk);
    },
  });

  try {
    await pipeline(res, meter, out, { signal });
  } catch (err) {
    if (stalled && !signal.aborted) throw stallError();
    if (err instanceof TransientError || err instanceof IdlerigError) throw err;
    if (isAbort(err, signal)) throw err;
    const host = new URL(record.url).host;
    throw (
      networkFailure(err, host) ??
      new TransientError(
        `The connection to ${host} failed (${(err as Error).message || 'no reason given'})`,
      )
    );
  } finally {
    clearInterval(watchdog);
    await sidecarQueue.idle().catch(() => undefined);
  }
  events.progress(bytes, total);
  if (!res.complete && (total === null || bytes < total)) {
    throw new TransientError(`The connection closed at ${bytes} bytes`);
  }
  const snapshot = { ...record, bytes, updatedAt: new Date().toISOString() };
  await writeSidecar(sidecarPath, snapshot).catch(() => undefined);
  return bytes;
}

async function finish(
  hash: StreamHasher,
  bytes: number,
  resumedFrom: number,
  url: URL,
  spec: DownloadSpec,
  expectedSha: string | null,
  target: string,
  part: string,
  sidecarPath: string,
  opts: DownloaderOptions,
): Promise<DownloadResult> {
  const { signal } = opts;
  // The final check can take a while on a big file: a cancel meanwhile installs nothing.
  opts.events.state('verifying');
  const sha256 = await abortable(hash.digest(bytes), signal);
  if (spec.sizeBytes !== null && bytes !== spec.sizeBytes) {
    await rm(part, { force: true });
    await rm(sidecarPath, { force: true });
    throw fatal(
      'DOWNLOAD_FAILED',
      `Downloaded ${bytes} bytes; ${spec.sizeBytes} were expected. The file was deleted.`,
    );
  }
  if (expectedSha !== null && sha256 !== expectedSha) {
    await rm(part, { force: true });
    await rm(sidecarPath, { force: true });
    throw fatal(
      'HASH_MISMATCH',
      `The downloaded ${spec.file} has sha256 ${sha256}, but ${expectedSha} was pinned. The file was deleted; nothing was installed.`,
      { expected: expectedSha, actual: sha256, resumed: resumedFrom > 0 },
    );
  }
  // Durable before it is visible under its final name.
  const fh = await open(part, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  signal.throwIfAborted();
  await rename(part, target);
  await rm(sidecarPath, { force: true });
  try {
    const dir = await open(dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* folder fsync unsupported here */
  }
  if (signal.aborted) {
    // Cancelled while the rename settled: take it back (nothing recorded it yet).
    await rm(target, { force: true });
    signal.throwIfAborted();
  }
  return { path: target, sha256, sizeBytes: bytes, url: url.href, resumedFrom };
}

/** A promise that rejects with the signal's reason as soon as it aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
