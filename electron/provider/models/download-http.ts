// HTTP for model files: one GET that follows redirects (each one checked by the download policy),
// with a deadline for the headers; the bandwidth cap; and what went wrong, in words a user reads
// on the Models page as is (offline, name not found, refused, server error, ...), not an errno.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdlerigError } from '../../../shared/errors';
import { VERSION } from '../../../shared/version';
import { checkDownloadUrl, checkRedirect, isLoopbackHost, redactUrl } from './policy';

/** Why a request failed, as the user should hear it. */
export type FailureReason =
  | 'offline'
  | 'name-not-found'
  | 'refused'
  | 'timeout'
  | 'connection-lost'
  | 'tls'
  | 'stalled'
  | 'server-error'
  | 'rate-limited'
  | 'not-found'
  | 'forbidden'
  | 'http-error';

/** A failure of one attempt that a retry may cure; its message is already in words. */
export class TransientError extends Error {
  constructor(
    message: string,
    readonly reason: FailureReason = 'connection-lost',
    readonly code: string | null = null,
  ) {
    super(message);
  }

  get stalled(): boolean {
    return this.reason === 'stalled';
  }
}

const OFFLINE = new Set(['EAI_AGAIN', 'ENETUNREACH', 'ENETDOWN', 'EHOSTUNREACH', 'EHOSTDOWN']);
const LOST = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'HPE_INVALID_CONSTANT',
]);

/**
 * A failed connection in words, as a TransientError (a retry may cure it); null when `err` is
 * not a network failure (a bug, a refusal by policy, a disk error).
 */
export function networkFailure(err: unknown, host: string): TransientError | null {
  if (err instanceof TransientError) return err;
  const e = err as NodeJS.ErrnoException | null;
  const code = typeof e?.code === 'string' ? e.code : null;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (code === 'ENOTFOUND')
    return new TransientError(
      `The server name ${host} was not found (${code}): check the address, or whether this machine is online`,
      'name-not-found',
      code,
    );
  if (code !== null && OFFLINE.has(code))
    return new TransientError(
      `Could not reach ${host}: this machine seems to be offline (${code})`,
      'offline',
      code,
    );
  if (code === 'ECONNREFUSED')
    return new TransientError(
      `${host} refused the connection (${code}): nothing answers at that address and port`,
      'refused',
      code,
    );
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT')
    return new TransientError(`${host} did not answer in time (${code})`, 'timeout', code);
  if ((code !== null && LOST.has(code)) || message === 'socket hang up' || message === 'aborted')
    return new TransientError(
      `The connection to ${host} was cut${code ? ` (${code})` : ''}`,
      'connection-lost',
      code,
    );
  if (code !== null && /^(ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/.test(code))
    return new TransientError(
      `The secure connection to ${host} failed (${code}): its certificate was not accepted`,
      'tls',
      code,
    );
  return null;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  410: 'Gone',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * An HTTP status that is not the file: a TransientError for what a retry may cure (408, 429,
 * 5xx), else a DOWNLOAD_FAILED IdlerigError with the reason in details.
 */
export function httpFailure(status: number, url: URL): TransientError | IdlerigError {
  const host = url.host;
  const what = `HTTP ${status}${STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : ''}`;
  if (status >= 500 || status === 408)
    return new TransientError(`${host} had a server error (${what})`, 'server-error');
  if (status === 429)
    return new TransientError(`${host} is limiting requests (${what})`, 'rate-limited');
  const [reason, words]: [FailureReason, string] =
    status === 404 || status === 410
      ? ['not-found', `${host} has no such file (${what}): check the address`]
      : status === 401 || status === 403
        ? [
            'forbidden',
            `${host} refused access to the file (${what}): it may need a login, or have moved`,
          ]
        : ['http-error', `${host} refused the request (${what})`];
  return new IdlerigError('DOWNLOAD_FAILED', `${words}. ${redactUrl(url)}`, {
    status,
    reason,
  });
}

/**
 * A DNS lookup that refuses a name resolving to this machine (a remote server redirecting to a
 * name of its own that points at 127.0.0.1: DNS rebinding). Used for the hops after a redirect
 * from a remote host, where checkRedirect sees only the name.
 */
export function lookupNotThisMachine(
  base: LookupFunction = dnsLookup as LookupFunction,
): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, options, (err, address, family) => {
      if (err) return callback(err, address, family);
      const all: LookupAddress[] = Array.isArray(address)
        ? address
        : [{ address, family: family ?? 4 }];
      const local = all.find((a) => isLoopbackHost(a.address));
      if (local) {
        const refused = new IdlerigError(
          'INSECURE_URL',
          `Refused a redirect to ${hostname}: that name points at this machine (${local.address})`,
        ) as IdlerigError & NodeJS.ErrnoException;
        return callback(refused, address, family);
      }
      callback(null, address, family);
    });
  };
}

