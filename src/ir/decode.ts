// ONNX protobuf → IR. Every field the IR does not model is kept (as a raw field, at its position in
// container messages), and every leaf message remembers its source bytes (see origin.ts).

import { Attribute, AttributeField, AttributeType, type AttributeValue } from './attribute.js';
import { encodeAttribute, encodeNode, encodeOpsetImport, encodeStringEntry, encodeValueInfo } from './encode.js';
import { ModelFormatError } from './errors.js';
import { IrFunction } from './function.js';
import { Graph, type LayoutEntry } from './graph.js';
import { type MetadataEntry, Model, type OpsetImport } from './model.js';
import { Node } from './node.js';
import { canonicalOrigin, makeOrigin } from './origin.js';
import { NodeCanonicalCheck } from './node-canonical.js';
import { Tensor } from './tensor.js';
import { Value } from './value.js';
import { ValueInfo } from './value-info.js';
import {
  FieldCursor, type RawField, WireType, appendFloats, appendInt64s, asFloat, asInt64, asString, parseFields,
} from './wire.js';

export const ModelField = {
  irVersion: 1, producerName: 2, producerVersion: 3, domain: 4, modelVersion: 5, docString: 6, graph: 7,
  opsetImport: 8, metadataProps: 14, functions: 25,
} as const;

export const GraphField = {
  node: 1, name: 2, initializer: 5, docString: 10, input: 11, output: 12, valueInfo: 13, sparseInitializer: 15,
} as const;

export const NodeField = {
  input: 1, output: 2, name: 3, opType: 4, attribute: 5, docString: 6, domain: 7, overload: 8,
} as const;

export const FunctionField = {
  name: 1, input: 4, output: 5, attribute: 6, node: 7, docString: 8, opsetImport: 9, domain: 10,
  attributeProto: 11, valueInfo: 12, overload: 13,
} as const;

const MODEL_KNOWN = new Set<number>(Object.values(ModelField));
const GRAPH_KNOWN = new Set<number>(Object.values(GraphField));
const FUNCTION_KNOWN = new Set<number>(Object.values(FunctionField));

/** Decodes a ModelProto. `baseDir` is where external-data locations are resolved (validated by the loader). */
export function decodeModel(bytes: Uint8Array, baseDir: string | null = null): Model {
  if (bytes.length === 0) throw new ModelFormatError('empty file: not an ONNX model');
  const fields = parseFields(bytes);
  let graphField: RawField | null = null;
  const layout: LayoutEntry[] = [];
  const functionFields: RawField[] = [];
  const model = new Model(new Graph(''));
  model.baseDir = baseDir;
  for (const f of fields) {
    layout.push(MODEL_KNOWN.has(f.no) ? f.no : f);
    switch (f.no) {
      case ModelField.irVersion: model.irVersion = asInt64(f); break;
      case ModelField.producerName: model.producerName = asString(f); break;
      case ModelField.producerVersion: model.producerVersion = asString(f); break;
      case ModelField.domain: model.domain = asString(f); break;
      case ModelField.modelVersion: model.modelVersion = asInt64(f); break;
      case ModelField.docString: model.docString = asString(f); break;
      case ModelField.graph:
        // Protobuf would merge a repeated singular message; ONNX writers never split the graph, so a
        // second one is refused rather than half-read.
        if (graphField) throw new ModelFormatError('the model has two graph fields');
        graphField = f;
        break;
      case ModelField.opsetImport: model.opsetImports.push(decodeOpsetImport(f)); break;
      case ModelField.metadataProps: model.metadataProps.push(decodeStringEntry(f)); break;
      case ModelField.functions: functionFields.push(f); break;
      default: model.unknownFields.push(f);
    }
  }
  if (!graphField) throw new ModelFormatError('not an ONNX model: no graph');
  if (graphField.wireType !== WireType.LengthDelimited) throw new ModelFormatError('not an ONNX model: graph field has the wrong wire type');
  if (!fields.some((f) => f.no === ModelField.irVersion)) throw new ModelFormatError('not an ONNX model: no ir_version');
  model.layout = layout;
  model.graph = decodeGraph(graphField.payload, null);
  for (const f of functionFields) model.functions.push(decodeFunction(f));
  return model;
}

