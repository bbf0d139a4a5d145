// thresholded-relu: ThresholdedRelu(x, alpha=κ). ai.onnx ≥ 10; the portable form (ORT CPU/CUDA,
// TensorRT); one scalar κ.

import { Attribute } from '../../ir/attribute.js';
import { InvalidModelError } from '../../ir/errors.js';
import { Node } from '../../ir/node.js';
import { DataType } from '../../ir/tensor.js';
import type { SiteRecord } from '../record.js';
import { activationType, elementTypeError, isOutputNode, opsetError, perChannelError, setFloat } from './common.js';
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
    const err = this.check(ctx, x, spec);
    if (err) throw err;
    const node = new Node('ThresholdedRelu', [x], { name: spec.name, outputs: [y], attributes: [Attribute.float('alpha', spec.kappa as number)] });
    ctx.graph.insertBefore(anchor, node);
    const record: SiteRecord = { graph: ctx.graphPath, node: spec.name, target: this.target, kappa: spec.kappa };
    if (spec.gradKappa !== undefined) record.grad_kappa = spec.gradKappa;
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
    const record: SiteRecord = { ...old, kappa: spec.kappa };
    delete record.grad_kappa;
    if (spec.gradKappa !== undefined) record.grad_kappa = spec.gradKappa;
    return record;
  },

  unlower(graph, node, record) {
    const x = node.inputs[0] ?? null;
    if (!x) throw new InvalidModelError(`recorded JumpReLU site '${record.node}' has no input`, { code: 'invalid-node' });
    graph.remove(node, true);
    return { x, orphans: [] };
  },

  gradient(node) {
    const x = node.inputs[0];
    if (!x || !isOutputNode(this.output, node)) return null;
    return { x, kappa: node.attr('alpha')?.asFloat() ?? 1.0, kappaInput: null };
  },
};
