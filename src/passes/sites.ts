// Finding the places a retrofit applies to: Relu nodes, JumpReLU sites a previous run made, and
// look-alikes that are reported but not converted (Clip(min=0) without --relu6, fused Conv+Relu).

import { AttributeType } from '../ir/attribute.js';
import type { IrFunction } from '../ir/function.js';
import type { Graph } from '../ir/graph.js';
import { readExternalBytes } from '../ir/io.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { InvalidModelError } from '../ir/errors.js';
import { DataType, type Tensor, TensorField } from '../ir/tensor.js';
import { appendFloats, appendInt64s, parseFields } from '../ir/wire.js';
import type { Value } from '../ir/value.js';
import { FUNCTION_DOMAIN, type SiteRecord, readRecord } from '../retrofit/record.js';
import { recognisesSite } from '../retrofit/forms/index.js';
import { constantTensor } from '../retrofit/forms/common.js';

export type SiteKind =
  /** A Relu node. */
  | 'relu'
  /** A JumpReLU site made by an earlier run (recorded in the model's metadata). */
  | 'jumprelu'
  /** Clip(min=0[, max]) — converted only with --relu6. */
  | 'clip'
  /** An operator with a built-in ReLU (com.microsoft FusedConv/FusedGemm, QLinear ops) — reported, never converted. */
  | 'fused'
  /** A QuantizeLinear the quantizer folded a Relu into (the Relu is gone) — reported. */
  | 'folded';

export interface Site {
  kind: SiteKind;
  /** Position among convertible sites (relu, jumprelu, clip), as --list prints and `#N` keys use. */
  index: number;
  node: Node;
  /** The graph holding the node. */
  graph: Graph;
  /** The model-local function whose body (or a subgraph of it) holds the node; null in the main graph's tree. */
  fn: IrFunction | null;
  /** The graph's path as the record and reports spell it (see graphsWithPaths). */
  graphPath: string;
  record?: SiteRecord;
  /** For 'clip', 'fused' and 'folded': why it is not a plain ReLU. */
  note?: string;
}

export interface PathedGraph {
  graph: Graph;
  path: string;
  /** The model-local function the graph belongs to (its body or a subgraph inside it), or null. */
  fn: IrFunction | null;
}

/** Visits every graph with a stable path: "main", "main/<node>.<attr>[i]", "function <domain>::<name>". */
export function* graphsWithPaths(model: Model): Generator<PathedGraph> {
  function* walk(graph: Graph, path: string, fn: IrFunction | null): Generator<PathedGraph> {
    yield { graph, path, fn };
    // Unnamed control-flow nodes are numbered among the nodes holding subgraphs only, so the path
    // stays the same when a pass inserts ordinary nodes before them.
    let holder = 0;
    for (const node of graph.nodes) {
      if (node.subgraphs.length === 0) continue;
      const label = node.name !== '' ? node.name : `#${holder}`;
      holder++;
      for (const attr of node.attributes.values()) {
        if (attr.data.type === AttributeType.GRAPH) yield* walk(attr.data.value as Graph, `${path}/${label}.${attr.name}`, fn);
        if (attr.data.type === AttributeType.GRAPHS) {
          for (const [k, g] of (attr.data.value as Graph[]).entries()) yield* walk(g, `${path}/${label}.${attr.name}[${k}]`, fn);
        }
      }
    }
  }
  yield* walk(model.graph, 'main', null);
  for (const f of model.functions) {
    if (f.domain === FUNCTION_DOMAIN) continue; // our own JumpRelu function body
    yield* walk(f.body, `function ${f.domain}::${f.name}`, f);
  }
}

export { CUSTOM_DOMAIN, FUNCTION_DOMAIN } from '../retrofit/record.js';

export function findSites(model: Model): Site[] {
  const record = readRecord(model);
  const recorded = new Map<string, SiteRecord>();
  const helpersByGraph = new Map<string, Set<string>>();
  for (const r of record?.sites ?? []) {
    recorded.set(`${r.graph}\u0000${r.node}`, r);
    // Nodes that belong to a recorded site but are not its output node (the `where` mask).
    if (r.mask_node) {
      let set = helpersByGraph.get(r.graph);
      if (!set) helpersByGraph.set(r.graph, (set = new Set()));
      set.add(r.mask_node);
    }
  }
  const sites: Site[] = [];
  let index = 0;
  for (const { graph, path, fn } of graphsWithPaths(model)) {
    const helperNodes = helpersByGraph.get(path);
    for (const node of graph.nodes) {
      const r = node.name !== '' ? recorded.get(`${path}\u0000${node.name}`) : undefined;
      if (r && recognisesSite(node, r)) {
        sites.push({ kind: 'jumprelu', index: index++, node, graph, fn, graphPath: path, record: r });
        continue;
      }
      if (helperNodes?.has(node.name)) continue;
      if (node.opType === 'Relu' && isDefaultDomain(node.domain)) {
        checkArity(node, path, 1, 1);
        sites.push({ kind: 'relu', index: index++, node, graph, fn, graphPath: path });
      } else if (node.opType === 'Clip' && isDefaultDomain(node.domain)) {
        checkArity(node, path, 1, 3);
        const bounds = clipBounds(node);
        if (bounds && bounds.min === 0 && !producedByRecordedSite(node.inputs[0] ?? null, path, recorded)) {
          const note = bounds.max === null ? 'Clip(min=0): a ReLU written as Clip' : `Clip(min=0, max=${bounds.max}): ReLU6-like`;
          sites.push({ kind: 'clip', index: index++, node, graph, fn, graphPath: path, note });
        }
      } else {
        const fused = fusedActivation(node);
        if (fused) sites.push({ kind: fused.kind, index: -1, node, graph, fn, graphPath: path, note: fused.note });
      }
    }
  }
  return sites;
}

