// One verified, resumable download into the models folder.
//
//   <models>/<file>.partial        the bytes so far (appended to, never rewritten in the middle)
//   <models>/<file>.partial.json   the sidecar: url, validator (ETag / Last-Modified), bytes
//
// Resume sends Range + If-Range with the stored validator and keeps the partial bytes only on a
// 206 whose Content-Range starts where the file ends and whose validator still matches; a 200
// (server ignores Range, or the file changed) restarts from zero and says so. The sha256 is
// computed while streaming (after re-hashing the partial bytes on a resume), the size is checked,
// and the file is renamed into place only when both match. Free space is checked before the
// first byte. No bytes for stallTimeoutMs is a stall: the attempt is dropped and retried after a
// growing delay, a limited number of times.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, rm, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdlerigError, type ErrorCode } from '../../../shared/errors';
import { VERSION } from '../../../shared/version';
import { SerialQueue } from '../util/atomic-write';
import type { ScopedLogger } from '../logs/logger';
import { resolveModelPath } from './registry';
import { checkDownloadUrl, checkModelFileName, checkRedirect, redactUrl } from './policy';
import { createStreamHasher, type StreamHasher } from './hasher';

export interface DownloadSpec {
  /** Plain file name inside the models folder. */
  file: string;
  /** The publisher's url first, then mirrors. */
  urls: string[];
  /** Pinned sha256 (lowercase hex), or null for an unpinned URL pull (hashed and recorded). */
  sha256: string | null;
  /** Pinned size, or null when only the server knows. */
  sizeBytes: number | null;
}

export interface Sidecar {
  version: 1;
  url: string;
  validator: { etag: string | null; lastModified: string | null };
  bytes: number;
  totalBytes: number | null;
  sha256: string | null;
  updatedAt: string;
}

export interface RetryInfo {
  attempt: number;
  max: number;
  at: Date;
  reason: string;
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
  /** First retry delay; doubles each time, up to retryMaxMs. */
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

export function partialPaths(modelsDir: string, file: string): { part: string; sidecar: string } {
  const part = resolveModelPath(modelsDir, `${file}.partial`);
  return { part, sidecar: `${part}.json` };
}

/** Deletes a download's partial file and sidecar. */
export async function removePartial(modelsDir: string, file: string): Promise<void> {
  const { part, sidecar } = partialPaths(modelsDir, file);
  await rm(part, { force: true });
  await rm(sidecar, { force: true });
  await rm(`${sidecar}.tmp`, { force: true });
}

/** Bytes of a partial file (0 when none). */
export async function partialBytes(modelsDir: string, file: string): Promise<number> {
  const { part } = partialPaths(modelsDir, file);
  return (await stat(part).catch(() => null))?.size ?? 0;
}

/** A shared bandwidth cap (token bucket with a 250 ms burst). null: no cap. */
export class RateLimiter {
  private next = 0;
  constructor(public bytesPerSecond: number | null = null) {}

  async take(n: number, signal?: AbortSignal): Promise<void> {
    const rate = this.bytesPerSecond;
    if (!rate) return;
    const now = performance.now();
    const start = Math.max(now, this.next);
    this.next = start + (n * 1000) / rate;
    const wait = this.next - now - 250;
    if (wait > 0) await sleep(wait, undefined, signal ? { signal } : undefined);
  }
}

/** A failure of one attempt that a retry may cure. */
class TransientError extends Error {
  constructor(
    message: string,
    readonly stalled = false,
  ) {
    super(message);
  }
}

/** The server's answer made a fresh start necessary: go again from zero at once (not a retry). */
class RestartFromZero extends Error {}

const fatal = (code: ErrorCode, message: string, details?: unknown): IdlerigError =>
  new IdlerigError(code, message, details);

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err as Error)?.name === 'AbortError';
}

function strongEtag(etag: string | undefined): string | null {
  if (!etag || etag.startsWith('W/')) return null;
  return etag;
}

