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
  if (node.attributes.size > 0) for (const sub of node.subgraphs) for (const v of outerUses(sub)) add(v);
  return deps;
}

/** Whether every node's dependencies (see `dependencies`) come before it. */
function inOrder(graph: Graph, nodes: readonly Node[], index: { get(n: Node): number | undefined }): boolean {
  const before = (v: Value | null, i: number): boolean => {
    const p = v?.producer;
    return !p || p.graph !== graph || index.get(p)! < i;
  };
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    for (const v of node.inputs) if (!before(v, i)) return false;
    if (node.attributes.size > 0) for (const sub of node.subgraphs) for (const v of outerUses(sub)) if (!before(v, i)) return false;
  }
  return true;
}

/**
 * A topological order of the graph's nodes that is stable: dependencies are placed in their original
 * order, and a graph already in order keeps its order exactly. Returns null when there is a cycle.
 */
export function topologicalOrder(graph: Graph): Node[] | null {
  const nodes = graph.nodes;
  // The graph's cached positions (shared with the verifier run after a pass): node → index in `nodes`.
  const index = {
    get: (n: Node): number | undefined => {
      const i = graph.indexOf(n);
      return i < 0 ? undefined : i;
    },
  };
  // A graph already in order (the usual case) ends after one pass that allocates nothing per node.
  if (inOrder(graph, nodes, index)) return [...nodes];
  // Otherwise one pass collects every node's dependencies.
  const deps: Node[][] = new Array<Node[]>(nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const d = dependencies(graph, nodes[i]!);
    if (d.length > 1) d.sort((a, b) => index.get(a)! - index.get(b)!);
    deps[i] = d;
  }
  const state = new Uint8Array(nodes.length); // 0: unseen, 1: on the stack, 2: placed
  const order: Node[] = [];
  const stack: Array<{ i: number; next: number }> = [];
  for (let root = 0; root < nodes.length; root++) {
    if (state[root] !== 0) continue;
    state[root] = 1;
    stack.push({ i: root, next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const d = deps[top.i]!;
      if (top.next < d.length) {
        const j = index.get(d[top.next++]!)!;
        if (state[j] === 2) continue;
        if (state[j] === 1) return null;
        state[j] = 1;
        stack.push({ i: j, next: 0 });
      } else {
        stack.pop();
        state[top.i] = 2;
        order.push(nodes[top.i]!);
      }
    }
  }
  return order;
}

export function hasCycle(graph: Graph): boolean {
  return topologicalOrder(graph) === null;
}
