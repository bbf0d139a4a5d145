// Unique-name generation. ONNX needs value names unique across a graph and its subgraphs, and node
// names unique enough to be useful in reports; a fresh name is checked against every name in use.

import type { Model } from './model.js';

export class NameAuthority {
  private readonly used = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();

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

  isUsed(name: string): boolean {
    return this.used.has(name);
  }

  /**
   * `base` if free, otherwise the first free of `base_1`, `base_2`, … — and the result is reserved.
   * The next suffix to try is remembered per base (names are never released), so asking for the same
   * base k times costs O(k), not O(k²).
   */
  fresh(base: string): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    let i = this.nextSuffix.get(base) ?? 1;
    while (this.used.has(`${base}_${i}`)) i++;
    const name = `${base}_${i}`;
    this.nextSuffix.set(base, i + 1);
    this.used.add(name);
    return name;
  }
}
