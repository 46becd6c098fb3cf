// What an engine (llama, onnx) gets with each job from the server: its id, the signal that stops
// it (cancel, timeout, shutdown) and how to stream events back.
import { IdlerigError } from '../../shared/errors';
import type { EngineEvent } from '../../shared/engine-protocol';

export type StopKind = 'cancel' | 'timeout' | 'shutdown';

/** The `reason` of a job's AbortSignal. */
export interface StopReason {
  kind: StopKind;
  at: number;
}

export interface JobContext {
  id: number;
  /** performance.now() when the request arrived. */
  receivedAt: number;
  signal: AbortSignal;
  emit(event: EngineEvent): void;
}

/** How many jobs wait, across every model and engine: the server owns it. */
export interface QueueGate {
  queued: number;
  max: number;
}

export type EngineLog = (
  level: 'debug' | 'info' | 'warn' | 'error',
  msg: string,
  data?: Record<string, unknown>,
) => void;

export function stopReason(signal: AbortSignal): StopReason | null {
  if (!signal.aborted) return null;
  const r = signal.reason as Partial<StopReason> | undefined;
  return r && typeof r.kind === 'string' ? (r as StopReason) : { kind: 'cancel', at: 0 };
}

/** The typed error for a job stopped before it could produce anything. */
export function stoppedError(signal: AbortSignal, timeoutMs: number): IdlerigError {
  const r = stopReason(signal);
  if (r?.kind === 'timeout')
    return new IdlerigError('TIMEOUT', `The job ran past its time limit of ${timeoutMs} ms`);
  if (r?.kind === 'shutdown') return new IdlerigError('CANCELLED', 'The engine is shutting down');
  return new IdlerigError('CANCELLED', 'The job was cancelled');
}

/** Resolves when the signal aborts (never rejects). */
export function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}
