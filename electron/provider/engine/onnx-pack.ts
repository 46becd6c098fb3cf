// ONNX requests that all look alike (same tensor names, datatypes and shapes, typed-array data,
// same outputs asked for) travel to the engine packed: each tensor's data laid end to end in one
// typed array (shared/engine-protocol.ts PackedBatch), checked once there and copied once.
import { IdlerigError } from '../../../shared/errors';
import type {
  OipInferRequest,
  OipInferResponse,
  PackedBatch,
  PackedTensors,
} from '../../../shared/engine-protocol';

const CTORS: Record<string, unknown> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  INT8: Int8Array,
  UINT16: Uint16Array,
  INT16: Int16Array,
  UINT32: Uint32Array,
  INT32: Int32Array,
  UINT64: BigUint64Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

type Typed = ArrayBufferView & {
  length: number;
  set(a: ArrayLike<number | bigint>, offset: number): void;
  subarray(a: number, b: number): Typed;
};

/**
 * Lays the requests' data end to end when they all have the same tensors (names, datatypes,
 * shapes, typed-array data of the datatype's own array type) and ask for the same outputs: the
 * engine then checks the batch once and the data crosses the process boundary in one piece.
 * Anything else travels as separate requests.
 */
export function pack(requests: OipInferRequest[]): PackedBatch | null {
  const head = requests[0];
  if (!head || requests.length < 2) return null;
  const outputs = head.outputs?.map((o) => o.name);
  const sameOutputs = (r: OipInferRequest): boolean =>
    r.outputs === undefined
      ? outputs === undefined
      : outputs !== undefined &&
        r.outputs.length === outputs.length &&
        r.outputs.every((o, i) => o.name === outputs[i] && o.parameters === undefined);
  const same = (r: OipInferRequest): boolean =>
    r.parameters === undefined &&
    r.inputs.length === head.inputs.length &&
    sameOutputs(r) &&
    r.inputs.every((t, k) => {
      const h = head.inputs[k]!;
      const Ctor = CTORS[t.datatype] as (new (...a: never[]) => unknown) | undefined;
      const n = t.shape.reduce((a, b) => a * b, 1);
      return (
        t.name === h.name &&
        t.datatype === h.datatype &&
        t.parameters === undefined &&
        t.shape.length === h.shape.length &&
        t.shape.every((d, i) => d === h.shape[i]) &&
        Ctor !== undefined &&
        t.data instanceof Ctor &&
        (t.data as Typed).length === n
      );
    });
  if (!requests.every(same)) return null;
  const inputs: PackedTensors[] = head.inputs.map((h, k) => {
    const n = h.shape.reduce((a, b) => a * b, 1);
    const Ctor = CTORS[h.datatype] as new (n: number) => Typed;
    const data = new Ctor(n * requests.length);
    requests.forEach((r, i) => data.set(r.inputs[k]!.data as unknown as ArrayLike<number>, i * n));
    return { name: h.name, datatype: h.datatype, shape: [...h.shape], data };
  });
  const ids = requests.map((r) => r.id ?? null);
  return {
    count: requests.length,
    inputs,
    ...(ids.some((id) => id !== null) ? { ids } : {}),
    ...(outputs ? { outputs } : {}),
  };
}

/** One response per request from a packed answer (views into its arrays, no copies). */
export function unpack(
  packed: { count: number; outputs: PackedTensors[] },
  modelName: string,
  requests: OipInferRequest[],
): OipInferResponse[] {
  const bad = packed.outputs.some(
    (t) => (t.data as Typed).length !== t.shape.reduce((a, b) => a * b, 1) * requests.length,
  );
  if (packed.count !== requests.length || bad)
    throw new IdlerigError('INTERNAL', 'The engine answered a packed batch with the wrong sizes');
  return requests.map((r, i) => ({
    model_name: modelName,
    ...(r.id !== undefined ? { id: r.id } : {}),
    outputs: packed.outputs.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return {
        name: t.name,
        datatype: t.datatype,
        shape: [...t.shape],
        data: (t.data as Typed).subarray(i * n, (i + 1) * n),
      };
    }),
  }));
}
