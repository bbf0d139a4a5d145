// A Node is one operator application. It owns its output Values and keeps the use lists of its input
// Values up to date, so the use-def links are right after any edit made through these methods.

import { Attribute } from './attribute.js';
import type { Graph } from './graph.js';
import type { Origin, UnknownFields } from './origin.js';
import { type Use, Value } from './value.js';

export interface NodeInit {
  domain?: string;
  name?: string;
  attributes?: Attribute[];
  /** Output values to adopt (decoder); otherwise `outputNames` creates fresh ones. */
  outputs?: Value[];
  outputNames?: string[];
}

export class Node {
  opType: string;
  domain: string;
  name: string;
  overload: string | null = null;
  docString: string | null = null;
  readonly attributes = new Map<string, Attribute>();
  /** The graph whose node list holds this node; null once removed. */
  graph: Graph | null = null;
  unknownFields: UnknownFields = [];
  origin: Origin | null = null;
  /** @internal — neighbours in the owning graph's node list (maintained by Graph). */
  _prev: Node | null = null;
  /** @internal */
  _next: Node | null = null;
  private readonly _inputs: (Value | null)[] = [];
  /** The use-list entry each input slot made in its value (parallel to `_inputs`). */
  private readonly _useRecords: (Use | null)[] = [];
  private readonly _outputs: Value[];

  constructor(opType: string, inputs: readonly (Value | null)[], init: NodeInit = {}) {
    this.opType = opType;
    this.domain = init.domain ?? '';
    this.name = init.name ?? '';
    for (const a of init.attributes ?? []) this.attributes.set(a.name, a);
    for (let i = 0; i < inputs.length; i++) {
      const v = inputs[i]!;
      this._inputs.push(v);
      this._useRecords.push(v ? v.addUse(this, i) : null);
    }
    this._outputs = init.outputs ?? (init.outputNames ?? []).map((n) => new Value(n));
    for (const out of this._outputs) out.producer = this;
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
    this.attributes.set(attribute.name, attribute);
  }

  /** Subgraphs held by attributes, in attribute order. */
  get subgraphs(): Graph[] {
    const out: Graph[] = [];
    for (const a of this.attributes.values()) for (const g of a.subgraphs) out.push(g);
    return out;
  }

  /** A readable identifier for messages: the node's name, or its op and first output. */
  get label(): string {
    return this.name !== '' ? this.name : `${this.opType}→${this._outputs[0]?.name ?? '?'}`;
  }
}
