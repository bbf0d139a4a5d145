// VJP rules of data movement beyond shape.ts: GatherElements (scatter-add back), Tile (sum over the
// copies), Resize in nearest and linear modes (the transpose of the per-axis interpolation matrix).

import type { Value } from '../../ir/value.js';
import { attrInt, attrInts, attrString } from '../../ir/analysis/attrs.js';
import { constantOf } from '../../ir/analysis/constants.js';
import { type Rule, type RuleContext, elemOf, fail, input, normAxis, range, rankOf, reduce, zerosLike } from './context.js';

/** GatherElements: the gradient is scattered back, adding where indices repeat (ScatterElements reduction='add', opset 16). */
const gatherElements: Rule = (c) => {
  if (c.needs(1)) fail(c, 'indices are not differentiable');
  const x = input(c, 0);
  const axis = normAxis(attrInt(c.node, 'axis', 0), rankOf(c, x));
  c.requireOpset(16, `GatherElements '${c.node.label}' may repeat indices (ScatterElements reduction='add')`);
  return [c.e.one('ScatterElements', [zerosLike(c, x), input(c, 1), c.gy[0]!], { axis, reduction: 'add' })];
};

/** Known integer contents of a value (constant, or folded from a Shape computation). */
export function knownInts(c: RuleContext, v: Value | null | undefined): number[] | null {
  if (!v) return null;
  const val = c.info.get(v).value;
  if (val && val.every((d) => typeof d === 'number')) return val as number[];
  return constantOf(v)?.values ?? null;
}

/** The dim `axis` of `v` as a 1-element int64 vector (a constant when known). */
function dimOf(c: RuleContext, v: Value, axis: number): Value {
  const d = c.info.shape(v)?.[axis];
  if (typeof d === 'number') return c.e.ints([d]);
  return c.e.one('Slice', [c.e.shapeOf(v), c.e.ints([axis]), c.e.ints([axis + 1])]);
}

/** Tile: y viewed as [r₀, d₀, r₁, d₁, …] and summed over the repeat axes. */
const tile: Rule = (c) => {
  const x = input(c, 0);
  const r = rankOf(c, x);
  const reps = knownInts(c, c.node.inputs[1]) ?? fail(c, 'its repeats must be constants (or computed from shapes)');
  if (reps.every((k) => k === 1)) return [c.gy[0]!, null];
  const parts: Value[] = [];
  for (let i = 0; i < r; i++) parts.push(c.e.ints([reps[i]!]), dimOf(c, x, i));
  const view = c.e.one('Reshape', [c.gy[0]!, c.e.one('Concat', parts, { axis: 0 })]);
  return [reduce(c, 'ReduceSum', view, range(r).map((i) => 2 * i), 0), null];
};

/**
 * The interpolation matrix [out, in] of one axis of a Resize (ONNX's coordinate transforms; linear
 * taps clamped to the edge, nearest indices clamped to [0, in − 1], as ONNX Runtime and PyTorch).
 */
export function resizeMatrix(c: RuleContext, size: number, out: number, scale: number): number[] {
  const mode = attrString(c.node, 'mode', 'nearest');
  const transform = attrString(c.node, 'coordinate_transformation_mode', 'half_pixel');
  const nearestMode = attrString(c.node, 'nearest_mode', 'round_prefer_floor');
  const m = new Array<number>(out * size).fill(0);
  const source = (o: number): number => {
    switch (transform) {
      case 'half_pixel': return (o + 0.5) / scale - 0.5;
      case 'pytorch_half_pixel': return out > 1 ? (o + 0.5) / scale - 0.5 : 0;
      case 'align_corners': return out === 1 ? 0 : (o * (size - 1)) / (out - 1);
      case 'asymmetric': return o / scale;
      case 'half_pixel_symmetric': {
        const adjustment = out / (scale * size);
        const offset = (size / 2) * (1 - adjustment);
        return offset + (o + 0.5) / scale - 0.5;
      }
      default: return fail(c, `coordinate_transformation_mode '${transform}' is not supported`);
    }
  };
  for (let o = 0; o < out; o++) {
    const s = source(o);
    if (mode === 'nearest') {
      let i: number;
      switch (nearestMode) {
        case 'round_prefer_floor': i = s === Math.floor(s) + 0.5 ? Math.floor(s) : Math.round(s); break;
        case 'round_prefer_ceil': i = Math.round(s); break;
        case 'floor': i = Math.floor(s); break;
        case 'ceil': i = Math.ceil(s); break;
        default: return fail(c, `nearest_mode '${nearestMode}' is not supported`);
      }
      m[o * size + Math.min(Math.max(i, 0), size - 1)] = 1;
    } else if (mode === 'linear') {
      const p = Math.min(Math.max(s, 0), size - 1);
      const i0 = Math.floor(p);
      const i1 = Math.min(i0 + 1, size - 1);
      const w = p - i0;
      m[o * size + i0]! += 1 - w;
      m[o * size + i1]! += w;
    } else {
      fail(c, `mode '${mode}' is not supported (nearest and linear are)`);
    }
  }
  return m;
}

/** Resize (opset ≥ 11, nearest or linear): per resized axis, gx = gy·M along that axis. */
const resize: Rule = (c) => {
  if (c.opset < 11) fail(c, 'Resize before opset 11 is not supported');
  if (attrInt(c.node, 'antialias', 0) === 1) fail(c, 'antialias=1 is not supported');
  const policy = attrString(c.node, 'keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch') fail(c, `keep_aspect_ratio_policy='${policy}' is not supported`);
  if (attrString(c.node, 'coordinate_transformation_mode', 'half_pixel') === 'tf_crop_and_resize') {
    fail(c, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
  }
  const x = input(c, 0);
  const r = rankOf(c, x);
  const xs = c.info.shape(x)!;
  const axes = (attrInts(c.node, 'axes') ?? range(r)).map((a) => normAxis(a, r));
  const scalesIn = c.node.inputs[2] ?? null;
  const sizesIn = c.node.inputs[3] ?? null;
  const scalesConst = scalesIn ? constantOf(scalesIn) : null;
  const scales = scalesConst && scalesConst.values.length > 0 ? scalesConst.values : null;
  const sizes = sizesIn ? knownInts(c, sizesIn) : null;
  if (!scales && !sizes) fail(c, 'its scales or sizes must be constants (or computed from shapes)');
  let g = c.gy[0]!;
  const elem = elemOf(c, g);
  axes.forEach((axis, i) => {
    const size = xs[axis];
    if (!sizes && scales![i] === 1) return; // an axis kept as it is (the batch and channels of an upsampling)
    if (typeof size !== 'number') fail(c, `axis ${axis} of its input has no known length`);
    const out = sizes ? sizes[i]! : Math.floor(size * scales![i]!);
    const scale = sizes ? out / size : scales![i]!;
    if (out === size && scale === 1) return;
    const matrix = c.e.constant(elem, [out, size], resizeMatrix(c, size, out, scale));
    const perm = range(r);
    perm[axis] = r - 1;
    perm[r - 1] = axis;
    const last = axis === r - 1 ? g : c.e.one('Transpose', [g], { perm });
    const back = c.e.one('MatMul', [last, matrix]);
    g = axis === r - 1 ? back : c.e.one('Transpose', [back], { perm });
  });
  return [g];
};

export const movementRules: Record<string, Rule> = {
  GatherElements: gatherElements, Tile: tile, Resize: resize,
};
