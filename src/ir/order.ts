// Node order within one graph: dependencies (including values a subgraph takes from the enclosing
// scope), a stable topological order and cycle detection. Iterative throughout: a 128k-node chain must
// not exhaust the stack.

import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Value } from './value.js';

/** Values used inside `graph` (and its subgraphs) that are defined outside it. */
export function outerUses(graph: Graph): Set<Value> {
  const out = new Set<Value>();
  const inside = (v: Value): boolean => {
    for (let g: Graph | null = v.scope; g; g = g.outer) if (g === graph) return true;
    return false;
  };
  for (const g of graph.graphsDeep()) {
    for (const n of g.nodes) for (const v of n.inputs) if (v && !inside(v)) out.add(v);
    for (const v of g.outputs) if (!inside(v)) out.add(v);
  }
  return out;
}

/** The nodes' dependencies inside one graph (producers of inputs, including subgraphs' outer uses). */
export function dependencies(graph: Graph, node: Node): Node[] {
  const deps: Node[] = [];
  const add = (v: Value | null): void => {
    if (v?.producer && v.producer.graph === graph) deps.push(v.producer);
  };
  for (const v of node.inputs) add(v);
  for (const sub of node.subgraphs) for (const v of outerUses(sub)) add(v);
  return deps;
}

/**
 * A topological order of the graph's nodes that is stable: dependencies are placed in their original
 * order, and a graph already in order keeps its order exactly. Returns null when there is a cycle.
 */
export function topologicalOrder(graph: Graph): Node[] | null {
  const nodes = graph.nodes;
  const index = new Map<Node, number>();
  nodes.forEach((n, i) => index.set(n, i));
  const state = new Map<Node, 1 | 2>(); // 1: on the stack, 2: placed
  const order: Node[] = [];
  const stack: Array<{ node: Node; deps: Node[]; next: number }> = [];
  const depsOf = (n: Node): Node[] => dependencies(graph, n).sort((a, b) => index.get(a)! - index.get(b)!);
  for (const root of nodes) {
    if (state.has(root)) continue;
    state.set(root, 1);
    stack.push({ node: root, deps: depsOf(root), next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.deps.length) {
        const d = top.deps[top.next++]!;
        const s = state.get(d);
        if (s === 2) continue;
        if (s === 1) return null;
        state.set(d, 1);
        stack.push({ node: d, deps: depsOf(d), next: 0 });
      } else {
        stack.pop();
        state.set(top.node, 2);
        order.push(top.node);
      }
    }
  }
  return order;
}

export function hasCycle(graph: Graph): boolean {
  return topologicalOrder(graph) === null;
}
