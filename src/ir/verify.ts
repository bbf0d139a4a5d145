// IR invariants, checked after every pass: every used value is defined in a visible scope and before
// its use, names are defined once, graph outputs are defined, the node order has no cycle, and the
// use lists agree with the node inputs.

import { VerifyError } from './errors.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { Node } from './node.js';
import type { Value } from './value.js';

export function verifyModel(model: Model): string[] {
  const problems: string[] = [];
  verifyGraph(model.graph, 'main', problems);
  for (const f of model.functions) verifyGraph(f.body, `function ${f.name}`, problems);
  return problems;
}

/**
 * Throws a VerifyError listing the first problems, prefixed with `context` (e.g. the pass name). Its code
 * is `code`: 'verify-input' for a model as loaded, 'verify-pass' (the default) after a transform.
 */
export function assertValid(model: Model, context: string, code = 'verify-pass'): void {
  const problems = verifyModel(model);
  if (problems.length > 0) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    throw new VerifyError(`${context}: ${problems.slice(0, 3).join('; ')}${more}`, { code });
  }
}

function visible(graph: Graph, v: Value): boolean {
  for (let g: Graph | null = graph; g; g = g.outer) if (v.scope === g) return true;
  return false;
}

function verifyGraph(graph: Graph, where: string, problems: string[]): void {
  const defined = new Map<string, Value>();
  const define = (v: Value, what: string): void => {
    if (v.name === '') return;
    const prev = defined.get(v.name);
    if (prev && prev !== v) problems.push(`${where}: '${v.name}' is defined twice (${what})`);
    defined.set(v.name, v);
  };
  for (const v of graph.inputs) define(v, 'input');
  for (const [key, v] of graph.initializers) {
    if (key !== v.name && graph.initializers.get(v.name) !== v) problems.push(`${where}: initializer '${v.name}' is defined twice`);
    define(v, 'initializer');
  }
  for (const s of graph.sparseInitializers) define(s.value, 'sparse initializer');

  const nodes = graph.nodes;
  const position = new Map<Node, number>();
  nodes.forEach((n, i) => position.set(n, i));
  let unsorted = false;
  for (const [i, node] of nodes.entries()) {
    if (node.graph !== graph) problems.push(`${where}: node ${node.label} does not point back at its graph`);
    for (const out of node.outputs) {
      define(out, `output of ${node.label}`);
      if (out.producer !== node) problems.push(`${where}: '${out.name}' does not point back at its producer ${node.label}`);
    }
    node.inputs.forEach((v, k) => {
      if (!v) return;
      if (!v.uses.some((u) => u.node === node && u.index === k)) {
        problems.push(`${where}: use list of '${v.name}' misses input ${k} of ${node.label}`);
      }
      checkUse(graph, where, node, v, problems);
      if (v.producer && v.producer.graph === graph && (position.get(v.producer) ?? Infinity) >= i) unsorted = true;
    });
    // Values a subgraph takes from this scope must be produced before the node that holds it.
    for (const sub of node.subgraphs) {
      for (const v of outerUses(sub)) {
        if (v.producer && v.producer.graph === graph && (position.get(v.producer) ?? Infinity) >= i) unsorted = true;
      }
      verifyGraph(sub, `${where}/${node.label}`, problems);
    }
  }
  // And the other direction: every use a value lists must be a live node input holding that value.
  for (const v of graph.definedValues()) {
    for (const u of v.uses) {
      if (!u.node.graph || u.node.inputs[u.index] !== v) problems.push(`${where}: use list of '${v.name}' names a stale use by ${u.node.label}`);
    }
  }
  graph.outputs.forEach((v) => {
    if (!v.scope || !visible(graph, v)) problems.push(`${where}: graph output '${v.name}' is not defined`);
  });
  if (graph.inputs.length !== graph.inputInfos.length || graph.outputs.length !== graph.outputInfos.length) {
    problems.push(`${where}: input/output declarations out of step with the values`);
  }
  if (unsorted) {
    problems.push(hasCycle(graph) ? `${where}: the graph has a cycle` : `${where}: nodes are not in topological order`);
  }
}

function checkUse(graph: Graph, where: string, node: Node, v: Value, problems: string[]): void {
  if (!v.scope) problems.push(`${where}: ${node.label} uses undefined value '${v.name}'`);
  else if (!visible(graph, v)) problems.push(`${where}: ${node.label} uses '${v.name}' from a scope it cannot see`);
  else if (v.producer && v.producer.graph === null) problems.push(`${where}: ${node.label} uses '${v.name}' whose producer was removed`);
}

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
  node.inputs.forEach(add);
  for (const sub of node.subgraphs) for (const v of outerUses(sub)) add(v);
  return deps;
}

function hasCycle(graph: Graph): boolean {
  const state = new Map<Node, 1 | 2>();
  const visit = (n: Node): boolean => {
    const s = state.get(n);
    if (s === 2) return false;
    if (s === 1) return true;
    state.set(n, 1);
    for (const d of dependencies(graph, n)) if (visit(d)) return true;
    state.set(n, 2);
    return false;
  };
  return graph.nodes.some((n) => visit(n));
}
