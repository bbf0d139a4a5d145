// Finding the places a retrofit applies to: Relu nodes, JumpReLU sites a previous run made, and
// look-alikes that are reported but not converted (Clip(min=0) without --relu6, fused Conv+Relu).

import { AttributeType } from '../ir/attribute.js';
import type { Graph } from '../ir/graph.js';
import { readExternalBytes } from '../ir/io.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { type SiteRecord, readRecord } from './retrofit-record.js';

export type SiteKind =
  /** A Relu node. */
  | 'relu'
  /** A JumpReLU site made by an earlier run (recorded in the model's metadata). */
  | 'jumprelu'
  /** Clip(min=0[, max]) — converted only with --relu6. */
  | 'clip'
  /** An operator with a built-in ReLU (e.g. com.microsoft FusedConv) — reported, never converted. */
  | 'fused';

export interface Site {
  kind: SiteKind;
  /** Position among convertible sites (relu, jumprelu, clip), as --list prints and `#N` keys use. */
  index: number;
  node: Node;
  graph: Graph;
  graphPath: string;
  record?: SiteRecord;
  /** For 'clip' and 'fused': why it is not a plain ReLU. */
  note?: string;
}

/** Visits every graph with a stable path: "main", "main/<node>.<attr>[i]", "function <domain>::<name>". */
export function* graphsWithPaths(model: Model): Generator<{ graph: Graph; path: string }> {
  function* walk(graph: Graph, path: string): Generator<{ graph: Graph; path: string }> {
    yield { graph, path };
    // Unnamed control-flow nodes are numbered among the nodes holding subgraphs only, so the path
    // stays the same when a pass inserts ordinary nodes before them.
    let holder = 0;
    for (const node of graph.nodes) {
      if (node.subgraphs.length === 0) continue;
      const label = node.name !== '' ? node.name : `#${holder}`;
      holder++;
      for (const attr of node.attributes.values()) {
        if (attr.data.type === AttributeType.GRAPH) yield* walk(attr.data.value as Graph, `${path}/${label}.${attr.name}`);
        if (attr.data.type === AttributeType.GRAPHS) {
          for (const [k, g] of (attr.data.value as Graph[]).entries()) yield* walk(g, `${path}/${label}.${attr.name}[${k}]`);
        }
      }
    }
  }
  yield* walk(model.graph, 'main');
  for (const f of model.functions) {
    if (f.domain === FUNCTION_DOMAIN) continue; // our own JumpRelu function body
    yield* walk(f.body, `function ${f.domain}::${f.name}`);
  }
}

export const CUSTOM_DOMAIN = 'com.jumprelu';
export const FUNCTION_DOMAIN = 'com.jumprelu.functions';

export function findSites(model: Model): Site[] {
  const record = readRecord(model);
  const recorded = new Map<string, SiteRecord>();
  for (const r of record?.sites ?? []) recorded.set(`${r.graph}\u0000${r.node}`, r);
  const sites: Site[] = [];
  let index = 0;
  for (const { graph, path } of graphsWithPaths(model)) {
    // Nodes that belong to a recorded site but are not its output node (the `where` mask).
    const helperNodes = new Set<string>();
    for (const r of recorded.values()) if (r.graph === path && r.mask_node) helperNodes.add(r.mask_node);
    for (const node of graph.nodes) {
      const r = node.name !== '' ? recorded.get(`${path}\u0000${node.name}`) : undefined;
      if (r && matchesRecord(node, r)) {
        sites.push({ kind: 'jumprelu', index: index++, node, graph, graphPath: path, record: r });
        continue;
      }
      if (helperNodes.has(node.name)) continue;
      if (node.opType === 'Relu' && isDefaultDomain(node.domain)) {
        sites.push({ kind: 'relu', index: index++, node, graph, graphPath: path });
      } else if (node.opType === 'Clip' && isDefaultDomain(node.domain)) {
        const bounds = clipBounds(node);
        if (bounds && bounds.min === 0 && !producedByRecordedSite(node.inputs[0] ?? null, path, recorded)) {
          const note = bounds.max === null ? 'Clip(min=0): a ReLU written as Clip' : `Clip(min=0, max=${bounds.max}): ReLU6-like`;
          sites.push({ kind: 'clip', index: index++, node, graph, graphPath: path, note });
        }
      } else if (hasFusedRelu(node)) {
        sites.push({ kind: 'fused', index: -1, node, graph, graphPath: path, note: `${node.domain}::${node.opType} with a built-in Relu activation: not converted (unfuse it before converting)` });
      }
    }
  }
  return sites;
}

function isDefaultDomain(d: string): boolean {
  return d === '' || d === 'ai.onnx';
}

function matchesRecord(node: Node, r: SiteRecord): boolean {
  switch (r.target) {
    case 'relu': return node.opType === 'Relu';
    case 'thresholded-relu': return node.opType === 'ThresholdedRelu';
    case 'where': return node.opType === 'Where';
    case 'function': return node.opType === 'JumpRelu' && node.domain === FUNCTION_DOMAIN;
    case 'custom': return node.opType === 'JumpRelu' && node.domain === CUSTOM_DOMAIN;
  }
}

function producedByRecordedSite(v: Value | null, path: string, recorded: Map<string, SiteRecord>): boolean {
  const p = v?.producer;
  return !!p && p.name !== '' && recorded.has(`${path}\u0000${p.name}`);
}

function hasFusedRelu(node: Node): boolean {
  const act = node.attr('activation')?.asString();
  return node.domain === 'com.microsoft' && act !== undefined && /^relu$/i.test(act);
}

/** Clip's bounds when they are known constants (attributes before opset 11, inputs after). */
export function clipBounds(node: Node): { min: number | null; max: number | null } | null {
  const minAttr = node.attr('min')?.asFloat();
  const maxAttr = node.attr('max')?.asFloat();
  if (node.inputs.length <= 1 && (minAttr !== undefined || maxAttr !== undefined)) {
    return { min: minAttr ?? null, max: maxAttr ?? null };
  }
  const read = (v: Value | null | undefined): number | null | undefined => {
    if (!v) return null; // absent bound
    const t = v.initializer ?? constantTensor(v);
    if (!t || t.elementCount !== 1n) return undefined; // not a known constant
    try {
      return t.float32Data(readExternalBytes)[0]!;
    } catch {
      return undefined;
    }
  };
  const min = read(node.inputs[1]);
  const max = read(node.inputs[2]);
  if (min === undefined || max === undefined) return null;
  return { min, max };
}

/** The tensor of a value produced by a Constant node (value attribute), or null. */
export function constantTensor(v: Value): Tensor | null {
  const p = v.producer;
  if (!p || p.opType !== 'Constant') return null;
  const a = p.attr('value');
  return a && a.data.type === AttributeType.TENSOR ? (a.data.value as Tensor) : null;
}
