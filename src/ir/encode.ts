// IR → ONNX protobuf. Container messages (model, graph, function) are written in their decoded field
// order with unknown fields in place; leaf messages are written as their source bytes when nothing
// in them changed (origin.ts), else canonically (field-number order, unknown fields last).

import { Attribute, AttributeField, AttributeType } from './attribute.js';
import type { IrFunction } from './function.js';
import type { Graph, LayoutEntry } from './graph.js';
import type { MetadataEntry, Model, OpsetImport } from './model.js';
import type { Node } from './node.js';
import { type Origin, emitWithOrigin } from './origin.js';
import type { Tensor } from './tensor.js';
import type { ValueInfo } from './value-info.js';
import { ChunkWriter, WireType } from './wire.js';

// Field numbers repeated here rather than imported from decode.ts to keep the two modules acyclic.
const M = { irVersion: 1, producerName: 2, producerVersion: 3, domain: 4, modelVersion: 5, docString: 6, graph: 7, opsetImport: 8, metadataProps: 14, functions: 25 };
const G = { node: 1, name: 2, initializer: 5, docString: 10, input: 11, output: 12, valueInfo: 13, sparseInitializer: 15 };
const F = { name: 1, input: 4, output: 5, attribute: 6, node: 7, docString: 8, opsetImport: 9, domain: 10, attributeProto: 11, valueInfo: 12, overload: 13 };

/** Encodes a model as a list of chunks (initializer bytes are views of the input, not copies). */
export function encodeModel(model: Model, tensorBytes: (t: Tensor) => Uint8Array = (t) => t.encode()): ChunkWriter {
  const w = new ChunkWriter();
  const emit: Record<number, () => void> = {
    [M.irVersion]: () => w.int64Field(M.irVersion, model.irVersion),
    [M.producerName]: () => model.producerName !== null && w.stringField(M.producerName, model.producerName),
    [M.producerVersion]: () => model.producerVersion !== null && w.stringField(M.producerVersion, model.producerVersion),
    [M.domain]: () => model.domain !== null && w.stringField(M.domain, model.domain),
    [M.modelVersion]: () => model.modelVersion !== null && w.int64Field(M.modelVersion, model.modelVersion),
    [M.docString]: () => model.docString !== null && w.stringField(M.docString, model.docString),
    [M.graph]: () => w.messageField(M.graph, encodeGraph(model.graph, tensorBytes)),
    [M.opsetImport]: () => model.opsetImports.forEach((o) => w.bytesField(M.opsetImport, emitWithOrigin(o.origin, encodeOpsetImport(o)))),
    [M.metadataProps]: () => model.metadataProps.forEach((m) => w.bytesField(M.metadataProps, emitWithOrigin(m.origin, encodeStringEntry(m)))),
    [M.functions]: () => model.functions.forEach((f) => w.messageField(M.functions, encodeFunction(f))),
  };
  writeInLayout(w, model.layout, emit, Object.values(M));
  if (!model.layout) for (const f of model.unknownFields) w.push(f.bytes);
  return w;
}

/**
 * Writes known fields at the position their first occurrence had (all elements of a repeated field
 * together), unknown fields where they were, and known fields the source lacked at the end.
 */
function writeInLayout(w: ChunkWriter, layout: LayoutEntry[] | null, emit: Record<number, () => void>, canonicalOrder: number[]): void {
  const done = new Set<number>();
  for (const entry of layout ?? []) {
    if (typeof entry === 'number') {
      if (done.has(entry)) continue;
      done.add(entry);
      emit[entry]!();
    } else {
      w.push(entry.bytes);
    }
  }
  for (const no of [...canonicalOrder].sort((a, b) => a - b)) if (!done.has(no)) emit[no]!();
}

