// A Graph is a scope: a node list plus the values it defines (inputs, initializers, node outputs).
// Subgraphs (If/Loop/Scan bodies) have an outer scope and may use its values by name. Function bodies
// are Graphs too, without an outer scope.
//
// Every container is private and edited through methods that keep the pieces in step: the node list
// (a doubly linked list, so inserting and removing are O(1) on graphs of 100k+ nodes), graph inputs
// and outputs with their declared types, value_info entries, and the initializer map keyed by the
// current value name. Reads (`nodes`, `inputs`, …) return read-only views; `nodes` is a snapshot that
// stays valid while the graph is edited.

import type { Node } from './node.js';
import type { UnknownFields } from './origin.js';
import type { Tensor } from './tensor.js';
import { Value } from './value.js';
import { ValueInfo } from './value-info.js';
import type { RawField } from './wire.js';

/** One field occurrence in a container message, as decoded: a known field number or an unknown field. */
export type LayoutEntry = number | RawField;

/** A graph output slot: the value and the type its output entry declares. */
export interface OutputEntry {
  value: Value;
  info?: ValueInfo | null;
}

export class Graph {
  name: string;
  docString: string | null = null;
  /** Initializers in file order, keyed by the value's current name (renaming a value re-keys it). */
  readonly initializers = new Map<string, Value>();
  /**
   * sparse_initializer entries, kept encoded (and saved sparse); each defines the named value. `tensors`
   * are its values and indices TensorProtos as decoded, so their external data is validated on load and
   * copied beside the output on save.
   */
  sparseInitializers: Array<{ value: Value; bytes: Uint8Array; tensors?: readonly Tensor[] }> = [];
  /** The scope this graph can see values of (null for the main graph and function bodies). */
  readonly outer: Graph | null;
  /** Field order as decoded, so re-encoding keeps it; null for a graph built in memory. */
  layout: LayoutEntry[] | null = null;
  unknownFields: UnknownFields = [];

  private readonly _inputs: Value[] = [];
  private readonly _inputInfos: ValueInfo[] = [];
  /** First position of each input value (a value listed twice is an error the verifier reports). */
  private readonly _inputIndex = new Map<Value, number>();
  private _outputs: Value[] = [];
  private _outputInfos: ValueInfo[] = [];
  private _outputIndex = new Map<Value, number>();
  private _valueInfos: Array<{ value: Value; info: ValueInfo }> = [];
  private _valueInfoIndex = new Map<Value, ValueInfo>();

  private _first: Node | null = null;
  private _last: Node | null = null;
  private _count = 0;
  private _snapshot: Node[] | null = null;
  /** Whether every node's `_position` is its place in the list (cleared by every edit). */
  private _positionsValid = false;

  constructor(name: string, outer: Graph | null = null) {
    this.name = name;
    this.outer = outer;
  }

  // ---- nodes -------------------------------------------------------------------------------------

  /** The node list in order: a snapshot, safe to iterate while inserting or removing nodes. */
  get nodes(): readonly Node[] {
    if (!this._snapshot) {
      const out = new Array<Node>(this._count);
      let i = 0;
      for (let n = this._first; n; n = n._next) out[i++] = n;
      this._snapshot = out;
    }
    return this._snapshot;
  }

  get nodeCount(): number {
    return this._count;
  }

  get firstNode(): Node | null {
    return this._first;
  }

  get lastNode(): Node | null {
    return this._last;
  }

  /**
   * The node's position in the list, or -1 (O(1) after the first call following an edit). Positions are
   * stamped on the nodes themselves rather than kept in a Map: on a 128k-node graph the Map's growth and
   * hashing were a measurable part of the verifier and of the topological check.
   */
  indexOf(node: Node): number {
    if (node.graph !== this) return -1;
    if (!this._positionsValid) {
      let i = 0;
      for (let n = this._first; n; n = n._next) n._position = i++;
      this._positionsValid = true;
    }
    return node._position;
  }

  append(node: Node): Node {
    return this.link(node, this._last, null);
  }

