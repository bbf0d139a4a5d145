// Frees a batch dimension fixed to 1. Many exported models declare their input as [1, C, H, W] and bake
// the 1 into Reshape constants (e.g. Reshape(x, [1, -1]) before the classifier); such a model cannot be
// run on a batch, nor tiled for the logit-differences gradient. This pass makes dim 0 of those inputs
// symbolic, rewrites Reshape constants whose first entry is 1 on a batch-carrying tensor to 0 ("copy
// dim 0"), updates the declared shapes, and checks with symbolic shape inference that every output that
// had batch 1 now carries the batch. It throws an UnsupportedModelError naming the node where the batch is lost
// when it cannot.

import { runVerified } from '../ir/verify.js';
import { UnsupportedModelError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { NameAuthority } from '../ir/names.js';
import { DataType } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { ValueInfo } from '../ir/value-info.js';
import { attrInt } from '../ir/analysis/attrs.js';
import { ShapeInfo } from '../ir/analysis/shapes.js';
import { constantOf, makeTensor } from '../ir/analysis/constants.js';
import { declaredShape } from '../ir/analysis/typeproto.js';

export interface FreeBatchOptions {
  /** Name of the symbolic batch dimension (default 'N'). */
  symbol?: string;
}

export interface FreeBatchReport {
  symbol: string;
  /** Inputs whose dim 0 went from 1 to the symbol. */
  inputs: string[];
  /** Outputs whose dim 0 went from 1 to the symbol. */
  outputs: string[];
  /** Reshape nodes whose target shape was rewritten. */
  reshapes: string[];
  /** True when no input had a fixed batch of 1 (nothing to do). */
  alreadyFree: boolean;
}

function withDim0(info: ValueInfo, symbol: string): ValueInfo {
  const d = declaredShape(info)!;
  const out = ValueInfo.tensor(d.elemType, [symbol, ...d.shape!.slice(1)]);
  out.docString = info.docString;
  return out;
}

function dim0(info: ValueInfo | null | undefined): number | string | null | undefined {
  return declaredShape(info)?.shape?.[0];
}

/** Frees the batch dimension of the main graph in place; see the file comment. */
export function freeBatchDimension(model: Model, options: FreeBatchOptions = {}): FreeBatchReport {
  return runVerified(model, 'free-batch', (m) => freeBatch(m, options));
}

function freeBatch(model: Model, options: FreeBatchOptions): FreeBatchReport {
  const symbol = options.symbol ?? 'N';
  const graph = model.graph;
  const opset = Number(model.opsetVersion('') ?? 0n);
  const report: FreeBatchReport = { symbol, inputs: [], outputs: [], reshapes: [], alreadyFree: false };

  const fixed = graph.inputs.map((v, i) => ({ v, i })).filter(({ v, i }) => !v.initializer && dim0(graph.inputInfos[i]) === 1);
  if (fixed.length === 0) {
    report.alreadyFree = true;
    return report;
  }
  for (const { v, i } of fixed) {
    graph.setInputInfo(v, withDim0(graph.inputInfos[i]!, symbol));
    report.inputs.push(v.name);
  }

  const names = NameAuthority.forModel(model);
  let info = new ShapeInfo(graph, opset);
  for (const node of graph.nodes) {
    if (node.opType !== 'Reshape' || (node.domain !== '' && node.domain !== 'ai.onnx')) continue;
    if (info.shape(node.inputs[0])?.[0] !== symbol) continue;
    const target = constantOf(node.inputs[1]);
    if (!target || target.values[0] !== 1) continue;
    const values = [...target.values];
    if (attrInt(node, 'allowzero', 0) === 1) {
      if (values.includes(-1)) continue; // cannot express "copy dim 0" here; the final check reports it
      values[0] = -1;
    } else {
      values[0] = 0;
    }
    const tensor = makeTensor(names.fresh(`${node.inputs[1]!.name}_free_batch`), DataType.INT64, [values.length], values);
    const old = node.inputs[1]!;
    node.setInput(1, graph.addInitializer(tensor));
    if (old.uses.length === 0 && !old.isGraphOutput && !old.isGraphInput) {
      if (old.producer) graph.remove(old.producer);
      else if (old.initializer) graph.removeInitializer(old);
    }
    report.reshapes.push(node.label);
    info = new ShapeInfo(graph, opset);
  }

  const problems: string[] = [];
  graph.outputs.forEach((v, i) => {
    if (dim0(graph.outputInfos[i]) !== 1) return;
    if (info.shape(v)?.[0] === symbol) {
      graph.setOutputInfo(i, withDim0(graph.outputInfos[i]!, symbol));
      report.outputs.push(v.name);
    } else {
      problems.push(`output '${v.name}' keeps batch 1${whereLost(graph, info, symbol, v)}`);
    }
  });
  // Declared intermediate shapes with batch 1 would now contradict the graph: fix or drop them.
  graph.setValueInfos(graph.valueInfos.flatMap((entry) => {
    if (dim0(entry.info) !== 1) return [entry];
    const inferred = info.shape(entry.value)?.[0];
    if (inferred === symbol) return [{ value: entry.value, info: withDim0(entry.info, symbol) }];
    return inferred === 1 ? [entry] : [];
  }));
  if (problems.length > 0) {
    throw new UnsupportedModelError(`cannot free the batch dimension: ${problems.join('; ')}`, { code: 'batch-not-freeable' });
  }
  return report;
}

/** The first node on the way to `out` whose input carries the batch and whose outputs do not. */
function whereLost(graph: Graph, info: ShapeInfo, symbol: string, out: Value): string {
  const ancestors = new Set<Value>([out]);
  const nodes = graph.nodes;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (n.outputs.some((o) => ancestors.has(o))) for (const v of n.inputs) if (v) ancestors.add(v);
  }
  for (const n of nodes) {
    if (!n.outputs.some((o) => ancestors.has(o))) continue;
    const carries = n.inputs.some((v) => v && info.shape(v)?.[0] === symbol);
    if (carries && n.outputs.every((o) => info.shape(o)?.[0] !== symbol)) {
      return `: the batch is lost at ${n.opType} node '${n.label}'`;
    }
  }
  return '';
}