function decodeOpsetImport(f: RawField): OpsetImport {
  let domain = '';
  let version = 0n;
  for (const x of parseFields(message(f))) {
    if (x.no === 1) domain = asString(x);
    else if (x.no === 2) version = asInt64(x);
  }
  const entry: OpsetImport = { domain, version };
  entry.origin = makeOrigin(f.payload, encodeOpsetImport(entry));
  return entry;
}

function decodeStringEntry(f: RawField): MetadataEntry {
  let key = '';
  let value = '';
  for (const x of parseFields(message(f))) {
    if (x.no === 1) key = asString(x);
    else if (x.no === 2) value = asString(x);
  }
  const entry: MetadataEntry = { key, value };
  entry.origin = makeOrigin(f.payload, encodeStringEntry(entry));
  return entry;
}

function message(f: RawField): Uint8Array {
  if (f.wireType !== WireType.LengthDelimited) throw new ModelFormatError(`field ${f.no} should be a message`);
  return f.payload;
}

/** A scope while decoding: name → value, for the graph being decoded and its enclosing graphs. */
class DecodeScope {
  readonly names = new Map<string, Value>();
  readonly depth: number;
  constructor(readonly graph: Graph, readonly parent: DecodeScope | null) {
    this.depth = parent ? parent.depth + 1 : 0;
  }

  define(v: Value): void {
    v.scope = this.graph;
    // First definition wins; a duplicate is left for the verifier to report.
    if (!this.names.has(v.name)) this.names.set(v.name, v);
  }

  resolve(name: string): Value {
    for (let s: DecodeScope | null = this; s; s = s.parent) {
      const v = s.names.get(name);
      if (v) return v;
    }
    // Undefined name: keep it as a value without a scope; the verifier names it.
    const dangling = new Value(name);
    this.names.set(name, dangling);
    dangling.scope = null;
    return dangling;
  }
}

/**
 * Subgraph nesting accepted (If inside Loop inside …). Real models nest a few levels; the limit keeps a
 * hostile file from exhausting the stack.
 */
export const MAX_SUBGRAPH_DEPTH = 64;

function decodeGraph(bytes: Uint8Array, parentScope: DecodeScope | null, outer: Graph | null = parentScope?.graph ?? null): Graph {
  if (parentScope && parentScope.depth >= MAX_SUBGRAPH_DEPTH) {
    throw new ModelFormatError(`subgraphs nested deeper than ${MAX_SUBGRAPH_DEPTH} levels`);
  }
  const graph = new Graph('', outer);
  const scope = new DecodeScope(graph, parentScope);
  const layout: LayoutEntry[] = [];
  // Node messages as [start, end, wire type] triples: read once the scope's inputs and initializers are known.
  const nodeBounds: number[] = [];
  const outputFields: RawField[] = [];
  const valueInfoFields: RawField[] = [];
  const c = new FieldCursor();
  checkFraming(c, bytes);
  c.reset(bytes);
  while (c.next()) {
    const no = c.no;
    if (no === GraphField.node) {
      // A repeated known field is written at its first position (encode.ts writeInLayout): one entry per run.
      if (layout[layout.length - 1] !== no) layout.push(no);
      nodeBounds.push(c.payloadStart, c.payloadEnd, c.wireType);
      continue;
    }
    const f = c.raw();
    layout.push(GRAPH_KNOWN.has(no) ? no : f);
    switch (no) {
      case GraphField.name: graph.name = asString(f); break;
      case GraphField.docString: graph.docString = asString(f); break;
      case GraphField.initializer: {
        const t = Tensor.decode(message(f));
        const v = new Value(t.name);
        v.initializer = t;
        // Keep file order; a duplicate initializer name is kept under a distinct key for the verifier.
        let key = t.name;
        for (let i = 1; graph.initializers.has(key); i++) key = `${t.name}\u0000dup${i}`;
        graph.initializers.set(key, v);
        scope.define(v);
        break;
      }
      case GraphField.sparseInitializer: {
        const tensors = sparseParts(message(f));
        const v = new Value(tensors[0]?.name ?? '');
        graph.sparseInitializers.push({ value: v, bytes: f.payload, tensors });
        scope.define(v);
        break;
      }
      case GraphField.input: {
        const { name, info } = decodeValueInfo(f);
        // Before IR 4 an input may also be an initializer: then both are the same value.
        const existing = scope.names.get(name);
        const v = existing && existing.initializer ? existing : new Value(name);
        if (v !== existing) scope.define(v);
        graph.addInput(v, info);
        break;
      }
      case GraphField.output: outputFields.push(f); break;
      case GraphField.valueInfo: valueInfoFields.push(f); break;
      default: graph.unknownFields.push(f);
    }
  }
  graph.layout = layout;
  // Initializers listed after an input of the same name (old models): unify them with the input.
  const inputsByName = new Map<string, Value>();
  for (const i of graph.inputs) if (!inputsByName.has(i.name)) inputsByName.set(i.name, i);
  for (const [k, v] of graph.initializers) {
    const found = inputsByName.get(v.name);
    const input = found !== v ? found : graph.inputs.find((i) => i.name === v.name && i !== v);
    if (input && !input.initializer) {
      input.initializer = v.initializer;
      graph.initializers.set(k, input);
    }
  }

  const nodes = decodeNodes(graph, scope, bytes, nodeBounds, GraphField.node);
  for (const f of outputFields) {
    const { name, info } = decodeValueInfo(f);
    graph.addOutput(scope.resolve(name), info);
  }
  for (const f of valueInfoFields) {
    const { name, info } = decodeValueInfo(f);
    graph.addValueInfo(scope.resolve(name), info);
  }
  nodes.finish(scope);
  return graph;
}

