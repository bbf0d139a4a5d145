// function: com.jumprelu.functions::JumpRelu(x; kappa[, grad_kappa]), a model-local function of
// standard ops, Where(X > kappa, X, 0). ONNX Runtime inlines it with the model's own opset: from
// opset 15 CastLike makes the body type-generic; for opsets 12–14 (Constant value_float) it is float32
// only. Model-local functions are an IR 8 feature. One scalar κ.

import { Attribute, AttributeType } from '../../ir/attribute.js';
import { UnsupportedModelError } from '../../ir/errors.js';
import { IrFunction } from '../../ir/function.js';
import { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import { Node } from '../../ir/node.js';
import { DataType } from '../../ir/tensor.js';
import { Value } from '../../ir/value.js';
import { ValueInfo } from '../../ir/value-info.js';
import { FUNCTION_DOMAIN, JUMPRELU_OP } from '../record.js';
import { activationType, isOutputNode, elementTypeError, loweredRecord, ensureFunctionImport, ensureOpsetImport, opsetError, perChannelError, removeSiteNode, setFloat, updatedRecord } from './common.js';
import type { JumpReluForm } from './form.js';

/** Constant(value_float) needs opset 12; CastLike (a type-generic body) needs 15. */
const FUNCTION_MIN_OPSET = 12n;
const CASTLIKE_OPSET = 15n;

export const functionForm: JumpReluForm = {
  target: 'function',
  requiredOpset: FUNCTION_MIN_OPSET,
  perChannel: false,
  output: { opType: JUMPRELU_OP, domain: FUNCTION_DOMAIN, input: 0 },

  check(ctx, x, spec) {
    if (ctx.opset < this.requiredOpset) return opsetError(this.target, this.requiredOpset, ctx, 'use --target thresholded-relu or where');
    if (Array.isArray(spec.kappa)) return perChannelError(spec);
    const { elem, name } = activationType(ctx, x);
    if (!name) return elementTypeError(ctx, this.target, spec, x, 'supports float activations only');
    if (elem !== DataType.FLOAT && ctx.opset < CASTLIKE_OPSET) return elementTypeError(ctx, this.target, spec, x, `needs opset ≥ ${CASTLIKE_OPSET} for non-float32 activations`);
    return null;
  },

  lower(ctx, x, y, anchor, spec) {
    ensureJumpReluFunction(ctx.model, ctx.model.opsetVersion('') ?? ctx.opset);
    const attrs = [Attribute.float('kappa', spec.kappa as number)];
    if (spec.gradKappa !== undefined && !Array.isArray(spec.gradKappa)) attrs.push(Attribute.float('grad_kappa', spec.gradKappa));
    const node = new Node(JUMPRELU_OP, [x], { domain: FUNCTION_DOMAIN, name: spec.name, outputs: [y], attributes: attrs });
    ensureFunctionImport(ctx, FUNCTION_DOMAIN);
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
    setFloat(node, 'kappa', spec.kappa);
    if (spec.gradKappa !== undefined && !Array.isArray(spec.gradKappa)) setFloat(node, 'grad_kappa', spec.gradKappa);
    else node.deleteAttr('grad_kappa');
    const record = updatedRecord(old, spec);
    return record;
  },

  unlower(graph, node, record) {
    return removeSiteNode(graph, node, record, 0, 1);
  },

  gradient(node, functionDefault) {
    const x = node.inputs[0];
    if (!x || !isOutputNode(this.output, node)) return null;
    const kappa = node.attr('kappa')?.asFloat() ?? functionDefault('kappa');
    if (kappa === undefined) return null;
    const g: ReturnType<JumpReluForm['gradient']> = { x, kappa, kappaInput: null };
    const own = node.attr('grad_kappa')?.asFloat();
    if (own !== undefined) g.gradKappa = own;
    return g;
  },
};

/** Adds the model-local function JumpRelu(X; kappa) = Where(X > kappa, X, 0) once. */
function ensureJumpReluFunction(model: Model, modelOpset: bigint): void {
  ensureOpsetImport(model, FUNCTION_DOMAIN);
  if (model.functions.some((f) => f.domain === FUNCTION_DOMAIN && f.name === JUMPRELU_OP)) return;
  if (modelOpset < FUNCTION_MIN_OPSET) {
    // The body is inlined with the model's opset, which may be older than the calling function's.
    throw new UnsupportedModelError(`--target function needs the model's ai.onnx opset ≥ ${FUNCTION_MIN_OPSET} (it imports ${modelOpset}); use --target thresholded-relu or where`, { code: 'opset-too-old' });
  }
  const generic = modelOpset >= CASTLIKE_OPSET;
  const body = new Graph(JUMPRELU_OP);
  const xv = new Value('X');
  xv.scope = body;
  body.addInput(xv, new ValueInfo(null));
  const kappaAttr = new Attribute('value_float', { type: AttributeType.FLOAT, value: 0 });
  kappaAttr.refAttrName = 'kappa';
  let k = body.append(new Node('Constant', [], { outputNames: ['kappa_f'], attributes: [kappaAttr] })).outputs[0]!;
  let z = body.append(new Node('Constant', [], { outputNames: ['zero_f'], attributes: [Attribute.float('value_float', 0)] })).outputs[0]!;
  if (generic) {
    k = body.append(new Node('CastLike', [k, xv], { outputNames: ['kappa_x'] })).outputs[0]!;
    z = body.append(new Node('CastLike', [z, xv], { outputNames: ['zero_x'] })).outputs[0]!;
  }
  const m = body.append(new Node('Greater', [xv, k], { outputNames: ['mask'] }));
  const y = body.append(new Node('Where', [m.outputs[0]!, xv, z], { outputNames: ['Y'] }));
  body.addOutput(y.outputs[0]!, new ValueInfo(null));
  const fn = new IrFunction(JUMPRELU_OP, FUNCTION_DOMAIN, body);
  fn.attributeNames = ['kappa', 'grad_kappa'];
  fn.opsetImports = [{ domain: '', version: modelOpset }];
  fn.docString = 'JumpReLU: Y = X if X > kappa else 0. grad_kappa is the threshold gradients use (metadata for the gradient compiler).'
    + (generic ? '' : ' Float32 only (the model\'s opset predates CastLike).');
  model.functions.push(fn);
  // Model-local functions are an IR 8 feature: an older header would make the file invalid ONNX.
  if (model.irVersion < 8n) model.irVersion = 8n;
}
