// Static type and shape inference over the IR, with symbolic dimensions ('N', 'batch', …) and the values
// of small integer tensors (shape vectors built with Shape → Gather → Concat, axes, pads). It lives in the
// IR layer so every layer above can use one inference: the gradient rules choose static constants where
// shapes are known and runtime Shape ops where not, the batch-freeing pass sees where a fixed batch of 1
// survives, and the JumpReLU lowering learns a site's type and rank.
//
// Unknown ops, or unknown inputs, give unknown results (null), never wrong ones.

import type { Graph } from '../graph.js';
import type { Node } from '../node.js';
import { DataType } from '../tensor.js';
import type { Value } from '../value.js';
import { attrInt, attrInts, attrString, attrTensor } from './attrs.js';
import { constantNodeTensor, constantOf, tensorValues } from './constants.js';
import { foldOutput } from './fold.js';
import { type Dim, declaredShape } from './typeproto.js';

export type { Dim } from './typeproto.js';

export interface TypeInfo {
  /** ONNX element type, or null when unknown. */
  elem: number | null;
  /** Shape, or null when the rank is unknown. */
  shape: Dim[] | null;
  /** Contents of a small integer tensor (row-major; any rank up to 1024 elements), when known (entries may be symbolic). */
  value?: Dim[] | null;
}

const UNKNOWN: TypeInfo = { elem: null, shape: null };
const INT64 = DataType.INT64;
const BOOL = DataType.BOOL;

/** ONNX's "effectively infinite" slice bound. */
const BIG = 2 ** 62;

/** Inferred types of every value of a graph (inputs, initializers, node outputs). */
export class ShapeInfo {
  private readonly map = new Map<Value, TypeInfo>();

  constructor(readonly graph: Graph, readonly opset: number, seed?: ReadonlyMap<Value, TypeInfo>) {
    graph.inputs.forEach((v, i) => {
      const d = declaredShape(graph.declaredType(v));
      // A dim declared without a value or name gets a symbol of its own, so that computations on it
      // (Shape → Gather → Reshape) can still cancel it.
      if (d) this.map.set(v, { elem: d.elemType || null, shape: d.shape?.map((x, k) => x ?? `unk__${i}_${k}`) ?? null });
    });
    for (const v of graph.initializers.values()) {
      if (!v.initializer) continue;
      const info: TypeInfo = { elem: v.initializer.dataType, shape: v.initializer.dims.map(Number) };
      if (isIntType(info.elem) && info.shape!.length <= 1 && !v.isGraphInput) {
        const values = tensorValues(v.initializer);
        if (values) info.value = values;
      }
      this.map.set(v, info);
    }
    if (seed) for (const [v, t] of seed) this.map.set(v, t);
    for (const node of graph.nodes) this.inferNode(node);
  }

  get(v: Value | null | undefined): TypeInfo {
    return (v && this.map.get(v)) ?? UNKNOWN;
  }

  set(v: Value, t: TypeInfo): void {
    this.map.set(v, t);
  }

  shape(v: Value | null | undefined): Dim[] | null {
    return this.get(v).shape;
  }

  rank(v: Value | null | undefined): number | null {
    return this.get(v).shape?.length ?? null;
  }

  elem(v: Value | null | undefined): number | null {
    return this.get(v).elem;
  }

  /** The known contents of a small integer tensor (row-major), if any. */
  knownValue(v: Value | null | undefined): Dim[] | null | undefined {
    return this.get(v).value;
  }

  /** Shape with every dim a known number, or null. */
  staticShape(v: Value | null | undefined): number[] | null {
    const s = this.shape(v);
    return s && s.every((d) => typeof d === 'number') ? (s as number[]) : null;
  }

