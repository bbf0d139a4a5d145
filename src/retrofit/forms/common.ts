// What several forms share: float constants for κ (initializer, or Constant node in a function body),
// κ tensor dims per channel, opset imports, change-on-write of a κ constant, and the element type of
// an activation.

import { Attribute, AttributeType } from '../../ir/attribute.js';
import { InvalidModelError, type JumpReluError, UnsupportedModelError, UsageError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import { Node } from '../../ir/node.js';
import { DataType, Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { ValueInfo } from '../../ir/value-info.js';
import type { Kappa, SiteRecord, Target } from '../record.js';
import type { CheckContext, JumpSpec, LoweringContext } from './form.js';

export const ELEM_NAMES: Record<number, string> = {
  [DataType.FLOAT]: 'float32', [DataType.FLOAT16]: 'float16', [DataType.DOUBLE]: 'float64', [DataType.BFLOAT16]: 'bfloat16',
};

/** The activation's element type (float32 when unknown: what exported CNNs use) and its name, if a float type. */
export function activationType(ctx: CheckContext, x: Value): { elem: number; name: string | undefined } {
  const elem = ctx.types.elem(x, ctx.graph) ?? DataType.FLOAT;
  return { elem, name: ELEM_NAMES[elem] };
}

/** The one-line refusal of a site whose activation type the form cannot run. */
export function elementTypeError(ctx: CheckContext, target: Target, spec: { name: string }, x: Value, why: string): JumpReluError {
  const { elem, name } = activationType(ctx, x);
  return new UnsupportedModelError(`site '${spec.name}': --target ${target} ${why} (the activation '${x.name}' is ${name ?? `ONNX type ${elem}`})`, { code: 'element-type' });
}

/** The refusal of a site in a graph whose opset is older than the form's ops. */
export function opsetError(target: Target, need: bigint, ctx: CheckContext, advice: string): JumpReluError {
  return new UnsupportedModelError(`--target ${target} needs ai.onnx opset ≥ ${need}, but ${ctx.graphPath} imports ${ctx.opset}; ${advice}`, { code: 'opset-too-old' });
}

export function perChannelError(spec: { name: string }): JumpReluError {
  return new UsageError(`site '${spec.name}': a per-channel κ needs --target where or --target custom`);
}

/** Runs a check that throws (kappaTensorDims) and returns its error instead. */
export function caught(f: () => unknown): JumpReluError | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof UsageError || e instanceof UnsupportedModelError) return e;
    throw e;
  }
}

/** Scalar κ is a 0-d tensor; per-channel κ is [C] for the custom op, [C,1,…,1] (rank of x) for Where. */
export function kappaTensorDims(ctx: CheckContext, x: Value, kappa: Kappa, broadcastTrailing: boolean): number[] {
  if (typeof kappa === 'number') return [];
  const shape = ctx.types.shape(x, ctx.graph);
  if (shape && shape.length < 2) throw new UsageError(`per-channel κ for '${x.name}' needs an input of rank ≥ 2`);
  const channels = shape?.[1];
  if (typeof channels !== 'number') {
    throw new UnsupportedModelError(`per-channel κ for '${x.name}': its channel count is not declared and cannot be inferred; add value_info (e.g. run ONNX shape inference) or use a scalar κ`, { code: 'shape-unknown' });
  }
  if (channels !== kappa.length) {
    throw new UsageError(`per-channel κ for '${x.name}' has ${kappa.length} values but the activation has ${channels} channels`, { code: 'kappa-channels' });
  }
  if (!broadcastTrailing) return [kappa.length]; // the custom op broadcasts along axis 1 itself
  return [kappa.length, ...new Array<number>(shape!.length - 2).fill(1)];
}

