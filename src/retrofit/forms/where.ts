// where: Where(Greater(x, κ), x, 0). ai.onnx ≥ 9; κ may be per channel ([C,1,…,1], the rank of x).
// κ and 0 are float32 constants, cast to x's type when that is another float type (ORT folds the Cast).
// The record names the Greater node (mask_node) and the κ value it reads (kappa_value).

import { Attribute } from '../../ir/attribute.js';
import { Node } from '../../ir/node.js';
import { constantOf } from '../../ir/analysis/constants.js';
import { DataType } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { activationType, caught, constant, ELEM_NAMES, isOutputNode, kappaTensorDims, elementTypeError, loweredRecord, opsetError, removeSiteNode, replaceConstant, updatedRecord } from './common.js';
import type { JumpReluForm } from './form.js';

export const whereForm: JumpReluForm = {
  target: 'where',
  requiredOpset: 9n,
  perChannel: true,
  output: { opType: 'Where', domain: '', input: 1 },

  check(ctx, x, spec) {
    if (ctx.opset < this.requiredOpset) return opsetError(this.target, this.requiredOpset, ctx, 'use --target custom');
    if (!activationType(ctx, x).name) return elementTypeError(ctx, this.target, spec, x, 'supports float activations only');
    return Array.isArray(spec.kappa) ? caught(() => kappaTensorDims(ctx, x, spec.kappa, true)) : null;
  },

  lower(ctx, x, y, anchor, spec) {
    const nodes: Node[] = [];
    const { elem } = activationType(ctx, x);
    let k = constant(ctx, `${spec.name}_kappa`, kappaTensorDims(ctx, x, spec.kappa, true), typeof spec.kappa === 'number' ? [spec.kappa] : spec.kappa, nodes);
    let zero = constant(ctx, `${spec.name}_zero`, [], [0], nodes);
    if (elem !== DataType.FLOAT) {
      // Greater and Where need κ and 0 in x's type: cast the float32 constants.
      const cast = (v: Value): Value => {
        const c = new Node('Cast', [v], { name: ctx.names.fresh(`${v.name}_cast`), outputNames: [ctx.names.fresh(`${v.name}_${ELEM_NAMES[elem]}`)], attributes: [Attribute.int('to', elem)] });
        nodes.push(c);
        return c.outputs[0]!;
      };
      k = cast(k);
      zero = cast(zero);
    }
    const maskName = ctx.names.fresh(`${spec.name}_mask`);
    const greater = new Node('Greater', [x, k], { name: maskName, outputNames: [ctx.names.fresh(`${y.name}_jump_mask`)] });
    nodes.push(greater);
    nodes.push(new Node('Where', [greater.outputs[0]!, x, zero], { name: spec.name, outputs: [y] }));
    for (const n of nodes) ctx.graph.insertBefore(anchor, n);
    const record = loweredRecord(ctx, this.target, spec);
    record.mask_node = maskName;
    record.kappa_value = k.name;
    return { nodes, record };
  },

  recognises(node) {
    return isOutputNode(this.output, node);
  },

  /** ORT deduplicates equal initializers: the κ value the mask reads may have been renamed or merged. */
  sync(node, record) {
    const mask = node.inputs[0]?.producer;
    const k = mask && mask.name === record.mask_node && mask.opType === 'Greater' ? mask.inputs[1] : null;
    return k && k.name !== record.kappa_value ? { ...record, kappa_value: k.name } : record;
  },

  update(ctx, node, old, spec) {
    if (Array.isArray(spec.kappa) !== Array.isArray(old.kappa)) return null;
    const mask = node.inputs[0]?.producer;
    const k = mask?.inputs[1] ?? null;
    if (!mask || !k || k.name !== old.kappa_value || mask.name !== old.mask_node) return null;
    const now = replaceConstant(ctx, mask, 1, typeof spec.kappa === 'number' ? [spec.kappa] : spec.kappa);
    if (!now) return null;
    const record = updatedRecord(old, spec);
    record.kappa_value = now.name;
    return record;
  },

  unlower(graph, node, record) {
    // Where(mask, x, zero): the mask's Greater node and the κ and zero constants become orphans.
    return removeSiteNode(graph, node, record, 1, 0);
  },

  /** The pattern Where(Greater(x, κ), x, 0) with constant κ and zero, recorded or not. */
  gradient(node) {
    if (!isOutputNode(this.output, node)) return null;
    const [cond, a, b] = node.inputs;
    const g = cond?.producer;
    if (!a || !g || g.opType !== 'Greater' || g.domain !== '' || g.inputs[0] !== a) return null;
    const zero = constantOf(b);
    const kappaInput = g.inputs[1] ?? null;
    if (!zero || !zero.values.every((v) => v === 0) || !constantOf(kappaInput)) return null;
    return { x: a, kappa: null, kappaInput };
  },
};
