// Error codes shared by every part of Idlerig. An error crossing a process or transport
// boundary is always { code, message, details? } so the receiver can act on the code.

export const ERROR_CODES = [
  'INVALID_PARAMS', // a call's parameters failed its schema
  'UNKNOWN_METHOD', // no such API call
  'UNAUTHORIZED', // missing or wrong API token
  'FORBIDDEN', // the caller is not allowed (wrong frame, wrong origin)
  'NOT_FOUND',
  'CONFLICT', // the data folder is owned by another process, a model is in use, ...
  'UNAVAILABLE', // the capability exists but not in this mode (e.g. login item when headless)
  'PAYLOAD_TOO_LARGE',
  'INTERNAL',
  // Models (downloads, imports, installed files)
  'DOWNLOAD_FAILED', // the server refused or kept failing; the reason is in the message
  'INSUFFICIENT_SPACE', // not enough free disk space for a download, checked before the first byte
  'HASH_MISMATCH', // a downloaded or installed file's sha256 differs from the pinned one
  'UNSAFE_PATH', // a model file name or path that would leave the models folder
  'INSECURE_URL', // plain http to a non-loopback host, or a redirect that leaves https
  'STALLED', // a download received no bytes for too long, and its retries ran out
  // Inference engine (electron/engine and its supervisor)
  'ENGINE_CRASHED', // the engine process died or hung while the job ran (or could not start)
  'MODEL_UNVERIFIED', // a model file's sha256 differs from the expected one: it is not loaded
  'INVALID_INPUT', // a job's input does not fit the model (tensor name, dtype, shape; bad grammar)
  'LIMIT_EXCEEDED', // prompt tokens, completion tokens or request bytes over the configured limit
  'TIMEOUT', // a job ran past its wall-clock limit and was stopped
  'QUEUE_FULL', // too many jobs already wait for the engine
  'CANCELLED', // the job was cancelled before it produced a result (or the engine was stopped)
  // The job record (electron/provider/jobs)
  'INTERRUPTED', // a job still running when the node stopped or crashed (closed at the next start)
  // The node key (electron/provider/wallet/node-key.ts)
  'KEY_LOCKED', // the node key needs a passphrase or keychain that is not available
  'KEY_UNREADABLE', // the node key file cannot be opened (wrong passphrase, damaged file)
  // Payments (shared/payments.ts, gateway/payments, electron/provider/wallet)
  'VOUCHER_REJECTED', // a voucher failed a check (chain, contract, signer, epoch, order, lock); details.reason
  'CHANNEL_EXHAUSTED', // a payment channel's locked funds are used up: top it up before more work
  'CHAIN_UNAVAILABLE', // the chain's RPC did not answer or a transaction failed to be mined
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** The one error type the API throws. Its `code` is part of the contract. */
export class IdlerigError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'IdlerigError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: ErrorBody): IdlerigError {
    return new IdlerigError(body.code, body.message, body.details);
  }
}

export function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorBody).code === 'string' &&
    (ERROR_CODES as readonly string[]).includes((value as ErrorBody).code) &&
    typeof (value as ErrorBody).message === 'string'
  );
}