  /** Re-infers the outputs of one node (after a pass edited it). */
  inferNode(node: Node): void {
    let outs: TypeInfo[];
    try {
      outs = inferOutputs(node, this, this.opset);
    } catch {
      outs = [];
    }
    node.outputs.forEach((o, i) => {
      let inferred = outs[i] ?? UNKNOWN;
      // Values of small integer tensors: rank ≥ 2 only from the folder (the per-op rules above read
      // values as vectors), rank ≤ 1 from either.
      if (isIntType(inferred.elem) || inferred.elem === BOOL) {
        const shape = inferred.shape && inferred.shape.every((d) => typeof d === 'number') ? (inferred.shape as number[]) : null;
        const rank = inferred.shape?.length ?? null;
        if (rank !== null && (rank >= 2 || !inferred.value)) {
          let folded: Dim[] | null = null;
          try {
            folded = foldOutput(node, this, shape, () => (shape ? sliceParams(node, this, shape.length) : null));
          } catch {
            folded = null;
          }
          if (folded || rank >= 2) inferred = { ...inferred, value: folded };
        }
      }
      // A declared value_info type fills what inference could not work out.
      const declared = declaredShape(this.graph.declaredType(o));
      let t = inferred;
      if (declared) {
        t = {
          elem: inferred.elem ?? (declared.elemType || null),
          shape: mergeShapes(inferred.shape, declared.shape),
          value: inferred.value,
        };
      }
      this.map.set(o, t);
    });
  }
}

function mergeShapes(inferred: Dim[] | null, declared: Dim[] | null): Dim[] | null {
  if (!inferred) return declared;
  if (!declared || declared.length !== inferred.length) return inferred;
  return inferred.map((d, i) => (d === null ? declared[i]! : d));
}

export function isIntType(elem: number | null): boolean {
  return elem === DataType.INT64 || elem === DataType.INT32 || elem === DataType.INT16 || elem === DataType.INT8
    || elem === DataType.UINT8 || elem === DataType.UINT16 || elem === DataType.UINT32 || elem === DataType.UINT64;
}

// ---- symbolic products (Reshape's -1, Flatten) ------------------------------------------------------

interface Product { coef: number; syms: string[] }

// A symbolic dim may be a product of symbols and a number, written 'N*k' or '3*N' (factors sorted, the
// number first): Reshape's −1 and Flatten of a tiled batch then stay symbolic and cancel again.
function product(dims: readonly Dim[]): Product | null {
  let coef = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (d === null) return null;
    if (typeof d === 'number') coef *= d;
    else {
      for (const f of d.split('*')) {
        if (/^\d+$/.test(f)) coef *= Number(f);
        else syms.push(f);
      }
    }
  }
  return { coef, syms: syms.sort() };
}

function productDim(p: Product | null): Dim {
  if (!p) return null;
  if (p.syms.length === 0) return p.coef;
  if (p.coef === 0) return 0;
  return [...(p.coef === 1 ? [] : [String(p.coef)]), ...p.syms].join('*');
}

/** The product of two dims (symbolic when either is). */
export function multiplyDims(a: Dim, b: Dim): Dim {
  return productDim(product([a, b]));
}

function divideProducts(a: Product | null, b: Product | null): Dim {
  if (!a || !b || b.coef === 0 || a.coef % b.coef !== 0) return null;
  const rest = [...a.syms];
  for (const s of b.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  return productDim({ coef: a.coef / b.coef, syms: rest });
}

// ---- helpers -------------------------------------------------------------------------------------

export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return null;
}

export function broadcastShapes(shapes: (Dim[] | null)[]): Dim[] | null {
  if (shapes.some((s) => s === null)) return null;
  let rank = 0;
  for (const s of shapes) rank = Math.max(rank, s!.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = s!.length - rank + i;
      if (j >= 0) d = broadcastDim(d, s![j]!);
    }
    out.push(d);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Known values of an input (constant, or propagated), as numbers only; null if any entry is unknown. */
function numericValue(info: ShapeInfo, v: Value | null | undefined): number[] | null {
  if (!v) return null;
  const val = info.get(v).value;
  if (val && val.every((d) => typeof d === 'number')) return val as number[];
  const c = constantOf(v);
  return c ? c.values : null;
}

function dimValue(info: ShapeInfo, v: Value | null | undefined): Dim[] | null {
  if (!v) return null;
  return info.get(v).value ?? constantOf(v)?.values ?? null;
}

/** Axes of a Reduce/Squeeze/Unsqueeze node: the attribute before `inputFromOpset`, input 1 from it on. */
export function axesOf(node: Node, info: ShapeInfo | null, opset: number, inputFromOpset: number): number[] | null | undefined {
  if (opset < inputFromOpset) return attrInts(node, 'axes');
  const v = node.inputs[1];
  if (!v) return undefined;
  return info ? numericValue(info, v) : constantOf(v)?.values ?? null;
}

/** Geometry of a Conv/pool window along each spatial axis, with auto_pad resolved. */
export interface WindowGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  ceilMode: boolean;
  /** Output spatial dims (null where the input dim is not a known number). */
  out: Dim[];
}

