// Constant folding of small integer tensors of any rank, for shape inference: exporters compute pads,
// slice bounds and reshape targets with Shape → Gather → arithmetic → Concat → Reshape → Slice →
// Transpose chains (PyTorch's F.pad: the pads reversed pairwise through a [-1, 2] reshape). Rank 0/1
// values are also folded by shapes.ts itself; this covers the rest, on flat row-major values whose
// entries may be symbolic dims (only movement ops and Mul/Div accept those).

import type { Node } from '../node.js';
import { DataType } from '../tensor.js';
import type { Value } from '../value.js';
import { attrInt, attrInts, attrTensor } from './attrs.js';
import { constantOf, tensorValues } from './constants.js';
import type { Dim } from './typeproto.js';

/** The most elements a folded tensor may have. */
export const MAX_FOLDED_ELEMENTS = 1024;

export interface Known { shape: number[]; values: Dim[] }

/** What folding needs from the inference: static shapes and known values of inputs. */
export interface FoldContext {
  staticShape(v: Value | null | undefined): number[] | null;
  knownValue(v: Value | null | undefined): Dim[] | null | undefined;
  elem(v: Value | null | undefined): number | null;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Multi-index of flat offset `i` in `shape`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    out[k] = i % shape[k]!;
    i = Math.floor(i / shape[k]!);
  }
  return out;
}

function known(c: FoldContext, v: Value | null | undefined): Known | null {
  if (!v) return null;
  const shape = c.staticShape(v);
  if (!shape || size(shape) > MAX_FOLDED_ELEMENTS) return null;
  const val = c.knownValue(v);
  if (val && val.length === size(shape)) return { shape, values: val };
  const k = constantOf(v);
  if (k && k.values.length === size(shape) && isInt(k.dataType)) return { shape, values: k.values };
  return null;
}

function isInt(elem: number | null): boolean {
  return elem === DataType.INT64 || elem === DataType.INT32 || elem === DataType.INT16 || elem === DataType.INT8
    || elem === DataType.UINT8 || elem === DataType.UINT16 || elem === DataType.UINT32 || elem === DataType.UINT64
    || elem === DataType.BOOL;
}

function broadcastStatic(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[i - (r - a.length)] ?? 1;
    const y = b[i - (r - b.length)] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Elementwise op over broadcast inputs. */
function elementwise(ins: Known[], f: (xs: Dim[]) => Dim): Known | null {
  let shape: number[] = [];
  for (const k of ins) {
    const s = broadcastStatic(shape, k.shape);
    if (!s) return null;
    shape = s;
  }
  const n = size(shape);
  if (n > MAX_FOLDED_ELEMENTS) return null;
  const values: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    values.push(f(ins.map((k) => {
      const lead = shape.length - k.shape.length;
      const st = strides(k.shape);
      let off = 0;
      k.shape.forEach((d, j) => { off += (d === 1 ? 0 : idx[j + lead]!) * st[j]!; });
      return k.values[off]!;
    })));
  }
  return { shape, values };
}

function numeric(f: (...xs: number[]) => number | null): (xs: Dim[]) => Dim {
  return (xs) => (xs.every((x) => typeof x === 'number') ? f(...(xs as number[])) : null);
}

const ARITHMETIC: Record<string, (xs: Dim[]) => Dim> = {
  Add: numeric((a, b) => a + b),
  Sub: numeric((a, b) => a - b),
  Mul: numeric((a, b) => a * b),
  Div: numeric((a, b) => (b === 0 ? null : Math.trunc(a / b))),
  Max: numeric((...xs) => Math.max(...xs)),
  Min: numeric((...xs) => Math.min(...xs)),
  Equal: (xs) => (xs[0] === xs[1] && xs[0] !== null ? 1 : typeof xs[0] === 'number' && typeof xs[1] === 'number' ? 0 : null),
  Less: numeric((a, b) => (a < b ? 1 : 0)),
  Greater: numeric((a, b) => (a > b ? 1 : 0)),
  Where: (xs) => (xs[0] === null ? null : xs[0] ? xs[1]! : xs[2]!),
  Neg: numeric((a) => -a),
  Abs: numeric((a) => Math.abs(a)),
  Not: numeric((a) => (a ? 0 : 1)),
};

function mod(fmod: boolean): (xs: Dim[]) => Dim {
  return numeric((a, b) => {
    if (b === 0) return null;
    const r = a % b;
    return fmod || r === 0 || Math.sign(r) === Math.sign(b) ? r : r + b;
  });
}

/**
 * The value of output `index` of `node` when every input it needs is a known small integer tensor
 * (`outShape`: the output's inferred static shape), else null.
 */