/** The values (first) and indices tensors of a SparseTensorProto, so their external data is checked and copied. */
function sparseParts(bytes: Uint8Array): Tensor[] {
  const values: Tensor[] = [];
  const indices: Tensor[] = [];
  for (const f of parseFields(bytes)) {
    if (f.no === 1) values.push(Tensor.decode(message(f)));
    else if (f.no === 2) indices.push(Tensor.decode(message(f)));
  }
  return [...values, ...indices];
}

function decodeValueInfo(f: RawField): { name: string; info: ValueInfo } {
  let name = '';
  const info = new ValueInfo(null);
  for (const x of parseFields(message(f))) {
    if (x.no === 1) name = asString(x);
    else if (x.no === 2) info.typeBytes = message(x);
    else if (x.no === 3) info.docString = asString(x);
    else info.unknownFields.push(x);
  }
  info.origin = makeOrigin(f.payload, encodeValueInfo(name, info));
  return { name, info };
}

function decodeAttribute(bytes: Uint8Array): { attr: Attribute; graphRaws: RawField[] | null; src: Uint8Array } {
  const fields = parseFields(bytes);
  let name = '';
  let type: number | null = null;
  let refAttrName: string | null = null;
  let docString: string | null = null;
  const floats: number[] = [];
  const ints: bigint[] = [];
  const strings: Uint8Array[] = [];
  const tensors: Tensor[] = [];
  const graphRaws: RawField[] = [];
  let f32: number | null = null;
  let i64: bigint | null = null;
  let s: Uint8Array | null = null;
  let t: Tensor | null = null;
  let g: RawField | null = null;
  const unknown: RawField[] = [];
  for (const x of fields) {
    switch (x.no) {
      case AttributeField.name: name = asString(x); break;
      case AttributeField.type: type = Number(asInt64(x)); break;
      case AttributeField.refAttrName: refAttrName = asString(x); break;
      case AttributeField.docString: docString = asString(x); break;
      case AttributeField.f: f32 = asFloat(x); break;
      case AttributeField.i: i64 = asInt64(x); break;
      case AttributeField.s: s = message(x); break;
      case AttributeField.t: t = Tensor.decode(message(x)); break;
      case AttributeField.g: g = x; break;
      case AttributeField.floats: appendFloats(x, floats); break;
      case AttributeField.ints: appendInt64s(x, ints); break;
      case AttributeField.strings: strings.push(message(x)); break;
      case AttributeField.tensors: tensors.push(Tensor.decode(message(x))); break;
      case AttributeField.graphs: graphRaws.push(x); break;
      default: unknown.push(x);
    }
  }
  // Before IR 2 the type field did not exist: infer it from the one value present.
  if (type === null) {
    type = f32 !== null ? AttributeType.FLOAT : i64 !== null ? AttributeType.INT : s !== null ? AttributeType.STRING
      : t !== null ? AttributeType.TENSOR : g !== null ? AttributeType.GRAPH : floats.length ? AttributeType.FLOATS
      : ints.length ? AttributeType.INTS : strings.length ? AttributeType.STRINGS : tensors.length ? AttributeType.TENSORS
      : graphRaws.length ? AttributeType.GRAPHS : AttributeType.UNDEFINED;
  }
  let data: AttributeValue;
  let pendingGraphs: RawField[] | null = null;
  switch (type) {
    case AttributeType.FLOAT: data = { type, value: f32 ?? 0 }; break;
    case AttributeType.INT: data = { type, value: i64 ?? 0n }; break;
    case AttributeType.STRING: data = { type, value: s ?? new Uint8Array() }; break;
    case AttributeType.TENSOR:
      if (!t) throw new ModelFormatError(`attribute '${name}' of type TENSOR has no tensor`);
      data = { type, value: t };
      break;
    case AttributeType.GRAPH:
      if (!g) throw new ModelFormatError(`attribute '${name}' of type GRAPH has no graph`);
      data = { type: AttributeType.GRAPH, value: new Graph('') }; // placeholder until decoded
      pendingGraphs = [g];
      break;
    case AttributeType.FLOATS: data = { type, value: floats }; break;
    case AttributeType.INTS: data = { type, value: ints }; break;
    case AttributeType.STRINGS: data = { type, value: strings }; break;
    case AttributeType.TENSORS: data = { type, value: tensors }; break;
    case AttributeType.GRAPHS: data = { type: AttributeType.GRAPHS, value: [] }; pendingGraphs = graphRaws; break;
    default: data = { type, value: null };
  }
  const attr = new Attribute(name, data);
  attr.refAttrName = refAttrName;
  attr.docString = docString;
  // Fields outside the typed value (sparse tensors, type protos, values of other types that old
  // exporters wrote beside the real one) are kept as unknown fields.
  const typedField = typedFieldNumber(type);
  let unknownFields: RawField[] | null = null;
  for (const x of fields) {
    const modelled = x.no === AttributeField.name || x.no === AttributeField.type || x.no === AttributeField.refAttrName
      || x.no === AttributeField.docString || x.no === typedField;
    if (!modelled) (unknownFields ??= []).push(x);
  }
  if (unknownFields) attr.unknownFields = unknownFields;
  return { attr, graphRaws: pendingGraphs, src: bytes };
}

