// The four ways a JumpReLU site J(x) = x·1[x > κ] is written in ONNX.
//
//   thresholded-relu  ThresholdedRelu(alpha=κ)                 ai.onnx ≥ 10; portable (ORT CPU/CUDA, TensorRT)
//   where             Where(Greater(x, κ), x, 0)               ai.onnx ≥ 9; κ may be per channel
//   function          com.jumprelu.functions::JumpRelu(kappa)  a model-local function of standard ops
//   custom            com.jumprelu::JumpRelu(kappa, grad_kappa) needs the library built from customops/
//
// Each lowering replaces the node that produced the site's output and keeps the output Value, so the
// users of the activation are not touched.

import { Attribute, AttributeType } from '../ir/attribute.js';
import { InvalidModelError, UnsupportedModelError, UsageError } from '../ir/errors.js';
import { IrFunction } from '../ir/function.js';
import { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { NameAuthority } from '../ir/names.js';
import { Node } from '../ir/node.js';
import { DataType, Tensor } from '../ir/tensor.js';
import { Value } from '../ir/value.js';
import { ValueInfo } from '../ir/value-info.js';
import { removeIfUnused } from './cleanup.js';
import { CUSTOM_DOMAIN, FUNCTION_DOMAIN, JUMPRELU_OP, type Kappa, type SiteRecord, type Target } from '../retrofit/record.js';

export const FUNCTION_NAME = JUMPRELU_OP;
/** Constant(value_float) needs opset 12; CastLike (a type-generic body) needs 15. */
const FUNCTION_MIN_OPSET = 12n;
const CASTLIKE_OPSET = 15n;

export interface LoweringContext {
  model: Model;
  names: NameAuthority;
  graph: Graph;
  graphPath: string;
  /** True inside a function body, where constants must be Constant nodes, not initializers. */
  inFunction: boolean;
  /** The opset that governs this graph's ai.onnx ops. */
  opset: bigint;
}

export interface JumpSpec {
  target: Target;
  kappa: Kappa;
  gradKappa?: Kappa;
  /** Name for the node that will produce the output. */
  name: string;
}

/** The ai.onnx opset a target's ops need in the graph holding the site (the function target checks its own). */
export function requiredOpset(target: Target): bigint {
  return target === 'thresholded-relu' ? 10n : target === 'where' ? 9n : 1n;
}

const ELEM_NAMES: Record<number, string> = {
  [DataType.FLOAT]: 'float32', [DataType.FLOAT16]: 'float16', [DataType.DOUBLE]: 'float64', [DataType.BFLOAT16]: 'bfloat16',
};

/** The element type of an activation: declared, or read off the weights upstream; null when unknown. */
export function elementType(x: Value): number | null {
  const declared = (x.scope ?? null)?.declaredType(x)?.tensorType?.elemType;
  if (declared) return declared;
  for (let v: Value | null | undefined = x, depth = 0; v && depth < 32; depth++) {
    if (v.initializer) return v.initializer.dataType;
    const p: Node | null = v.producer;
    if (!p) return null;
    if (p.opType === 'Conv' || p.opType === 'ConvTranspose' || p.opType === 'Gemm' || p.opType === 'MatMul') {
      const w = p.inputs[1]?.initializer;
      if (w) return w.dataType;
    }
    if (!RANK_PRESERVING.has(p.opType) && p.opType !== 'MaxPool' && p.opType !== 'AveragePool' && p.opType !== 'Flatten' && p.opType !== 'Reshape') return null;
    v = p.inputs[0];
  }
  return null;
}

/**
 * Everything that can make a site's lowering fail, checked before the pass changes anything: the
 * target's opset, per-channel κ support and shape, and the activation's element type. An unknown type
 * is taken as float32 (what exported CNNs use).
 */
export function checkSite(ctx: Pick<LoweringContext, 'graph' | 'opset'>, x: Value, spec: Pick<JumpSpec, 'target' | 'kappa' | 'name'>): void {
  const perChannel = Array.isArray(spec.kappa);
  if (perChannel && (spec.target === 'thresholded-relu' || spec.target === 'function')) {
    throw new UsageError(`site '${spec.name}': a per-channel κ needs --target where or --target custom`);
  }
  if (spec.target === 'function' && ctx.opset < FUNCTION_MIN_OPSET) {
    throw new UnsupportedModelError(`--target function needs the model's ai.onnx opset ≥ ${FUNCTION_MIN_OPSET} (it imports ${ctx.opset}); use --target thresholded-relu or where`, { code: 'opset-too-old' });
  }
  const elem = elementType(x) ?? DataType.FLOAT;
  const name = ELEM_NAMES[elem];
  const unsupported = (why: string): never => {
    throw new UnsupportedModelError(`site '${spec.name}': --target ${spec.target} ${why} (the activation '${x.name}' is ${name ?? `ONNX type ${elem}`})`, { code: 'element-type' });
  };
  if (!name) unsupported('supports float activations only');
  if (elem === DataType.BFLOAT16 && spec.target === 'thresholded-relu' && ctx.opset < 22n) unsupported('needs opset ≥ 22 for bfloat16');
  if (elem !== DataType.FLOAT && spec.target === 'function' && ctx.opset < CASTLIKE_OPSET) unsupported(`needs opset ≥ ${CASTLIKE_OPSET} for non-float32 activations`);
  if ((elem === DataType.DOUBLE || elem === DataType.BFLOAT16) && spec.target === 'custom') unsupported('runs float32 and float16 on CPU');
  if (perChannel) kappaTensorDims(ctx, x, spec.kappa, spec.target === 'where');
}

/**
 * Replaces `old` (which computes y from x) with the lowering of `spec`. `old` may be a Relu, a
 * previous lowering's output node, or null when inserting a new site in front of a Clip.
 */
export function lowerSite(ctx: LoweringContext, x: Value, y: Value, anchor: Node, spec: JumpSpec): { nodes: Node[]; record: SiteRecord } {
  const record: SiteRecord = { graph: ctx.graphPath, node: spec.name, target: spec.target, kappa: spec.kappa };
  if (spec.gradKappa !== undefined) record.grad_kappa = spec.gradKappa;
  checkSite(ctx, x, spec);
  const perChannel = Array.isArray(spec.kappa);
  const nodes: Node[] = [];
  switch (spec.target) {
    case 'thresholded-relu':
      nodes.push(new Node('ThresholdedRelu', [x], { name: spec.name, outputs: [y], attributes: [Attribute.float('alpha', spec.kappa as number)] }));
      break;
    case 'custom': {
      const inputs: Value[] = [x];
      if (perChannel) inputs.push(constant(ctx, `${spec.name}_kappa`, kappaTensorDims(ctx, x, spec.kappa, false), spec.kappa as number[], nodes));
      const attrs = [Attribute.float('kappa', perChannel ? 0 : (spec.kappa as number))];
      const g = spec.gradKappa ?? spec.kappa;
      attrs.push(Attribute.float('grad_kappa', Array.isArray(g) ? 0 : g));
      nodes.push(new Node('JumpRelu', inputs, { domain: CUSTOM_DOMAIN, name: spec.name, outputs: [y], attributes: attrs }));
      ensureOpsetImport(ctx.model, CUSTOM_DOMAIN);
      ensureFunctionImport(ctx, CUSTOM_DOMAIN);
      break;
    }
    case 'function': {
      ensureJumpReluFunction(ctx.model, ctx.model.opsetVersion('') ?? ctx.opset);
      const attrs = [Attribute.float('kappa', spec.kappa as number)];
      if (spec.gradKappa !== undefined && !Array.isArray(spec.gradKappa)) attrs.push(Attribute.float('grad_kappa', spec.gradKappa));
      nodes.push(new Node(FUNCTION_NAME, [x], { domain: FUNCTION_DOMAIN, name: spec.name, outputs: [y], attributes: attrs }));
      ensureFunctionImport(ctx, FUNCTION_DOMAIN);
      break;
    }
    case 'where': {
      const elem = elementType(x) ?? DataType.FLOAT;
      let k = constant(ctx, `${spec.name}_kappa`, kappaTensorDims(ctx, x, spec.kappa, true), typeof spec.kappa === 'number' ? [spec.kappa] : spec.kappa, nodes);
      let zero = constant(ctx, `${spec.name}_zero`, [], [0], nodes);
      if (elem !== DataType.FLOAT) {
        // Greater and Where need κ and 0 in x's type: cast the float32 constants (ORT folds the Cast).
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
      record.mask_node = maskName;
      record.kappa_value = k.name;
      break;
    }
  }
  for (const n of nodes) ctx.graph.insertBefore(anchor, n);
  return { nodes, record };
}

/** Removes a node made by lowerSite (and its helpers), leaving y without a producer; returns x. */
export function unlowerSite(graph: Graph, outputNode: Node, record: SiteRecord): Value {
  let x: Value | null;
  const orphans: Value[] = [];
  if (record.target === 'where') {
    // Where(mask, x, zero): the mask's Greater node and the κ and zero constants become orphans.
    x = outputNode.inputs[1] ?? null;
    orphans.push(...outputNode.inputs.filter((v): v is Value => v !== null));
  } else {
    x = outputNode.inputs[0] ?? null;
    orphans.push(...outputNode.inputs.slice(1).filter((v): v is Value => v !== null));
  }
  if (!x) throw new InvalidModelError(`recorded JumpReLU site '${record.node}' has no input`, { code: 'invalid-node' });
  graph.remove(outputNode, true);
  removeIfUnused(orphans);
  return x;
}

/** Scalar κ is a 0-d tensor; per-channel κ is [C] for the custom op, [C,1,…,1] (rank of x) for Where. */
function kappaTensorDims(ctx: Pick<LoweringContext, 'graph'>, x: Value, kappa: Kappa, broadcastTrailing: boolean): number[] {
  if (typeof kappa === 'number') return [];
  const shape = (x.scope ?? ctx.graph).declaredType(x)?.tensorType?.shape ?? null;
  const declared = shape?.[1];
  const channels = typeof declared === 'bigint' ? Number(declared) : inferChannels(x, 0);
  if (channels === null) {
    throw new UnsupportedModelError(`per-channel κ for '${x.name}': its channel count is not declared and cannot be told from its producers; add value_info (e.g. run ONNX shape inference) or use a scalar κ`, { code: 'shape-unknown' });
  }
  if (channels !== kappa.length) {
    throw new UsageError(`per-channel κ for '${x.name}' has ${kappa.length} values but the activation has ${channels} channels`, { code: 'kappa-channels' });
  }
  if (!broadcastTrailing) return [kappa.length]; // the custom op broadcasts along axis 1 itself
  const rank = shape ? shape.length : inferRank(x, 0);
  if (rank === null) {
    throw new UnsupportedModelError(`per-channel κ for '${x.name}': its rank is not declared and cannot be told from its producers; add value_info (e.g. run ONNX shape inference) or use a scalar κ`, { code: 'shape-unknown' });
  }
  if (rank < 2) throw new UsageError(`per-channel κ for '${x.name}' needs an input of rank ≥ 2`);
  return [kappa.length, ...new Array<number>(rank - 2).fill(1)];
}

const RANK_PRESERVING = new Set(['Relu', 'ThresholdedRelu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Clip', 'Identity', 'Dropout',
  'BatchNormalization', 'InstanceNormalization', 'Add', 'Sub', 'Mul', 'Div', 'Where', 'Neg', 'Abs']);

/** The size of axis 1 of a value without a declared type, from the ops that produce it. */
function inferChannels(x: Value, depth: number): number | null {
  const p = x.producer;
  if (!p || depth > 32) return null;
  switch (p.opType) {
    case 'Conv': { const w = p.inputs[1]?.initializer; return w ? Number(w.dims[0]) : null; }
    case 'ConvTranspose': {
      const w = p.inputs[1]?.initializer;
      return w ? Number(w.dims[1]) * Number(p.attr('group')?.asInt() ?? 1n) : null;
    }
    case 'Gemm': {
      const w = p.inputs[1]?.initializer;
      if (!w) return null;
      return Number(p.attr('transB')?.asInt() ?? 0n) ? Number(w.dims[0]) : Number(w.dims[1]);
    }
    case 'BatchNormalization': { const sc = p.inputs[1]?.initializer; return sc ? Number(sc.dims[0]) : inferChannels(p.inputs[0]!, depth + 1); }
    case 'MaxPool': case 'AveragePool': case 'LpPool': return p.inputs[0] ? inferChannels(p.inputs[0], depth + 1) : null;
  }
  if (!RANK_PRESERVING.has(p.opType) || !p.inputs[0]) return null;
  return inferChannels(p.inputs[0], depth + 1);
}

/** The rank of a value without a declared type, from the ops that produce it (a short walk upstream). */
function inferRank(x: Value, depth: number): number | null {
  const p = x.producer;
  if (!p || depth > 32) return null;
  switch (p.opType) {
    case 'Gemm': return 2;
    case 'Conv': case 'ConvTranspose': {
      const w = p.inputs[1]?.initializer;
      return w ? w.dims.length : null;
    }
    case 'MaxPool': case 'AveragePool': case 'LpPool': {
      const k = p.attr('kernel_shape');
      return k && Array.isArray(k.data.value) ? k.data.value.length + 2 : null;
    }
  }
  if (!RANK_PRESERVING.has(p.opType)) return null;
  const ranks = p.inputs.map((v) => (v ? (v.initializer ? v.initializer.dims.length : inferRank(v, depth + 1)) : null));
  const known = ranks.filter((r): r is number => r !== null);
  // Broadcasting ops: the output rank is the largest input rank, known only if the activation path is.
  return ranks[0] === null || known.length === 0 ? null : Math.max(...known);
}

/** A float32 constant for a site: an initializer, or a Constant node (pushed onto `nodes`) inside a function body. */
export function constant(ctx: LoweringContext, base: string, dims: number[], values: number[], nodes: Node[]): Value {
  const name = ctx.names.fresh(base);
  const tensor = Tensor.fromFloat32(name, dims, values);
  if (!ctx.inFunction) {
    const v = ctx.graph.addInitializer(tensor);
    if (ctx.model.irVersion < 4n && ctx.graph.outer === null) {
      // Before IR 4 every initializer of the main graph must also be a graph input.
      ctx.graph.addInput(v, ValueInfo.tensor(DataType.FLOAT, dims));
    }
    return v;
  }
  const node = new Node('Constant', [], {
    name: ctx.names.fresh(`${base}_const`), outputNames: [name],
    attributes: [new Attribute('value', { type: AttributeType.TENSOR, value: tensor })],
  });
  nodes.push(node);
  return node.outputs[0]!;
}

function ensureOpsetImport(model: Model, domain: string): void {
  if (model.opsetVersion(domain) === undefined) model.setOpsetVersion(domain, 1n);
}

/**
 * A site inside a model-local function: the function's own opset_import must list the domain too
 * (ONNX checks a function body's nodes against the function's imports, not the model's).
 */
function ensureFunctionImport(ctx: LoweringContext, domain: string): void {
  if (!ctx.inFunction) return;
  let top: Graph = ctx.graph;
  while (top.outer) top = top.outer;
  const fn = ctx.model.functions.find((f) => f.body === top);
  if (fn && !fn.opsetImports.some((o) => o.domain === domain)) {
    fn.opsetImports.push({ domain, version: ctx.model.opsetVersion(domain) ?? 1n });
  }
}

/**
 * Adds the model-local function JumpRelu(X; kappa) = Where(X > kappa, X, 0) once. ONNX Runtime inlines
 * functions with the model's own opset, so the body is written for it: from opset 15 CastLike makes
 * it type-generic; for opsets 12–14 (Constant value_float) the body is float32 only.
 */
function ensureJumpReluFunction(model: Model, modelOpset: bigint): void {
  ensureOpsetImport(model, FUNCTION_DOMAIN);
  if (model.functions.some((f) => f.domain === FUNCTION_DOMAIN && f.name === FUNCTION_NAME)) return;
  if (modelOpset < FUNCTION_MIN_OPSET) {
    throw new UnsupportedModelError(`--target function needs the model's ai.onnx opset ≥ ${FUNCTION_MIN_OPSET} (it imports ${modelOpset}); use --target thresholded-relu or where`, { code: 'opset-too-old' });
  }
  const generic = modelOpset >= CASTLIKE_OPSET;
  const body = new Graph(FUNCTION_NAME);
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
  const fn = new IrFunction(FUNCTION_NAME, FUNCTION_DOMAIN, body);
  fn.attributeNames = ['kappa', 'grad_kappa'];
  fn.opsetImports = [{ domain: '', version: modelOpset }];
  fn.docString = 'JumpReLU: Y = X if X > kappa else 0. grad_kappa is the threshold gradients use (metadata for the gradient compiler).'
    + (generic ? '' : ' Float32 only (the model\'s opset predates CastLike).');
  model.functions.push(fn);
  // Model-local functions are an IR 8 feature: an older header would make the file invalid ONNX.
  if (model.irVersion < 8n) model.irVersion = 8n;
}
