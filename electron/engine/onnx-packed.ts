// A packed ONNX batch (shared/engine-protocol.ts PackedBatch) run in the engine's ONNX thread
// (onnx-worker.ts): the inputs are checked once for the whole batch, each request's tensors are
// views into the batch's arrays, and the outputs go back packed the same way when every request
// succeeded with equally shaped outputs (else one result per request).
//
// Where the time goes on a small model (mnist-8: ~40 µs of inference per request), and what is
// done about it:
// - onnxruntime-node runs each session.run in its own setImmediate, so awaiting runs one by one
//   costs an event-loop turn each: runs are started in groups (sized so that a group takes about
//   GROUP_MS) and run back to back in one turn; a cancel takes effect between groups.
// - Outputs are copied into the packed answer as each run ends, not held until the batch ends,
//   so the per-run tensors die young (cheap minor GCs instead of promoting 256 results).
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { IdlerigError, type ErrorBody } from '../../shared/errors';
import type {
  OnnxInferResult,
  PackedBatch,
  PackedTensors,
  TensorInfo,
} from '../../shared/engine-protocol';
import { stoppedError } from './job';
import {
  CTOR,
  ORT_TO_OIP,
  describeTensor,
  fromHalf,
  fromTensor,
  sameDims,
  sub,
  toBody,
  toTensor,
  type Ort,
  type OrtType,
} from './onnx-tensors';

/** What a packed batch needs of a loaded model. */
export interface PackedModel {
  session: InferenceSession;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  inputMeta: Map<string, { type: OrtType; shape: (number | null)[] }>;
  outputNames: Set<string>;
  executionProviders: string[];
}

/** A group of runs started together takes about this long (the event loop's turn). */
const GROUP_MS = 4;
const GROUP_MAX = 64;

type Typed = ArrayBufferView & {
  length: number;
  set(a: ArrayLike<number | bigint>, offset: number): void;
};

interface Part {
  name: string;
  type: OrtType;
  shape: number[];
  n: number;
  data: ArrayBufferView;
}

export async function runPacked(
  ort: Ort,
  m: PackedModel,
  batch: PackedBatch,
  modelName: string,
  signal: AbortSignal,
  limits: { maxRequestBytes: number; jobTimeoutMs: number },
): Promise<OnnxInferResult> {
  const { count } = batch;
  let parts: Part[];
  try {
    parts = checkBatch(ort, m, batch, limits.maxRequestBytes);
  } catch (err) {
    return {
      results: Array.from({ length: count }, () => ({ ok: false as const, error: toBody(err) })),
      executionProviders: m.executionProviders,
    };
  }
  const fetches = batch.outputs && batch.outputs.length > 0 ? batch.outputs : null;
  const names = fetches ?? [...m.session.outputNames];
  const out = new PackedOutputs(names, count);

  const runAt = async (i: number): Promise<Record<string, Tensor> | ErrorBody> => {
    const feeds: Record<string, Tensor> = {};
    for (const p of parts)
      feeds[p.name] = new ort.Tensor(
        p.type as 'float32',
        sub(p.data, i * p.n, p.n) as Float32Array,
        p.shape,
      );
    try {
      return (fetches ? await m.session.run(feeds, fetches) : await m.session.run(feeds)) as Record<
        string,
        Tensor
      >;
    } catch (err) {
      return toBody(
        new IdlerigError(
          'INVALID_INPUT',
          `ONNX Runtime refused the input: ${(err as Error).message}`,
        ),
      );
    }
  };

  let group = 1;
  for (let i = 0; i < count;) {
    if (signal.aborted) {
      const stopped = toBody(stoppedError(signal, limits.jobTimeoutMs));
      for (; i < count; i++) out.fail(i, stopped);
      break;
    }
    const n = Math.min(group, count - i);
    const started = performance.now();
    const runs: Promise<Record<string, Tensor> | ErrorBody>[] = [];
    for (let k = 0; k < n; k++) runs.push(runAt(i + k));
    const settled = await Promise.all(runs);
    settled.forEach((r, k) => {
      if (isErrorBody(r)) out.fail(i + k, r);
      else out.add(i + k, r);
    });
    i += n;
    const perRun = (performance.now() - started) / n;
    group = Math.max(1, Math.min(GROUP_MAX, Math.floor(GROUP_MS / Math.max(perRun, 0.001))));
  }
  return out.result(modelName, batch.ids, m.executionProviders);
}

function isErrorBody(r: Record<string, Tensor> | ErrorBody): r is ErrorBody {
  return typeof (r as ErrorBody).code === 'string' && typeof (r as ErrorBody).message === 'string';
}