/** Opens a GET, following redirects (each one checked), with a deadline for the headers. */
export function openRequest(
  url: URL,
  headers: OutgoingHttpHeaders,
  signal: AbortSignal,
  headerTimeoutMs: number,
): Promise<{ res: IncomingMessage; finalUrl: URL }> {
  return new Promise((resolvePromise, reject) => {
    let current = url;
    let hops = 0;
    // After a redirect from a remote host, a name that resolves to this machine is refused too.
    let guard: LookupFunction | null = null;
    const go = (): void => {
      const request = current.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(current, {
        method: 'GET',
        headers,
        signal,
        ...(guard ? { lookup: guard } : {}),
      });
      const timer = setTimeout(() => {
        req.destroy(
          new TransientError(
            `No answer from ${current.host} for ${secs(headerTimeoutMs)}`,
            'stalled',
          ),
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
              new IdlerigError(
                'DOWNLOAD_FAILED',
                `${current.host} answered HTTP ${status} (a redirect) without saying where to`,
              ),
            );
          if (++hops > 10)
            return reject(new IdlerigError('DOWNLOAD_FAILED', 'Too many redirects (more than 10)'));
          try {
            if (!isLoopbackHost(current.hostname)) guard ??= lookupNotThisMachine();
            current = checkRedirect(current, location);
          } catch (err) {
            return reject(err as Error);
          }
          go();
          return;
        }
        resolvePromise({ res, finalUrl: current });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        if (signal.aborted || err instanceof IdlerigError) return reject(err);
        reject(networkFailure(err, current.host) ?? err);
      });
      req.end();
    };
    go();
  });
}

const BASE_HEADERS = { 'user-agent': `Idlerig/${VERSION}`, 'accept-encoding': 'identity' };

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
    { ...BASE_HEADERS, range: 'bytes=0-0' },
    signal,
    timeoutMs,
  );
  const status = res.statusCode ?? 0;
  res.destroy();
  if (status >= 400) throw httpFailure(status, finalUrl);
  return finalUrl.href;
}

export interface FetchedRange {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: Buffer;
  url: string;
}

/**
 * One GET of a URL (a byte range, for the GGUF header reader) through the download policy: the
 * URL and every redirect checked, at most maxBytes read. Only the range and accept headers of
 * the caller are passed on.
 */
export async function fetchChecked(
  raw: string,
  headers: Record<string, string>,
  opts: { signal: AbortSignal; timeoutMs: number; maxBytes: number },
): Promise<FetchedRange> {
  const url = checkDownloadUrl(raw);
  const pass: OutgoingHttpHeaders = { ...BASE_HEADERS, accept: '*/*' };
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === 'range' || k.toLowerCase() === 'accept') pass[k.toLowerCase()] = v;
  }
  const { res, finalUrl } = await openRequest(url, pass, opts.signal, opts.timeoutMs);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size > opts.maxBytes) {
        throw new IdlerigError(
          'DOWNLOAD_FAILED',
          `${finalUrl.host} sent more than ${opts.maxBytes} bytes for a header read`,
        );
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    throw networkFailure(err, finalUrl.host) ?? err;
  } finally {
    if (!res.complete) res.destroy();
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.join(', ');
  }
  return {
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? '',
    headers: out,
    body: Buffer.concat(chunks),
    url: finalUrl.href,
  };
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

export function secs(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