export function windowGeometry(node: Node, inSpatial: readonly Dim[], kernel: number[]): WindowGeometry {
  const r = kernel.length;
  const strides = attrInts(node, 'strides') ?? new Array<number>(r).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array<number>(r).fill(1);
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * r).fill(0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceilMode = attrInt(node, 'ceil_mode', 0) === 1;
  const padsBegin = pads.slice(0, r);
  const padsEnd = pads.slice(r, 2 * r);
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const x = inSpatial[i];
    const eff = (kernel[i]! - 1) * dilations[i]! + 1;
    const s = strides[i]!;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      if (typeof x !== 'number') { out.push(null); padsBegin[i] = NaN; padsEnd[i] = NaN; continue; }
      const o = Math.ceil(x / s);
      const total = Math.max(0, (o - 1) * s + eff - x);
      const small = Math.floor(total / 2);
      padsBegin[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      padsEnd[i] = total - padsBegin[i]!;
      out.push(o);
      continue;
    }
    if (autoPad === 'VALID') { padsBegin[i] = 0; padsEnd[i] = 0; }
    if (typeof x !== 'number') { out.push(null); continue; }
    const span = x + padsBegin[i]! + padsEnd[i]! - eff;
    let o = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    // A last window that would start in the end padding is dropped (ONNX/ORT/PyTorch ceil_mode rule).
    if (ceilMode && (o - 1) * s >= x + padsBegin[i]!) o -= 1;
    out.push(o);
  }
  return { kernel, strides, dilations, padsBegin, padsEnd, ceilMode, out };
}

/** Resolved Slice parameters along one axis of a known length: start, step and output length. */
export function sliceRange(dim: number, start: number, end: number, step: number): { start: number; step: number; count: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const count = step > 0 ? Math.max(0, Math.ceil((e - s) / step)) : Math.max(0, Math.ceil((s - e) / -step));
  return { start: s, step, count };
}

/** Inputs of a Slice node as plain numbers (opset ≥ 10), with axes and steps filled in. */
export function sliceParams(node: Node, info: ShapeInfo, rank: number): { starts: number[]; ends: number[]; axes: number[]; steps: number[] } | null {
  let starts: number[] | null;
  let ends: number[] | null;
  let axes: number[] | null;
  let steps: number[] | null;
  if (info.opset < 10) {
    starts = attrInts(node, 'starts') ?? null;
    ends = attrInts(node, 'ends') ?? null;
    axes = attrInts(node, 'axes') ?? null;
    steps = null;
  } else {
    starts = numericValue(info, node.inputs[1]);
    ends = numericValue(info, node.inputs[2]);
    axes = node.inputs[3] ? numericValue(info, node.inputs[3]) : null;
    steps = node.inputs[4] ? numericValue(info, node.inputs[4]) : null;
    if ((node.inputs[3] && !axes) || (node.inputs[4] && !steps)) return null;
  }
  if (!starts || !ends) return null;
  axes = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, rank));
  steps = steps ?? starts.map(() => 1);
  return { starts, ends, axes, steps };
}

// ---- per-op inference ----------------------------------------------------------------------------

