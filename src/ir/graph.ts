// A Graph is a scope: a node list plus the values it defines (inputs, initializers, node outputs).
// Subgraphs (If/Loop/Scan bodies) have an outer scope and may use its values by name. Function bodies
// are Graphs too, without an outer scope.

import type { Node } from './node.js';
import type { UnknownFields } from './origin.js';
import type { Tensor } from './tensor.js';
import { Value } from './value.js';
import type { ValueInfo } from './value-info.js';
import type { RawField } from './wire.js';

/** One field occurrence in a container message, as decoded: a known field number or an unknown field. */
export type LayoutEntry = number | RawField;

export class Graph {
  name: string;
  docString: string | null = null;
  inputs: Value[] = [];
  /** Declared type of each input, parallel to `inputs`. */
  inputInfos: ValueInfo[] = [];
  outputs: Value[] = [];
  /** Declared type of each output, parallel to `outputs` (replacing an output keeps its declaration). */
  outputInfos: ValueInfo[] = [];
  /** Initializers in file order. */
  readonly initializers = new Map<string, Value>();
  /** value_info entries (types of intermediate values), in file order. */
  valueInfos: Array<{ value: Value; info: ValueInfo }> = [];
  /** sparse_initializer entries, kept encoded; each defines the named value. */
  sparseInitializers: Array<{ value: Value; bytes: Uint8Array }> = [];
  /** The scope this graph can see values of (null for the main graph and function bodies). */
  readonly outer: Graph | null;
  /** Field order as decoded, so re-encoding keeps it; null for a graph built in memory. */
  layout: LayoutEntry[] | null = null;
  unknownFields: UnknownFields = [];
  private _nodes: Node[] = [];

  constructor(name: string, outer: Graph | null = null) {
    this.name = name;
    this.outer = outer;
  }

  /** A snapshot of the node list: safe to iterate while inserting or removing nodes. */
  get nodes(): readonly Node[] {
    return [...this._nodes];
  }

  get nodeCount(): number {
    return this._nodes.length;
  }

  indexOf(node: Node): number {
    return this._nodes.indexOf(node);
  }

  append(node: Node): Node {
    return this.insertAt(this._nodes.length, node);
  }

  insertBefore(anchor: Node, node: Node): Node {
    return this.insertAt(this.requireIndex(anchor), node);
  }

  insertAfter(anchor: Node, node: Node): Node {
    return this.insertAt(this.requireIndex(anchor) + 1, node);
  }

  private insertAt(index: number, node: Node): Node {
    if (node.graph) throw new Error(`node ${node.label} already belongs to a graph`);
    this._nodes.splice(index, 0, node);
    node.graph = this;
    for (const out of node.outputs) out.scope = this;
    return node;
  }

  /**
   * Removes a node. Its outputs must be unused (rewire uses first with replaceAllUsesWith) unless
   * `force`, which leaves dangling uses for the verifier to catch.
   */
  remove(node: Node, force = false): void {
    const i = this.requireIndex(node);
    if (!force) {
      for (const out of node.outputs) {
        if (out.uses.length > 0 || this.outputs.includes(out)) {
          throw new Error(`cannot remove ${node.label}: its output '${out.name}' is still used`);
        }
      }
    }
    this._nodes.splice(i, 1);
    node.detachInputs();
    node.graph = null;
  }

  /** Replaces the whole node order (used by topological sort); the set of nodes must not change. */
  reorder(nodes: Node[]): void {
    if (nodes.length !== this._nodes.length || nodes.some((n) => n.graph !== this)) {
      throw new Error('reorder must keep the same nodes');
    }
    this._nodes = [...nodes];
  }

  replaceOutput(old: Value, replacement: Value): void {
    this.outputs = this.outputs.map((v) => (v === old ? replacement : v));
  }

  addInitializer(tensor: Tensor): Value {
    if (this.initializers.has(tensor.name)) throw new Error(`initializer '${tensor.name}' already exists`);
    const v = new Value(tensor.name);
    v.initializer = tensor;
    v.scope = this;
    this.initializers.set(tensor.name, v);
    return v;
  }

  removeInitializer(value: Value): void {
    this.initializers.delete(value.name);
    // Keep the map keyed by current names: a renamed initializer is found by identity.
    for (const [k, v] of this.initializers) if (v === value) this.initializers.delete(k);
  }

  /** The declared tensor type of a value, from its input, output or value_info entry. */
  declaredType(value: Value): ValueInfo | null {
    let i = this.inputs.indexOf(value);
    if (i >= 0) return this.inputInfos[i] ?? null;
    i = this.outputs.indexOf(value);
    if (i >= 0) return this.outputInfos[i] ?? null;
    return this.valueInfos.find((e) => e.value === value)?.info ?? null;
  }

  /** Finds a value visible from this graph by name: own scope first, then the outer scopes. */
  lookup(name: string): Value | undefined {
    for (let g: Graph | null = this; g; g = g.outer) {
      const v = g.ownValue(name);
      if (v) return v;
    }
    return undefined;
  }

  /** A value defined in this scope (not outer ones) with this name. */
  ownValue(name: string): Value | undefined {
    const init = this.initializers.get(name);
    if (init) return init;
    for (const v of this.inputs) if (v.name === name) return v;
    for (const s of this.sparseInitializers) if (s.value.name === name) return s.value;
    for (const n of this._nodes) for (const o of n.outputs) if (o.name === name) return o;
    return undefined;
  }

  /** This graph and every graph nested in its nodes' attributes, depth first. */
  *graphsDeep(): Generator<Graph> {
    yield this;
    for (const n of this._nodes) for (const g of n.subgraphs) yield* g.graphsDeep();
  }

  /** Every value this scope defines. */
  *definedValues(): Generator<Value> {
    yield* this.inputs;
    yield* this.initializers.values();
    for (const s of this.sparseInitializers) yield s.value;
    for (const n of this._nodes) yield* n.outputs.filter((o) => o.name !== '');
  }

  private requireIndex(node: Node): number {
    const i = this._nodes.indexOf(node);
    if (i < 0) throw new Error(`node ${node.label} is not in graph '${this.name}'`);
    return i;
  }
}
