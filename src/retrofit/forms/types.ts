// The element type and shape of an activation, for a form's checks (float type, per-channel κ size and
// rank): the declared type when the model has one, else the type and shape inference of src/ir/analysis,
// run once per graph, lazily (a model whose activations are all declared never runs it).

import { type TypeInfo, ShapeInfo } from '../../ir/analysis/shapes.js';
import { type Dim, declaredShape } from '../../ir/analysis/typeproto.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Value } from '../../ir/value.js';

export class ActivationTypes {
  private readonly infos = new Map<Graph, ShapeInfo>();

  constructor(private readonly model: Model) {}

  /** The ONNX element type of `x`, or null when neither declared nor inferable. */
  elem(x: Value, graph: Graph): number | null {
    const declared = declaredShape((x.scope ?? graph).declaredType(x));
    if (declared?.elemType) return declared.elemType;
    return this.info(x.scope ?? graph).elem(x);
  }

  /** The shape of `x` (dims may be symbolic or null), or null when its rank is unknown. */
  shape(x: Value, graph: Graph): Dim[] | null {
    const declared = declaredShape((x.scope ?? graph).declaredType(x));
    if (declared?.shape) return declared.shape;
    return this.info(x.scope ?? graph).shape(x);
  }

  private info(graph: Graph): ShapeInfo {
    let info = this.infos.get(graph);
    if (info) return info;
    // A subgraph reads values of its outer scopes: their types come from the outer graph's inference.
    let seed: Map<Value, TypeInfo> | undefined;
    if (graph.outer) {
      const outer = this.info(graph.outer);
      seed = new Map();
      for (const n of graph.nodes) for (const v of n.inputs) if (v && v.scope !== graph) seed.set(v, outer.get(v));
    }
    info = new ShapeInfo(graph, this.opsetOf(graph), seed);
    this.infos.set(graph, info);
    return info;
  }

  /** The ai.onnx opset of a graph: its function's import for a function body (or a subgraph in one), else the model's. */
  private opsetOf(graph: Graph): number {
    let top = graph;
    while (top.outer) top = top.outer;
    const fn = this.model.functions.find((f) => f.body === top);
    const v = fn?.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? this.model.opsetVersion('') ?? 0n;
    return Number(v);
  }
}