const SAME_SHAPE = new Set([
  'Relu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'ThresholdedRelu', 'Elu', 'Selu', 'Softplus', 'Softsign', 'Neg', 'Exp',
  'Log', 'Sqrt', 'Abs', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Erf', 'Identity', 'Softmax',
  'LogSoftmax', 'Clip', 'HardSigmoid', 'HardSwish', 'Gelu', 'Sin', 'Cos', 'BatchNormalization',
  'LpNormalization', 'InstanceNormalization', 'LRN', 'CumSum', 'ScatterElements', 'ScatterND', 'Mish',
]);
const BOOL_SAME_SHAPE = new Set(['Not', 'IsNaN', 'IsInf']);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Mod', 'PRelu', 'BitShift']);
const BROADCAST_BOOL = new Set(['And', 'Or', 'Xor', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual']);
const REDUCE = new Set(['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2',
  'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

/** The first opset in which a Reduce op takes its axes as an input. */
export function reduceAxesInputOpset(op: string): number {
  return op === 'ReduceSum' ? 13 : 18;
}

function inferOutputs(node: Node, info: ShapeInfo, opset: number): TypeInfo[] {
  const x = info.get(node.inputs[0]);
  const op = node.opType;
  if (node.domain !== '' && node.domain !== 'ai.onnx') {
    // JumpReLU functions and custom ops are elementwise.
    if (op === 'JumpRelu') return [{ elem: x.elem, shape: x.shape }];
    return [];
  }
  if (SAME_SHAPE.has(op)) return [{ elem: x.elem, shape: x.shape, value: op === 'Identity' ? x.value : undefined }];
  if (BOOL_SAME_SHAPE.has(op)) return [{ elem: BOOL, shape: x.shape }];
  if (op === 'Dropout') return [{ elem: x.elem, shape: x.shape }, { elem: BOOL, shape: x.shape }];
  if (BROADCAST.has(op) || BROADCAST_BOOL.has(op) || op === 'Where') {
    const ins = node.inputs.map((v) => info.get(v));
    const shape = broadcastShapes(ins.map((t) => t.shape));
    const elem = BROADCAST_BOOL.has(op) ? BOOL : op === 'Where' ? ins[1]?.elem ?? null : x.elem;
    return [{ elem, shape, value: arithmeticValue(op, node, info, shape) }];
  }
  switch (op) {
    case 'Cast': return [{ elem: attrInt(node, 'to', 0) || null, shape: x.shape, value: x.value }];
    case 'CastLike': return [{ elem: info.elem(node.inputs[1]), shape: x.shape, value: x.value }];
    case 'Constant': {
      const t = constantNodeTensor(node);
      if (!t) return [];
      const c = constantOf(node.outputs[0]);
      const shape = 'dims' in t ? t.dims.map(Number) : [];
      const elem = t.dataType;
      return [{ elem, shape, value: isIntType(elem) && shape.length <= 1 ? c?.values ?? null : null }];
    }
    case 'Shape': {
      if (!x.shape) return [{ elem: INT64, shape: [null] }];
      const r = x.shape.length;
      let start = attrInt(node, 'start', 0);
      let end = attrInt(node, 'end', r);
      start = Math.min(Math.max(normAxis(start, r), 0), r);
      end = Math.min(Math.max(normAxis(end, r), 0), r);
      const value = x.shape.slice(start, end);
      return [{ elem: INT64, shape: [value.length], value }];
    }
    case 'Size': {
      const p = x.shape ? productDim(product(x.shape)) : null;
      return [{ elem: INT64, shape: [], value: [p] }];
    }
    case 'ConstantOfShape': {
      const dims = dimValue(info, node.inputs[0]);
      const t = attrTensor(node, 'value');
      const len = info.shape(node.inputs[0])?.[0];
      return [{ elem: t?.dataType ?? DataType.FLOAT, shape: dims ?? (typeof len === 'number' ? new Array<Dim>(len).fill(null) : null) }];
    }
    case 'Expand': {
      const dims = dimValue(info, node.inputs[1]);
      const len = info.shape(node.inputs[1])?.[0];
      const target = dims ?? (typeof len === 'number' ? new Array<Dim>(len).fill(null) : null);
      return [{ elem: x.elem, shape: target ? broadcastShapes([x.shape, target]) : null }];
    }
    case 'Tile': {
      const reps = numericValue(info, node.inputs[1]);
      if (!x.shape) return [{ elem: x.elem, shape: null }];
      return [{ elem: x.elem, shape: x.shape.map((d, i) => (reps ? (reps[i] === 1 ? d : typeof d === 'number' ? d * reps[i]! : null) : null)) }];
    }
    case 'Reshape': return [{ elem: x.elem, shape: reshapeShape(node, info, x), value: x.value && x.value.length === 1 ? x.value : undefined }];
    case 'Flatten': {
      if (!x.shape) return [{ elem: x.elem, shape: [null, null] }];
      const axis = normAxis(attrInt(node, 'axis', 1), x.shape.length);
      return [{ elem: x.elem, shape: [productDim(product(x.shape.slice(0, axis))), productDim(product(x.shape.slice(axis)))] }];
    }
    case 'Transpose': {
      if (!x.shape) return [{ elem: x.elem, shape: null }];
      const perm = attrInts(node, 'perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
      return [{ elem: x.elem, shape: perm.map((p) => x.shape![p]!) }];
    }
    case 'Squeeze': case 'Unsqueeze': return [squeezeInfo(node, info, x, opset)];
    case 'Concat': {
      const ins = node.inputs.map((v) => info.get(v));
      const first = ins.find((t) => t.shape)?.shape;
      const elem = ins.find((t) => t.elem !== null)?.elem ?? null;
      const values = ins.every((t) => t.value) ? ins.flatMap((t) => t.value!) : null;
      if (!first || ins.some((t) => !t.shape)) return [{ elem, shape: first ? first.map(() => null) : null, value: values }];
      const axis = normAxis(attrInt(node, 'axis', 0), first.length);
      const shape = first.map((_, i) => {
        if (i === axis) return productSum(ins.map((t) => t.shape![i]!));
        const dims = ins.map((t) => t.shape![i]!);
        return dims.find((d) => typeof d === 'number') ?? dims[0]!;
      });
      return [{ elem, shape, value: values }];
    }
    case 'Split': return splitInfo(node, info, x, opset);
    case 'Slice': {
      if (!x.shape) return [{ elem: x.elem, shape: null }];
      const p = sliceParams(node, info, x.shape.length);
      if (!p) return [{ elem: x.elem, shape: x.shape.map(() => null) }];
      const shape = [...x.shape];
      let value = x.value && x.shape.length === 1 ? [...x.value] : null;
      p.axes.forEach((a, i) => {
        const d = shape[a];
        if (typeof d === 'number') {
          const r = sliceRange(d, p.starts[i]!, p.ends[i]!, p.steps[i]!);
          shape[a] = r.count;
          if (value && a === 0) value = Array.from({ length: r.count }, (_, k) => value![r.start + k * r.step]!);
        } else {
          const full = p.starts[i] === 0 && p.ends[i]! >= BIG && p.steps[i] === 1;
          shape[a] = full ? d! : null;
          if (!full) value = null;
        }
      });
      return [{ elem: x.elem, shape, value }];
    }
    case 'Pad': {
      if (!x.shape) return [{ elem: x.elem, shape: null }];
      const r = x.shape.length;
      let pads = opset < 11 ? attrInts(node, 'pads') ?? null : numericValue(info, node.inputs[1]);
      if (pads && opset >= 18 && node.inputs[3]) {
        const axes = numericValue(info, node.inputs[3]);
        if (!axes) pads = null;
        else {
          const full = new Array<number>(2 * r).fill(0);
          axes.forEach((a, i) => { const ax = normAxis(a, r); full[ax] = pads![i]!; full[ax + r] = pads![i + axes.length]!; });
          pads = full;
        }
      }
      return [{ elem: x.elem, shape: x.shape.map((d, i) => {
        if (!pads) return null;
        const add = pads[i]! + pads[i + r]!;
        return add === 0 ? d : typeof d === 'number' ? d + add : null;
      }) }];
    }
    case 'Gather': {
      const idx = info.get(node.inputs[1]);
      if (!x.shape || !idx.shape) return [{ elem: x.elem, shape: null }];
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length);
      const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
      let value: Dim[] | null = null;
      const ind = numericValue(info, node.inputs[1]);
      if (x.value && axis === 0 && ind && x.shape.length === 1) {
        value = ind.map((i) => x.value![i < 0 ? i + x.value!.length : i] ?? null);
      }
      return [{ elem: x.elem, shape, value }];
    }
    case 'GatherElements': return [{ elem: x.elem, shape: info.shape(node.inputs[1]) }];
    case 'LayerNormalization': {
      // Y like X; Mean and InvStdDev keep the leading dims, 1 from `axis` on, in the stash type.
      const stash = attrInt(node, 'stash_type', 1) || null;
      if (!x.shape) return [{ elem: x.elem, shape: null }, { elem: stash, shape: null }, { elem: stash, shape: null }];
      const axis = normAxis(attrInt(node, 'axis', -1), x.shape.length);
      const stats = x.shape.map((d, i) => (i < axis ? d : 1));
      return [{ elem: x.elem, shape: x.shape }, { elem: stash, shape: stats }, { elem: stash, shape: stats }];
    }
    case 'GroupNormalization': return [{ elem: x.elem, shape: x.shape }];
    case 'Einsum': return [{ elem: x.elem, shape: einsumShape(node, info) }];
    case 'Resize': case 'Upsample': return [{ elem: x.elem, shape: resizeShape(node, info, x, opset) }];
    case 'Conv': case 'ConvInteger': {
      const w = info.shape(node.inputs[1]);
      if (!x.shape || !w) return [{ elem: x.elem, shape: x.shape ? x.shape.map(() => null) : null }];
      const kernel = attrInts(node, 'kernel_shape') ?? (w.slice(2) as number[]);
      const g = windowGeometry(node, x.shape.slice(2), kernel);
      return [{ elem: x.elem, shape: [x.shape[0]!, w[0]!, ...g.out] }];
    }
    case 'ConvTranspose': {
      const w = info.shape(node.inputs[1]);
      if (!x.shape || !w) return [{ elem: x.elem, shape: x.shape ? x.shape.map(() => null) : null }];
      const r = x.shape.length - 2;
      const group = attrInt(node, 'group', 1);
      const cout = typeof w[1] === 'number' ? w[1] * group : null;
      const explicit = attrInts(node, 'output_shape');
      if (explicit) return [{ elem: x.elem, shape: [x.shape[0]!, cout, ...explicit.slice(-r)] }];
      const kernel = attrInts(node, 'kernel_shape') ?? (w.slice(2) as number[]);
      const strides = attrInts(node, 'strides') ?? new Array<number>(r).fill(1);
      const dil = attrInts(node, 'dilations') ?? new Array<number>(r).fill(1);
      const pads = attrInts(node, 'pads') ?? new Array<number>(2 * r).fill(0);
      const op = attrInts(node, 'output_padding') ?? new Array<number>(r).fill(0);
      const autoPad = attrString(node, 'auto_pad', 'NOTSET');
      const spatial = x.shape.slice(2).map((d, i) => {
        if (typeof d !== 'number') return null;
        if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return d * strides[i]!;
        const p = autoPad === 'VALID' ? 0 : pads[i]! + pads[i + r]!;
        return strides[i]! * (d - 1) + op[i]! + (kernel[i]! - 1) * dil[i]! + 1 - p;
      });
      return [{ elem: x.elem, shape: [x.shape[0]!, cout, ...spatial] }];
    }
    case 'MaxPool': case 'AveragePool': case 'LpPool': {
      if (!x.shape) return [{ elem: x.elem, shape: null }, { elem: INT64, shape: null }];
      const kernel = attrInts(node, 'kernel_shape') ?? [];
      const g = windowGeometry(node, x.shape.slice(2), kernel);
      const shape = [x.shape[0]!, x.shape[1]!, ...g.out];
      return [{ elem: x.elem, shape }, { elem: INT64, shape }];
    }
    case 'MaxUnpool': {
      const out = dimValue(info, node.inputs[2]);
      return [{ elem: x.elem, shape: out ?? (x.shape ? x.shape.map(() => null) : null) }];
    }
    case 'GlobalAveragePool': case 'GlobalMaxPool': case 'GlobalLpPool':
      return [{ elem: x.elem, shape: x.shape ? x.shape.map((d, i) => (i < 2 ? d : 1)) : null }];
    case 'Gemm': {
      const a = x.shape;
      const b = info.shape(node.inputs[1]);
      const ta = attrInt(node, 'transA', 0);
      const tb = attrInt(node, 'transB', 0);
      return [{ elem: x.elem, shape: [a ? a[ta ? 1 : 0]! : null, b ? b[tb ? 0 : 1]! : null] }];
    }
    case 'MatMul': return [{ elem: x.elem, shape: matmulShape(x.shape, info.shape(node.inputs[1])) }];
    case 'ArgMax': case 'ArgMin': {
      if (!x.shape) return [{ elem: INT64, shape: null }];
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length);
      const keep = attrInt(node, 'keepdims', 1) === 1;
      return [{ elem: INT64, shape: x.shape.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])) }];
    }
    case 'OneHot': {
      const idx = info.get(node.inputs[0]);
      const depth = numericValue(info, node.inputs[1]);
      const valuesElem = info.elem(node.inputs[2]);
      if (!idx.shape) return [{ elem: valuesElem, shape: null }];
      const r = idx.shape.length + 1;
      const axis = normAxis(attrInt(node, 'axis', -1), r);
      const shape = [...idx.shape];
      shape.splice(axis, 0, depth ? depth[0]! : null);
      return [{ elem: valuesElem, shape }];
    }
    case 'NonZero': return [{ elem: INT64, shape: [x.shape ? x.shape.length : null, null] }];
    case 'Range': {
      const [start, limit, delta] = [0, 1, 2].map((i) => numericValue(info, node.inputs[i])?.[0]);
      if (start === undefined || limit === undefined || delta === undefined || delta === 0) return [{ elem: x.elem, shape: [null] }];
      const n = Math.max(Math.ceil((limit - start) / delta), 0);
      const value = isIntType(x.elem) && n <= 1024 ? Array.from({ length: n }, (_, i) => start + i * delta) : undefined;
      return [{ elem: x.elem, shape: [n], value }];
    }
    case 'TopK': {
      if (!x.shape) return [{ elem: x.elem, shape: null }, { elem: INT64, shape: null }];
      const axis = normAxis(attrInt(node, 'axis', -1), x.shape.length);
      const k = numericValue(info, node.inputs[1]);
      const shape = x.shape.map((d, i) => (i === axis ? (k ? k[0]! : null) : d));
      return [{ elem: x.elem, shape }, { elem: INT64, shape }];
    }
  }
  if (REDUCE.has(op)) {
    if (!x.shape) return [{ elem: x.elem, shape: null }];
    const r = x.shape.length;
    const keep = attrInt(node, 'keepdims', 1) === 1;
    const axes = axesOf(node, info, opset, reduceAxesInputOpset(op));
    if (axes === null) return [{ elem: x.elem, shape: keep ? x.shape.map(() => null) : null }];
    const noop = attrInt(node, 'noop_with_empty_axes', 0) === 1;
    if ((axes === undefined || axes.length === 0) && noop) return [{ elem: x.elem, shape: x.shape }];
    const set = new Set((axes && axes.length ? axes : x.shape.map((_, i) => i)).map((a) => normAxis(a, r)));
    return [{ elem: x.elem, shape: x.shape.flatMap((d, i) => (set.has(i) ? (keep ? [1] : []) : [d])) }];
  }
  return [];
}