/**
 * A Relu or Clip whose inputs or outputs are not what the operator takes is an invalid model: it is
 * refused, not "repaired" into a valid JumpReLU (which would hide that the model was never runnable).
 */
function checkArity(node: Node, path: string, minInputs: number, maxInputs: number): void {
  const n = node.inputs.length;
  const bad = n < minInputs || n > maxInputs || node.inputs[0] === null || node.inputs[0] === undefined
    || node.outputs.length !== 1;
  if (!bad) return;
  const inputs = minInputs === maxInputs ? `${minInputs} input` : `${minInputs}–${maxInputs} inputs`;
  throw new InvalidModelError(`${path}: ${node.opType} node '${node.label}' has ${n} input(s) and ${node.outputs.length} output(s); ${node.opType} takes ${inputs} (the first present) and 1 output`, { code: 'invalid-node' });
}

function isDefaultDomain(d: string): boolean {
  return d === '' || d === 'ai.onnx';
}

function producedByRecordedSite(v: Value | null, path: string, recorded: Map<string, SiteRecord>): boolean {
  const p = v?.producer;
  return !!p && p.name !== '' && recorded.has(`${path}\u0000${p.name}`);
}

const BEFORE_OPTIMISATION = 'convert the model before ONNX Runtime\'s extended optimisations fuse it (save the optimised model at the basic level), or unfuse it';
const KEEP_ACTIVATIONS = 'convert the float model before quantizing, or quantize with extra_options={"QDQKeepRemovableActivations": True} so the Relu stays between DequantizeLinear and QuantizeLinear';

/** Ops that can produce negative values: a QuantizeLinear after them that clamps at 0 has absorbed a Relu. */
const SIGNED_PRODUCERS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Add', 'Sub', 'Sum', 'BatchNormalization', 'Mul']);

/** Output zero-point input of the QLinear ops ONNX Runtime fuses a Relu into (by their output range). */
const QLINEAR_OUTPUT_ZERO_POINT: Record<string, number> = {
  'QLinearConv': 7, 'QLinearMatMul': 7,
  'com.microsoft::QLinearConv': 7, 'com.microsoft::QLinearAdd': 7, 'com.microsoft::QLinearMul': 7,
  'com.microsoft::QLinearAveragePool': 4, 'com.microsoft::QLinearGlobalAveragePool': 4,
  'com.microsoft::QGemm': 7,
};

/**
 * A ReLU-like activation built into another operator (ONNX Runtime's fusions and quantizer): reported,
 * never converted, with what to do instead.
 */
function fusedActivation(node: Node): { kind: 'fused' | 'folded'; note: string } | null {
  const op = isDefaultDomain(node.domain) ? node.opType : `${node.domain}::${node.opType}`;
  if (node.domain === 'com.microsoft') {
    const act = node.attr('activation')?.asString();
    if (act !== undefined && /^relu$/i.test(act)) {
      return { kind: 'fused', note: `${op} with a built-in Relu activation: not converted; ${BEFORE_OPTIMISATION}` };
    }
    if (act !== undefined && /^clip$/i.test(act)) {
      const params = node.attr('activation_params');
      const p = params && Array.isArray(params.data.value) ? (params.data.value as number[]) : [];
      if (p[0] === 0) {
        return { kind: 'fused', note: `${op} with a built-in Clip(${p[0]}, ${p[1] ?? '∞'}) activation (ReLU6-like): not converted; ${BEFORE_OPTIMISATION}` };
      }
    }
  }
  const zpIndex = QLINEAR_OUTPUT_ZERO_POINT[op];
  if (zpIndex !== undefined && clampsAtZero(node.inputs[zpIndex] ?? null)) {
    return { kind: 'fused', note: `${op} whose output zero point is its type's minimum: a Relu fused into the quantized op (outputs clamp at 0); not converted; ${KEEP_ACTIVATIONS}` };
  }
  if (op === 'QuantizeLinear' && clampsAtZero(node.inputs[2] ?? null)) {
    const p = node.inputs[0]?.producer;
    if (p && isDefaultDomain(p.domain) && SIGNED_PRODUCERS.has(p.opType) && !reluFollows(node)) {
      return { kind: 'folded', note: `QuantizeLinear after ${p.opType} '${p.label}' with its zero point at the type's minimum: the quantizer folded a Relu into it (the Relu was removed); not converted; ${KEEP_ACTIVATIONS}` };
    }
  }
  return null;
}

