// The engine main thread's side of the ONNX thread (onnx-worker.ts): numbered calls answered
// once, aborts forwarded to a running batch, and a thread that dies (an uncaught error, out of
// memory) does not take the engine with it: the calls it had fail with ENGINE_CRASHED, the
// owner forgets the sessions that lived there, and the next call starts a new thread.
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { IdlerigError } from '../../shared/errors';
import type { OnnxInferResult } from '../../shared/engine-protocol';
import type { EngineLog, StopReason } from './job';
import {
  ONNX_WORKER_ROLE,
  type OnnxWorkerCall,
  type OnnxWorkerMessage,
  type OnnxWorkerReply,
} from './onnx-worker';

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

type CallBody<T = OnnxWorkerCall> = T extends OnnxWorkerCall ? Omit<T, 'call'> : never;

/**
 * The engine's entry as the thread's script: the bundle (dist/main/engine.js, or the tests'
 * bundle) runs the ONNX thread when started as one; a .ts entry (a source run) goes through tsx,
 * resolved here because an eval'd thread resolves from the working directory.
 */
function startWorker(script: string, resourceLimits: ResourceLimits | undefined): Worker {
  const workerData = { role: ONNX_WORKER_ROLE };
  if (!script.endsWith('.ts')) return new Worker(script, { workerData, resourceLimits });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(script)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(code, { eval: true, workerData, resourceLimits });
}

export class OnnxThread {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextCall = 1;
  private closed = false;
  /** Counts the threads started: a session belongs to the thread that opened it. */
  generation = 0;

  constructor(
    /** The engine entry (a file: URL or path), which runs the ONNX thread when started as one. */
    script: string | URL,
    private readonly log: EngineLog,
    /** The thread died: every session it had is gone. */
    private readonly onDeath: () => void,
    /** The thread's heap limits (Node's defaults when absent); past them the thread ends alone. */
    private readonly resourceLimits?: ResourceLimits,
  ) {
    this.script =
      typeof script === 'string' && !script.startsWith('file:') ? script : fileURLToPath(script);
  }

  private readonly script: string;

  /** The thread now running, started first if there is none. */
  private thread(): Worker {
    if (this.worker) return this.worker;
    if (this.closed) throw new IdlerigError('CANCELLED', 'The engine is shutting down');
    const w = startWorker(this.script, this.resourceLimits);
    // The engine's lifetime is its IPC channel's, never this thread's.
    w.unref();
    this.generation++;
    w.on('message', (m: OnnxWorkerReply) => this.onReply(m));
    w.on('error', (err) =>
      this.died(
        w,
        (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? 'it ran out of memory'
          : `an error escaped it: ${err.message}`,
      ),
    );
    w.on('exit', (code) => this.died(w, `it exited with code ${code}`));
    this.worker = w;
    return w;
  }

  call<T>(body: CallBody, transfer?: ArrayBuffer[]): Promise<T> {
    let w: Worker;
    try {
      w = this.thread();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const call = this.nextCall++;
    return new Promise<T>((resolve, reject) => {
      w.postMessage({ ...body, call } as OnnxWorkerMessage, transfer);
      this.pending.set(call, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** A batch on session `session`; `signal` stops it between groups of runs. */
  async run(
    body: Omit<Extract<OnnxWorkerCall, { op: 'run' }>, 'call' | 'op' | 'stopped'>,
    signal: AbortSignal,
  ): Promise<OnnxInferResult> {
    const w = this.thread();
    const call = this.nextCall++;
    const onAbort = (): void => {
      if (this.worker === w)
        w.postMessage({
          op: 'abort',
          call,
          reason: signal.reason as StopReason,
        } satisfies OnnxWorkerMessage);
    };
    const stopped = signal.aborted ? { stopped: signal.reason as StopReason } : {};
    const transfer = forThread(body.params);
    try {
      return await new Promise<OnnxInferResult>((resolve, reject) => {
        w.postMessage(
          { ...body, op: 'run', call, ...stopped } satisfies OnnxWorkerMessage,
          transfer,
        );
        this.pending.set(call, { resolve: resolve as (v: unknown) => void, reject });
        if (!signal.aborted) signal.addEventListener('abort', onAbort, { once: true });
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private onReply(m: OnnxWorkerReply): void {
    if ('log' in m) {
      this.log(...m.log);
      return;
    }
    const p = this.pending.get(m.call);
    if (!p) return;
    this.pending.delete(m.call);
    if (m.ok) p.resolve(m.value);
    else if (m.stack !== undefined) {
      // A bug in the thread: the server logs it with this stack and answers INTERNAL.
      const err = new Error(m.error.message);
      err.stack = m.stack;
      p.reject(err);
    } else p.reject(IdlerigError.fromBody(m.error));
  }

  private died(w: Worker, why: string): void {
    if (this.worker !== w) return;
    this.worker = null;
    if (this.closed) return;
    const calls = [...this.pending.values()];
    this.pending.clear();
    this.log(
      'error',
      'the ONNX Runtime thread of the engine stopped; a new one starts with the next job',
      {
        why,
        callsFailed: calls.length,
      },
    );
    this.onDeath();
    const err = new IdlerigError(
      'ENGINE_CRASHED',
      `ONNX Runtime stopped while the job ran (${why}); the next job starts it again`,
    );
    for (const p of calls) p.reject(err);
  }

  /**
   * Ends the thread: it releases its sessions and stops by itself (Worker.terminate() while
   * onnxruntime-node is inside a run aborts the whole process, so it is only the last resort).
   */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    const calls = [...this.pending.values()];
    this.pending.clear();
    const err = new IdlerigError('CANCELLED', 'The engine is shutting down');
    for (const p of calls) p.reject(err);
    if (!w) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ op: 'close', call: 0 } satisfies OnnxWorkerMessage);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>(
      (resolve) => (timer = setTimeout(() => resolve('late'), 2000)),
    );
    if ((await Promise.race([exited, late])) === 'late') await w.terminate().catch(() => {});
    clearTimeout(timer);
  }
}

/**
 * The batch's inputs as the thread gets them: typed arrays copied into buffers of their own that
 * move to the thread uncopied (deserialized IPC arrays are views into the whole message's
 * buffer, which must not be moved), and flat FP32/FP64 data given as JSON numbers as a
 * Float64Array (an array of numbers costs the structured clone per element; the thread reads the
 * same numbers from either, and counts the same 8 bytes an element against maxRequestBytes).
 */
function forThread(params: Extract<OnnxWorkerCall, { op: 'run' }>['params']): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const own = (t: { data: unknown; datatype?: string }): void => {
    if (Array.isArray(t.data)) {
      if (t.datatype !== 'FP32' && t.datatype !== 'FP64') return;
      const numbers = t.data as unknown[];
      for (let i = 0; i < numbers.length; i++) if (typeof numbers[i] !== 'number') return;
      const f64 = Float64Array.from(numbers as number[]);
      t.data = f64;
      out.push(f64.buffer);
      return;
    }
    if (!ArrayBuffer.isView(t.data)) return;
    const v = t.data;
    const bytes = new Uint8Array(v.byteLength);
    bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    const Ctor = (Buffer.isBuffer(v) ? Uint8Array : v.constructor) as new (
      b: ArrayBuffer,
      offset: number,
      length: number,
    ) => ArrayBufferView;
    const size = (v as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    t.data = new Ctor(bytes.buffer, 0, v.byteLength / size);
    out.push(bytes.buffer);
  };
  for (const t of params.packed?.inputs ?? []) own(t);
  for (const r of params.requests) for (const t of r.inputs) own(t);
  return out;
}