/** Output shape of an Einsum with an explicit output ('bij,bjk->bik', ellipsis broadcast). */
function einsumShape(node: Node, info: ShapeInfo): Dim[] | null {
  const eq = (node.attr('equation')?.asString() ?? '').replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  if (arrow < 0) return null;
  const terms = eq.slice(0, arrow).split(',');
  const dims = new Map<string, Dim>();
  let ellipsis: Dim[] | null = [];
  for (const [i, term] of terms.entries()) {
    const shape = info.shape(node.inputs[i]);
    if (!shape) return null;
    const parts = term.split('...');
    const before = parts[0]!;
    const after = parts[1] ?? '';
    const middle = shape.length - before.length - after.length;
    if (parts.length > 2 || middle < 0 || (parts.length === 1 && middle !== 0)) return null;
    [...before].forEach((l, j) => dims.set(l, broadcastDim(dims.get(l) ?? 1, shape[j]!)));
    [...after].forEach((l, j) => dims.set(l, broadcastDim(dims.get(l) ?? 1, shape[before.length + middle + j]!)));
    if (parts.length === 2 && ellipsis) ellipsis = broadcastShapes([ellipsis, shape.slice(before.length, before.length + middle)]);
  }
  const out: Dim[] = [];
  const output = eq.slice(arrow + 2).split('...');
  if (output.length === 2 && !ellipsis) return null;
  for (const [k, part] of output.entries()) {
    if (k === 1) out.push(...ellipsis!);
    for (const l of part) {
      if (!dims.has(l)) return null;
      out.push(dims.get(l)!);
    }
  }
  return out;
}