/** QuantizeLinear → DequantizeLinear → Relu/Clip: the activation is still there (the quantizer kept it). */
function reluFollows(q: Node): boolean {
  return (q.outputs[0]?.uses ?? []).some((u) => u.node.opType === 'DequantizeLinear'
    && (u.node.outputs[0]?.uses ?? []).some((w) => (w.node.opType === 'Relu' || w.node.opType === 'Clip') && isDefaultDomain(w.node.domain)));
}

/** A uint8 zero point of 0 or an int8 one of −128: quantized values cannot go below the real 0. */
function clampsAtZero(zp: Value | null): boolean {
  const t = zp ? zp.initializer ?? constantTensor(zp) : null;
  if (!t || t.elementCount !== 1n) return false;
  const z = tensorScalar(t);
  return (t.dataType === DataType.UINT8 && z === 0) || (t.dataType === DataType.INT8 && z === -128);
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
    const s = scalarConstant(v);
    return s === null ? undefined : s; // undefined: not a known constant
  };
  const min = read(node.inputs[1]);
  const max = read(node.inputs[2]);
  if (min === undefined || max === undefined) return null;
  return { min, max };
}

/**
 * The single number an initializer or Constant node holds (every value_* form, every float and
 * integer element type), or null when the value is not a one-element constant.
 */
export function scalarConstant(v: Value): number | null {
  const p = v.producer;
  if (!v.initializer && p && p.opType === 'Constant' && isDefaultDomain(p.domain)) {
    for (const a of p.attributes.values()) {
      switch (a.name) {
        case 'value_float': return a.asFloat() ?? null;
        case 'value_int': { const i = a.asInt(); return i === undefined ? null : Number(i); }
        case 'value_floats': case 'value_ints': {
          const xs = a.data.value as Array<number | bigint> | null;
          return Array.isArray(xs) && xs.length === 1 ? Number(xs[0]) : null;
        }
      }
    }
  }
  const t = v.initializer ?? constantTensor(v);
  if (!t || t.elementCount !== 1n) return null;
  return tensorScalar(t);
}

function tensorScalar(t: Tensor): number | null {
  const raw = rawBytes(t);
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const need: Record<number, [number, () => number]> = {
      [DataType.FLOAT]: [4, () => view.getFloat32(0, true)],
      [DataType.DOUBLE]: [8, () => view.getFloat64(0, true)],
      [DataType.FLOAT16]: [2, () => halfToNumber(view.getUint16(0, true))],
      [DataType.BFLOAT16]: [2, () => new Float32Array(new Uint32Array([view.getUint16(0, true) << 16]).buffer)[0]!],
      [DataType.INT8]: [1, () => view.getInt8(0)], [DataType.UINT8]: [1, () => view.getUint8(0)],
      [DataType.INT16]: [2, () => view.getInt16(0, true)], [DataType.UINT16]: [2, () => view.getUint16(0, true)],
      [DataType.INT32]: [4, () => view.getInt32(0, true)], [DataType.INT64]: [8, () => Number(view.getBigInt64(0, true))],
    };
    const r = need[t.dataType];
    return r && raw.byteLength === r[0] ? r[1]() : null;
  }
  // Typed fields: float_data (float), double_data, int32_data (int types and the bits of float16/bfloat16), int64_data.
  for (const f of parseFields(t.encode())) {
    if (f.no === TensorField.floatData && t.dataType === DataType.FLOAT) {
      const out: number[] = [];
      appendFloats(f, out);
      return out.length === 1 ? out[0]! : null;
    }
    if (f.no === TensorField.doubleData && t.dataType === DataType.DOUBLE && f.payload.byteLength === 8) {
      return new DataView(f.payload.buffer, f.payload.byteOffset, 8).getFloat64(0, true);
    }
    if (f.no === TensorField.int32Data || f.no === TensorField.int64Data) {
      const ints: bigint[] = [];
      appendInt64s(f, ints);
      if (ints.length !== 1) return null;
      const bits = Number(BigInt.asUintN(16, ints[0]!));
      if (t.dataType === DataType.FLOAT16) return halfToNumber(bits);
      if (t.dataType === DataType.BFLOAT16) return new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!;
      return Number(BigInt.asIntN(64, ints[0]!));
    }
  }
  return null;
}

function rawBytes(t: Tensor): Uint8Array | null {
  try {
    if (t.externalBytes) return readExternalBytes(t.externalBytes);
  } catch {
    return null;
  }
  return t.inlineRawData ?? null;
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export { constantTensor };
