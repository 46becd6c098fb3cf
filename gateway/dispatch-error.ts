// A job that could not be run, as the requester APIs answer it: the HTTP status, OpenAI's error
// type and code, and whether tokens had already been streamed (then a stream ends with an error
// event instead of a status).
export class DispatchError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
    /** Tokens had reached the requester: a stream must end with an error event. */
    readonly afterFirstToken = false,
    /** The request parameter the error is about (OpenAI's `param`), when it names one. */
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/**
 * The job error codes (shared/errors.ts) that are the request's fault, not the provider's: the
 * input does not fit the model, a parameter is over a limit or fails the engine's schema, the
 * request is too large. Another provider would refuse it too, so it goes to the client as a 4xx,
 * is not retried, and does not count against the provider (cooldown, success rate, tally).
 */
export const REQUEST_FAULT_CODES: ReadonlySet<string> = new Set([
  'INVALID_INPUT',
  'LIMIT_EXCEEDED',
  'INVALID_PARAMS',
  'PAYLOAD_TOO_LARGE',
]);

/** The same codes as the ledger stores them (a job's errorCode, lower case). */
export const REQUEST_FAULT_ERROR_CODES: ReadonlySet<string> = new Set(
  [...REQUEST_FAULT_CODES].map((c) => c.toLowerCase()),
);