/** Output shape of a Resize: from `sizes`, or floor(dim · scale) from `scales` (constants or folded values). */
function resizeShape(node: Node, info: ShapeInfo, x: TypeInfo, opset: number): Dim[] | null {
  if (!x.shape) return null;
  const r = x.shape.length;
  const axes = (attrInts(node, 'axes') ?? x.shape.map((_, i) => i)).map((a) => normAxis(a, r));
  const scalesInput = node.opType === 'Upsample' || opset < 11 ? node.inputs[1] : node.inputs[2];
  const sizes = node.opType === 'Resize' && opset >= 11 ? dimValue(info, node.inputs[3]) : null;
  const scales = scalesInput ? constantOf(scalesInput)?.values ?? null : null;
  const policy = node.attr('keep_aspect_ratio_policy')?.asString() ?? 'stretch';
  const out: Dim[] = x.shape.map(() => null);
  x.shape.forEach((d, i) => { if (!axes.includes(i)) out[i] = d; });
  axes.forEach((a, i) => {
    const d = x.shape![a]!;
    if (sizes && sizes.length === axes.length && policy === 'stretch') out[a] = sizes[i]!;
    else if (scales && scales.length === axes.length && typeof d === 'number') out[a] = Math.floor(d * scales[i]!);
    else if (scales && scales.length === axes.length && scales[i] === 1) out[a] = d;
  });
  return out;
}

