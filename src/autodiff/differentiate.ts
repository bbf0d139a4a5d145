// Reverse-mode differentiation of one graph: the gradient nodes are appended after the forward nodes
// (which stay, since the rules use their values), walking the nodes in reverse topological order and
// summing the contributions of every use of a value.

import { UnsupportedModelError } from '../ir/errors.js';
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

/** The nodes between the wrt leaves and the seeds: what must be differentiated. */
interface Paths {
  /** Values that depend on a leaf through float tensors and reach a seed. */
  relevant(v: Value | null | undefined): v is Value;
  /** For a relevant value, the relevant input of its producer it was first reached from (toward a leaf). */
  from: Map<Value, Value>;
}

function paths(nodes: readonly Node[], info: ShapeInfo, wrt: readonly Value[], seeds: readonly Value[]): Paths {
  const active = new Set<Value>(wrt);
  const from = new Map<Value, Value>();
  for (const node of nodes) {
    const source = reads(node).find((v) => active.has(v));
    if (!source) continue;
    for (const o of node.outputs) {
      const elem = info.elem(o);
      if (o.name !== '' && (elem === null || FLOAT_TYPES.has(elem))) {
        active.add(o);
        from.set(o, source);
      }
    }
  }
  const useful = new Set<Value>(seeds);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (node.outputs.some((o) => useful.has(o))) for (const v of reads(node)) useful.add(v);
  }
  const relevant = (v: Value | null | undefined): v is Value => !!v && active.has(v) && useful.has(v);
  return { relevant, from };
}

function opName(node: Node): string {
  return node.domain && node.domain !== 'ai.onnx' ? `${node.domain}::${node.opType}` : node.opType;
}

/**
 * How `node` is reached from a wrt leaf: "input → Conv '/conv1/Conv' → … (12 nodes) … → Erf 'n7'",
 * the first two and last three steps of the first path found.
 */
function pathTo(node: Node, p: Paths): string {
  const steps: string[] = [];
  let v = node.inputs.find((i) => p.from.has(i!) || p.relevant(i)) ?? null;
  const seen = new Set<Value>();
  while (v && !seen.has(v)) {
    seen.add(v);
    const producer = v.producer;
    if (!producer || !p.from.has(v)) { steps.push(v.name); break; }
    steps.push(`${opName(producer)} '${producer.label}'`);
    v = p.from.get(v)!;
  }
  steps.reverse();
  steps.push(`${opName(node)} '${node.label}'`);
  if (steps.length <= 6) return steps.join(' → ');
  return [...steps.slice(0, 2), `… (${steps.length - 5} nodes) …`, ...steps.slice(-3)].join(' → ');
}

/** An op on the path that no rule covers. */
export interface MissingRule { op: string; nodes: string[]; path: string }

/** Every op on the path from `wrt` to `seeds` that has no gradient rule (or is control flow), grouped by op. */
export function missingRules(graph: Graph, info: ShapeInfo, wrt: readonly Value[], seeds: readonly Value[]): MissingRule[] {
  const nodes = graph.nodes;
  const p = paths(nodes, info, wrt, seeds);
  const byOp = new Map<string, MissingRule>();
  for (const node of nodes) {
    if (!node.outputs.some(p.relevant)) continue;
    if (node.subgraphs.length === 0 && ruleFor(node)) continue;
    const op = node.subgraphs.length > 0 ? `${opName(node)} (control flow)` : opName(node);
    const entry = byOp.get(op);
    if (entry) entry.nodes.push(node.label);
    else byOp.set(op, { op, nodes: [node.label], path: pathTo(node, p) });
  }
  return [...byOp.values()];
}

/** Returns the gradient of Σ⟨seed cotangent, seed value⟩ with respect to each `wrt` value. */
export function differentiate(req: DifferentiateRequest): Map<Value, Value> {
  const { graph, e, info } = req;
  const nodes = graph.nodes;
  const p = paths(nodes, info, req.wrt, req.seeds.map(([v]) => v));
  const relevant = p.relevant;

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
      throw new UnsupportedModelError(`cannot differentiate ${node.opType} node '${node.label}': control flow (If/Loop/Scan) is not supported (path: ${pathTo(node, p)})`,
        { code: 'gradient-control-flow' });
    }
    const rule = ruleFor(node);
    if (!rule) {
      throw new UnsupportedModelError(`cannot differentiate node '${node.label}': no gradient rule for op ${opName(node)} (path: ${pathTo(node, p)}; `
        + "'jumprelu grad --check' lists every such op)", { code: 'no-gradient-rule' });
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
