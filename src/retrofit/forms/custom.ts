// custom: com.jumprelu::JumpRelu(x[, κ per channel]; kappa, grad_kappa), the custom op built from
// customops/ (float32 and float16 on CPU). A per-channel κ is a [C] input the op broadcasts along
// axis 1.

import { Attribute } from '../../ir/attribute.js';
import { Node } from '../../ir/node.js';
import { DataType } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { CUSTOM_DOMAIN, JUMPRELU_OP } from '../record.js';
import { activationType, caught, constant, isOutputNode, kappaTensorDims, elementTypeError, loweredRecord, ensureFunctionImport, ensureOpsetImport, opsetError, removeSiteNode, replaceConstant, setFloat, updatedRecord } from './common.js';
import type { JumpReluForm } from './form.js';

export const customForm: JumpReluForm = {
  target: 'custom',
  requiredOpset: 1n,
  perChannel: true,
  output: { opType: JUMPRELU_OP, domain: CUSTOM_DOMAIN, input: 0 },

  check(ctx, x, spec) {
    if (ctx.opset < this.requiredOpset) return opsetError(this.target, this.requiredOpset, ctx, 'update the model\'s opset');
    const { elem, name } = activationType(ctx, x);
    if (!name) return elementTypeError(ctx, this.target, spec, x, 'supports float activations only');
    if (elem === DataType.DOUBLE || elem === DataType.BFLOAT16) return elementTypeError(ctx, this.target, spec, x, 'runs float32 and float16 on CPU');
    return Array.isArray(spec.kappa) ? caught(() => kappaTensorDims(ctx, x, spec.kappa, false)) : null;
  },

  lower(ctx, x, y, anchor, spec) {
    const nodes: Node[] = [];
    const inputs: Value[] = [x];
    const perChannel = Array.isArray(spec.kappa);
    if (perChannel) inputs.push(constant(ctx, `${spec.name}_kappa`, kappaTensorDims(ctx, x, spec.kappa, false), spec.kappa as number[], nodes));
    const g = spec.gradKappa ?? spec.kappa;
    const attrs = [Attribute.float('kappa', perChannel ? 0 : (spec.kappa as number)), Attribute.float('grad_kappa', Array.isArray(g) ? 0 : g)];
    nodes.push(new Node(JUMPRELU_OP, inputs, { domain: CUSTOM_DOMAIN, name: spec.name, outputs: [y], attributes: attrs }));
    ensureOpsetImport(ctx.model, CUSTOM_DOMAIN);
    ensureFunctionImport(ctx, CUSTOM_DOMAIN);
    for (const n of nodes) ctx.graph.insertBefore(anchor, n);
    const record = loweredRecord(ctx, this.target, spec);
    return { nodes, record };
  },

  recognises(node) {
    return isOutputNode(this.output, node);
  },

  sync(_node, record) {
    return record;
  },

  update(ctx, node, old, spec) {
    if (Array.isArray(spec.kappa) !== Array.isArray(old.kappa)) return null;
    if (Array.isArray(spec.kappa)) {
      if (!replaceConstant(ctx, node, 1, spec.kappa)) return null;
    } else {
      setFloat(node, 'kappa', spec.kappa);
    }
    const g = spec.gradKappa ?? spec.kappa;
    setFloat(node, 'grad_kappa', Array.isArray(g) ? 0 : g);
    const record = updatedRecord(old, spec);
    return record;
  },

  unlower(graph, node, record) {
    return removeSiteNode(graph, node, record, 0, 1);
  },

  gradient(node) {
    const x = node.inputs[0];
    if (!x || !isOutputNode(this.output, node)) return null;
    const kappaInput = node.inputs[1] ?? null;
    const kappa = kappaInput ? null : node.attr('kappa')?.asFloat();
    if (kappa === undefined) return null;
    const g: ReturnType<JumpReluForm['gradient']> = { x, kappa, kappaInput };
    const own = node.attr('grad_kappa')?.asFloat();
    if (own !== undefined) g.gradKappa = own;
    return g;
  },
};