function productSum(dims: Dim[]): Dim {
  let s = 0;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    s += d;
  }
  return s;
}

/** Elementwise integer arithmetic on known small vectors (shape computations). */
function arithmeticValue(op: string, node: Node, info: ShapeInfo, shape: Dim[] | null): Dim[] | null {
  if (!shape || shape.length > 1 || !['Add', 'Sub', 'Mul', 'Div'].includes(op)) return null;
  const elem = info.elem(node.inputs[0]);
  if (!isIntType(elem)) return null;
  const a = dimValue(info, node.inputs[0]);
  const b = dimValue(info, node.inputs[1]);
  if (!a || !b) return null;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const p = a[a.length === 1 ? 0 : i]!;
    const q = b[b.length === 1 ? 0 : i]!;
    if (typeof p === 'number' && typeof q === 'number') {
      out.push(op === 'Add' ? p + q : op === 'Sub' ? p - q : op === 'Mul' ? p * q : q === 0 ? null : Math.trunc(p / q));
    } else if (op === 'Mul') {
      out.push(multiplyDims(p, q));
    } else if (op === 'Div') {
      // Exact division of symbolic products only (N*k / k = N); anything else is unknown.
      out.push(divideProducts(product([p]), product([q])));
    } else {
      out.push(op === 'Add' && q === 0 ? p : op === 'Sub' && q === 0 ? p : null);
    }
  }
  return out;
}

