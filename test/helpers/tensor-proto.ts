// TensorProto (.pb test data of ONNX's corpus) → onnxruntime-node tensor, for the runtime checks.

import * as ort from 'onnxruntime-node';
import { DataType, Tensor } from '../../src/ir/tensor.js';
import { appendFloats, appendInt64s, parseFields } from '../../src/ir/wire.js';

const TYPED: Record<number, { ort: ort.Tensor.Type; make: (n: number) => ort.Tensor.DataType }> = {
  [DataType.FLOAT]: { ort: 'float32', make: (n) => new Float32Array(n) },
  [DataType.DOUBLE]: { ort: 'float64', make: (n) => new Float64Array(n) },
  [DataType.INT32]: { ort: 'int32', make: (n) => new Int32Array(n) },
  [DataType.INT64]: { ort: 'int64', make: (n) => new BigInt64Array(n) },
  [DataType.UINT8]: { ort: 'uint8', make: (n) => new Uint8Array(n) },
  [DataType.INT8]: { ort: 'int8', make: (n) => new Int8Array(n) },
  [DataType.UINT16]: { ort: 'uint16', make: (n) => new Uint16Array(n) },
  [DataType.INT16]: { ort: 'int16', make: (n) => new Int16Array(n) },
  [DataType.BOOL]: { ort: 'bool', make: (n) => new Uint8Array(n) },
  [DataType.FLOAT16]: { ort: 'float16', make: (n) => new Uint16Array(n) },
  [DataType.UINT32]: { ort: 'uint32', make: (n) => new Uint32Array(n) },
  [DataType.UINT64]: { ort: 'uint64', make: (n) => new BigUint64Array(n) },
};

/** Returns null for tensors this helper does not convert (strings, exotic types). */
export function tensorProtoToOrt(bytes: Uint8Array): { name: string; tensor: ort.Tensor } | null {
  let t: Tensor;
  try {
    t = Tensor.decode(bytes);
  } catch {
    return null; // a SequenceProto/OptionalProto or other non-tensor input
  }
  const spec = TYPED[t.dataType];
  if (!spec || t.external || t.elementCount > 100_000_000n) return null;
  const n = Number(t.elementCount);
  const raw0 = t.inlineRawData;
  if (raw0 && BigInt(raw0.length) !== t.expectedByteLength) return null;
  const data = spec.make(n);
  const raw = t.inlineRawData;
  if (raw) {
    new Uint8Array((data as Uint8Array).buffer).set(raw.subarray(0, (data as Uint8Array).byteLength));
  } else {
    const values: Array<number | bigint> = [];
    for (const f of parseFields(bytes)) {
      if (f.no === 4) { const fl: number[] = []; appendFloats(f, fl); values.push(...fl); }
      else if (f.no === 5 || f.no === 7 || f.no === 11) { const v: bigint[] = []; appendInt64s(f, v); values.push(...v); }
      else if (f.no === 10) {
        const dv = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.length);
        for (let i = 0; i + 8 <= f.payload.length; i += 8) values.push(dv.getFloat64(i, true));
      }
    }
    if (values.length !== n) return null;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      (data as unknown as Array<number | bigint>)[i] = data instanceof BigInt64Array || data instanceof BigUint64Array ? BigInt(v) : Number(v);
    }
  }
  return { name: t.name, tensor: new ort.Tensor(spec.ort, data, t.dims.map(Number)) };
}
