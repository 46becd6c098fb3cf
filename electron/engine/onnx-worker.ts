// The engine's ONNX thread: a worker thread of the engine process (started by onnx-thread.ts
// from the engine's own entry, index.ts) that owns onnxruntime-node and its sessions. The
// engine's main thread only receives requests, keeps the queues and sends results, so on a
// busy machine the IPC of the next batch overlaps the inference of this one instead of waiting
// for it. Each message is one call, answered once by `call` number; an abort stops a running
// batch between its groups of runs.
import type { MessagePort } from 'node:worker_threads';
import { IdlerigError, type ErrorBody } from '../../shared/errors';
import type { EngineParsedParams, OnnxInferResult, TensorInfo } from '../../shared/engine-protocol';
import type { EngineLog, StopReason } from './job';
import { availableProviders, openSession, type OpenOptions } from './onnx-open';
import { runPacked, type PackedModel } from './onnx-packed';
import { runRequests } from './onnx-requests';
import { toBody, type Ort } from './onnx-tensors';

/** workerData of the ONNX thread: how index.ts knows to run this instead of the engine. */
export const ONNX_WORKER_ROLE = 'idlerig-engine-onnx';

export interface OnnxLimits {
  maxRequestBytes: number;
  jobTimeoutMs: number;
}

export type OnnxWorkerCall =
  | { op: 'info'; call: number }
  | { op: 'open'; call: number; path: string; file: string; options: OpenOptions }
  | { op: 'release'; call: number; session: number }
  | {
      op: 'run';
      call: number;
      session: number;
      params: Pick<EngineParsedParams<'onnx.infer'>, 'requests' | 'packed'>;
      modelName: string;
      limits: OnnxLimits;
      /** Set when the job was stopped before it was posted. */
      stopped?: StopReason;
    };

export type OnnxWorkerMessage =
  | OnnxWorkerCall
  | { op: 'abort'; call: number; reason: StopReason }
  /** Release every session and end the thread (its event loop empties). */
  | { op: 'close'; call: 0 };

/** What `open` answers: the session's number in this thread and what the model looks like. */
export interface OpenedSession {
  session: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  executionProviders: string[];
}

export type OnnxWorkerReply =
  | { call: number; ok: true; value: unknown }
  /** `stack` only for a bug (an error that is not an IdlerigError). */
  | { call: number; ok: false; error: ErrorBody; stack?: string }
  | { log: Parameters<EngineLog> };

export function runOnnxWorker(port: MessagePort): void {
  const sessions = new Map<number, PackedModel>();
  const running = new Map<number, AbortController>();
  /** Per session, the batch posted last: the next one starts when it has ended. */
  const tails = new Map<number, Promise<unknown>>();
  let nextSession = 1;
  let ort: Ort | null = null;
  const runtime = async (): Promise<Ort> => (ort ??= await import('onnxruntime-node'));
  const log: EngineLog = (...args) => port.postMessage({ log: args } satisfies OnnxWorkerReply);

  const session = (n: number): PackedModel => {
    const m = sessions.get(n);
    if (!m) throw new Error(`ONNX session ${n} is not open in this thread`);
    return m;
  };

  const handle = async (
    msg: OnnxWorkerCall,
  ): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> => {
    switch (msg.op) {
      case 'info':
        return { value: { availableProviders: availableProviders(await runtime()) } };
      case 'open': {
        const m = await openSession(await runtime(), msg.path, msg.file, msg.options, log);
        const n = nextSession++;
        sessions.set(n, m);
        const opened: OpenedSession = {
          session: n,
          inputs: m.inputs,
          outputs: m.outputs,
          executionProviders: m.executionProviders,
        };
        return { value: opened };
      }
      case 'release': {
        const m = sessions.get(msg.session);
        sessions.delete(msg.session);
        tails.delete(msg.session);
        await m?.session.release().catch(() => {});
        return { value: null };
      }
      case 'run': {
        const m = session(msg.session);
        const controller = new AbortController();
        if (msg.stopped) controller.abort(msg.stopped);
        running.set(msg.call, controller);
        const run = async (): Promise<OnnxInferResult> => {
          const ort = await runtime();
          return msg.params.packed
            ? runPacked(ort, m, msg.params.packed, msg.modelName, controller.signal, msg.limits)
            : runRequests(
                ort,
                m,
                msg.params.requests,
                msg.modelName,
                controller.signal,
                msg.limits,
              );
        };
        const result = (tails.get(msg.session) ?? Promise.resolve()).then(run);
        const tail = result.catch(() => {});
        tails.set(msg.session, tail);
        try {
          const value = await result;
          return { value, transfer: packedBuffers(value) };
        } finally {
          running.delete(msg.call);
          if (tails.get(msg.session) === tail) tails.delete(msg.session);
        }
      }
    }
  };

  port.on('message', (msg: OnnxWorkerMessage) => {
    if (msg.op === 'close') {
      void Promise.all(
        [...sessions.values()].map((m) => m.session.release().catch(() => {})),
      ).finally(() => port.close());
      sessions.clear();
      return;
    }
    if (msg.op === 'abort') {
      const c = running.get(msg.call);
      if (c && !c.signal.aborted) c.abort(msg.reason);
      return;
    }
    handle(msg).then(
      ({ value, transfer }) =>
        port.postMessage({ call: msg.call, ok: true, value } satisfies OnnxWorkerReply, transfer),
      (err: unknown) => {
        const error = toBody(err);
        const bug = !(err instanceof IdlerigError);
        port.postMessage({
          call: msg.call,
          ok: false,
          error,
          ...(bug ? { stack: (err as Error)?.stack ?? String(err) } : {}),
        } satisfies OnnxWorkerReply);
      },
    );
  });
}

/** The packed answer's arrays: made for this answer, so they move to the main thread uncopied. */
function packedBuffers(result: OnnxInferResult): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const t of result.packed?.outputs ?? []) {
    const b = (t.data as ArrayBufferView).buffer;
    if (b instanceof ArrayBuffer) out.add(b);
  }
  return [...out];
}
