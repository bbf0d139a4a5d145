// Reverse-mode differentiation of one graph: the gradient nodes are appended after the forward nodes
// (which stay, since the rules use their values), walking the nodes in reverse topological order and
// summing the contributions of every use of a value.

import { UsageError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { Emitter } from './emitter.js';
import type { KappaResolver } from './kappa.js';
import { ruleFor } from './rules/index.js';
import { type RuleContext, zerosLike } from './rules/context.js';
import type { ShapeInfo } from '../ir/analysis/shapes.js';
import { FLOAT_TYPES } from '../ir/analysis/constants.js';

export interface DifferentiateRequest {
  graph: Graph;
  e: Emitter;
  info: ShapeInfo;
  opset: number;
  kappa: KappaResolver;
  /** Leaves to differentiate with respect to (graph inputs or initializers). */
  wrt: readonly Value[];
  /** Outputs and their cotangents. */
  seeds: ReadonlyArray<readonly [Value, Value]>;
  requireOpset(version: number, why: string): void;
}

/** Values a node reads: its inputs and the outer values its subgraphs capture. */
function reads(node: Node): Value[] {
  const out = node.inputs.filter((v): v is Value => v !== null);
  for (const sub of node.subgraphs) {
    for (const g of sub.graphsDeep()) {
      for (const n of g.nodes) {
        for (const v of n.inputs) if (v && v.scope && !isWithin(v.scope, sub)) out.push(v);
      }
    }
  }
  return out;
}

function isWithin(scope: Graph, root: Graph): boolean {
  for (let g: Graph | null = scope; g; g = g.outer) if (g === root) return true;
  return false;
}

/** Returns the gradient of Σ⟨seed cotangent, seed value⟩ with respect to each `wrt` value. */
export function differentiate(req: DifferentiateRequest): Map<Value, Value> {
  const { graph, e, info } = req;
  const nodes = graph.nodes;

  // Values that depend on a wrt leaf through float tensors.
  const active = new Set<Value>(req.wrt);
  for (const node of nodes) {
    if (!reads(node).some((v) => active.has(v))) continue;
    for (const o of node.outputs) {
      const elem = info.elem(o);
      if (o.name !== '' && (elem === null || FLOAT_TYPES.has(elem))) active.add(o);
    }
  }
  // Values the seeds depend on.
  const useful = new Set<Value>(req.seeds.map(([v]) => v));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (node.outputs.some((o) => useful.has(o))) for (const v of reads(node)) useful.add(v);
  }
  const relevant = (v: Value | null | undefined): v is Value => !!v && active.has(v) && useful.has(v);

  const contributions = new Map<Value, Value[]>();
  const contribute = (v: Value, g: Value) => {
    // A gradient has the type and shape of its value, whatever inference made of the ops computing it.
    const t = info.get(g);
    if (t.shape === null || t.elem === null) info.set(g, { elem: t.elem ?? info.elem(v), shape: t.shape ?? info.shape(v) });
    const list = contributions.get(v);
    if (list) list.push(g);
    else contributions.set(v, [g]);
  };
  const total = (v: Value): Value | null => {
    const list = contributions.get(v);
    if (!list || list.length === 0) return null;
    if (list.length === 1) return list[0]!;
    const sum = e.one('Sum', list);
    contributions.set(v, [sum]);
    return sum;
  };
  for (const [v, cot] of req.seeds) if (relevant(v)) contribute(v, cot);

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!node.outputs.some(relevant)) continue;
    e.prefix = `grad/${node.label}`;
    const gy = node.outputs.map((o) => (relevant(o) ? total(o) : null));
    if (gy.every((g) => g === null)) continue;
    if (node.subgraphs.length > 0) {
      throw new UsageError(`cannot differentiate ${node.opType} node '${node.label}': control flow (If/Loop/Scan) is not supported`);
    }
    const rule = ruleFor(node);
    if (!rule) {
      const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}::${node.opType}` : node.opType;
      throw new UsageError(`cannot differentiate node '${node.label}': no gradient rule for op ${op}`);
    }
    const ctx: RuleContext = {
      node, gy, e, info, opset: req.opset, kappa: req.kappa,
      needs: (k) => relevant(node.inputs[k]),
      requireOpset: req.requireOpset,
    };
    const grads = rule(ctx);
    node.inputs.forEach((v, k) => {
      const g = grads[k];
      if (g && relevant(v)) contribute(v, g);
    });
  }

  const result = new Map<Value, Value>();
  for (const w of req.wrt) {
    e.prefix = `grad/${w.name}`;
    result.set(w, total(w) ?? zerosLike({ e, info }, w));
  }
  return result;
}