function validatorOf(res: IncomingMessage): Sidecar['validator'] {
  const etag = res.headers.etag;
  const lastModified = res.headers['last-modified'];
  return {
    etag: strongEtag(typeof etag === 'string' ? etag : undefined),
    lastModified: typeof lastModified === 'string' ? lastModified : null,
  };
}

function sameValidator(a: Sidecar['validator'], b: Sidecar['validator']): boolean {
  if (a.etag && b.etag) return a.etag === b.etag;
  if (a.etag || b.etag) return false;
  return a.lastModified !== null && a.lastModified === b.lastModified;
}

function ifRangeOf(v: Sidecar['validator']): string | null {
  return v.etag ?? v.lastModified;
}

/**
 * Writes the sidecar by rename (never torn) but without fsync: losing it to a power cut only
 * costs a restart from zero, while an fsync per update would slow every download down.
 */
async function writeSidecar(path: string, record: Sidecar): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(record));
  await rename(tmp, path);
}

async function readSidecar(path: string): Promise<Sidecar | null> {
  try {
    const s = JSON.parse(await readFile(path, 'utf8')) as Sidecar;
    if (s.version !== 1 || typeof s.url !== 'string' || typeof s.bytes !== 'number') return null;
    return s;
  } catch {
    return null;
  }
}

/** Opens a GET, following redirects (each one checked), with a deadline for the headers. */
function openRequest(
  url: URL,
  headers: OutgoingHttpHeaders,
  signal: AbortSignal,
  headerTimeoutMs: number,
): Promise<{ res: IncomingMessage; finalUrl: URL }> {
  return new Promise((resolvePromise, reject) => {
    let current = url;
    let hops = 0;
    const go = (): void => {
      const request = current.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(current, { method: 'GET', headers, signal });
      const timer = setTimeout(() => {
        req.destroy(
          new TransientError(`No answer from ${current.host} for ${secs(headerTimeoutMs)}`, true),
        );
      }, headerTimeoutMs);
      req.on('response', (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status)) {
          res.resume();
          const location = res.headers.location;
          if (!location)
            return reject(
              fatal('DOWNLOAD_FAILED', `HTTP ${status} without a Location from ${current.host}`),
            );
          if (++hops > 10) return reject(fatal('DOWNLOAD_FAILED', 'Too many redirects'));
          try {
            current = checkRedirect(current, location);
          } catch (err) {
            return reject(err);
          }
          go();
          return;
        }
        resolvePromise({ res, finalUrl: current });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end();
    };
    go();
  });
}

/**
 * Follows a URL's redirects (each checked like a download's) and returns where the bytes are:
 * used before reading a GGUF header remotely.
 */