/** The AttributeProto field holding a value of this type, or 0 for none. */
function typedFieldNumber(type: number): number {
  switch (type) {
    case AttributeType.FLOAT: return AttributeField.f;
    case AttributeType.INT: return AttributeField.i;
    case AttributeType.STRING: return AttributeField.s;
    case AttributeType.TENSOR: return AttributeField.t;
    case AttributeType.GRAPH: return AttributeField.g;
    case AttributeType.FLOATS: return AttributeField.floats;
    case AttributeType.INTS: return AttributeField.ints;
    case AttributeType.STRINGS: return AttributeField.strings;
    case AttributeType.TENSORS: return AttributeField.tensors;
    case AttributeType.GRAPHS: return AttributeField.graphs;
    default: return 0;
  }
}

function decodeFunction(f: RawField): IrFunction {
  const bytes = message(f);
  const layout: LayoutEntry[] = [];
  let name = '';
  let domain = '';
  const inputNames: string[] = [];
  const outputNames: string[] = [];
  const nodeBounds: number[] = [];
  const valueInfoFields: RawField[] = [];
  const fn = new IrFunction('', '', new Graph(''));
  const c = new FieldCursor();
  checkFraming(c, bytes);
  c.reset(bytes);
  while (c.next()) {
    const no = c.no;
    if (no === FunctionField.node) {
      if (layout[layout.length - 1] !== no) layout.push(no);
      nodeBounds.push(c.payloadStart, c.payloadEnd, c.wireType);
      continue;
    }
    const x = c.raw();
    layout.push(FUNCTION_KNOWN.has(no) ? no : x);
    switch (no) {
      case FunctionField.name: name = asString(x); break;
      case FunctionField.domain: domain = asString(x); break;
      case FunctionField.overload: fn.overload = asString(x); break;
      case FunctionField.docString: fn.docString = asString(x); break;
      case FunctionField.input: inputNames.push(asString(x)); break;
      case FunctionField.output: outputNames.push(asString(x)); break;
      case FunctionField.attribute: fn.attributeNames.push(asString(x)); break;
      case FunctionField.attributeProto: {
        const { attr, src } = decodeAttribute(message(x));
        attr.origin = makeOrigin(src, encodeAttribute(attr));
        fn.attributeDefaults.push(attr);
        break;
      }
      case FunctionField.opsetImport: fn.opsetImports.push(decodeOpsetImport(x)); break;
      case FunctionField.valueInfo: valueInfoFields.push(x); break;
      default: fn.unknownFields.push(x);
    }
  }
  fn.name = name;
  fn.domain = domain;
  fn.layout = layout;
  // The body is decoded as a graph so the graph decoder does the scoping: inputs and outputs are plain
  // names in a FunctionProto, so they are recorded as typeless value infos.
  const body = decodeFunctionBody(inputNames, outputNames, bytes, nodeBounds, valueInfoFields);
  body.name = name;
  fn.body = body;
  return fn;
}

