// The root of the IR: model-level fields, the main graph and the local functions.

import type { IrFunction } from './function.js';
import type { Graph, LayoutEntry } from './graph.js';
import type { Node } from './node.js';
import type { Origin, UnknownFields } from './origin.js';

export interface OpsetImport {
  domain: string;
  version: bigint;
  origin?: Origin | null;
}

export interface MetadataEntry {
  key: string;
  value: string;
  origin?: Origin | null;
}

export class Model {
  irVersion: bigint = 8n;
  producerName: string | null = null;
  producerVersion: string | null = null;
  domain: string | null = null;
  modelVersion: bigint | null = null;
  docString: string | null = null;
  opsetImports: OpsetImport[] = [];
  metadataProps: MetadataEntry[] = [];
  graph: Graph;
  functions: IrFunction[] = [];
  /** Folder that external-data locations are relative to; null for a model built in memory. */
  baseDir: string | null = null;
  /** Real path of the file the model was loaded from, if any (to refuse overwriting what it needs). */
  sourceFile: string | null = null;
  layout: LayoutEntry[] | null = null;
  unknownFields: UnknownFields = [];

  constructor(graph: Graph) {
    this.graph = graph;
  }

  /** The opset version imported for a domain ('' and 'ai.onnx' are the same), or undefined. */
  opsetVersion(domain = ''): bigint | undefined {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === d)?.version;
  }

  setOpsetVersion(domain: string, version: bigint): void {
    const d = domain === 'ai.onnx' ? '' : domain;
    const existing = this.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === d);
    if (existing) existing.version = version;
    else this.opsetImports.push({ domain, version });
  }

  getMetadata(key: string): string | undefined {
    return this.metadataProps.find((m) => m.key === key)?.value;
  }

  setMetadata(key: string, value: string): void {
    const existing = this.metadataProps.find((m) => m.key === key);
    if (existing) existing.value = value;
    else this.metadataProps.push({ key, value });
  }

  deleteMetadata(key: string): void {
    this.metadataProps = this.metadataProps.filter((m) => m.key !== key);
  }

  /** Every graph: the main graph, function bodies, and all their subgraphs. */
  *graphs(): Generator<Graph> {
    yield* this.graph.graphsDeep();
    for (const f of this.functions) yield* f.body.graphsDeep();
  }

  /** Every node of every graph, with the graph holding it. */
  *allNodes(): Generator<{ node: Node; graph: Graph }> {
    for (const graph of this.graphs()) for (const node of graph.nodes) yield { node, graph };
  }
}
