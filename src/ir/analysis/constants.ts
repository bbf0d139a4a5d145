// Small constant tensors: reading the values of initializers and Constant nodes (shape vectors, axes,
// pads, indices, Clip bounds, κ) and making new ones (gradient graphs, lowerings). Large weights are never read here.

import { AttributeType } from '../attribute.js';
import { readExternalBytes } from '../external-bytes.js';
import type { Node } from '../node.js';
import { DataType, Tensor, TensorField } from '../tensor.js';
import type { Value } from '../value.js';
import { ChunkWriter, appendFloats, appendInt64s, parseFields } from '../wire.js';

/** Values of a constant tensor as JS numbers (int64 beyond 2^53 lose precision; they are sentinels). */
export interface ConstantData {
  dataType: number;
  dims: number[];
  values: number[];
}

/** Element types a gradient can flow through. */
export const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

const MAX_CONSTANT_ELEMENTS = 1 << 16;

/** Reads a tensor's values, or null when it is too big, external without a resolved file, or of an odd type. */
export function tensorValues(t: Tensor): number[] | null {
  const count = Number(t.elementCount);
  if (count > MAX_CONSTANT_ELEMENTS) return null;
  let raw = t.inlineRawData;
  if (t.externalBytes) {
    raw = readExternalBytes(t.externalBytes);
  } else if (t.external) {
    return null;
  }
  if (raw) return rawValues(t.dataType, raw, count);
  const out: number[] = [];
  for (const f of parseFields(t.encode())) {
    switch (f.no) {
      case TensorField.floatData: appendFloats(f, out); break;
      case TensorField.int32Data: case TensorField.int64Data: case TensorField.uint64Data: {
        const ints: bigint[] = [];
        appendInt64s(f, ints);
        for (const v of ints) out.push(t.dataType === DataType.UINT64 ? Number(v) : Number(BigInt.asIntN(64, v)));
        // float16 and bfloat16 values are stored as their bit patterns in int32_data.
        if (t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16) {
          const decode = t.dataType === DataType.FLOAT16 ? fromHalf : fromBfloat16;
          for (let i = out.length - ints.length; i < out.length; i++) out[i] = decode(out[i]! & 0xffff);
        }
        break;
      }
      case TensorField.doubleData: {
        const view = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
        for (let i = 0; i + 8 <= f.payload.byteLength; i += 8) out.push(view.getFloat64(i, true));
        break;
      }
    }
  }
  if (t.dataType === DataType.BOOL) return out.map((v) => (v ? 1 : 0));
  return out.length === count ? out : null;
}

function rawValues(dataType: number, raw: Uint8Array, count: number): number[] | null {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  const read: Record<number, [number, (o: number) => number]> = {
    [DataType.FLOAT]: [4, (o) => view.getFloat32(o, true)],
    [DataType.DOUBLE]: [8, (o) => view.getFloat64(o, true)],
    [DataType.INT64]: [8, (o) => Number(view.getBigInt64(o, true))],
    [DataType.UINT64]: [8, (o) => Number(view.getBigUint64(o, true))],
    [DataType.INT32]: [4, (o) => view.getInt32(o, true)],
    [DataType.UINT32]: [4, (o) => view.getUint32(o, true)],
    [DataType.INT16]: [2, (o) => view.getInt16(o, true)],
    [DataType.UINT16]: [2, (o) => view.getUint16(o, true)],
    [DataType.INT8]: [1, (o) => view.getInt8(o)],
    [DataType.UINT8]: [1, (o) => view.getUint8(o)],
    [DataType.BOOL]: [1, (o) => (view.getUint8(o) ? 1 : 0)],
    [DataType.FLOAT16]: [2, (o) => fromHalf(view.getUint16(o, true))],
    [DataType.BFLOAT16]: [2, (o) => fromBfloat16(view.getUint16(o, true))],
  };
  const r = read[dataType];
  if (!r || raw.byteLength !== r[0] * count) return null;
  for (let i = 0; i < count; i++) out.push(r[1](i * r[0]));
  return out;
}

/** The tensor a Constant node holds (value, value_float(s), value_int(s)), or null. */
export function constantNodeTensor(node: Node): ConstantData | Tensor | null {
  for (const a of node.attributes.values()) {
    switch (a.name) {
      case 'value': return a.data.type === AttributeType.TENSOR ? (a.data.value as Tensor) : null;
      case 'value_float': return { dataType: DataType.FLOAT, dims: [], values: [a.data.value as number] };
      case 'value_floats': return { dataType: DataType.FLOAT, dims: [(a.data.value as number[]).length], values: [...(a.data.value as number[])] };
      case 'value_int': return { dataType: DataType.INT64, dims: [], values: [Number(a.data.value as bigint)] };
      case 'value_ints': {
        const v = (a.data.value as bigint[]).map(Number);
        return { dataType: DataType.INT64, dims: [v.length], values: v };
      }
    }
  }
  return null;
}

/** The values of an initializer or Constant-node output, or null when the value is not a small constant. */
export function constantOf(v: Value | null | undefined): ConstantData | null {
  if (!v) return null;
  let t: Tensor | ConstantData | null = null;
  if (v.initializer && !v.isGraphInput) t = v.initializer;
  else if (v.producer && v.producer.opType === 'Constant' && v.producer.domain === '') t = constantNodeTensor(v.producer);
  if (!t) return null;
  if (!(t instanceof Tensor)) return t;
  const values = tensorValues(t);
  return values ? { dataType: t.dataType, dims: t.dims.map(Number), values } : null;
}

const BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.INT64]: 8, [DataType.INT32]: 4, [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
};

/** A new tensor stored as raw_data. FLOAT16 values are rounded to the nearest half. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], values: readonly number[]): Tensor {
  const size = BYTES[dataType];
  if (size === undefined) throw new Error(`makeTensor: unsupported data type ${dataType}`);
  const raw = new Uint8Array(values.length * size);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    switch (dataType) {
      case DataType.FLOAT: view.setFloat32(i * 4, v, true); break;
      case DataType.DOUBLE: view.setFloat64(i * 8, v, true); break;
      case DataType.INT64: view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true); break;
      case DataType.INT32: view.setInt32(i * 4, v, true); break;
      case DataType.BOOL: view.setUint8(i, v ? 1 : 0); break;
      case DataType.FLOAT16: view.setUint16(i * 2, toHalf(v), true); break;
    }
  });
  const w = new ChunkWriter();
  for (const d of dims) w.int64Field(TensorField.dims, d);
  w.int64Field(TensorField.dataType, dataType);
  w.stringField(TensorField.name, name);
  w.bytesField(TensorField.rawData, raw);
  return Tensor.decode(w.toBytes());
}

function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00 | (((x >>> 23) & 0xff) === 0xff && mant ? 0x200 : 0);
  if (exp <= 0) return sign | (exp < -10 ? 0 : Math.round((mant | 0x800000) / 2 ** (14 - exp)));
  return sign | ((exp << 10) + Math.round(mant / 8192));
}

/** The value of an IEEE 754 half-precision bit pattern. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The value of a bfloat16 bit pattern (the top half of a float32). */
export function fromBfloat16(b: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = (b & 0xffff) << 16;
  return f[0]!;
}
