// Fit estimates without the network: whether a GGUF header read failed because the model's
// server could not be reached (offline, no DNS, refused, timed out) rather than because of the
// file, and the log lines of those failures, once per episode instead of once per model and visit.
import { networkFailure, type FailureReason } from './download-http';

/** The downloader's failure reasons that mean "could not reach the server". */
const UNREACHABLE: ReadonlySet<FailureReason> = new Set<FailureReason>([
  'offline',
  'name-not-found',
  'refused',
  'timeout',
  'connection-lost',
]);

/**
 * The header worker passes back only a message (node-llama-cpp's fetch): the codes and words a
 * network failure leaves in it.
 */
const UNREACHABLE_MESSAGE =
  /\b(fetch failed|getaddrinfo|socket hang up|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ETIMEDOUT|ECONNRESET)\b/i;

type ErrorLike = { name?: unknown; message?: unknown; cause?: unknown } | null;

/** True when a header read failed because the model's server could not be reached. */
export function isUnreachable(err: unknown): boolean {
  let e = err as ErrorLike;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause as ErrorLike) {
    const failure = networkFailure(e, 'the server');
    if (failure) return UNREACHABLE.has(failure.reason);
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return true;
    if (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)) return true;
  }
  return false;
}

type LogFn = (msg: string, data?: Record<string, unknown>) => void;

/**
 * Logs the header reads of the fit estimate that fail: an unreachable network once (a WARN when
 * it starts, debug for every model after it, an INFO when a read works again), any other failure
 * once per model. A catalog page visit while offline writes one line, not one per model.
 */
export class FitReadNotices {
  private offline = false;
  private readonly failedModels = new Set<string>();

  constructor(private readonly log: { debug: LogFn; info: LogFn; warn: LogFn }) {}

  get isOffline(): boolean {
    return this.offline;
  }

  failed(modelId: string, err: unknown): { offline: boolean; message: string } {
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 200);
    if (isUnreachable(err)) {
      if (!this.offline)
        this.log.warn(
          'fit estimates cannot reach the network: catalog models are estimated from their file size until it can',
          { modelId, error: message },
        );
      else this.log.debug('fit estimate offline', { modelId, error: message });
      this.offline = true;
      return { offline: true, message };
    }
    if (!this.failedModels.has(modelId)) {
      this.failedModels.add(modelId);
      this.log.warn('could not read a GGUF header for the fit estimate', {
        modelId,
        error: message,
      });
    } else this.log.debug('could not read a GGUF header for the fit estimate', { modelId });
    return { offline: false, message };
  }

  succeeded(modelId: string): void {
    this.failedModels.delete(modelId);
    if (this.offline) {
      this.offline = false;
      this.log.info('fit estimates reach the network again', { modelId });
    }
  }
}
