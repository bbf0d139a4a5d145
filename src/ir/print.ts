// A readable text form of the IR, one line per node, for golden tests, debugging and `--verbose`
// output. It shows what a pass changes (ops, wiring, attributes, small constants, declared types) and
// leaves out what it does not (large weights, origins, layout). The form is stable: golden files
// depend on it, so change it only with them.
//
//   graph 'main' (x: float[N,3,8,8]) -> (y: float[N,10])
//     init w: float[8,3,3,3]
//     init kappa: float[] = 0.5
//     conv_out = Conv(x, w, b) {kernel_shape: [3, 3], pads: [1, 1, 1, 1]}   # 'conv1'
//     y = com.jumprelu::JumpRelu(conv_out) {kappa: 0.5}
//
// Subgraphs are printed after the node that holds them, indented; functions after the main graph.

import { type Attribute, AttributeType } from './attribute.js';
import { tensorValues } from './analysis/constants.js';
import type { IrFunction } from './function.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { Node } from './node.js';
import { DataType, type Tensor } from './tensor.js';
import type { Value } from './value.js';
import type { ValueInfo } from './value-info.js';

export interface PrintOptions {
  /** Constants with at most this many elements are printed with their values (default 8). */
  maxValues?: number;
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]),
);

/** The whole model: header, main graph, functions. */
export function printModel(model: Model, options: PrintOptions = {}): string {
  const lines: string[] = [];
  const opsets = model.opsetImports.map((o) => `${o.domain === '' ? 'ai.onnx' : o.domain}:${o.version}`).join(', ');
  lines.push(`model ir_version=${model.irVersion} opsets=[${opsets}]`);
  printGraphInto(model.graph, '', lines, options);
  for (const f of model.functions) printFunctionInto(f, lines, options);
  return lines.join('\n') + '\n';
}

/** One graph (and its subgraphs), without the model header. */
export function printGraph(graph: Graph, options: PrintOptions = {}): string {
  const lines: string[] = [];
  printGraphInto(graph, '', lines, options);
  return lines.join('\n') + '\n';
}

/** One node on one line: `outs = [domain::]Op(ins) {attrs}   # 'name'`. */
export function printNode(node: Node, options: PrintOptions = {}): string {
  const outs = node.outputs.map((v) => valueName(v)).join(', ');
  const op = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}::${node.opType}`;
  const ins = node.inputs.map((v) => (v ? valueName(v) : '_')).join(', ');
  const attrs = [...node.attributes.values()].map((a) => `${a.name}: ${attributeText(a, options)}`);
  const attrText = attrs.length > 0 ? ` {${attrs.join(', ')}}` : '';
  const name = node.name !== '' ? `   # '${node.name}'` : '';
  return `${outs === '' ? '' : `${outs} = `}${op}(${ins})${attrText}${name}`;
}

/** A declared type as `float[N,3,8,8]`, `float[?]` (unknown rank: `float`), or `?` (none). */
export function typeText(info: ValueInfo | null | undefined): string {
  const t = info?.tensorType;
  if (!t) return info?.typeBytes ? 'non-tensor' : '?';
  const elem = TYPE_NAMES[t.elemType] ?? `type${t.elemType}`;
  if (!t.shape) return elem;
  return `${elem}[${t.shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

function printGraphInto(graph: Graph, indent: string, lines: string[], options: PrintOptions): void {
  const ins = graph.inputs.map((v, i) => `${valueName(v)}: ${typeText(graph.inputInfos[i])}`).join(', ');
  const outs = graph.outputs.map((v, i) => `${valueName(v)}: ${typeText(graph.outputInfos[i])}`).join(', ');
  lines.push(`${indent}graph '${graph.name}' (${ins}) -> (${outs})`);
  const inner = `${indent}  `;
  for (const v of graph.initializers.values()) {
    if (v.initializer) lines.push(`${inner}init ${valueName(v)}: ${tensorText(v.initializer, options)}`);
  }
  for (const s of graph.sparseInitializers) lines.push(`${inner}init ${valueName(s.value)}: sparse`);
  for (const e of graph.valueInfos) lines.push(`${inner}value ${valueName(e.value)}: ${typeText(e.info)}`);
  for (const node of graph.nodes) {
    lines.push(`${inner}${printNode(node, options)}`);
    for (const a of node.attributes.values()) {
      for (const sub of a.subgraphs) {
        lines.push(`${inner}  ${a.name}:`);
        printGraphInto(sub, `${inner}    `, lines, options);
      }
    }
  }
}

function printFunctionInto(f: IrFunction, lines: string[], options: PrintOptions): void {
  const attrs = [...f.attributeNames, ...f.attributeDefaults.map((a) => `${a.name}=${attributeText(a, options)}`)];
  const opsets = f.opsetImports.map((o) => `${o.domain === '' ? 'ai.onnx' : o.domain}:${o.version}`).join(', ');
  lines.push(`function ${f.domain}::${f.name} attrs [${attrs.join(', ')}] opsets=[${opsets}]`);
  printGraphInto(f.body, '  ', lines, options);
}

function valueName(v: Value): string {
  return /^[A-Za-z_][A-Za-z0-9_.:/\-]*$/.test(v.name) ? v.name : JSON.stringify(v.name);
}

function tensorText(t: Tensor, options: PrintOptions): string {
  const elem = TYPE_NAMES[t.dataType] ?? `type${t.dataType}`;
  const head = `${elem}[${t.dims.join(',')}]`;
  if (t.external) return `${head} external '${t.external.location}'`;
  const max = options.maxValues ?? 8;
  if (t.elementCount > BigInt(max)) return head;
  const values = tensorValues(t);
  if (!values) return head;
  return `${head} = ${values.length === 1 && t.dims.length === 0 ? numberText(values[0]!) : `[${values.map(numberText).join(', ')}]`}`;
}

function numberText(x: number): string {
  // Shortest text that reads back as the same float32 when the value is one (κ values are float32).
  if (Number.isInteger(x) || !Number.isFinite(x)) return String(x);
  const f = Math.fround(x);
  if (f === x) {
    for (let p = 1; p <= 9; p++) {
      const s = x.toPrecision(p);
      if (Math.fround(Number(s)) === f) return String(Number(s));
    }
  }
  return String(x);
}

function attributeText(a: Attribute, options: PrintOptions): string {
  if (a.refAttrName !== null) return `@${a.refAttrName}`;
  const d = a.data;
  switch (d.type) {
    case AttributeType.FLOAT: return numberText(d.value as number);
    case AttributeType.INT: return String(d.value);
    case AttributeType.STRING: return JSON.stringify(new TextDecoder().decode(d.value as Uint8Array));
    case AttributeType.FLOATS: return `[${(d.value as number[]).map(numberText).join(', ')}]`;
    case AttributeType.INTS: return `[${(d.value as bigint[]).join(', ')}]`;
    case AttributeType.STRINGS: return `[${(d.value as Uint8Array[]).map((s) => JSON.stringify(new TextDecoder().decode(s))).join(', ')}]`;
    case AttributeType.TENSOR: return tensorText(d.value as Tensor, options);
    case AttributeType.TENSORS: return `[${(d.value as Tensor[]).map((t) => tensorText(t, options)).join(', ')}]`;
    case AttributeType.GRAPH: return `graph '${(d.value as Graph).name}'`;
    case AttributeType.GRAPHS: return `[${(d.value as Graph[]).map((g) => `graph '${g.name}'`).join(', ')}]`;
    default: return `type${d.type}`;
  }
}