  prepend(node: Node): Node {
    return this.link(node, null, this._first);
  }

  insertBefore(anchor: Node, node: Node): Node {
    this.requireMember(anchor);
    return this.link(node, anchor._prev, anchor);
  }

  insertAfter(anchor: Node, node: Node): Node {
    this.requireMember(anchor);
    return this.link(node, anchor, anchor._next);
  }

  /**
   * Removes a node. Its outputs must be unused (rewire uses first with replaceAllUsesWith) unless
   * `force`, which leaves dangling uses for the verifier to catch.
   */
  remove(node: Node, force = false): void {
    this.requireMember(node);
    if (!force) {
      for (const out of node.outputs) {
        if (out.useCount > 0 || this._outputIndex.has(out)) {
          throw new Error(`cannot remove ${node.label}: its output '${out.name}' is still used`);
        }
      }
    }
    if (node._prev) node._prev._next = node._next;
    else this._first = node._next;
    if (node._next) node._next._prev = node._prev;
    else this._last = node._prev;
    node._prev = null;
    node._next = null;
    this._count--;
    this.edited();
    node.detachInputs();
    node.graph = null;
  }

  /** Replaces the whole node order (used by topological sort); the set of nodes must not change. */
  reorder(nodes: readonly Node[]): void {
    const seen = new Set<Node>();
    for (const n of nodes) {
      if (n.graph !== this || seen.has(n)) throw new Error('reorder must keep the same nodes');
      seen.add(n);
    }
    if (seen.size !== this._count) throw new Error('reorder must keep the same nodes');
    let prev: Node | null = null;
    for (const n of nodes) {
      n._prev = prev;
      if (prev) prev._next = n;
      else this._first = n;
      prev = n;
    }
    if (prev) prev._next = null;
    this._last = prev;
    this.edited();
  }

  private link(node: Node, prev: Node | null, next: Node | null): Node {
    if (node.graph) throw new Error(`node ${node.label} already belongs to a graph`);
    node._prev = prev;
    node._next = next;
    if (prev) prev._next = node;
    else this._first = node;
    if (next) next._prev = node;
    else this._last = node;
    this._count++;
    this.edited();
    node.graph = this;
    for (const out of node.outputs) out.scope = this;
    return node;
  }

  private edited(): void {
    this._snapshot = null;
    this._positionsValid = false;
  }

  private requireMember(node: Node): void {
    if (node.graph !== this) throw new Error(`node ${node.label} is not in graph '${this.name}'`);
  }

  // ---- graph inputs --------------------------------------------------------------------------------

  get inputs(): readonly Value[] {
    return this._inputs;
  }

  /** Declared type of each input, parallel to `inputs`. */
  get inputInfos(): readonly ValueInfo[] {
    return this._inputInfos;
  }

  /**
   * Makes `value` a graph input declared as `info`, at the end or at `index`. A value without a
   * scope becomes defined by this graph.
   */
  addInput(value: Value, info: ValueInfo = new ValueInfo(null), index = this._inputs.length): Value {
    if (index < 0 || index > this._inputs.length) throw new Error(`input index ${index} out of range`);
    if (!value.scope) value.scope = this;
    this._inputs.splice(index, 0, value);
    this._inputInfos.splice(index, 0, info);
    this.reindexInputs();
    return value;
  }

  /** Drops a graph input. It must be unused (or an initializer that stays) unless `force`. */
  removeInput(value: Value, force = false): void {
    const i = this._inputs.indexOf(value);
    if (i < 0) throw new Error(`'${value.name}' is not an input of graph '${this.name}'`);
    if (!force && value.useCount > 0 && !value.initializer) {
      throw new Error(`cannot remove input '${value.name}': it is still used`);
    }
    this._inputs.splice(i, 1);
    this._inputInfos.splice(i, 1);
    this.reindexInputs();
  }