export async function resolveFinalUrl(
  raw: string,
  signal: AbortSignal,
  timeoutMs = 15_000,
): Promise<string> {
  const url = checkDownloadUrl(raw);
  const { res, finalUrl } = await openRequest(
    url,
    { 'user-agent': `Idlerig/${VERSION}`, 'accept-encoding': 'identity', range: 'bytes=0-0' },
    signal,
    timeoutMs,
  );
  const status = res.statusCode ?? 0;
  res.destroy();
  if (status >= 400)
    throw fatal('DOWNLOAD_FAILED', `HTTP ${status} from ${redactUrl(finalUrl)}`, { status });
  return finalUrl.href;
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

  let lastError: unknown = null;
  let hashRetryDone = false;
  for (let u = 0; u < urls.length; u++) {
    const url = urls[u]!;
    if (u > 0)
      opts.events.notice(
        `Trying the mirror ${redactUrl(url)} after: ${(lastError as Error).message}`,
      );
    let attempt = 0;
    for (;;) {
      opts.signal.throwIfAborted();
      try {
        return await attemptOnce(url, spec, expectedSha, target, part, sidecarPath, opts);
      } catch (err) {
        if (isAbort(err, opts.signal)) throw err;
        if (err instanceof RestartFromZero) continue;
        if (
          err instanceof IdlerigError &&
          err.code === 'HASH_MISMATCH' &&
          (err.details as { resumed?: boolean })?.resumed &&
          !hashRetryDone
        ) {
          // A resumed file may have been damaged on disk; one fresh download decides.
          hashRetryDone = true;
          opts.events.notice(
            'The finished file did not match its sha256 after a resume; downloading it again from zero',
          );
          continue;
        }
        lastError = err;
        const transient = err instanceof TransientError || isNetworkError(err);
        if (!transient) {
          // A refusal by this server (404, size mismatch): a mirror may still serve the file.
          if (err instanceof IdlerigError && err.code === 'DOWNLOAD_FAILED' && u < urls.length - 1)
            break;
          throw err;
        }
        attempt++;
        const stalled = err instanceof TransientError && err.stalled;
        if (attempt > opts.maxRetries) {
          if (u < urls.length - 1) break;
          throw stalled
            ? fatal(
                'STALLED',
                `The download stalled: ${(err as Error).message}; gave up after ${opts.maxRetries} retries`,
              )
            : fatal(
                'DOWNLOAD_FAILED',
                `The download failed: ${(err as Error).message}; gave up after ${opts.maxRetries} retries`,
              );
        }
        const delay = Math.min(opts.retryMaxMs, opts.retryBaseMs * 2 ** (attempt - 1));
        const reason = (err as Error).message;
        opts.log?.warn('download attempt failed; retrying', {
          file: spec.file,
          attempt,
          delayMs: delay,
          reason,
        });
        opts.events.state('stalled', {
          attempt,
          max: opts.maxRetries,
          at: new Date(Date.now() + delay),
          reason,
        });
        await sleep(delay, undefined, { signal: opts.signal });
      }
    }
  }
  throw lastError instanceof Error ? lastError : fatal('DOWNLOAD_FAILED', 'The download failed');
}

function isNetworkError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return (
    (typeof code === 'string' &&
      [
        'ECONNRESET',
        'ECONNREFUSED',
        'ECONNABORTED',
        'ETIMEDOUT',
        'EPIPE',
        'EAI_AGAIN',
        'ENOTFOUND',
        'ENETUNREACH',
        'EHOSTUNREACH',
        'ERR_STREAM_PREMATURE_CLOSE',
        'UND_ERR_SOCKET',
        'HPE_INVALID_CONSTANT',
      ].includes(code)) ||
    (err as Error)?.message === 'socket hang up' ||
    (err as Error)?.message === 'aborted'
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
    const why = !sidecar
      ? 'its record is missing'
      : sidecar.url !== url.href
        ? 'it came from another url'
        : sidecar.sha256 !== expectedSha
          ? 'it was for another file'
          : !ifRangeOf(sidecar.validator)
            ? 'the server gave no ETag or Last-Modified to resume against'
            : spec.sizeBytes !== null && partStat.size > spec.sizeBytes
              ? 'it is larger than the file'
              : null;
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
      return finish(hash, offset, offset, url, spec, expectedSha, target, part, sidecarPath);
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
    if (status === 408 || status === 429 || status >= 500) {
      res.resume();
      throw new TransientError(`HTTP ${status} from ${url.host}`);
    }
    if (status !== 200 && status !== 206) {
      res.resume();
      throw fatal('DOWNLOAD_FAILED', `HTTP ${status} from ${redactUrl(url)}`, { status });
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

  const watchdog = setInterval(
    () => {
      if (performance.now() - lastByteAt > opts.stallTimeoutMs) {
        stalled = true;
        res.destroy(new TransientError(`No data for ${secs(opts.stallTimeoutMs)}`, true));
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
    if (stalled && !signal.aborted)
      throw new TransientError(`No data for ${secs(opts.stallTimeoutMs)}`, true);
    if (err instanceof TransientError || err instanceof IdlerigError) throw err;
    if (isAbort(err, signal)) throw err;
    throw new TransientError((err as Error).message || 'The connection failed');
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
): Promise<DownloadResult> {
  const sha256 = await hash.digest(bytes);
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

function secs(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
