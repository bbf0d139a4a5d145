// VJP rules of pooling: MaxPool (scatter through the Indices output), AveragePool (a ConvTranspose with
// a constant kernel, after dividing by each window's divisor), GlobalAveragePool (broadcast).

import { Node } from '../../ir/node.js';
import { Value } from '../../ir/value.js';
import { attrInt, attrInts } from '../../ir/analysis/attrs.js';
import { windowGeometry } from '../../ir/analysis/shapes.js';
import { type Rule, type RuleContext, elemOf, fail, input, range, rankOf, staticDims, zeroFill } from './context.js';
import { adjointPadding } from './linear.js';

/** The MaxPool's Indices output, adding one to the node when the model did not ask for it. */
function indicesOf(c: RuleContext): Value {
  const node = c.node;
  const existing = node.outputs[1];
  if (existing && existing.name !== '') return existing;
  const graph = node.graph!;
  const replacement = new Node(node.opType, [...node.inputs], {
    domain: node.domain,
    name: node.name,
    attributes: [...node.attributes.values()],
    outputs: [node.outputs[0]!, new Value(c.e.names.fresh(`${node.outputs[0]!.name}_indices`))],
  });
  graph.insertBefore(node, replacement);
  graph.remove(node, true);
  c.info.inferNode(replacement);
  return replacement.outputs[1]!;
}

/**
 * MaxPool, through its Indices output (offsets into the flattened input, batch and channel included;
 * the first maximum of each window, as in PyTorch). Windows that do not overlap send each input
 * element to at most one output: MaxUnpool puts the gradient back. Overlapping windows can pick the
 * same element twice, so the gradient is a ScatterElements that adds (reduction='add', opset 16); so
 * is it when the spatial dims are not known numbers.
 * (ORT's MaxPool with Indices runs slower than without; a gradient built without indices — arg-max
 * of each window through reshapes, or an equality mask — measured slower still, see docs/gradients.md.)
 */
const maxPool: Rule = (c) => {
  if (attrInt(c.node, 'storage_order', 0) !== 0) fail(c, 'storage_order=1 is not supported');
  const x = input(c, 0);
  rankOf(c, x);
  if (c.gy[1]) fail(c, 'its Indices output is not differentiable');
  const kernel = attrInts(c.node, 'kernel_shape') ?? fail(c, 'no kernel_shape');
  const strides = attrInts(c.node, 'strides') ?? kernel.map(() => 1);
  const dilations = attrInts(c.node, 'dilations') ?? kernel.map(() => 1);
  const overlap = kernel.some((k, i) => strides[i]! < (k - 1) * dilations[i]! + 1);
  if (overlap) c.requireOpset(16, `MaxPool '${c.node.label}' has overlapping windows (ScatterElements reduction='add')`);
  const indices = indicesOf(c);
  const spatial = c.info.shape(x)?.slice(2);
  if (!overlap && spatial && spatial.every((d) => typeof d === 'number')) {
    // MaxUnpool wants an output at least (O−1)·s + k − pads long: a ceil_mode window that runs past
    // the input is accounted for as end padding.
    const g = windowGeometry(c.node, spatial, kernel);
    const os = g.out as number[];
    const padsEnd = kernel.map((k, i) => Math.max(g.padsEnd[i]!, (os[i]! - 1) * strides[i]! + k - g.padsBegin[i]! - (spatial[i] as number)));
    const attrs = { kernel_shape: kernel, strides, pads: [...g.padsBegin, ...padsEnd] };
    return [c.e.one('MaxUnpool', [c.gy[0]!, indices, c.e.shapeOf(x)], attrs)];
  }
  const flat = c.e.ints([-1]);
  const size = c.e.one('Reshape', [c.e.one('Size', [x]), flat]);
  const zeros = c.e.one('ConstantOfShape', [size], { value: zeroFill(elemOf(c, x)) });
  const scattered = c.e.one('ScatterElements', [
    zeros, c.e.one('Reshape', [indices, flat]), c.e.one('Reshape', [c.gy[0]!, flat]),
  ], overlap ? { axis: 0, reduction: 'add' } : { axis: 0 });
  return [c.e.one('Reshape', [scattered, c.e.shapeOf(x)])];
};

