// thresholded-relu: ThresholdedRelu(x, alpha=κ). ai.onnx ≥ 10; the portable form (ORT CPU/CUDA,
// TensorRT); one scalar κ.

import { Attribute } from '../../ir/attribute.js';
import { Node } from '../../ir/node.js';
import { DataType } from '../../ir/tensor.js';
import { activationType, isOutputNode, elementTypeError, loweredRecord, opsetError, perChannelError, removeSiteNode, setFloat, updatedRecord } from './common.js';
import type { JumpReluForm } from './form.js';

export const thresholdedReluForm: JumpReluForm = {
  target: 'thresholded-relu',
  requiredOpset: 10n,
  perChannel: false,
  output: { opType: 'ThresholdedRelu', domain: '', input: 0 },

  check(ctx, x, spec) {
    if (ctx.opset < this.requiredOpset) return opsetError(this.target, this.requiredOpset, ctx, 'use --target where (opset ≥ 9) or --target custom');
    if (Array.isArray(spec.kappa)) return perChannelError(spec);
    const { elem, name } = activationType(ctx, x);
    if (!name) return elementTypeError(ctx, this.target, spec, x, 'supports float activations only');
    if (elem === DataType.BFLOAT16 && ctx.opset < 22n) return elementTypeError(ctx, this.target, spec, x, 'needs opset ≥ 22 for bfloat16');
    return null;
  },

  lower(ctx, x, y, anchor, spec) {
    const node = new Node('ThresholdedRelu', [x], { name: spec.name, outputs: [y], attributes: [Attribute.float('alpha', spec.kappa as number)] });
    ctx.graph.insertBefore(anchor, node);
    const record = loweredRecord(ctx, this.target, spec);
    return { nodes: [node], record };
  },

  recognises(node) {
    return isOutputNode(this.output, node);
  },

  sync(_node, record) {
    return record;
  },

  update(_ctx, node, old, spec) {
    if (Array.isArray(spec.kappa) || Array.isArray(old.kappa)) return null;
    setFloat(node, 'alpha', spec.kappa);
    const record = updatedRecord(old, spec);
    return record;
  },

  unlower(graph, node, record) {
    return removeSiteNode(graph, node, record, 0, node.inputs.length);
  },

  gradient(node) {
    const x = node.inputs[0];
    if (!x || !isOutputNode(this.output, node)) return null;
    return { x, kappa: node.attr('alpha')?.asFloat() ?? 1.0, kappaInput: null };
  },
};