  /** Puts `replacement` in the input slot of `old` (declared as `info`, or as `old` was). */
  replaceInput(old: Value, replacement: Value, info?: ValueInfo): void {
    const i = this._inputs.indexOf(old);
    if (i < 0) throw new Error(`'${old.name}' is not an input of graph '${this.name}'`);
    if (!replacement.scope) replacement.scope = this;
    this._inputs[i] = replacement;
    if (info) this._inputInfos[i] = info;
    this.reindexInputs();
  }

  /** Changes the declared type of an input. */
  setInputInfo(value: Value, info: ValueInfo): void {
    const i = this._inputIndex.get(value);
    if (i === undefined) throw new Error(`'${value.name}' is not an input of graph '${this.name}'`);
    this._inputInfos[i] = info;
  }

  hasInput(value: Value): boolean {
    return this._inputIndex.has(value);
  }

  private reindexInputs(): void {
    this._inputIndex.clear();
    this._inputs.forEach((v, i) => {
      if (!this._inputIndex.has(v)) this._inputIndex.set(v, i);
    });
  }

  // ---- graph outputs -------------------------------------------------------------------------------

  get outputs(): readonly Value[] {
    return this._outputs;
  }

  /** Declared type of each output, parallel to `outputs` (replacing an output keeps its declaration). */
  get outputInfos(): readonly ValueInfo[] {
    return this._outputInfos;
  }

  /** Makes `value` a graph output, declared as `info` or else as the value is declared elsewhere. */
  addOutput(value: Value, info?: ValueInfo | null): Value {
    const i = this._outputs.length;
    this._outputs.push(value);
    this._outputInfos.push(info ?? this.declaredType(value) ?? new ValueInfo(null));
    if (!this._outputIndex.has(value)) this._outputIndex.set(value, i);
    return value;
  }

  /**
   * Replaces the output list. An entry without `info` keeps the declaration it had as an output, or
   * else how it is declared elsewhere (input, value_info).
   */
  setOutputs(entries: ReadonlyArray<Value | OutputEntry>): void {
    const outputs: Value[] = [];
    const infos: ValueInfo[] = [];
    for (const e of entries) {
      const value = e instanceof Value ? e : e.value;
      const info = e instanceof Value ? null : e.info ?? null;
      outputs.push(value);
      infos.push(info ?? this.declaredType(value) ?? new ValueInfo(null));
    }
    this._outputs = outputs;
    this._outputInfos = infos;
    this.reindexOutputs();
  }

  /** Drops every output slot that holds `value`. */
  removeOutput(value: Value): void {
    if (!this._outputIndex.has(value)) throw new Error(`'${value.name}' is not an output of graph '${this.name}'`);
    this.setOutputs(this._outputs.flatMap((v, i) => (v === value ? [] : [{ value: v, info: this._outputInfos[i]! }])));
  }

  /** Points every output slot holding `old` at `replacement`, keeping the slots' declarations. */
  replaceOutput(old: Value, replacement: Value): void {
    if (!this._outputIndex.has(old)) return;
    this._outputs = this._outputs.map((v) => (v === old ? replacement : v));
    this.reindexOutputs();
  }

  setOutputInfo(index: number, info: ValueInfo): void {
    if (index < 0 || index >= this._outputs.length) throw new Error(`output index ${index} out of range`);
    this._outputInfos[index] = info;
  }

  hasOutput(value: Value): boolean {
    return this._outputIndex.has(value);
  }

  private reindexOutputs(): void {
    this._outputIndex = new Map();
    this._outputs.forEach((v, i) => {
      if (!this._outputIndex.has(v)) this._outputIndex.set(v, i);
    });
  }

  // ---- value_info ---------------------------------------------------------------------------------

  /** value_info entries (types of intermediate values), in file order. */
  get valueInfos(): ReadonlyArray<{ readonly value: Value; readonly info: ValueInfo }> {
    return this._valueInfos;
  }

  /** Appends a value_info entry (the decoder keeps duplicates as they are in the file). */
  addValueInfo(value: Value, info: ValueInfo): void {
    this._valueInfos.push({ value, info });
    if (!this._valueInfoIndex.has(value)) this._valueInfoIndex.set(value, info);
  }

