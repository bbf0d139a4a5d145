// Unique-name generation. ONNX needs value names unique across a graph and its subgraphs, and node
// names unique enough to be useful in reports; a fresh name is checked against every name in use.

import type { Model } from './model.js';

export class NameAuthority {
  private readonly used = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();
  /** A model whose names are collected at the first question (see lazy). */
  private pending: Model | null = null;

  /** Collects every value and node name of the model (all graphs, functions). */
  static forModel(model: Model): NameAuthority {
    const names = new NameAuthority();
    names.collect(model);
    return names;
  }

  /**
   * Like forModel, but the model's names are collected when a name is first asked for, from the model as
   * it is then: a pass that never needs a fresh name (most retrofits) never walks the whole model.
   */
  static lazy(model: Model): NameAuthority {
    const names = new NameAuthority();
    names.pending = model;
    return names;
  }

  private ensure(): void {
    if (this.pending === null) return;
    const model = this.pending;
    this.pending = null;
    this.collect(model);
  }

  private collect(model: Model): void {
    const names = this;
    for (const g of model.graphs()) {
      for (const v of g.definedValues()) names.used.add(v.name);
      for (const n of g.nodes) {
        if (n.name) names.used.add(n.name);
        for (const v of n.inputs) if (v) names.used.add(v.name);
      }
      for (const v of g.outputs) names.used.add(v.name);
    }
  }

  reserve(name: string): void {
    this.ensure();
    this.used.add(name);
  }

  isUsed(name: string): boolean {
    this.ensure();
    return this.used.has(name);
  }

  /**
   * `base` if free, otherwise the first free of `base_1`, `base_2`, … — and the result is reserved.
   * The next suffix to try is remembered per base (names are never released), so asking for the same
   * base k times costs O(k), not O(k²).
   */
  fresh(base: string): string {
    this.ensure();
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
