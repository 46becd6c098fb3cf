// Tensor data between the Open Inference Protocol's two forms: JSON arrays (row-major, flat or
// nested) and the binary tensor data extension (little-endian raw bytes; BYTES elements each
// prefixed by a 4-byte little-endian length).
const SIZES: Record<string, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

export function elementBytes(datatype: string): number | null {
  return SIZES[datatype] ?? null;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function flatten(data: unknown[], out: unknown[] = []): unknown[] {
  for (const v of data) {
    if (Array.isArray(v)) flatten(v, out);
    else out.push(v);
  }
  return out;
}

/** Raw bytes of a tensor, checked against its shape; a string saying why not. */
export function checkRaw(datatype: string, shape: readonly number[], raw: Buffer): string | null {
  const size = elementBytes(datatype);
  const n = elementCount(shape);
  if (size !== null) {
    return raw.length === n * size
      ? null
      : `holds ${raw.length} bytes; shape ${JSON.stringify(shape)} of ${datatype} needs ${n * size}`;
  }
  if (datatype !== 'BYTES') return `has an unknown datatype ${datatype}`;
  let at = 0;
  let k = 0;
  while (at + 4 <= raw.length) {
    at += 4 + raw.readUInt32LE(at);
    k++;
  }
  return at === raw.length && k === n ? null : 'is not a valid BYTES buffer for its shape';
}

/** JSON elements of raw bytes. */
export function rawToJson(datatype: string, raw: Buffer): unknown[] {
  const out: unknown[] = [];
  const n = raw.length;
  switch (datatype) {
    case 'BOOL':
      for (let i = 0; i < n; i++) out.push(raw[i] !== 0);
      return out;
    case 'UINT8':
      for (let i = 0; i < n; i++) out.push(raw.readUInt8(i));
      return out;
    case 'INT8':
      for (let i = 0; i < n; i++) out.push(raw.readInt8(i));
      return out;
    case 'UINT16':
      for (let i = 0; i < n; i += 2) out.push(raw.readUInt16LE(i));
      return out;
    case 'INT16':
      for (let i = 0; i < n; i += 2) out.push(raw.readInt16LE(i));
      return out;
    case 'UINT32':
      for (let i = 0; i < n; i += 4) out.push(raw.readUInt32LE(i));
      return out;
    case 'INT32':
      for (let i = 0; i < n; i += 4) out.push(raw.readInt32LE(i));
      return out;
    case 'FP32':
      for (let i = 0; i < n; i += 4) out.push(raw.readFloatLE(i));
      return out;
    case 'FP64':
      for (let i = 0; i < n; i += 8) out.push(raw.readDoubleLE(i));
      return out;
    case 'UINT64':
    case 'INT64':
      for (let i = 0; i < n; i += 8) {
        const v = datatype === 'UINT64' ? raw.readBigUInt64LE(i) : raw.readBigInt64LE(i);
        out.push(
          v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
            ? Number(v)
            : v.toString(),
        );
      }
      return out;
    case 'FP16':
      for (let i = 0; i < n; i += 2) out.push(halfToFloat(raw.readUInt16LE(i)));
      return out;
    default: {
      let at = 0;
      while (at + 4 <= n) {
        const len = raw.readUInt32LE(at);
        out.push(raw.subarray(at + 4, at + 4 + len).toString('utf8'));
        at += 4 + len;
      }
      return out;
    }
  }
}

/** Raw bytes of JSON elements (numbers, booleans, or strings for BYTES). */
export function jsonToRaw(datatype: string, data: unknown[]): Buffer {
  const size = elementBytes(datatype);
  if (size === null) {
    const parts: Buffer[] = [];
    for (const v of data) {
      const b = Buffer.from(String(v), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      parts.push(len, b);
    }
    return Buffer.concat(parts);
  }
  const buf = Buffer.alloc(size * data.length);
  data.forEach((v, i) => {
    const at = i * size;
    const x = typeof v === 'boolean' ? Number(v) : v;
    switch (datatype) {
      case 'BOOL':
      case 'UINT8':
        buf.writeUInt8(Number(x), at);
        break;
      case 'INT8':
        buf.writeInt8(Number(x), at);
        break;
      case 'UINT16':
        buf.writeUInt16LE(Number(x), at);
        break;
      case 'INT16':
        buf.writeInt16LE(Number(x), at);
        break;
      case 'UINT32':
        buf.writeUInt32LE(Number(x), at);
        break;
      case 'INT32':
        buf.writeInt32LE(Number(x), at);
        break;
      case 'FP32':
        buf.writeFloatLE(Number(x), at);
        break;
      case 'FP64':
        buf.writeDoubleLE(Number(x), at);
        break;
      case 'UINT64':
        buf.writeBigUInt64LE(BigInt(x as number | string), at);
        break;
      case 'INT64':
        buf.writeBigInt64LE(BigInt(x as number | string), at);
        break;
      case 'FP16':
        buf.writeUInt16LE(floatToHalf(Number(x)), at);
        break;
    }
  });
  return buf;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  const sign = (x >> 16) & 0x8000;
  const e = ((x >> 23) & 0xff) - 127 + 15;
  const m = x & 0x7fffff;
  if (e >= 31) return sign | 0x7c00 | (Number.isNaN(v) ? 0x200 : 0);
  if (e <= 0) return e < -10 ? sign : sign | ((m | 0x800000) >> (1 - e + 13));
  return sign | (e << 10) | (m >> 13);
}
