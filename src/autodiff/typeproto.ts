// Declared types for the inputs and outputs the gradient model adds: TypeProto.tensor_type bytes.

import { ValueInfo } from '../ir/value-info.js';
import { ChunkWriter } from '../ir/wire.js';

/** A dimension: a number, a symbolic name, or null (unknown). */
export type Dim = number | string | null;

export function tensorValueInfo(elemType: number, shape: readonly Dim[] | null): ValueInfo {
  const tensor = new ChunkWriter();
  tensor.int64Field(1, elemType);
  if (shape) {
    const shapeW = new ChunkWriter();
    for (const d of shape) {
      const dim = new ChunkWriter();
      if (typeof d === 'number') dim.int64Field(1, d);
      else if (typeof d === 'string') dim.stringField(2, d);
      shapeW.messageField(1, dim);
    }
    tensor.messageField(2, shapeW);
  }
  const type = new ChunkWriter();
  type.messageField(1, tensor);
  return new ValueInfo(type.toBytes());
}

/** The declared shape of a ValueInfo with dims as numbers, names or null. */
export function declaredShape(info: ValueInfo | null | undefined): { elemType: number; shape: Dim[] | null } | null {
  const t = info?.tensorType;
  if (!t) return null;
  return { elemType: t.elemType, shape: t.shape ? t.shape.map((d) => (typeof d === 'bigint' ? Number(d) : d)) : null };
}
