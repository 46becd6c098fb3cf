import {
  contract,
  isMethodName,
  type MethodName,
  type ParsedParams,
  type Result,
  type CallOutcome,
} from '../../../shared/api';
import { IdlerigError, type ErrorBody } from '../../../shared/errors';
import { formatValue } from '../../../shared/format';
import type { ScopedLogger } from '../logs/logger';

export interface CallContext {
  /** Which transport the call came in on, for logs. */
  transport: 'ipc' | 'http' | 'internal';
  /**
   * Aborted when the caller is gone before the answer (the HTTP client disconnected; the page
   * closed, crashed or navigated away): a handler doing long work for it may stop.
   */
  signal?: AbortSignal;
}

export type Handlers = {
  [M in MethodName]: (params: ParsedParams<M>, ctx: CallContext) => Promise<Result<M>> | Result<M>;
};

/**
 * The one router behind both transports. It validates the method name, the parameters (a typed
 * INVALID_PARAMS error listing the problems) and the handler's result (a handler that breaks
 * the contract is a bug, reported as INTERNAL rather than sent to the page).
 */
export class Router {
  constructor(
    private readonly handlers: Handlers,
    private readonly log: ScopedLogger,
  ) {}

  async call<M extends MethodName>(
    method: M,
    params: unknown,
    ctx: CallContext,
  ): Promise<Result<M>> {
    if (!isMethodName(method)) {
      throw new IdlerigError('UNKNOWN_METHOD', `Unknown API call: ${formatValue(method, 128)}`);
    }
    const spec = contract[method];
    const parsed = spec.params.safeParse(params ?? {});
    if (!parsed.success) {
      throw new IdlerigError(
        'INVALID_PARAMS',
        `Invalid parameters for ${method}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ')}`,
        parsed.error.issues.map((i) => ({
          path: i.path.map(String),
          message: i.message,
          code: i.code,
        })),
      );
    }
    const handler = this.handlers[method] as (
      p: unknown,
      c: CallContext,
    ) => Promise<unknown> | unknown;
    const result = await handler(parsed.data, ctx);
    const checked = spec.result.safeParse(result);
    if (!checked.success) {
      this.log.error('handler result broke the contract', {
        method,
        issues: checked.error.issues.slice(0, 5),
      });
      throw new IdlerigError('INTERNAL', `The node returned an invalid result for ${method}`);
    }
    return checked.data as Result<M>;
  }

  /** Like call() but never throws: the shape both transports send back. */
  async dispatch(method: unknown, params: unknown, ctx: CallContext): Promise<CallOutcome> {
    try {
      const result = await this.call(method as MethodName, params, ctx);
      return { ok: true, result };
    } catch (err) {
      return { ok: false, error: toErrorBody(err, this.log, formatValue(method, 128)) };
    }
  }
}

export function toErrorBody(err: unknown, log: ScopedLogger, method: string): ErrorBody {
  if (err instanceof IdlerigError) return err.toBody();
  log.error('API call failed', {
    method,
    error: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
  return { code: 'INTERNAL', message: 'Internal error; see the logs for details' };
}