export function encodeGraph(graph: Graph, tensorBytes: (t: Tensor) => Uint8Array = (t) => t.encode()): ChunkWriter {
  const w = new ChunkWriter();
  const emit: Record<number, () => void> = {
    [G.node]: () => { for (const n of graph.nodes) writeWithOrigin(w, G.node, n.origin, n, writeNodeFields); },
    [G.name]: () => (graph.layout?.includes(G.name) || graph.name !== '') && w.stringField(G.name, graph.name),
    [G.initializer]: () => {
      for (const v of graph.initializers.values()) {
        if (v.initializer) w.bytesField(G.initializer, tensorBytes(v.initializer));
      }
    },
    [G.docString]: () => graph.docString !== null && w.stringField(G.docString, graph.docString),
    [G.input]: () => graph.inputs.forEach((v, i) => w.bytesField(G.input, emitValueInfo(v.name, graph.inputInfos[i]))),
    [G.output]: () => graph.outputs.forEach((v, i) => w.bytesField(G.output, emitValueInfo(v.name, graph.outputInfos[i]))),
    [G.valueInfo]: () => graph.valueInfos.forEach((e) => w.bytesField(G.valueInfo, emitValueInfo(e.value.name, e.info))),
    [G.sparseInitializer]: () => graph.sparseInitializers.forEach((s) => w.bytesField(G.sparseInitializer, s.bytes)),
  };
  // Unknown graph fields of a graph built in memory go last.
  writeInLayout(w, graph.layout, emit, Object.values(G));
  if (!graph.layout) for (const f of graph.unknownFields) w.push(f.bytes);
  return w;
}

/** Canonical NodeProto encoding of the node's current state. */
export function encodeNode(node: Node): Uint8Array {
  const w = new ChunkWriter();
  writeNodeFields(w, node);
  return w.toBytes();
}

function writeNodeFields(w: ChunkWriter, node: Node): void {
  for (const v of node.inputs) w.stringField(1, v?.name ?? '');
  for (const v of node.outputs) w.stringField(2, v.name);
  if (node.name !== '') w.stringField(3, node.name);
  w.stringField(4, node.opType);
  for (const a of node.attributes.values()) writeWithOrigin(w, 5, a.origin, a, writeAttributeFields);
  if (node.docString !== null) w.stringField(6, node.docString);
  if (node.domain !== '') w.stringField(7, node.domain);
  if (node.overload !== null) w.stringField(8, node.overload);
  for (const f of node.unknownFields) w.push(f.bytes);
}

/**
 * Scratch writers for the canonical encodings compared against origins, one per nesting level in use (a
 * node's attribute is encoded while the node is; a graph attribute holds nodes again). Reusing them saves
 * a writer, a buffer and a copy per node and per attribute: on a 128k-node graph that was most of encoding.
 */
const scratchWriters: ChunkWriter[] = [];

/**
 * Writes field `no` holding a message: its source bytes when its canonical encoding now equals the one at
 * decode time (emitWithOrigin's rule), else the canonical encoding.
 */
function writeWithOrigin<T>(w: ChunkWriter, no: number, origin: Origin | null, message: T, fields: (w: ChunkWriter, m: T) => void): void {
  const s = scratchWriters.pop() ?? new ChunkWriter();
  try {
    fields(s, message);
    if (origin && s.equals(origin.canon ?? origin.src)) {
      w.bytesField(no, origin.src);
    } else {
      w.tag(no, WireType.LengthDelimited);
      w.varint(s.length);
      s.appendTo(w);
    }
  } finally {
    s.reset();
    scratchWriters.push(s);
  }
}

export function emitAttribute(attr: Attribute): Uint8Array {
  return emitWithOrigin(attr.origin, encodeAttribute(attr));
}

export function encodeAttribute(attr: Attribute): Uint8Array {
  const w = new ChunkWriter();
  writeAttributeFields(w, attr);
  return w.toBytes();
}

