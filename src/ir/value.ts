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

const NO_USES: readonly Use[] = Object.freeze([]);

export class Value {
  private _name: string;
  /** The node output that defines this value, if any. */
  producer: Node | null = null;
  /** The graph (or function body) whose scope defines this value; null for unresolved names. */
  scope: Graph | null = null;
  /** Constant data when the value is an initializer. */
  initializer: Tensor | null = null;
  // Most values have one use, kept inline: a Set per value was a large part of a big graph's memory.
  // From the second use on, a Set holds them all (insertion order, O(1) removal: a κ shared by 100k
  // sites has 100k uses) and `_use` is null.
  private _use: Use | null = null;
  private _uses: Set<Use> | null = null;
  private _useList: readonly Use[] | null = null;

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
    return (this._useList ??= this._uses ? [...this._uses] : this._use ? [this._use] : NO_USES);
  }

  /** The uses without building an array (for one pass over many values). */
  eachUse(): IterableIterator<Use> {
    if (this._uses) return this._uses.values();
    return (this._use ? [this._use] : NO_USES).values();
  }

  /**
   * Calls `f(use, arg)` on each use in order, allocating nothing (the verifier's pass over every value):
   * `arg` lets one function serve every value, where a closure per value would be 128k of them on a
   * 128k-node graph.
   */
  forEachUse<T>(f: (use: Use, arg: T) => void, arg: T): void {
    if (this._uses) for (const u of this._uses) f(u, arg);
    else if (this._use) f(this._use, arg);
  }

  get useCount(): number {
    return this._uses ? this._uses.size : this._use ? 1 : 0;
  }

  /** @internal — called by Node when an input slot starts referring to this value. */
  addUse(node: Node, index: number): Use {
    const use: Use = { node, index };
    if (this._uses) this._uses.add(use);
    else if (this._use) {
      this._uses = new Set([this._use, use]);
      this._use = null;
    } else this._use = use;
    this._useList = null;
    return use;
  }

  /** @internal — called by Node when the input slot that made `use` stops referring to this value. */
  removeUse(use: Use): void {
    if (this._uses) {
      if (this._uses.delete(use)) this._useList = null;
    } else if (this._use === use) {
      this._use = null;
      this._useList = null;
    }
  }

  /** @internal — whether `use` is in this value's use list (the verifier's check). */
  hasUse(use: Use | null | undefined): boolean {
    if (!use) return false;
    return this._uses ? this._uses.has(use) : this._use === use;
  }

  /** Points every node input that uses this value at `other` instead (graph outputs included). */
  replaceAllUsesWith(other: Value): void {
    if (other === this) return;
    for (const use of [...this.uses]) use.node.setInput(use.index, other);
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
