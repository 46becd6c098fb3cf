// The supervisor's request bookkeeping: numbered requests to one engine process, each settled
// exactly once by its `result` or `error` message, by a cancel's reply, by a backstop timer (an
// engine that forgot a job) or by failAll() when the process is gone. Results are checked
// against the method's schema before the caller sees them.
import { IdlerigError } from '../../../shared/errors';
import {
  ENGINE_METHODS,
  type EngineEvent,
  type EngineMethod,
  type EngineParams,
  type EngineResult,
  type EngineToParent,
} from '../../../shared/engine-protocol';
import type { ScopedLogger } from '../logs/logger';
import type { EngineChild } from './spawner';

export interface RequestOptions {
  signal?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
}

interface Pending {
  method: EngineMethod;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  onEvent?: (event: EngineEvent) => void;
  cleanup(): void;
}

type Settling = Extract<EngineToParent, { kind: 'result' | 'error' | 'event' }>;

export class PendingRequests {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly log: ScopedLogger) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * Sends `method` to `child`. `timeout` (when given) rejects the request if no answer came in
   * time and calls its `onTimeout` (the supervisor kills a process that hangs on `configure`).
   */
  send<M extends EngineMethod>(
    child: EngineChild,
    method: M,
    params: EngineParams<M>,
    options: RequestOptions,
    timeout: { ms: number; error: () => IdlerigError; onTimeout?: () => void } | null,
  ): Promise<EngineResult<M>> {
    const id = this.nextId++;
    return new Promise<EngineResult<M>>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = (): void => {
        if (this.pending.has(id)) child.send({ kind: 'cancel', id });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = timeout
        ? setTimeout(() => {
            if (!this.settle(id)?.reject(timeout.error())) return;
            timeout.onTimeout?.();
          }, timeout.ms)
        : null;
      this.pending.set(id, {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        cleanup: () => {
          signal?.removeEventListener('abort', onAbort);
          if (timer) clearTimeout(timer);
        },
      });
      try {
        child.send({ kind: 'request', id, method, params });
      } catch (err) {
        this.settle(id)?.reject(
          new IdlerigError(
            'ENGINE_CRASHED',
            `Could not reach the engine: ${(err as Error).message}`,
          ),
        );
      }
    });
  }

  /** Takes request `id` out of the book (its timer and abort listener gone); null if unknown. */
  private settle(id: number): { reject(err: unknown): true; pending: Pending } | null {
    const p = this.pending.get(id);
    if (!p) return null;
    this.pending.delete(id);
    p.cleanup();
    return {
      pending: p,
      reject: (err) => {
        p.reject(err);
        return true;
      },
    };
  }

  /** A message about a request; returns the checked result of a `result` message. */
  onMessage(msg: Settling): unknown {
    if (msg.kind === 'event') {
      this.pending.get(msg.id)?.onEvent?.(msg.event);
      return undefined;
    }
    const s = this.settle(msg.id);
    if (!s) return undefined;
    const p = s.pending;
    if (msg.kind === 'error') {
      p.reject(IdlerigError.fromBody(msg.error));
      return undefined;
    }
    const checked = ENGINE_METHODS[p.method].result.safeParse(msg.result);
    if (!checked.success) {
      this.log.error('the engine sent an invalid result', {
        method: p.method,
        issues: checked.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`),
      });
      p.reject(new IdlerigError('INTERNAL', `The engine sent an invalid result for ${p.method}`));
      return undefined;
    }
    p.resolve(checked.data);
    return checked.data;
  }

  /** Fails every request in flight with `error` (the process is gone). */
  failAll(error: IdlerigError): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(error);
  }
}
