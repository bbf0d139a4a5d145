// ValueInfoProto: the declared type of a value. The TypeProto is kept as bytes (passes only read it);
// `tensorType` decodes the common case for shape checks and reports.

import type { Origin, UnknownFields } from './origin.js';
import { ChunkWriter, appendInt64s, asInt, asString, parseFields } from './wire.js';

export interface TensorTypeInfo {
  elemType: number;
  /** null: rank unknown. Each dim is a number, a symbolic name, or null (unknown). */
  shape: Array<bigint | string | null> | null;
}

export class ValueInfo {
  /** Encoded TypeProto, or null when the declaration has no type. */
  typeBytes: Uint8Array | null;
  docString: string | null = null;
  unknownFields: UnknownFields = [];
  origin: Origin | null = null;

  constructor(typeBytes: Uint8Array | null) {
    this.typeBytes = typeBytes;
  }

  /** A tensor type; dims are numbers, symbolic names, or null for unknown. */
  static tensor(elemType: number, shape: ReadonlyArray<number | bigint | string | null> | null): ValueInfo {
    const tensorType = new ChunkWriter();
    tensorType.int64Field(1, elemType);
    if (shape) {
      const s = new ChunkWriter();
      for (const d of shape) {
        const dim = new ChunkWriter();
        if (typeof d === 'string') dim.stringField(2, d);
        else if (d !== null) dim.int64Field(1, d);
        s.messageField(1, dim);
      }
      tensorType.messageField(2, s);
    }
    const type = new ChunkWriter();
    type.messageField(1, tensorType);
    return new ValueInfo(type.toBytes());
  }

  /** The tensor type, or null when the type is not a tensor (sequence, map, optional…) or absent. */
  get tensorType(): TensorTypeInfo | null {
    if (!this.typeBytes) return null;
    for (const f of parseFields(this.typeBytes)) {
      if (f.no !== 1) continue; // tensor_type
      let elemType = 0;
      let shape: TensorTypeInfo['shape'] = null;
      for (const t of parseFields(f.payload)) {
        if (t.no === 1) elemType = asInt(t);
        else if (t.no === 2) {
          shape = [];
          for (const d of parseFields(t.payload)) {
            if (d.no !== 1) continue;
            let dim: bigint | string | null = null;
            for (const x of parseFields(d.payload)) {
              if (x.no === 1) { const v: bigint[] = []; appendInt64s(x, v); dim = v[0]!; }
              else if (x.no === 2) dim = asString(x);
            }
            shape.push(dim);
          }
        }
      }
      return { elemType, shape };
    }
    return null;
  }
}
