// A Node is one operator application. It owns its output Values and keeps the use lists of its input
// Values up to date, so the use-def links are right after any edit made through these methods.

import { Attribute, AttributeType } from './attribute.js';
import type { Graph } from './graph.js';
import { NO_UNKNOWN_FIELDS, type Origin, type UnknownFields } from './origin.js';
import { type Use, Value } from './value.js';

export interface NodeInit {
  domain?: string;
  name?: string;
  attributes?: Attribute[];
  /** Output values to adopt (decoder); otherwise `outputNames` creates fresh ones. */
  outputs?: Value[];
  outputNames?: string[];
}

/** The attributes of a node that has none (shared, read-only). */
const NO_ATTRIBUTES: ReadonlyMap<string, Attribute> = new Map();

/** The subgraphs of a node without graph attributes (shared). */
const NO_GRAPHS: readonly Graph[] = Object.freeze([]);

export class Node {
  opType: string;
  domain: string;
  name: string;
  overload: string | null = null;
  docString: string | null = null;
  /** The graph whose node list holds this node; null once removed. */
  graph: Graph | null = null;
  /** Fields this code does not model; assign a new array to change them (the empty one is shared). */
  unknownFields: UnknownFields = NO_UNKNOWN_FIELDS;
  origin: Origin | null = null;
  /** @internal — neighbours in the owning graph's node list (maintained by Graph). */
  _prev: Node | null = null;
  /** @internal */
  _next: Node | null = null;
  /** @internal — position in the owning graph's list, valid while the graph says so (see Graph.indexOf). */
  _position = -1;
  // Arrays are made at their final size and the attribute map only for a node that has attributes: on a
  // 128k-node graph, arrays grown from [] and an empty Map per node were a large part of the memory.
  private _attributes: Map<string, Attribute> | null = null;
  private _inputs: (Value | null)[];
  /** The use-list entry each input slot made in its value (parallel to `_inputs`). */
  private _useRecords: (Use | null)[];
  private readonly _outputs: Value[];

  constructor(opType: string, inputs: readonly (Value | null)[], init: NodeInit = {}) {
    this.opType = opType;
    this.domain = init.domain ?? '';
    this.name = init.name ?? '';
    const attributes = init.attributes;
    if (attributes && attributes.length > 0) {
      this._attributes = new Map();
      for (const a of attributes) this._attributes.set(a.name, a);
    }
    this._inputs = inputs.slice();
    this._useRecords = this.useRecordsFor(this._inputs);
    this._outputs = init.outputs ?? (init.outputNames ?? []).map((n) => new Value(n));
    for (const out of this._outputs) out.producer = this;
  }

  /** The attributes by name, in file order (read-only: edit with setAttr / deleteAttr). */
  get attributes(): ReadonlyMap<string, Attribute> {
    return this._attributes ?? NO_ATTRIBUTES;
  }

  get inputs(): readonly (Value | null)[] {
    return this._inputs;
  }

  get outputs(): readonly Value[] {
    return this._outputs;
  }

  setInput(index: number, value: Value | null): void {
    if (!Number.isInteger(index) || index < 0 || index >= this._inputs.length) {
      throw new Error(`${this.label} has no input slot ${index} (it has ${this._inputs.length}); use appendInput`);
    }
    const old = this._inputs[index];
    if (old === value) return;
    const record = this._useRecords[index];
    if (old && record) old.removeUse(record);
    this._inputs[index] = value;
    this._useRecords[index] = value ? value.addUse(this, index) : null;
  }

  /** Adds an input slot at the end (e.g. Clip's optional max). */
  appendInput(value: Value | null): void {
    const index = this._inputs.length;
    this._inputs.push(value);
    this._useRecords.push(value ? value.addUse(this, index) : null);
  }

  /** Drops trailing input slots so that `count` remain (optional inputs left out). */
  truncateInputs(count: number): void {
    while (this._inputs.length > count) {
      const v = this._inputs.pop()!;
      const record = this._useRecords.pop()!;
      if (v && record) v.removeUse(record);
    }
  }

  /** Whether input slot `index` is registered in its value's use list (the verifier's check). */
  inputUseRecorded(index: number): boolean {
    const v = this._inputs[index];
    return v ? v.hasUse(this._useRecords[index]) : true;
  }

  /** Removes this node's uses of its inputs (call when deleting the node). */
  detachInputs(): void {
    for (let i = 0; i < this._inputs.length; i++) {
      const v = this._inputs[i];
      const record = this._useRecords[i];
      if (v && record) v.removeUse(record);
    }
  }

  attr(name: string): Attribute | undefined {
    return this.attributes.get(name);
  }

  setAttr(attribute: Attribute): void {
    (this._attributes ??= new Map()).set(attribute.name, attribute);
  }

  deleteAttr(name: string): void {
    this._attributes?.delete(name);
  }

  /**
   * @internal — the decoder's way to give a node created without inputs its input slots, all at once
   * (the values are resolved after every node of the scope exists).
   */
  _adoptInputs(values: (Value | null)[]): void {
    if (this._inputs.length > 0) throw new Error(`${this.label} already has inputs`);
    this._inputs = values;
    this._useRecords = this.useRecordsFor(values);
  }

  /** Registers this node as a user of each input slot's value; the records, parallel to `values`. */
  private useRecordsFor(values: readonly (Value | null)[]): (Use | null)[] {
    const records = new Array<Use | null>(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      records[i] = v ? v.addUse(this, i) : null;
    }
    return records;
  }

  /** Subgraphs held by attributes, in attribute order. */
  get subgraphs(): readonly Graph[] {
    if (!this._attributes) return NO_GRAPHS;
    // The list is made only for a node that has a graph attribute: the verifier and every subgraph walk
    // ask each node, and most nodes with attributes (a ThresholdedRelu's alpha) hold no graph.
    let out: Graph[] | null = null;
    for (const a of this._attributes.values()) {
      const t = a.data.type;
      if (t !== AttributeType.GRAPH && t !== AttributeType.GRAPHS) continue;
      out ??= [];
      for (const g of a.subgraphs) out.push(g);
    }
    return out ?? NO_GRAPHS;
  }

  /** A readable identifier for messages: the node's name, or its op and first output. */
  get label(): string {
    return this.name !== '' ? this.name : `${this.opType}→${this._outputs[0]?.name ?? '?'}`;
  }
}