  /** Declares an intermediate value's type: replaces its value_info entry, or appends one. */
  setValueInfo(value: Value, info: ValueInfo): void {
    const i = this._valueInfos.findIndex((e) => e.value === value);
    if (i < 0) this._valueInfos.push({ value, info });
    else this._valueInfos[i] = { value, info };
    this._valueInfoIndex.set(value, info); // the first entry is the one replaced or added
  }

  removeValueInfo(value: Value): void {
    this.setValueInfos(this._valueInfos.filter((e) => e.value !== value));
  }

  setValueInfos(entries: ReadonlyArray<{ value: Value; info: ValueInfo }>): void {
    this._valueInfos = entries.map((e) => ({ value: e.value, info: e.info }));
    this._valueInfoIndex = new Map();
    for (const e of this._valueInfos) if (!this._valueInfoIndex.has(e.value)) this._valueInfoIndex.set(e.value, e.info);
  }

  /** The declared tensor type of a value, from its input, output or value_info entry (O(1)). */
  declaredType(value: Value): ValueInfo | null {
    let i = this._inputIndex.get(value);
    if (i !== undefined) return this._inputInfos[i] ?? null;
    i = this._outputIndex.get(value);
    if (i !== undefined) return this._outputInfos[i] ?? null;
    return this._valueInfoIndex.get(value) ?? null;
  }

  // ---- initializers --------------------------------------------------------------------------------

  addInitializer(tensor: Tensor): Value {
    if (this.initializers.has(tensor.name)) throw new Error(`initializer '${tensor.name}' already exists`);
    const v = new Value(tensor.name);
    v.initializer = tensor;
    v.scope = this;
    this.initializers.set(tensor.name, v);
    return v;
  }

  removeInitializer(value: Value): void {
    if (this.initializers.get(value.name) === value) {
      this.initializers.delete(value.name);
      return;
    }
    for (const [k, v] of this.initializers) if (v === value) this.initializers.delete(k);
  }

  /**
   * @internal — called by Value when it is renamed: re-keys its initializer entry (keeping file order)
   * and refuses a rename that would make two initializers share a name or break an encoded sparse one.
   */
  valueRenamed(value: Value, oldName: string, newName: string): void {
    if (this.sparseInitializers.some((s) => s.value === value)) {
      throw new Error(`cannot rename sparse initializer '${oldName}' (it is kept encoded)`);
    }
    if (this.initializers.get(oldName) !== value) return;
    const other = this.initializers.get(newName);
    if (other && other !== value) throw new Error(`cannot rename '${oldName}' to '${newName}': an initializer has that name`);
    const entries = [...this.initializers];
    this.initializers.clear();
    for (const [k, v] of entries) this.initializers.set(v === value && k === oldName ? newName : k, v);
  }

  // ---- scopes --------------------------------------------------------------------------------------

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
    for (const v of this._inputs) if (v.name === name) return v;
    for (const s of this.sparseInitializers) if (s.value.name === name) return s.value;
    for (let n = this._first; n; n = n._next) for (const o of n.outputs) if (o.name === name) return o;
    return undefined;
  }

  /** This graph and every graph nested in its nodes' attributes, outer graphs first (no recursion). */
  *graphsDeep(): Generator<Graph> {
    const stack: Graph[] = [this];
    while (stack.length > 0) {
      const g = stack.pop()!;
      yield g;
      const subs: Graph[] = [];
      // Indexed, and only for nodes with attributes: an iterator per node was most of this walk's cost.
      for (let n = g._first; n; n = n._next) {
        if (n.attributes.size === 0) continue;
        const own = n.subgraphs;
        for (let i = 0; i < own.length; i++) subs.push(own[i]!);
      }
      for (let i = subs.length - 1; i >= 0; i--) stack.push(subs[i]!);
    }
  }

  /** Every value this scope defines. */
  *definedValues(): Generator<Value> {
    yield* this._inputs;
    yield* this.initializers.values();
    for (const s of this.sparseInitializers) yield s.value;
    for (let n = this._first; n; n = n._next) for (const o of n.outputs) if (o.name !== '') yield o;
  }
}
