// Unique-name generation. ONNX needs value names unique across a graph and its subgraphs, and node
// names unique enough to be useful in reports; a fresh name is checked against every name in use.

import type { Model } from './model.js';

export class NameAuthority {
  private readonly used = new Set<string>();

  /** Collects every value and node name of the model (all graphs, functions). */
  static forModel(model: Model): NameAuthority {
    const names = new NameAuthority();
    for (const g of model.graphs()) {
      for (const v of g.definedValues()) names.used.add(v.name);
      for (const n of g.nodes) {
        if (n.name) names.used.add(n.name);
        for (const v of n.inputs) if (v) names.used.add(v.name);
      }
      for (const v of g.outputs) names.used.add(v.name);
    }
    return names;
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  /** `base` if free, otherwise `base_1`, `base_2`, … — and the result is reserved. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}
