// A Value is an SSA name: produced by one node output, a graph input or an initializer, and used by
// node inputs and graph outputs. Its use list is maintained by Node and Graph; never edit it directly.
// Renaming a value (assigning `name`) renames its initializer entry and tensor with it, so the saved
// model stays consistent.

import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Tensor } from './tensor.js';
import type { ValueInfo } from './value-info.js';

export interface Use {
  readonly node: Node;
  readonly index: number;
}

export class Value {
  private _name: string;
  /** The node output that defines this value, if any. */
  producer: Node | null = null;
  /** The graph (or function body) whose scope defines this value; null for unresolved names. */
  scope: Graph | null = null;
  /** Constant data when the value is an initializer. */
  initializer: Tensor | null = null;
  // A Set keeps insertion order and removes in O(1): a κ shared by 100k sites has 100k uses.
  private readonly _uses = new Set<Use>();
  private _useList: Use[] | null = null;

  constructor(name: string) {
    this._name = name;
  }

  get name(): string {
    return this._name;
  }

  /** Renames the value, its initializer entry and its initializer tensor together. */
  set name(name: string) {
    if (name === this._name) return;
    const old = this._name;
    this.scope?.valueRenamed(this, old, name);
    this._name = name;
    if (this.initializer) this.initializer.name = name;
  }

  /** The uses in the order they were made (a cached array, rebuilt after an edit). */
  get uses(): readonly Use[] {
    return (this._useList ??= [...this._uses]);
  }

  /** The uses without building an array (for one pass over many values). */
  eachUse(): IterableIterator<Use> {
    return this._uses.values();
  }

  get useCount(): number {
    return this._uses.size;
  }

  /** @internal — called by Node when an input slot starts referring to this value. */
  addUse(node: Node, index: number): Use {
    const use: Use = { node, index };
    this._uses.add(use);
    this._useList = null;
    return use;
  }

  /** @internal — called by Node when the input slot that made `use` stops referring to this value. */
  removeUse(use: Use): void {
    if (this._uses.delete(use)) this._useList = null;
  }

  /** @internal — whether `use` is in this value's use list (the verifier's check). */
  hasUse(use: Use | null | undefined): boolean {
    return use ? this._uses.has(use) : false;
  }

  /** Points every node input that uses this value at `other` instead (graph outputs included). */
  replaceAllUsesWith(other: Value): void {
    if (other === this) return;
    for (const use of [...this._uses]) use.node.setInput(use.index, other);
    this.scope?.replaceOutput(this, other);
  }

  /** The declared type (graph input, graph output or value_info entry of its scope), if any. */
  get type(): ValueInfo | null {
    return this.scope?.declaredType(this) ?? null;
  }

  get isGraphInput(): boolean {
    return this.scope !== null && this.scope.hasInput(this);
  }

  get isGraphOutput(): boolean {
    return this.scope !== null && this.scope.hasOutput(this);
  }
}