/** Checks the batch as a whole: names, datatypes, shapes, lengths, bytes per request. */
function checkBatch(ort: Ort, m: PackedModel, batch: PackedBatch, maxBytes: number): Part[] {
  const { count } = batch;
  const parts: Part[] = [];
  let bytes = 0;
  const seen = new Set<string>();
  for (const input of batch.inputs) {
    const meta = m.inputMeta.get(input.name);
    if (!meta || seen.has(input.name)) {
      throw new IdlerigError(
        'INVALID_INPUT',
        meta
          ? `Input ${JSON.stringify(input.name)} is given twice`
          : `The model has no input named ${JSON.stringify(input.name)}; its inputs are ${m.inputs.map(describeTensor).join(', ')}`,
        { tensor: input.name },
      );
    }
    seen.add(input.name);
    const n = input.shape.reduce((a, b) => a * b, 1);
    const view = input.data as ArrayBufferView & { length: number };
    // The datatype and the shape against the model (with the first request's data).
    toTensor(ort, { ...input, data: sub(view, 0, Math.min(n, view.length)) }, meta);
    const Ctor = CTOR[meta.type];
    if (!Ctor || !(view instanceof Ctor) || view.length !== n * count) {
      throw new IdlerigError(
        'INVALID_INPUT',
        `Packed input ${JSON.stringify(input.name)} must be a ${Ctor?.name ?? 'typed array'} of ${count} x ${n} elements`,
        { tensor: input.name },
      );
    }
    bytes += view.byteLength / count;
    parts.push({ name: input.name, type: meta.type, shape: input.shape, n, data: view });
  }
  for (const info of m.inputs) {
    if (!seen.has(info.name))
      throw new IdlerigError('INVALID_INPUT', `Missing input tensor ${describeTensor(info)}`, {
        tensor: info.name,
        expectedShape: info.shape,
        expectedDatatype: info.datatype,
      });
  }
  if (bytes > maxBytes) {
    throw new IdlerigError(
      'LIMIT_EXCEEDED',
      `The request's tensors hold ${bytes} bytes, over the limit of ${maxBytes}`,
      { limit: 'maxRequestBytes', max: maxBytes, got: bytes },
    );
  }
  for (const name of batch.outputs ?? []) {
    if (!m.outputNames.has(name))
      throw new IdlerigError(
        'INVALID_INPUT',
        `The model has no output named ${JSON.stringify(name)}; its outputs are ${m.outputs.map((o) => o.name).join(', ')}`,
        { tensor: name },
      );
  }
  return parts;
}

/**
 * The batch's answers as they come: outputs shaped like the first successful run's are copied
 * into one array per output at once; anything else (an error, another shape, strings) is kept
 * for a per-request answer.
 */
class PackedOutputs {
  private shapes: { type: OrtType; dims: readonly number[]; n: number; data: Typed }[] | null =
    null;
  /** Per request: true (in the packed arrays), its own outputs, or its error. */
  private readonly slots: (true | Record<string, Tensor> | ErrorBody | undefined)[];
  private uniform = true;

  constructor(
    private readonly names: string[],
    private readonly count: number,
  ) {
    this.slots = new Array(count);
  }

  fail(i: number, error: ErrorBody): void {
    this.slots[i] = error;
    this.uniform = false;
  }

  add(i: number, outs: Record<string, Tensor>): void {
    if (this.shapes === null) {
      const first = this.names.map((name) => outs[name]);
      if (first.every((t) => t !== undefined && t.type !== 'string' && CTOR[t.type])) {
        this.shapes = first.map((t) => {
          const Ctor = (t!.data as ArrayBufferView).constructor as new (n: number) => Typed;
          return {
            type: t!.type,
            dims: [...t!.dims],
            n: t!.size,
            data: new Ctor(t!.size * this.count),
          };
        });
      }
    }
    const shapes = this.shapes;
    const fits =
      shapes !== null &&
      this.names.every((name, k) => {
        const t = outs[name];
        return t !== undefined && t.type === shapes[k]!.type && sameDims(t.dims, shapes[k]!.dims);
      });
    if (!fits) {
      this.slots[i] = outs;
      this.uniform = false;
      return;
    }
    this.names.forEach((name, k) => {
      const s = shapes[k]!;
      s.data.set(outs[name]!.data as ArrayLike<number>, i * s.n);
    });
    this.slots[i] = true;
  }

  result(
    modelName: string,
    ids: PackedBatch['ids'],
    executionProviders: string[],
  ): OnnxInferResult {
    const shapes = this.shapes;
    const decode = (k: number, data: ArrayBufferView): ArrayBufferView =>
      shapes![k]!.type === 'float16' ? fromHalf(data as Uint16Array) : data;
    if (this.uniform && shapes) {
      const outputs: PackedTensors[] = this.names.map((name, k) => ({
        name,
        datatype: ORT_TO_OIP[shapes[k]!.type] ?? 'BYTES',
        shape: [...shapes[k]!.dims],
        data: decode(k, shapes[k]!.data),
      }));
      return { results: [], packed: { count: this.count, outputs }, executionProviders };
    }
    const id = (i: number): { id?: string } => {
      const v = ids?.[i];
      return v != null ? { id: v } : {};
    };
    return {
      results: this.slots.map((slot, i) => {
        if (slot === undefined)
          return {
            ok: false as const,
            error: { code: 'INTERNAL' as const, message: 'The request was not run' },
          };
        if (isErrorSlot(slot)) return { ok: false as const, error: slot };
        const outputs =
          slot === true
            ? this.names.map((name, k) => {
                const s = shapes![k]!;
                return {
                  name,
                  datatype: ORT_TO_OIP[s.type] ?? 'BYTES',
                  shape: [...s.dims],
                  data: decode(k, sub(s.data, i * s.n, s.n)) as Float32Array,
                };
              })
            : this.names.filter((name) => slot[name]).map((name) => fromTensor(name, slot[name]!));
        return { ok: true as const, response: { model_name: modelName, ...id(i), outputs } };
      }),
      executionProviders,
    };
  }
}

function isErrorSlot(slot: true | Record<string, Tensor> | ErrorBody): slot is ErrorBody {
  return slot !== true && isErrorBody(slot as Record<string, Tensor> | ErrorBody);
}
