// The parent side of ONNX jobs: requests for one model made in the same tick travel to the
// engine in one message (IPC costs more than a small model's inference), packed end to end when
// they all look alike (onnx-pack.ts). At most ONNX_IN_FLIGHT batches per model are on their way
// at once; whatever arrives meanwhile waits here, in a queue bounded like the engine's own
// (QUEUE_FULL past the bound, so a flood of requests cannot grow the node's memory without end).
import { IdlerigError } from '../../../shared/errors';
import {
  oipRequestBytes,
  type EngineLimits,
  type EngineParams,
  type EngineResult,
  type ModelRef,
  type OipInferRequest,
  type OipInferResponse,
} from '../../../shared/engine-protocol';
import { pack, unpack } from './onnx-pack';

/** ONNX requests per engine message, and messages per model on their way at once. */
export const ONNX_BATCH_MAX = 256;
export const ONNX_IN_FLIGHT = 2;

/**
 * Requests waiting in the parent, all models together: `maxQueuedJobs` batches' worth of
 * requests, and at most this many times `maxRequestBytes` of tensor data.
 */
export function onnxQueueBounds(limits: EngineLimits): { requests: number; bytes: number } {
  return {
    requests: Math.max(ONNX_BATCH_MAX, limits.maxQueuedJobs * ONNX_BATCH_MAX),
    bytes: 16 * limits.maxRequestBytes,
  };
}

interface Item {
  request: OipInferRequest;
  bytes: number;
  resolve(r: OipInferResponse): void;
  reject(err: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  done: boolean;
}

/** Answers an item once (a response, or an error): later answers are ignored. */
function settle(item: Item, outcome: OipInferResponse | Error): void {
  if (item.done) return;
  item.done = true;
  if (item.onAbort) item.signal?.removeEventListener('abort', item.onAbort);
  if (outcome instanceof Error) item.reject(outcome);
  else item.resolve(outcome);
}

interface Queue {
  model: ModelRef;
  modelName?: string;
  items: Item[];
  inFlight: number;
}

export type SendBatch = (params: EngineParams<'onnx.infer'>) => Promise<EngineResult<'onnx.infer'>>;

export class OnnxBatcher {
  private readonly queues = new Map<string, Queue>();
  private waitingRequests = 0;
  private waitingBytes = 0;

  constructor(
    private readonly send: SendBatch,
    private readonly limits: () => EngineLimits,
  ) {}

  /** Requests waiting here (not yet sent to the engine). */
  get waiting(): number {
    return this.waitingRequests;
  }

  infer(
    model: ModelRef,
    request: OipInferRequest,
    options: { signal?: AbortSignal; modelName?: string } = {},
  ): Promise<OipInferResponse> {
    if (options.signal?.aborted)
      return Promise.reject(new IdlerigError('CANCELLED', 'The job was cancelled'));
    const limits = this.limits();
    const max = limits.maxRequestBytes;
    const bytes = oipRequestBytes(request);
    if (bytes > max) {
      return Promise.reject(
        new IdlerigError(
          'LIMIT_EXCEEDED',
          `The request is ${bytes} bytes, over the limit of ${max}`,
          {
            limit: 'maxRequestBytes',
            max,
            got: bytes,
          },
        ),
      );
    }
    const bound = onnxQueueBounds(limits);
    if (this.waitingRequests >= bound.requests || this.waitingBytes + bytes > bound.bytes) {
      return Promise.reject(
        new IdlerigError(
          'QUEUE_FULL',
          this.waitingRequests >= bound.requests
            ? `${this.waitingRequests} tensor requests are already waiting for the engine (the limit is ${bound.requests})`
            : `Tensor requests waiting for the engine already hold ${this.waitingBytes} bytes (the limit is ${bound.bytes})`,
          {
            waiting: this.waitingRequests,
            maxWaiting: bound.requests,
            maxWaitingBytes: bound.bytes,
          },
        ),
      );
    }
    const key = this.keyOf(model, options.modelName);
    let queue = this.queues.get(key);
    if (!queue) {
      queue = {
        model,
        ...(options.modelName ? { modelName: options.modelName } : {}),
        items: [],
        inFlight: 0,
      };
      this.queues.set(key, queue);
    }
    const q = queue;
    const signal = options.signal;
    const p = new Promise<OipInferResponse>((resolve, reject) => {
      const item: Item = { request, bytes, resolve, reject, done: false };
      if (signal) {
        // A cancel answers at once; a request already in the engine finishes there unseen.
        item.signal = signal;
        item.onAbort = () => settle(item, new IdlerigError('CANCELLED', 'The job was cancelled'));
        signal.addEventListener('abort', item.onAbort, { once: true });
      }
      q.items.push(item);
    });
    this.waitingRequests++;
    this.waitingBytes += bytes;
    // Requests made in the same tick leave together.
    if (q.items.length === 1 && q.inFlight < ONNX_IN_FLIGHT) setImmediate(() => this.pump(key));
    return p;
  }