function writeAttributeFields(w: ChunkWriter, attr: Attribute): void {
  w.stringField(AttributeField.name, attr.name);
  const d = attr.data;
  switch (d.type) {
    case AttributeType.FLOAT: w.floatField(AttributeField.f, d.value as number); break;
    case AttributeType.INT: w.int64Field(AttributeField.i, d.value as bigint); break;
    case AttributeType.STRING: w.bytesField(AttributeField.s, d.value as Uint8Array); break;
    case AttributeType.TENSOR: w.bytesField(AttributeField.t, (d.value as Tensor).encode()); break;
    case AttributeType.GRAPH: w.messageField(AttributeField.g, encodeGraph(d.value as Graph)); break;
    case AttributeType.FLOATS: for (const v of d.value as number[]) w.floatField(AttributeField.floats, v); break;
    case AttributeType.INTS: for (const v of d.value as bigint[]) w.int64Field(AttributeField.ints, v); break;
    case AttributeType.STRINGS: for (const v of d.value as Uint8Array[]) w.bytesField(AttributeField.strings, v); break;
    case AttributeType.TENSORS: for (const v of d.value as Tensor[]) w.bytesField(AttributeField.tensors, v.encode()); break;
    case AttributeType.GRAPHS: for (const g of d.value as Graph[]) w.messageField(AttributeField.graphs, encodeGraph(g)); break;
  }
  if (attr.docString !== null) w.stringField(AttributeField.docString, attr.docString);
  if (d.type !== AttributeType.UNDEFINED || attr.refAttrName === null) w.int64Field(AttributeField.type, d.type);
  if (attr.refAttrName !== null) w.stringField(AttributeField.refAttrName, attr.refAttrName);
  for (const f of attr.unknownFields) w.push(f.bytes);
}

function emitValueInfo(name: string, info: ValueInfo | undefined): Uint8Array {
  if (!info) return encodeValueInfo(name, null);
  return emitWithOrigin(info.origin, encodeValueInfo(name, info));
}

export function encodeValueInfo(name: string, info: ValueInfo | null): Uint8Array {
  const w = new ChunkWriter();
  w.stringField(1, name);
  if (info?.typeBytes) w.bytesField(2, info.typeBytes);
  if (info?.docString != null) w.stringField(3, info.docString);
  for (const f of info?.unknownFields ?? []) w.push(f.bytes);
  return w.toBytes();
}

export function encodeOpsetImport(o: OpsetImport): Uint8Array {
  const w = new ChunkWriter();
  w.stringField(1, o.domain);
  w.int64Field(2, o.version);
  return w.toBytes();
}

export function encodeStringEntry(e: MetadataEntry): Uint8Array {
  const w = new ChunkWriter();
  w.stringField(1, e.key);
  w.stringField(2, e.value);
  return w.toBytes();
}

function encodeFunction(fn: IrFunction): ChunkWriter {
  const w = new ChunkWriter();
  const body = fn.body;
  const emit: Record<number, () => void> = {
    [F.name]: () => w.stringField(F.name, fn.name),
    [F.input]: () => body.inputs.forEach((v) => w.stringField(F.input, v.name)),
    [F.output]: () => body.outputs.forEach((v) => w.stringField(F.output, v.name)),
    [F.attribute]: () => fn.attributeNames.forEach((a) => w.stringField(F.attribute, a)),
    [F.node]: () => { for (const n of body.nodes) writeWithOrigin(w, F.node, n.origin, n, writeNodeFields); },
    [F.docString]: () => fn.docString !== null && w.stringField(F.docString, fn.docString),
    [F.opsetImport]: () => fn.opsetImports.forEach((o) => w.bytesField(F.opsetImport, emitWithOrigin(o.origin, encodeOpsetImport(o)))),
    [F.domain]: () => w.stringField(F.domain, fn.domain),
    [F.attributeProto]: () => fn.attributeDefaults.forEach((a) => w.bytesField(F.attributeProto, emitAttribute(a))),
    [F.valueInfo]: () => body.valueInfos.forEach((e) => w.bytesField(F.valueInfo, emitValueInfo(e.value.name, e.info))),
    [F.overload]: () => fn.overload !== null && w.stringField(F.overload, fn.overload),
  };
  writeInLayout(w, fn.layout, emit, Object.values(F));
  if (!fn.layout) for (const f of fn.unknownFields) w.push(f.bytes);
  return w;
}

