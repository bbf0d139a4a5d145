// Dead-code elimination and topological sort, shared by the other passes.

import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { topologicalOrder } from '../ir/order.js';
import type { Pass } from './pass-manager.js';

/**
 * Orders the nodes of every graph so producers come before users. Stable: a graph already in order
 * keeps its order exactly (so untouched models re-encode to the same bytes).
 */
export function topologicalSort(model: Model): number {
  let moved = 0;
  for (const g of model.graphs()) moved += sortGraph(g);
  return moved;
}

function sortGraph(graph: Graph): number {
  const nodes = graph.nodes;
  const order = topologicalOrder(graph);
  if (!order) throw new Error(`graph '${graph.name}' has a cycle`);
  let moved = 0;
  for (let i = 0; i < order.length; i++) if (order[i] !== nodes[i]) moved++;
  if (moved > 0) graph.reorder(order);
  return moved;
}

function isDead(graph: Graph, node: Node): boolean {
  return node.outputs.length > 0 && node.outputs.every((o) => o.uses.length === 0 && !graph.hasOutput(o));
}

/** Removes every node whose outputs nobody uses, in all graphs. Returns how many were removed. */
export function eliminateDeadCode(model: Model): number {
  let removed = 0;
  for (const g of model.graphs()) {
    for (let changed = true; changed;) {
      changed = false;
      for (const n of [...g.nodes].reverse()) {
        if (isDead(g, n)) {
          g.remove(n);
          removed++;
          changed = true;
        }
      }
    }
  }
  return removed;
}

/**
 * Removes the producers of `values` (and initializers among them) if nothing uses them any more,
 * then whatever that makes dead upstream. Used by passes to clean up only what they orphaned, so
 * dead code the user's model already had is left alone.
 */
export function removeIfUnused(values: Iterable<Value>): void {
  const work = [...values];
  while (work.length > 0) {
    const v = work.pop()!;
    if (v.uses.length > 0 || !v.scope || v.scope.hasOutput(v)) continue;
    if (v.initializer && v.scope.initializers.get(v.name) === v && !v.scope.hasInput(v)) {
      v.scope.removeInitializer(v);
      continue;
    }
    const p = v.producer;
    if (p && p.graph && isDead(p.graph, p)) {
      const inputs = p.inputs.filter((x): x is Value => x !== null);
      p.graph.remove(p);
      for (const x of inputs) work.push(x);
    }
  }
}

export const topologicalSortPass: Pass<number> = { name: 'toposort', run: topologicalSort };
export const deadCodeEliminationPass: Pass<number> = { name: 'dce', run: eliminateDeadCode };