function decodeFunctionBody(inputs: string[], outputs: string[], bytes: Uint8Array, nodeBounds: number[], valueInfos: RawField[]): Graph {
  const graph = new Graph('', null);
  const scope = new DecodeScope(graph, null);
  for (const n of inputs) {
    const v = new Value(n);
    if (n !== '') scope.define(v);
    graph.addInput(v, new ValueInfo(null));
  }
  const nodes = decodeNodes(graph, scope, bytes, nodeBounds, FunctionField.node);
  for (const n of outputs) {
    graph.addOutput(scope.resolve(n), new ValueInfo(null));
  }
  for (const f of valueInfos) {
    const { name, info } = decodeValueInfo(f);
    graph.addValueInfo(scope.resolve(name), info);
  }
  nodes.finish(scope);
  return graph;
}

/**
 * Walks a message's fields once without reading them, so that a malformed message fails with its framing
 * error before any field is interpreted, in the order parseFields-then-read had.
 */
function checkFraming(c: FieldCursor, bytes: Uint8Array): void {
  c.reset(bytes);
  while (c.next());
}

/**
 * Creates every node of a scope and its outputs first, then resolves the inputs, so names resolve whatever
 * the node order is. `bounds` holds [start, end, wire type] of each NodeProto in `bytes`.
 */
function decodeNodes(graph: Graph, scope: DecodeScope, bytes: Uint8Array, bounds: readonly number[], fieldNo: number): ScopeNodes {
  const nodes = new ScopeNodes(bytes);
  for (let i = 0; i < bounds.length; i += 3) {
    if (bounds[i + 2] !== WireType.LengthDelimited) throw new ModelFormatError(`field ${fieldNo} should be a message`);
    nodes.read(bounds[i]!, bounds[i + 1]!);
  }
  for (const node of nodes.nodes) {
    graph.append(node);
    for (const out of node.outputs) if (out.name !== '') scope.define(out);
  }
  nodes.resolveInputs(scope);
  return nodes;
}

/**
 * The nodes of one scope while it is decoded, read field by field with one cursor (nothing allocated
 * per field; arrays made at their final size): their input names until every name of the scope is
 * known, the attributes whose origin (and subgraphs) come last, and the nodes whose source bytes need a
 * re-encode to know their origin (see node-canonical.ts).
 */
class ScopeNodes {
  readonly nodes: Node[] = [];
  private readonly cursor = new FieldCursor();
  private readonly canonical = new NodeCanonicalCheck();
  /** Every node's input names, in node order; `inputCounts[i]` of them belong to node i. */
  private readonly inputNames: string[] = [];
  private readonly inputCounts: number[] = [];
  private readonly attributes: Array<{ attr: Attribute; src: Uint8Array; graphs: RawField[] | null }> = [];
  private readonly reencode: Array<{ node: Node; src: Uint8Array }> = [];

