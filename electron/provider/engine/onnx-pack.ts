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
  // Element counts and array types of the head's tensors, checked once; each request is then
  // compared with plain loops (this runs once per request: no closures or arrays to collect).
  const counts: number[] = [];
  const ctors: (new (...a: never[]) => unknown)[] = [];
  for (const t of head.inputs) {
    const Ctor = CTORS[t.datatype] as (new (...a: never[]) => unknown) | undefined;
    if (!Ctor) return null;
    counts.push(elements(t.shape));
    ctors.push(Ctor);
  }
  for (let r = 0; r < requests.length; r++) {
    if (!same(requests[r]!, head, outputs, counts, ctors)) return null;
  }
  const inputs: PackedTensors[] = head.inputs.map((h, k) => {
    const n = counts[k]!;
    const Ctor = CTORS[h.datatype] as new (n: number) => Typed;
    const data = new Ctor(n * requests.length);
    for (let i = 0; i < requests.length; i++)
      data.set(requests[i]!.inputs[k]!.data as unknown as ArrayLike<number>, i * n);
    return { name: h.name, datatype: h.datatype, shape: [...h.shape], data };
  });
  let ids: (string | null)[] | null = null;
  for (let i = 0; i < requests.length; i++) {
    const id = requests[i]!.id;
    if (id !== undefined) {
      ids ??= requests.map((r) => r.id ?? null);
      break;
    }
  }
  return {
    count: requests.length,
    inputs,
    ...(ids ? { ids } : {}),
    ...(outputs ? { outputs } : {}),
  };
}

function elements(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** Whether `r` has the head's tensors (names, datatypes, shapes, typed data) and outputs. */
function same(
  r: OipInferRequest,
  head: OipInferRequest,
  outputs: string[] | undefined,
  counts: number[],
  ctors: (new (...a: never[]) => unknown)[],
): boolean {
  if (r.parameters !== undefined || r.inputs.length !== head.inputs.length) return false;
  if (r.outputs === undefined) {
    if (outputs !== undefined) return false;
  } else {
    if (outputs === undefined || r.outputs.length !== outputs.length) return false;
    for (let i = 0; i < outputs.length; i++) {
      const o = r.outputs[i]!;
      if (o.name !== outputs[i] || o.parameters !== undefined) return false;
    }
  }
  for (let k = 0; k < head.inputs.length; k++) {
    const t = r.inputs[k]!;
    const h = head.inputs[k]!;
    if (t.name !== h.name || t.datatype !== h.datatype || t.parameters !== undefined) return false;
    if (t.shape.length !== h.shape.length) return false;
    for (let i = 0; i < t.shape.length; i++) if (t.shape[i] !== h.shape[i]) return false;
    if (!(t.data instanceof ctors[k]!) || (t.data as Typed).length !== counts[k]) return false;
  }
  return true;
}

/** One response per request from a packed answer (views into its arrays, no copies). */
export function unpack(
  packed: { count: number; outputs: PackedTensors[] },
  modelName: string,
  requests: OipInferRequest[],
): OipInferResponse[] {
  const sizes = packed.outputs.map((t) => elements(t.shape));
  const bad = packed.outputs.some(
    (t, k) => (t.data as Typed).length !== sizes[k]! * requests.length,
  );
  if (packed.count !== requests.length || bad)
    throw new IdlerigError('INTERNAL', 'The engine answered a packed batch with the wrong sizes');
  const out: OipInferResponse[] = new Array(requests.length);
  for (let i = 0; i < requests.length; i++) {
    const outputs: OipInferResponse['outputs'] = new Array(packed.outputs.length);
    for (let k = 0; k < packed.outputs.length; k++) {
      const t = packed.outputs[k]!;
      const n = sizes[k]!;
      outputs[k] = {
        name: t.name,
        datatype: t.datatype,
        shape: [...t.shape],
        data: (t.data as Typed).subarray(i * n, (i + 1) * n),
      };
    }
    const id = requests[i]!.id;
    out[i] =
      id !== undefined
        ? { model_name: modelName, id, outputs }
        : { model_name: modelName, outputs };
  }
  return out;
}
