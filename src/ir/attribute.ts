// AttributeProto. Values a pass may read or write are typed; sparse tensors and type protos stay as
// their encoded bytes because no pass here needs them.

import type { Graph } from './graph.js';
import { NO_UNKNOWN_FIELDS, type Origin, type UnknownFields } from './origin.js';
import type { Tensor } from './tensor.js';

export const AttributeType = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8,
  TENSORS: 9, GRAPHS: 10, SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

/** AttributeProto field numbers. */
export const AttributeField = {
  name: 1, f: 2, i: 3, s: 4, t: 5, g: 6, floats: 7, ints: 8, strings: 9, tensors: 10, graphs: 11,
  docString: 13, tp: 14, typeProtos: 15, type: 20, refAttrName: 21, sparseTensor: 22, sparseTensors: 23,
} as const;

export type AttributeValue =
  | { type: typeof AttributeType.FLOAT; value: number }
  | { type: typeof AttributeType.INT; value: bigint }
  | { type: typeof AttributeType.STRING; value: Uint8Array }
  | { type: typeof AttributeType.TENSOR; value: Tensor }
  | { type: typeof AttributeType.GRAPH; value: Graph }
  | { type: typeof AttributeType.FLOATS; value: number[] }
  | { type: typeof AttributeType.INTS; value: bigint[] }
  | { type: typeof AttributeType.STRINGS; value: Uint8Array[] }
  | { type: typeof AttributeType.TENSORS; value: Tensor[] }
  | { type: typeof AttributeType.GRAPHS; value: Graph[] }
  | { type: number; value: null };

/** The subgraphs of an attribute that holds none (shared). */
const NO_GRAPHS: readonly Graph[] = Object.freeze([]);

export class Attribute {
  name: string;
  data: AttributeValue;
  /** Set for attributes of function bodies that refer to an attribute of the calling node. */
  refAttrName: string | null = null;
  docString: string | null = null;
  /** Fields outside the typed value: sparse tensors, type protos, stray values old exporters wrote (assign a new array to change them; the empty one is shared). */
  unknownFields: UnknownFields = NO_UNKNOWN_FIELDS;
  origin: Origin | null = null;

  constructor(name: string, data: AttributeValue) {
    this.name = name;
    this.data = data;
  }

  static float(name: string, value: number): Attribute {
    return new Attribute(name, { type: AttributeType.FLOAT, value });
  }

  static int(name: string, value: bigint | number): Attribute {
    return new Attribute(name, { type: AttributeType.INT, value: BigInt(value) });
  }

  static string(name: string, value: string): Attribute {
    return new Attribute(name, { type: AttributeType.STRING, value: new TextEncoder().encode(value) });
  }

  get type(): number {
    return this.data.type;
  }

  /** Subgraphs held by this attribute (If branches, Loop/Scan bodies). */
  get subgraphs(): readonly Graph[] {
    if (this.data.type === AttributeType.GRAPH) return [this.data.value as Graph];
    if (this.data.type === AttributeType.GRAPHS) return this.data.value as Graph[];
    return NO_GRAPHS;
  }

  asFloat(): number | undefined {
    return this.data.type === AttributeType.FLOAT ? (this.data.value as number) : undefined;
  }

  asInt(): bigint | undefined {
    return this.data.type === AttributeType.INT ? (this.data.value as bigint) : undefined;
  }

  asString(): string | undefined {
    return this.data.type === AttributeType.STRING ? new TextDecoder().decode(this.data.value as Uint8Array) : undefined;
  }
}