  constructor(private readonly bytes: Uint8Array) {}

  /** Reads the NodeProto at bytes[start, end). */
  read(start: number, end: number): void {
    const bytes = this.bytes;
    const c = this.cursor;
    // First the framing (see checkFraming), which also gives the sizes of the node's arrays.
    let inputs = 0;
    let outputs = 0;
    let attributeCount = 0;
    c.reset(bytes, start, end);
    while (c.next()) {
      if (c.no === NodeField.input) inputs++;
      else if (c.no === NodeField.output) outputs++;
      else if (c.no === NodeField.attribute) attributeCount++;
    }
    const outputValues = new Array<Value>(outputs);
    const attrs = new Array<Attribute>(attributeCount);
    let name = '';
    let opType = '';
    let domain = '';
    let overload: string | null = null;
    let docString: string | null = null;
    let unknown: RawField[] | null = null;
    let sawOpType = false;
    let o = 0;
    let a = 0;
    const check = this.canonical;
    check.reset();
    c.reset(bytes, start, end);
    while (c.next()) {
      check.field(c.no, c.wireType, bytes, c.fieldStart, c.payloadStart, c.payloadEnd);
      switch (c.no) {
        case NodeField.input: this.inputNames.push(c.string()); break;
        case NodeField.output: outputValues[o++] = new Value(c.string()); break;
        case NodeField.name: name = c.string(); break;
        case NodeField.opType: opType = c.string(); sawOpType = true; break;
        case NodeField.domain: domain = c.string(); break;
        case NodeField.overload: overload = c.string(); break;
        case NodeField.docString: docString = c.string(); break;
        case NodeField.attribute: {
          c.expectMessage();
          const { attr, graphRaws, src } = decodeAttribute(c.payload());
          attrs[a++] = attr;
          this.attributes.push({ attr, src, graphs: graphRaws });
          break;
        }
        default: (unknown ??= []).push(c.raw());
      }
    }
    if (!sawOpType) throw new ModelFormatError(`node '${name || outputValues[0]?.name || '?'}' has no op_type`);
    const node = new Node(opType, NO_INPUTS, { domain, name, attributes: attrs, outputs: outputValues });
    node.overload = overload;
    node.docString = docString;
    if (unknown) node.unknownFields = unknown;
    this.inputCounts.push(inputs);
    const src = bytes.subarray(start, end);
    if (check.result(node.attributes.size)) node.origin = canonicalOrigin(src);
    else this.reencode.push({ node, src });
    this.nodes.push(node);
  }

  /** Gives every node its inputs, once every name of the scope is defined. */
  resolveInputs(scope: DecodeScope): void {
    const names = this.inputNames;
    let k = 0;
    for (let i = 0; i < this.nodes.length; i++) {
      const count = this.inputCounts[i]!;
      if (count === 0) continue;
      const values = new Array<Value | null>(count);
      for (let j = 0; j < count; j++) {
        const name = names[k++]!;
        values[j] = name === '' ? null : scope.resolve(name);
      }
      this.nodes[i]!._adoptInputs(values);
    }
    this.inputNames.length = 0;
  }

  /** Decodes subgraphs (last: they may use any value of the enclosing scope), then records origins. */
  finish(scope: DecodeScope): void {
    for (const { attr, graphs: raws } of this.attributes) {
      if (!raws) continue;
      const graphs = raws.map((r) => decodeGraph(message(r), scope));
      attr.data = attr.data.type === AttributeType.GRAPH
        ? { type: AttributeType.GRAPH, value: graphs[0]! }
        : { type: AttributeType.GRAPHS, value: graphs };
    }
    for (const { attr, src } of this.attributes) attr.origin = makeOrigin(src, encodeAttribute(attr));
    for (const { node, src } of this.reencode) node.origin = makeOrigin(src, encodeNode(node));
  }
}

const NO_INPUTS: readonly Value[] = [];