  private lastKey: {
    model: ModelRef;
    sha256: string;
    file: string;
    name?: string;
    key: string;
  } | null = null;

  /** The queue of a model (and name); callers usually pass the same ModelRef again and again. */
  private keyOf(model: ModelRef, name: string | undefined): string {
    const last = this.lastKey;
    if (
      last &&
      last.model === model &&
      last.sha256 === model.sha256 &&
      last.file === model.file &&
      last.name === name
    )
      return last.key;
    const key = `${model.sha256}\0${model.file}\0${name ?? ''}`;
    this.lastKey = {
      model,
      sha256: model.sha256,
      file: model.file,
      key,
      ...(name ? { name } : {}),
    };
    return key;
  }

  /** Fails every waiting request (the engine is stopping). */
  cancelAll(error: IdlerigError): void {
    for (const queue of this.queues.values()) {
      for (const item of queue.items.splice(0)) {
        this.waitingRequests--;
        this.waitingBytes -= item.bytes;
        settle(item, error);
      }
    }
  }

  /**
   * Sends a model's waiting requests in batches, at most ONNX_IN_FLIGHT batches at a time: one
   * runs in the engine while the next crosses over, and whatever arrives meanwhile joins a
   * later batch (so batches grow with the load, and nothing is serialized long before the
   * engine can take it).
   */
  private pump(key: string): void {
    const queue = this.queues.get(key);
    if (!queue) return;
    while (queue.inFlight < ONNX_IN_FLIGHT && queue.items.length > 0) {
      const taken = queue.items.splice(0, ONNX_BATCH_MAX);
      for (const it of taken) {
        this.waitingRequests--;
        this.waitingBytes -= it.bytes;
      }
      const items = taken.filter((it) => !it.done);
      if (items.length === 0) continue;
      queue.inFlight++;
      const requests = items.map((it) => it.request);
      const packed = pack(requests);
      const modelName = queue.modelName ?? queue.model.file;
      this.send({
        model: queue.model,
        ...(queue.modelName ? { modelName: queue.modelName } : {}),
        ...(packed ? { packed } : { requests }),
      })
        .then(
          (res) => {
            if (res.packed) {
              let responses: OipInferResponse[];
              try {
                responses = unpack(res.packed, modelName, requests);
              } catch (err) {
                for (const it of items) settle(it, err as Error);
                return;
              }
              items.forEach((it, j) => settle(it, responses[j]!));
              return;
            }
            res.results.forEach((r, j) => {
              const it = items[j]!;
              if (!r)
                settle(it, new IdlerigError('INTERNAL', 'The engine left a request unanswered'));
              else settle(it, r.ok ? r.response : IdlerigError.fromBody(r.error));
            });
          },
          (err: unknown) => {
            for (const it of items)
              settle(it, err instanceof Error ? err : new IdlerigError('INTERNAL', String(err)));
          },
        )
        .finally(() => {
          queue.inFlight--;
          this.pump(key);
        });
    }
    if (queue.items.length === 0 && queue.inFlight === 0) this.queues.delete(key);
  }
}
