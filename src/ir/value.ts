// A Value is an SSA name: produced by one node output, a graph input or an initializer, and used by
// node inputs and graph outputs. Its use list is maintained by Node and Graph; never edit it directly.

import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Tensor } from './tensor.js';

export interface Use {
  readonly node: Node;
  readonly index: number;
}

export class Value {
  name: string;
  /** The node output that defines this value, if any. */
  producer: Node | null = null;
  /** The graph (or function body) whose scope defines this value; null for unresolved names. */
  scope: Graph | null = null;
  /** Constant data when the value is an initializer. */
  initializer: Tensor | null = null;
  private readonly _uses: Use[] = [];

  constructor(name: string) {
    this.name = name;
  }

  get uses(): readonly Use[] {
    return this._uses;
  }

  /** @internal — called by Node when an input slot starts or stops referring to this value. */
  addUse(node: Node, index: number): void {
    this._uses.push({ node, index });
  }

  /** @internal */
  removeUse(node: Node, index: number): void {
    const i = this._uses.findIndex((u) => u.node === node && u.index === index);
    if (i >= 0) this._uses.splice(i, 1);
  }

  /** Points every node input that uses this value at `other` instead (graph outputs included). */
  replaceAllUsesWith(other: Value): void {
    if (other === this) return;
    for (const use of [...this._uses]) use.node.setInput(use.index, other);
    this.scope?.replaceOutput(this, other);
  }

  get isGraphInput(): boolean {
    return this.scope !== null && this.scope.inputs.includes(this);
  }

  get isGraphOutput(): boolean {
    return this.scope !== null && this.scope.outputs.includes(this);
  }
}