/**
 * How many elements each window divides by, per spatial axis and output position (ONNX/ORT rule: with
 * count_include_pad the window is clipped to the padded extent, else to the input).
 */
function divisors(size: number, out: number, k: number, s: number, d: number, pb: number, pe: number, includePad: boolean): number[] {
  return range(out).map((o) => {
    let n = 0;
    for (let j = 0; j < k; j++) {
      const p = o * s - pb + j * d;
      if (includePad ? p < size + pe : p >= 0 && p < size) n++;
    }
    return n;
  });
}

const averagePool: Rule = (c) => {
  const x = input(c, 0);
  rankOf(c, x);
  const kernel = attrInts(c.node, 'kernel_shape') ?? fail(c, 'no kernel_shape');
  const xs = staticDims(c, c.info.shape(x)?.slice(2), 'spatial dims of the input');
  const g = windowGeometry(c.node, xs, kernel);
  const os = staticDims(c, g.out, 'spatial dims of the output');
  const includePad = attrInt(c.node, 'count_include_pad', 0) === 1;
  const perAxis = xs.map((size, i) => divisors(size, os[i]!, kernel[i]!, g.strides[i]!, g.dilations[i]!, g.padsBegin[i]!, g.padsEnd[i]!, includePad));
  // Outer product of the per-axis counts: the divisor of each output position.
  let counts = [1];
  for (const axis of perAxis) counts = counts.flatMap((a) => axis.map((b) => a * b));
  const elem = elemOf(c, x);
  const uniform = counts.every((n) => n === counts[0]);
  const gy = c.gy[0]!;
  const scaled = uniform
    ? c.e.one('Mul', [gy, c.e.scalar(1 / counts[0]!, elem)])
    : c.e.one('Div', [gy, c.e.constant(elem, os, counts)]);
  // One channel at a time: [N·C, 1, spatial], so the kernel is a single constant of ones.
  const merged = c.e.one('Reshape', [scaled, c.e.ints([-1, 1, ...os])]);
  const kernelSize = kernel.reduce((a, b) => a * b, 1);
  const ones = c.e.constant(elem, [1, 1, ...kernel], new Array<number>(kernelSize).fill(1));
  const { pads, outputPadding } = adjointPadding(g, xs, os);
  const attrs: Record<string, number[]> = { strides: g.strides, dilations: g.dilations, pads, kernel_shape: kernel };
  if (outputPadding.some((p) => p > 0)) attrs.output_padding = outputPadding;
  const spread = c.e.one('ConvTranspose', [merged, ones], attrs);
  return [c.e.one('Reshape', [spread, c.e.shapeOf(x)])];
};

const globalAveragePool: Rule = (c) => {
  const x = input(c, 0);
  const gy = c.gy[0]!;
  const elem = elemOf(c, x);
  const spatial = c.info.shape(x)?.slice(2);
  let scale: Value;
  if (spatial && spatial.every((d) => typeof d === 'number')) {
    scale = c.e.scalar(1 / (spatial as number[]).reduce((a, b) => a * b, 1), elem);
  } else {
    const ratio = (v: Value) => c.e.one('Cast', [c.e.one('Size', [v])], { to: elem });
    scale = c.e.one('Div', [ratio(c.node.outputs[0]!), ratio(x)]);
  }
  return [c.e.one('Expand', [c.e.one('Mul', [gy, scale]), c.e.shapeOf(x)])];
};

export const poolRules: Record<string, Rule> = {
  MaxPool: maxPool, AveragePool: averagePool, GlobalAveragePool: globalAveragePool,
};
