// When a download tries again: a failure a retry may cure (a stall, a cut connection, offline, a
// server error) is retried after a growing delay with jitter (so that many nodes that lost the
// same server do not come back at the same instant), a limited number of times per url; then the
// next mirror, then a final error in words. A refusal (404, a size mismatch) moves to the next
// mirror at once; a resumed file whose sha256 is wrong is downloaded once more from zero. For a
// URL the user typed (a URL pull), a name that does not exist and an address where nothing
// listens are theirs to fix, so they are said at once, not retried; for a catalog url (the
// publisher's server) they are retried: an offline Mac reads ENOTFOUND, a restarting server
// refuses for a moment.
import { setTimeout as sleep } from 'node:timers/promises';
import { IdlerigError } from '../../../shared/errors';
import type { ScopedLogger } from '../logs/logger';
import { redactUrl } from './policy';
import { TransientError, type FailureReason } from './download-http';

export interface RetryPolicy {
  /** Retries after a transient failure, per url. */
  maxRetries: number;
  /** First retry delay; doubles each time, up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Each delay is spread by ± this fraction (default 0.2). */
  jitter?: number;
}

export interface RetryInfo {
  attempt: number;
  max: number;
  at: Date;
  reason: string;
}

/** The delay before retry `attempt` (1-based): base × 2^(attempt−1), capped, then jittered. */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const nominal = Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** (attempt - 1));
  const j = policy.jitter ?? 0.2;
  return Math.max(0, Math.round(nominal * (1 - j + 2 * j * random())));
}

/** The server's answer made a fresh start necessary: go again from zero at once (not a retry). */
export class RestartFromZero extends Error {}

export interface RetryLoopOptions {
  policy: RetryPolicy;
  signal: AbortSignal;
  file: string;
  /** A retry is due (the download shows as waiting, with the reason in words). */
  onRetry(info: RetryInfo): void;
  notice(text: string): void;
  log?: ScopedLogger;
  random?: () => number;
  /** The user typed the url (a URL pull, not a catalog model): see FINAL_FOR_A_TYPED_URL. */
  typedUrl?: boolean;
}

/** What a retry does not cure when the user typed the url: the address is theirs to fix. */
const FINAL_FOR_A_TYPED_URL: ReadonlySet<FailureReason> = new Set(['name-not-found', 'refused']);

/** A transient failure that is final here, as the refusal it is (the message already in words). */
function finalFailure(err: TransientError, typedUrl: boolean): IdlerigError | null {
  if (!typedUrl || !FINAL_FOR_A_TYPED_URL.has(err.reason)) return null;
  return new IdlerigError('DOWNLOAD_FAILED', err.message, {
    reason: err.reason,
    ...(err.code ? { errno: err.code } : {}),
  });
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err as Error)?.name === 'AbortError';
}

/** Runs `attempt` against each url in turn under the retry policy; returns the first success. */
export async function withRetries<T>(
  urls: readonly URL[],
  attempt: (url: URL) => Promise<T>,
  opts: RetryLoopOptions,
): Promise<T> {
  const { policy, signal } = opts;
  let lastError: unknown = null;
  let hashRetryDone = false;
  for (let u = 0; u < urls.length; u++) {
    const url = urls[u]!;
    if (u > 0)
      opts.notice(`Trying the mirror ${redactUrl(url)} after: ${(lastError as Error).message}`);
    let tries = 0;
    for (;;) {
      signal.throwIfAborted();
      try {
        return await attempt(url);
      } catch (err) {
        if (isAbort(err, signal)) throw err;
        if (err instanceof RestartFromZero) continue;
        if (
          err instanceof IdlerigError &&
          err.code === 'HASH_MISMATCH' &&
          (err.details as { resumed?: boolean })?.resumed &&
          !hashRetryDone
        ) {
          // A resumed file may have been damaged on disk; one fresh download decides.
          hashRetryDone = true;
          opts.notice(
            'The finished file did not match its sha256 after a resume; downloading it again from zero',
          );
          continue;
        }
        const failure =
          err instanceof TransientError ? (finalFailure(err, !!opts.typedUrl) ?? err) : err;
        lastError = failure;
        if (!(failure instanceof TransientError)) {
          // A refusal by this server (404, size mismatch): a mirror may still serve the file.
          if (
            failure instanceof IdlerigError &&
            failure.code === 'DOWNLOAD_FAILED' &&
            u < urls.length - 1
          )
            break;
          throw failure;
        }
        tries++;
        if (tries > policy.maxRetries) {
          if (u < urls.length - 1) break;
          throw gaveUp(failure, policy.maxRetries);
        }
        const delay = retryDelayMs(tries, policy, opts.random);
        opts.log?.warn('download attempt failed; retrying', {
          file: opts.file,
          attempt: tries,
          delayMs: delay,
          reason: failure.reason,
          error: failure.message,
        });
        opts.onRetry({
          attempt: tries,
          max: policy.maxRetries,
          at: new Date(Date.now() + delay),
          reason: failure.message,
        });
        await sleep(delay, undefined, { signal });
      }
    }
  }
  throw lastError instanceof Error
    ? lastError
    : new IdlerigError('DOWNLOAD_FAILED', 'The download failed');
}

/** The final error once the retries ran out: what happened, in words, and how often it was tried. */
export function gaveUp(err: TransientError, retries: number): IdlerigError {
  return new IdlerigError(
    err.stalled ? 'STALLED' : 'DOWNLOAD_FAILED',
    `${err.message}; gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'}`,
    { reason: err.reason, ...(err.code ? { errno: err.code } : {}) },
  );
}
