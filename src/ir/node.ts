// A Node is one operator application. It owns its output Values and keeps the use lists of its input
// Values up to date, so the use-def links are right after any edit made through these methods.

import { Attribute } from './attribute.js';
import type { Graph } from './graph.js';
import type { Origin, UnknownFields } from './origin.js';
import { Value } from './value.js';

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
  private readonly _inputs: (Value | null)[] = [];
  private readonly _outputs: Value[];

  constructor(opType: string, inputs: readonly (Value | null)[], init: NodeInit = {}) {
    this.opType = opType;
    this.domain = init.domain ?? '';
    this.name = init.name ?? '';
    for (const a of init.attributes ?? []) this.attributes.set(a.name, a);
    inputs.forEach((v, i) => {
      this._inputs.push(v);
      v?.addUse(this, i);
    });
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
    const old = this._inputs[index];
    if (old === value) return;
    old?.removeUse(this, index);
    this._inputs[index] = value;
    value?.addUse(this, index);
  }

  /** Removes this node's uses of its inputs (call when deleting the node). */
  detachInputs(): void {
    this._inputs.forEach((v, i) => v?.removeUse(this, i));
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
    for (const a of this.attributes.values()) out.push(...a.subgraphs);
    return out;
  }

  /** A readable identifier for messages: the node's name, or its op and first output. */
  get label(): string {
    return this.name !== '' ? this.name : `${this.opType}→${this._outputs[0]?.name ?? '?'}`;
  }
}
