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
  ) {
    super(message);
  }
}
