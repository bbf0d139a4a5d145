// ValueInfoProto: the declared type of a value. The TypeProto is kept as bytes (passes only read it);
// `tensorType` decodes the common case for shape checks and reports.

import type { Origin, UnknownFields } from './origin.js';
import { appendInt64s, asInt, asString, parseFields } from './wire.js';

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
