// A plain n-dimensional array as the NumPy and TensorProto loaders return it.

export type NdData = Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

export interface NdArray {
  readonly dtype: 'uint8' | 'int8' | 'uint16' | 'int16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';
  readonly shape: readonly number[];
  readonly data: NdData;
}

/** The values as float64 numbers (int64 through Number). */
export function toNumbers(a: NdArray): Float64Array {
  const out = new Float64Array(a.data.length);
  const d = a.data;
  for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!);
  return out;
}
