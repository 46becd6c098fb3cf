// Tensors between the Open Inference Protocol form (shared/engine-protocol.ts) and ONNX
// Runtime's: datatype names, typed-array constructors, the checks of an input against the
// model's metadata (a mismatch is a typed INVALID_INPUT naming the tensor and what the model
// expects), and IEEE 754 half precision for FP16 tensors given or returned as numbers.
import type { Tensor } from 'onnxruntime-node';
import type * as OrtModule from 'onnxruntime-node';
import { IdlerigError, type ErrorBody } from '../../shared/errors';
import type { OipDatatype, OipTensor, TensorInfo } from '../../shared/engine-protocol';

export type Ort = typeof OrtModule;
export type OrtType = Tensor.Type;

export const OIP_TO_ORT: Record<OipDatatype, OrtType> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};
export const ORT_TO_OIP = Object.fromEntries(
  Object.entries(OIP_TO_ORT).map(([oip, ort]) => [ort, oip]),
) as Record<string, OipDatatype>;

export type TypedCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

export const CTOR: Partial<Record<OrtType, TypedCtor>> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

export function sub(view: ArrayBufferView, start: number, length: number): ArrayBufferView {
  return (view as unknown as { subarray(a: number, b: number): ArrayBufferView }).subarray(
    start,
    start + length,
  );
}

export function sameDims(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function describeTensor(t: TensorInfo): string {
  return `${t.name} (${t.datatype} [${t.shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}])`;
}

export function toBody(err: unknown): ErrorBody {
  if (err instanceof IdlerigError) return err.toBody();
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) };
}

export function tensorBytes(t: OipTensor): number {
  if (ArrayBuffer.isView(t.data)) return t.data.byteLength;
  return t.data.length * 8;
}

/** Flattens nested arrays (row-major), refusing anything that is not an array of leaves. */
export function flatten(data: unknown[], out: unknown[] = []): unknown[] {
  for (const v of data) {
    if (Array.isArray(v)) flatten(v, out);
    else out.push(v);
  }
  return out;
}

export function toTensor(
  ort: Ort,
  input: OipTensor,
  meta: { type: OrtType; shape: (number | null)[] },
): Tensor {
  const expected = ORT_TO_OIP[meta.type];
  const shapeText = `[${meta.shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
  const fail = (why: string): never => {
    throw new IdlerigError(
      'INVALID_INPUT',
      `Input tensor ${JSON.stringify(input.name)}: ${why}; the model expects ${expected ?? meta.type} with shape ${shapeText}`,
      {
        tensor: input.name,
        expectedShape: meta.shape.map((d) => d ?? -1),
        expectedDatatype: expected ?? meta.type,
        shape: input.shape,
        datatype: input.datatype,
      },
    );
  };
  if (!expected) fail(`its type ${meta.type} is not supported`);
  if (input.datatype !== expected) fail(`datatype ${input.datatype} given`);
  const shapeOk =
    input.shape.length === meta.shape.length &&
    meta.shape.every((d, i) => d === null || d === input.shape[i]);
  if (!shapeOk) fail(`shape [${input.shape.join(', ')}] given`);
  const count = input.shape.reduce((a, b) => a * b, 1);
  const type = meta.type;

  if (type === 'string') {
    if (ArrayBuffer.isView(input.data)) fail('BYTES data must be an array of strings');
    const flat = flatten(input.data as unknown[]);
    if (flat.length !== count) fail(`${flat.length} elements given for ${count}`);
    if (!flat.every((v) => typeof v === 'string')) fail('BYTES elements must be strings');
    return new ort.Tensor('string', flat as string[], input.shape);
  }
  const Ctor = CTOR[type]!;
  let data: ArrayBufferView;
  if (ArrayBuffer.isView(input.data)) {
    const view = input.data as unknown as ArrayLike<number | bigint> & ArrayBufferView;
    if (view.length !== count) fail(`${view.length} elements given for ${count}`);
    if (view instanceof Ctor) data = view;
    else if (type === 'float16') data = toHalf(Array.from(view as ArrayLike<number>, Number));
    else if (Ctor === BigInt64Array || Ctor === BigUint64Array)
      data = (Ctor as BigInt64ArrayConstructor).from(Array.from(view, (v) => BigInt(v)));
    else data = (Ctor as Float64ArrayConstructor).from(Array.from(view, (v) => Number(v)));
  } else {
    const flat = flatten(input.data as unknown[]);
    if (flat.length !== count) fail(`${flat.length} elements given for ${count}`);
    if (type === 'bool') {
      if (!flat.every((v) => typeof v === 'boolean' || v === 0 || v === 1))
        fail('BOOL elements must be true/false');
      data = Uint8Array.from(flat, (v) => (v === true || v === 1 ? 1 : 0));
    } else if (type === 'int64' || type === 'uint64') {
      if (
        !flat.every(
          (v) =>
            (typeof v === 'number' && Number.isInteger(v)) ||
            (typeof v === 'string' && /^-?\d+$/.test(v)),
        )
      )
        fail('integer elements expected');
      const big = flat.map((v) => BigInt(v as number | string));
      data = type === 'int64' ? BigInt64Array.from(big) : BigUint64Array.from(big);
    } else {
      const float = type === 'float16' || type === 'float32' || type === 'float64';
      if (!flat.every((v) => typeof v === 'number' && (float || Number.isInteger(v))))
        fail(float ? 'number elements expected' : 'integer elements expected');
      data =
        type === 'float16'
          ? toHalf(flat as number[])
          : (Ctor as Float64ArrayConstructor).from(flat as number[]);
    }
  }
  return new ort.Tensor(type as 'float32', data as Float32Array, input.shape);
}

export function fromTensor(name: string, t: Tensor): OipTensor {
  const datatype = ORT_TO_OIP[t.type] ?? 'BYTES';
  let data: OipTensor['data'] = t.data as OipTensor['data'];
  if (t.type === 'float16') data = fromHalf(t.data as Uint16Array);
  return { name, datatype, shape: [...t.dims], data };
}

// IEEE 754 half precision, for FP16 tensors given or returned as numbers.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function toHalf(values: number[]): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    let h: number;
    if (exp === 0xff) h = sign | 0x7c00 | (mant ? 0x200 : 0);
    else {
      const e = exp - 127 + 15;
      if (e >= 0x1f) h = sign | 0x7c00;
      else if (e <= 0) h = e < -10 ? sign : sign | ((mant | 0x800000) >> (1 - e + 13));
      else h = sign | (e << 10) | (mant >> 13);
    }
    out[i] = h;
  }
  return out;
}
export function fromHalf(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] =
      e === 0
        ? s * 2 ** -14 * (f / 1024)
        : e === 0x1f
          ? f
            ? NaN
            : s * Infinity
          : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return out;
}
