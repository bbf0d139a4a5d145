// IR invariants, checked after every pass: every used value is defined in a visible scope and before
// its use, names are defined once, initializers are keyed by and named as their value, graph inputs are
// listed once and defined by their graph, graph outputs are defined, nodes of the default domain have as
// many inputs and outputs as their op allows (required ones present), the node order has no cycle, and
// the use lists agree with the node inputs both ways.
//
// Linear in the size of the model and free of recursion (subgraphs are visited with an explicit stack),
// so a 128k-node graph is verified in milliseconds without exhausting the stack.

import { VerifyError } from './errors.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { Node } from './node.js';
import { hasCycle, outerUses } from './order.js';
import { arityOf } from './schema.js';
import type { Use, Value } from './value.js';

export { dependencies, outerUses } from './order.js';

export function verifyModel(model: Model): string[] {
  const problems: string[] = [];
  verifyGraphTree(model.graph, 'main', problems);
  for (const f of model.functions) verifyGraphTree(f.body, `function ${f.name}`, problems);
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

/**
 * Runs one transform of `model` under the verifier: the model is checked before (unless `checkInput`
 * is false, e.g. when the previous transform's check already covered it) and after, so a broken
 * invariant is reported against the transform that broke it rather than as an invalid output file.
 * The PassManager is a list of these; the gradient build, batch freeing and tune's probes, which edit
 * models outside it, call this directly (the IR layer, so every layer can).
 */
export function runVerified<R>(model: Model, name: string, transform: (model: Model) => R, checkInput = true): R {
  if (checkInput) assertValid(model, 'input model', 'verify-input');
  const result = transform(model);
  assertValid(model, `after pass '${name}'`);
  return result;
}

function visible(graph: Graph, v: Value): boolean {
  for (let g: Graph | null = graph; g; g = g.outer) if (v.scope === g) return true;
  return false;
}

/** Verifies a graph and every subgraph nested in it, with an explicit work list. */
function verifyGraphTree(root: Graph, where: string, problems: string[]): void {
  const work: Array<{ graph: Graph; where: string }> = [{ graph: root, where }];
  while (work.length > 0) {
    const { graph, where: w } = work.pop()!;
    const subs = verifyGraph(graph, w, problems);
    for (let i = subs.length - 1; i >= 0; i--) work.push(subs[i]!);
  }
}

/**
 * A graph's check in progress: the names defined so far and where problems go. One object per graph
 * (not closures per node or per value), so the pass over a 128k-node graph allocates almost nothing
 * beyond its name map.
 */
class GraphCheck {
  readonly defined = new Map<string, Value>();
  readonly stale: (use: Use, v: Value) => void;

  constructor(readonly where: string, readonly problems: string[]) {
    this.stale = (u, v) => {
      if (!u.node.graph || u.node.inputs[u.index] !== v) problems.push(`${where}: use list of '${v.name}' names a stale use by ${u.node.label}`);
    };
  }

  // `producer` names the node for the message; the text is built only for a problem (once per value
  // otherwise, which on a 128k-node graph is that many strings for nothing).
  define(v: Value, what: string, producer: Node | null): void {
    const name = v.name;
    if (name === '') return;
    const prev = this.defined.get(name);
    if (prev === undefined) {
      this.defined.set(name, v);
      return;
    }
    if (prev !== v) this.problems.push(`${this.where}: '${name}' is defined twice (${producer ? `${what} ${producer.label}` : what})`);
    this.defined.set(name, v);
  }
}

/** The node's position in its graph for the order check (Infinity for a node not in `graph`). */
function position(graph: Graph, n: Node): number {
  const i = graph.indexOf(n);
  return i < 0 ? Infinity : i;
}

/** Checks one graph; returns its subgraphs (with their context) for the caller to check. */
function verifyGraph(graph: Graph, where: string, problems: string[]): Array<{ graph: Graph; where: string }> {
  const subs: Array<{ graph: Graph; where: string }> = [];
  const check = new GraphCheck(where, problems);
  const listed = new Set<Value>();
  for (const v of graph.inputs) {
    if (listed.has(v)) problems.push(`${where}: '${v.name}' is listed twice as a graph input`);
    listed.add(v);
    if (v.scope !== graph) problems.push(`${where}: graph input '${v.name}' is not defined by its graph`);
    check.define(v, 'input', null);
  }
  for (const [key, v] of graph.initializers) {
    if (key !== v.name && graph.initializers.get(v.name) !== v) problems.push(`${where}: initializer '${v.name}' is defined twice`);
    else if (key !== v.name) problems.push(`${where}: initializer '${v.name}' is filed under the stale name '${key}'`);
    if (v.initializer && v.initializer.name !== v.name) {
      problems.push(`${where}: initializer '${v.name}' holds a tensor named '${v.initializer.name}'`);
    }
    if (!v.initializer) problems.push(`${where}: initializer '${v.name}' has no tensor`);
    if (v.scope !== graph) problems.push(`${where}: initializer '${v.name}' is not defined by its graph`);
    check.define(v, 'initializer', null);
  }
  for (const s of graph.sparseInitializers) check.define(s.value, 'sparse initializer', null);

  // Positions come from the graph's own cache (built once per edit-free stretch, so the topological sort
  // a pass ends with and the check after it share one).
  let unsorted = false;
  let i = 0;
  for (let node = graph.firstNode; node; node = node._next, i++) {
    if (node.graph !== graph) problems.push(`${where}: node ${node.label} does not point back at its graph`);
    checkArity(node, where, problems);
    const outputs = node.outputs;
    for (let k = 0; k < outputs.length; k++) {
      const out = outputs[k]!;
      check.define(out, 'output of', node);
      if (out.producer !== node) problems.push(`${where}: '${out.name}' does not point back at its producer ${node.label}`);
    }
    const inputs = node.inputs;
    for (let k = 0; k < inputs.length; k++) {
      const v = inputs[k];
      if (!v) continue;
      if (!node.inputUseRecorded(k)) problems.push(`${where}: use list of '${v.name}' misses input ${k} of ${node.label}`);
      checkUse(graph, where, node, v, problems);
      if (v.producer && v.producer.graph === graph && position(graph, v.producer) >= i) unsorted = true;
    }
    // Values a subgraph takes from this scope must be produced before the node that holds it.
    const subgraphs = node.subgraphs;
    for (let k = 0; k < subgraphs.length; k++) {
      const sub = subgraphs[k]!;
      for (const v of outerUses(sub)) {
        if (v.producer && v.producer.graph === graph && position(graph, v.producer) >= i) unsorted = true;
      }
      subs.push({ graph: sub, where: `${where}/${node.label}` });
    }
  }
  // And the other direction: every use a value lists must be a live node input holding that value (in
  // the order of Graph.definedValues, walked directly rather than through its generator).
  for (const v of graph.inputs) v.forEachUse(check.stale, v);
  for (const v of graph.initializers.values()) v.forEachUse(check.stale, v);
  for (const s of graph.sparseInitializers) s.value.forEachUse(check.stale, s.value);
  for (let node = graph.firstNode; node; node = node._next) {
    const outputs = node.outputs;
    for (let k = 0; k < outputs.length; k++) {
      const o = outputs[k]!;
      if (o.name !== '') o.forEachUse(check.stale, o);
    }
  }
  for (const v of graph.outputs) {
    if (!v.scope || !visible(graph, v)) problems.push(`${where}: graph output '${v.name}' is not defined`);
    else if (v.producer && v.producer.graph === null) problems.push(`${where}: graph output '${v.name}' has a removed producer`);
  }
  if (graph.inputs.length !== graph.inputInfos.length || graph.outputs.length !== graph.outputInfos.length) {
    problems.push(`${where}: input/output declarations out of step with the values`);
  }
  if (unsorted) {
    problems.push(hasCycle(graph) ? `${where}: the graph has a cycle` : `${where}: nodes are not in topological order`);
  }
  return subs;
}

function checkArity(node: Node, where: string, problems: string[]): void {
  const arity = arityOf(node.domain, node.opType);
  if (!arity) return;
  const n = node.inputs.length;
  const [lo, hi] = arity.inputs;
  if (n < lo || n > hi) {
    const want = lo === hi ? `${lo}` : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`;
    problems.push(`${where}: ${node.opType} node ${node.label} has ${n} input${n === 1 ? '' : 's'}; ${node.opType} takes ${want}`);
  } else {
    for (let k = 0; k < lo; k++) {
      if (!node.inputs[k]) problems.push(`${where}: ${node.opType} node ${node.label} leaves its required input ${k} empty`);
    }
  }
  const m = node.outputs.length;
  const [olo, ohi] = arity.outputs;
  if (m < olo || m > ohi) {
    const want = olo === ohi ? `${olo}` : `${olo} to ${ohi}`;
    problems.push(`${where}: ${node.opType} node ${node.label} has ${m} output${m === 1 ? '' : 's'}; ${node.opType} gives ${want}`);
  }
}

function checkUse(graph: Graph, where: string, node: Node, v: Value, problems: string[]): void {
  if (!v.scope) problems.push(`${where}: ${node.label} uses undefined value '${v.name}'`);
  else if (!visible(graph, v)) problems.push(`${where}: ${node.label} uses '${v.name}' from a scope it cannot see`);
  else if (v.producer && v.producer.graph === null) problems.push(`${where}: ${node.label} uses '${v.name}' whose producer was removed`);
}