export function foldOutput(node: Node, c: FoldContext, outShape: number[] | null, sliceBounds: () => { starts: number[]; ends: number[]; axes: number[]; steps: number[] } | null): Dim[] | null {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return null;
  const op = node.opType;
  const x = () => known(c, node.inputs[0]);
  switch (op) {
    case 'Constant': {
      const k = constantOf(node.outputs[0]);
      return k && isInt(k.dataType) && k.values.length <= MAX_FOLDED_ELEMENTS ? k.values : null;
    }
    case 'Identity': case 'Reshape': case 'Flatten': case 'Squeeze': case 'Unsqueeze': {
      const k = x();
      return k && outShape && size(outShape) === k.values.length ? k.values : null;
    }
    case 'Cast': {
      const k = x();
      return k && isInt(attrInt(node, 'to', 0)) ? k.values : null;
    }
    case 'Transpose': {
      const k = x();
      if (!k) return null;
      const perm = attrInts(node, 'perm') ?? k.shape.map((_, i) => k.shape.length - 1 - i);
      const out = perm.map((p) => k.shape[p]!);
      const st = strides(k.shape);
      return Array.from({ length: k.values.length }, (_, i) => {
        const idx = unravel(i, out);
        return k.values[idx.reduce((o, v, j) => o + v * st[perm[j]!]!, 0)]!;
      });
    }
    case 'Slice': {
      const k = x();
      const p = sliceBounds();
      if (!k || !p || !outShape) return null;
      const r = k.shape.length;
      const start = new Array<number>(r).fill(0);
      const step = new Array<number>(r).fill(1);
      p.axes.forEach((a, i) => {
        const d = k.shape[a]!;
        let s = p.starts[i]! < 0 ? p.starts[i]! + d : p.starts[i]!;
        const st = p.steps[i]!;
        s = st > 0 ? Math.min(Math.max(s, 0), d) : Math.min(Math.max(s, 0), d - 1);
        start[a] = s;
        step[a] = st;
      });
      const st = strides(k.shape);
      return Array.from({ length: size(outShape) }, (_, i) => {
        const idx = unravel(i, outShape);
        return k.values[idx.reduce((o, v, j) => o + (start[j]! + v * step[j]!) * st[j]!, 0)]!;
      });
    }
    case 'ConstantOfShape': {
      if (!outShape || size(outShape) > MAX_FOLDED_ELEMENTS) return null;
      const t = attrTensor(node, 'value');
      if (t && !isInt(t.dataType)) return null;
      const fill = t ? tensorValues(t)?.[0] ?? null : 0;
      return fill === null ? null : new Array<Dim>(size(outShape)).fill(fill);
    }
    case 'Concat': {
      const ins = node.inputs.map((v) => known(c, v));
      if (ins.some((k) => !k) || !outShape || ins.length === 0) return null;
      const r = outShape.length;
      const axis = attrInt(node, 'axis', 0) < 0 ? attrInt(node, 'axis', 0) + r : attrInt(node, 'axis', 0);
      const outer = size(outShape.slice(0, axis));
      const values: Dim[] = [];
      for (let o = 0; o < outer; o++) {
        for (const k of ins as Known[]) {
          const chunk = size(k.shape.slice(axis));
          values.push(...k.values.slice(o * chunk, (o + 1) * chunk));
        }
      }
      return values;
    }
    case 'Gather': {
      const k = x();
      const idx = known(c, node.inputs[1]);
      if (!k || !idx || !outShape) return null;
      const r = k.shape.length;
      const axis = attrInt(node, 'axis', 0) < 0 ? attrInt(node, 'axis', 0) + r : attrInt(node, 'axis', 0);
      const outer = size(k.shape.slice(0, axis));
      const inner = size(k.shape.slice(axis + 1));
      const dim = k.shape[axis]!;
      const values: Dim[] = [];
      for (let o = 0; o < outer; o++) {
        for (const i of idx.values) {
          if (typeof i !== 'number') return null;
          const j = i < 0 ? i + dim : i;
          values.push(...k.values.slice((o * dim + j) * inner, (o * dim + j + 1) * inner));
        }
      }
      return values;
    }
    case 'Mod': {
      const ins = node.inputs.map((v) => known(c, v));
      if (ins.some((k) => !k)) return null;
      return elementwise(ins as Known[], mod(attrInt(node, 'fmod', 0) === 1))?.values ?? null;
    }
  }
  const f = ARITHMETIC[op];
  if (!f) return null;
  if (!isInt(c.elem(node.inputs[op === 'Where' ? 1 : 0]))) return null;
  const ins = node.inputs.map((v) => known(c, v));
  if (ins.some((k) => !k)) return null;
  return elementwise(ins as Known[], f)?.values ?? null;
}
