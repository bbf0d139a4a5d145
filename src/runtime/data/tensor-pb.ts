// ONNX TensorProto files (.pb), as ONNX's test data and onnx.numpy_helper write them.

import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { NdArray, NdData } from './arrays.js';
import { DataFormatError } from './images.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

const KINDS: Partial<Record<number, { dtype: NdArray['dtype']; bytes: number }>> = {
  [T.FLOAT]: { dtype: 'float32', bytes: 4 }, [T.DOUBLE]: { dtype: 'float64', bytes: 8 },
  [T.UINT8]: { dtype: 'uint8', bytes: 1 }, [T.INT8]: { dtype: 'int8', bytes: 1 }, [T.BOOL]: { dtype: 'uint8', bytes: 1 },
  [T.UINT16]: { dtype: 'uint16', bytes: 2 }, [T.INT16]: { dtype: 'int16', bytes: 2 },
  [T.INT32]: { dtype: 'int32', bytes: 4 }, [T.UINT32]: { dtype: 'uint32', bytes: 4 },
  [T.INT64]: { dtype: 'int64', bytes: 8 }, [T.UINT64]: { dtype: 'uint64', bytes: 8 },
};

function typed(dtype: NdArray['dtype'], b: ArrayBuffer): NdData {
  switch (dtype) {
    case 'uint8': return new Uint8Array(b);
    case 'int8': return new Int8Array(b);
    case 'uint16': return new Uint16Array(b);
    case 'int16': return new Int16Array(b);
    case 'uint32': return new Uint32Array(b);
    case 'int32': return new Int32Array(b);
    case 'uint64': return new BigUint64Array(b);
    case 'int64': return new BigInt64Array(b);
    case 'float32': return new Float32Array(b);
    case 'float64': return new Float64Array(b);
  }
}

/** Parses a serialised TensorProto (raw_data or the typed repeated fields; little-endian hosts). */
export function parseTensorProto(bytes: Uint8Array, what = 'pb'): NdArray {
  let t: onnxProto.onnx.TensorProto;
  try {
    t = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new DataFormatError(`${what}: not a TensorProto (${(e as Error).message})`);
  }
  const kind = KINDS[t.dataType];
  if (!kind) throw new DataFormatError(`${what}: unsupported tensor data type ${t.dataType}`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new DataFormatError(`${what}: tensors with external data are not supported`);
  const shape = (t.dims ?? []).map((d) => Number(d));
  const count = shape.reduce((a, b) => a * b, 1);
  let data: NdData;
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * kind.bytes) throw new DataFormatError(`${what}: raw_data has ${t.rawData.length} bytes for ${count} × ${kind.bytes}`);
    data = typed(kind.dtype, Uint8Array.from(t.rawData).buffer); // a copy: rawData may be a view into a pooled Buffer
  } else {
    const src: ArrayLike<number | { toString(): string }> =
      kind.dtype === 'float32' ? t.floatData : kind.dtype === 'float64' ? t.doubleData
        : kind.dtype === 'int64' ? t.int64Data : kind.dtype === 'uint64' || kind.dtype === 'uint32' ? t.uint64Data : t.int32Data;
    if (src.length !== count) throw new DataFormatError(`${what}: ${src.length} values for shape [${shape.join(', ')}]`);
    data = typed(kind.dtype, new ArrayBuffer(count * kind.bytes));
    for (let i = 0; i < count; i++) {
      const v = src[i]!;
      if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = BigInt(v.toString());
      else data[i] = Number(v.toString());
    }
  }
  return { dtype: kind.dtype, shape, data };
}

export async function readTensorProto(path: string): Promise<NdArray> {
  const b = await readFile(path);
  return parseTensorProto(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), path);
}