function reshapeShape(node: Node, info: ShapeInfo, x: TypeInfo): Dim[] | null {
  const target = dimValue(info, node.inputs[1]);
  if (!target) {
    const len = info.shape(node.inputs[1])?.[0];
    return typeof len === 'number' ? new Array<Dim>(len).fill(null) : null;
  }
  const allowZero = attrInt(node, 'allowzero', 0) === 1;
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (x.shape ? x.shape[i] ?? null : null) : d));
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    const others = out.filter((_, i) => i !== minus);
    out[minus] = x.shape ? divideProducts(product(x.shape), product(others)) : null;
  }
  return out;
}

function squeezeInfo(node: Node, info: ShapeInfo, x: TypeInfo, opset: number): TypeInfo {
  const axes = axesOf(node, info, opset, 13);
  if (!x.shape) return { elem: x.elem, shape: null, value: x.value };
  if (axes === null) return { elem: x.elem, shape: null, value: x.value };
  if (node.opType === 'Squeeze') {
    const r = x.shape.length;
    const set = axes === undefined ? null : new Set(axes.map((a) => normAxis(a, r)));
    if (!set && x.shape.some((d) => typeof d !== 'number')) return { elem: x.elem, shape: null, value: x.value };
    return { elem: x.elem, shape: x.shape.filter((d, i) => (set ? !set.has(i) : d !== 1)), value: x.value };
  }
  const r = x.shape.length + (axes?.length ?? 0);
  const set = new Set((axes ?? []).map((a) => normAxis(a, r)));
  const shape: Dim[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) shape.push(set.has(i) ? 1 : x.shape[j++] ?? null);
  return { elem: x.elem, shape, value: x.value };
}

function splitInfo(node: Node, info: ShapeInfo, x: TypeInfo, opset: number): TypeInfo[] {
  const n = node.outputs.length;
  if (!x.shape) return node.outputs.map(() => ({ elem: x.elem, shape: null }));
  const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length);
  const sizes = splitSizes(node, info, opset, x.shape[axis]!, n);
  return node.outputs.map((_, i) => ({ elem: x.elem, shape: x.shape!.map((d, k) => (k === axis ? sizes?.[i] ?? null : d)) }));
}

/** Sizes of a Split's outputs along its axis, when they can be known. */
export function splitSizes(node: Node, info: ShapeInfo, opset: number, dim: Dim, n: number): number[] | null {
  const explicit = opset < 13 ? attrInts(node, 'split') : node.inputs[1] ? numericValue(info, node.inputs[1]) : undefined;
  if (explicit) return explicit;
  if (explicit === null) return null;
  if (typeof dim !== 'number') return null;
  const numOutputs = attrInt(node, 'num_outputs', n);
  const chunk = Math.ceil(dim / numOutputs);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

function matmulShape(a: Dim[] | null, b: Dim[] | null): Dim[] | null {
  if (!a || !b) return null;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
  if (!batch) return null;
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

