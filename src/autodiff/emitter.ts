// Appends nodes to a graph with fresh names, makes constant initializers (deduplicated by content),
// and keeps the shape information up to date for what it emits.

import { Attribute, AttributeType } from '../ir/attribute.js';
import type { Graph } from '../ir/graph.js';
import type { NameAuthority } from '../ir/names.js';
import { Node } from '../ir/node.js';
import { DataType, type Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import type { ShapeInfo } from '../ir/analysis/shapes.js';
import { makeTensor } from '../ir/analysis/constants.js';

export type AttrValue = number | number[] | string | Tensor | { float: number } | { floats: number[] };

/** Float attributes must be marked: a bare number is an int. */
export const f = (v: number): { float: number } => ({ float: v });

function toAttribute(name: string, v: AttrValue): Attribute {
  if (typeof v === 'number') return Attribute.int(name, v);
  if (typeof v === 'string') return Attribute.string(name, v);
  if (Array.isArray(v)) return new Attribute(name, { type: AttributeType.INTS, value: v.map((x) => BigInt(x)) });
  if ('float' in v) return Attribute.float(name, v.float);
  if ('floats' in v) return new Attribute(name, { type: AttributeType.FLOATS, value: [...v.floats] });
  return new Attribute(name, { type: AttributeType.TENSOR, value: v });
}

export class Emitter {
  /** Prefix of the names of what is emitted next (set per differentiated node). */
  prefix = 'grad';
  /** Emitted nodes go before this node when set (inputs the forward reads), else at the end. */
  anchor: Node | null = null;
  private readonly constants = new Map<string, Value>();
  private readonly shapes = new Map<Value, Value>();

  constructor(readonly graph: Graph, readonly names: NameAuthority, readonly info: ShapeInfo) {}

  /** Emits one node and returns its outputs. */
  op(opType: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrValue> = {}, outputs = 1, domain = ''): Value[] {
    const base = `${this.prefix}/${opType}`;
    const node = new Node(opType, inputs, {
      domain,
      name: this.names.fresh(base),
      attributes: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
      outputNames: Array.from({ length: outputs }, () => this.names.fresh(`${base}_output`)),
    });
    if (this.anchor) this.graph.insertBefore(this.anchor, node);
    else this.graph.append(node);
    this.info.inferNode(node);
    return [...node.outputs];
  }

  /** Emits a single-output node. */
  one(opType: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrValue> = {}): Value {
    return this.op(opType, inputs, attrs)[0]!;
  }

  /** A constant initializer, shared with any identical one made before. */
  constant(dataType: number, dims: readonly number[], values: readonly number[]): Value {
    const key = `${dataType}|${dims.join(',')}|${values.join(',')}`;
    let v = this.constants.get(key);
    if (!v) {
      const name = this.names.fresh(`${this.prefix.split('/')[0]}/const`);
      v = this.graph.addInitializer(makeTensor(name, dataType, dims, values));
      this.info.set(v, { elem: dataType, shape: [...dims], value: dataType === DataType.INT64 && dims.length <= 1 ? [...values] : undefined });
      this.constants.set(key, v);
    }
    return v;
  }

  /** A 1-D int64 constant. */
  ints(values: readonly number[]): Value {
    return this.constant(DataType.INT64, [values.length], values);
  }

  /** A scalar of the given element type. */
  scalar(value: number, elem: number): Value {
    return this.constant(elem, [], [value]);
  }

  /** Shape of a value: a constant when fully known, else one Shape node per value. */
  shapeOf(v: Value): Value {
    const s = this.info.staticShape(v);
    if (s) return this.ints(s);
    let shape = this.shapes.get(v);
    if (!shape) {
      shape = this.one('Shape', [v]);
      this.shapes.set(v, shape);
    }
    return shape;
  }
}