/** A float32 constant for a site: an initializer, or a Constant node (pushed onto `nodes`) inside a function body. */
export function constant(ctx: LoweringContext, base: string, dims: number[], values: number[], nodes: Node[]): Value {
  const name = ctx.names.fresh(base);
  const tensor = Tensor.fromFloat32(name, dims, values);
  if (ctx.fn === null) {
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

/** The tensor of a value produced by a Constant node (value attribute), or null. */
export function constantTensor(v: Value): Tensor | null {
  const p = v.producer;
  if (!p || p.opType !== 'Constant') return null;
  const a = p.attr('value');
  return a && a.data.type === AttributeType.TENSOR ? (a.data.value as Tensor) : null;
}

export function ensureOpsetImport(model: Model, domain: string): void {
  if (model.opsetVersion(domain) === undefined) model.setOpsetVersion(domain, 1n);
}

/**
 * A site inside a model-local function: the function's own opset_import must list the domain too
 * (ONNX checks a function body's nodes against the function's imports, not the model's).
 */
export function ensureFunctionImport(ctx: LoweringContext, domain: string): void {
  const fn = ctx.fn;
  if (fn && !fn.opsetImports.some((o) => o.domain === domain)) {
    fn.opsetImports.push({ domain, version: ctx.model.opsetVersion(domain) ?? 1n });
  }
}

/** Sets a float attribute unless it already holds that float32 value (an untouched site keeps its bytes). */
export function setFloat(node: Node, name: string, v: number): void {
  if (node.attr(name)?.asFloat() !== Math.fround(v)) node.setAttr(Attribute.float(name, v));
}

/**
 * Gives `user`'s input `index` (a float constant: initializer or Constant node) new values, keeping
 * its shape rank. Change-on-write: a constant that anything else reads too (another site after ONNX
 * Runtime deduplicated equal constants, a graph output, an outer scope's user) is never edited; the
 * site gets a fresh copy instead. Returns the value now feeding the site, or null when the input is
 * not a constant this can rewrite.
 */
export function replaceConstant(ctx: LoweringContext, user: Node, index: number, values: number[]): Value | null {
  const v = user.inputs[index] ?? null;
  if (!v) return null;
  const current = v.initializer ?? constantTensor(v);
  if (!current || current.dataType !== DataType.FLOAT) return null;
  const dims = current.dims.map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length) {
    if (values.length !== 1 && dims.length > 0) dims[0] = values.length; // per-channel count changed
    else return null;
  }
  const fresh = Tensor.fromFloat32(v.name, dims, values);
  const same = current.inlineRawData && fresh.inlineRawData && Buffer.from(current.inlineRawData).equals(Buffer.from(fresh.inlineRawData))
    && current.dims.length === fresh.dims.length;
  if (same) return v;
  const shared = v.uses.some((u) => u.node !== user || u.index !== index) || v.isGraphOutput || v.isGraphInput
    || (v.initializer !== null && v.scope !== user.graph);
  if (!shared) {
    if (v.initializer) v.initializer = fresh;
    else v.producer!.setAttr(new Attribute('value', { type: AttributeType.TENSOR, value: fresh }));
    return v;
  }
  // A fresh constant of the same kind for this site only (initializer, or a Constant node in a function body).
  const nodes: Node[] = [];
  const copy = constant(ctx, `${user.name || v.name}_kappa`, dims, values, nodes);
  for (const n of nodes) user.graph!.insertBefore(user, n);
  user.setInput(index, copy);
  return copy;
}

/** Whether `node` is `output`'s op (ai.onnx spelled either way). */
export function isOutputNode(output: { opType: string; domain: string }, node: { opType: string; domain: string }): boolean {
  return node.opType === output.opType && (node.domain === 'ai.onnx' ? '' : node.domain) === output.domain;
}

/** The record of a site a form has just lowered (the form adds its own fields, e.g. where's mask). */
export function loweredRecord(ctx: LoweringContext, target: Target, spec: JumpSpec): SiteRecord {
  const record: SiteRecord = { graph: ctx.graphPath, node: spec.name, target, kappa: spec.kappa };
  if (spec.gradKappa !== undefined) record.grad_kappa = spec.gradKappa;
  return record;
}

/** The record of a site after an in-place κ update: the old one with the new κ and gradient κ. */
export function updatedRecord(old: SiteRecord, spec: Omit<JumpSpec, 'name'>): SiteRecord {
  const record: SiteRecord = { ...old, kappa: spec.kappa };
  delete record.grad_kappa;
  if (spec.gradKappa !== undefined) record.grad_kappa = spec.gradKappa;
  return record;
}

/** Removes a recorded site's output node; its activation is input `at`, the other inputs become orphans. */
export function removeSiteNode(graph: Graph, node: Node, record: SiteRecord, at: number, orphansFrom: number): { x: Value; orphans: Value[] } {
  const x = node.inputs[at] ?? null;
  if (!x) throw new InvalidModelError(`recorded JumpReLU site '${record.node}' has no input`, { code: 'invalid-node' });
  const orphans = node.inputs.slice(orphansFrom).filter((v): v is Value => v !== null);
  graph.remove(node, true);
  return { x, orphans };
}
