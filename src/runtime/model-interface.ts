// The model's own interface, read from the model: which input the harness feeds, which output it attacks, the
// input's layout and whether it has a batch dimension. The harness always works on float NCHW batches and
// [N, classes] logits; a model that takes something else gets a small adapter in front of (and behind) its graph,
// so everything downstream (input convention, retrofit, gradients) sees the one classifier shape it knows:
//   - weights listed as graph inputs (IR 3, e.g. CNTK's mnist-8) become plain initializers (a graph input with
//     an initializer is only a default that a caller may override, so nothing can fold it: the batch could not
//     be freed through a Reshape whose target shape was such an input);
//   - the output: --output, else the only float output of rank 2 (whose last dimension is the class count when
//     several are), others dropped; a labels-first model ([N] int64 labels, then logits) needs no flag;
//   - NHWC (declared [N, H, W, C], or --model-layout NHWC): a Transpose NCHW→NHWC is added in front, and the
//     elementwise preprocessing that follows it (Sub/Div/Mul/Add by per-channel constants) is moved before it so
//     the input convention reads it as it reads an NCHW model's;
//   - batch-less ([C, H, W] or [H, W, C]): a Reshape [1, C, H, W] → [C, H, W] in front and a Reshape of the
//     logits to [1, K] behind: the harness then runs such a model one sample at a time (the graph's own ops
//     assume no batch, so no batch dimension can be added to them);
//   - flattened ([N, C·H·W]) or single-channel without a channel dimension ([N, H, W]): a Reshape in front.
// Everything resolved is said in one line and recorded in the report (model_interface).

import { Attribute, AttributeType } from '../ir/attribute.js';
import { UnsupportedModelError, UsageError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { NameAuthority } from '../ir/names.js';
import { Node } from '../ir/node.js';
import { DataType } from '../ir/tensor.js';
import { Value } from '../ir/value.js';
import { ValueInfo } from '../ir/value-info.js';
import { constantOf, makeTensor } from '../ir/analysis/constants.js';
import { type Dim, declaredShape } from '../ir/analysis/typeproto.js';
import { DataFormatError } from './data/images.js';
import { freeBatchDimension } from '../autodiff/free-batch.js';
import { JumpReluError } from '../ir/errors.js';
import { loadModel } from '../ir/io.js';
import type { Dataset } from './dataset.js';
import { prepareClassifier } from './input-convention.js';

export type ModelLayout = 'NCHW' | 'NHWC';
export const MODEL_LAYOUTS: readonly ModelLayout[] = ['NCHW', 'NHWC'];

/** What the flags say (--input, --output, --model-layout); anything left out is read from the model. */
export interface InterfaceRequest {
  input?: string;
  output?: string;
  layout?: ModelLayout;
}

/** The interface as resolved: enough to adapt any fresh copy of the model without looking at the data again. */
export interface ResolvedInterface {
  /** The model's own input and output names. */
  input: string;
  output: string;
  /** Layout of the model's own input. */
  layout: ModelLayout;
  /** The declared input rank's meaning: [N,C,H,W]-like, no batch dimension, or flattened [N, C·H·W]. */
  form: 'batched' | 'batch-less' | 'flat' | 'channel-less';
  /** Channels, height, width the harness feeds. */
  shape: [number, number, number];
  /** Weights listed among the graph inputs (IR 3) that are treated as initializers. */
  initializerInputs: number;
  /**
   * 'free': batches of any size; 'one': one sample per ONNX Runtime call (a batch-less model, or a batch fixed to 1
   * that cannot be freed: `oneWhy` says why).
   */
  run: 'free' | 'one';
  oneWhy?: string;
  /** One line for the start of the run. */
  summary: string;
}

/** The report's record of the interface. */
export interface InterfaceRecord {
  input: string;
  output: string;
  layout: ModelLayout;
  form: ResolvedInterface['form'];
  initializer_inputs: number;
  batch: 'free' | 'one sample per call';
  summary: string;
}

export function interfaceRecord(r: ResolvedInterface): InterfaceRecord {
  return {
    input: r.input, output: r.output, layout: r.layout, form: r.form, initializer_inputs: r.initializerInputs,
    batch: r.run === 'free' ? 'free' : 'one sample per call', summary: r.summary,
  };
}

const fmtDims = (s: readonly Dim[] | null | undefined): string => (s ? `[${s.map((d) => d ?? '?').join(',')}]` : '[?]');
const ELEM: Record<number, string> = {
  [DataType.FLOAT]: 'float', [DataType.DOUBLE]: 'double', [DataType.FLOAT16]: 'float16', [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32', [DataType.UINT8]: 'uint8', [DataType.BOOL]: 'bool', [DataType.STRING]: 'string',
};
const elemName = (e: number | undefined): string => (e === undefined ? '?' : ELEM[e] ?? `type ${e}`);

function describe(g: Graph, v: Value, i: number, which: 'input' | 'output'): string {
  const d = declaredShape(which === 'input' ? g.inputInfos[i] : g.outputInfos[i]);
  return `'${v.name}' ${elemName(d?.elemType)} ${fmtDims(d?.shape)}`;
}

/** Rank-`n` dims against the data's: a symbolic or unknown dimension matches anything. */
function fits(dims: readonly Dim[], want: readonly number[]): boolean {
  return dims.length === want.length && dims.every((d, i) => typeof d !== 'number' || d === want[i]);
}

function isTransposeFromNhwc(v: Value, g: Graph): boolean {
  if (v.uses.length !== 1 || g.hasOutput(v)) return false;
  const n = v.uses[0]!.node;
  const p = n.attr('perm');
  return n.opType === 'Transpose' && n.domain === '' && !!p && Array.isArray(p.data.value) && (p.data.value as bigint[]).map(Number).join(',') === '0,3,1,2';
}

/**
 * Reads the interface from the model and the data's sample shape. Usage errors for flags that name nothing or
 * contradict the model; model errors for what the harness cannot feed.
 */
export function resolveInterface(model: Model, request: InterfaceRequest, data: { channels: number; height: number; width: number; classes?: number | null }): ResolvedInterface {
  const g = model.graph;
  if (request.layout !== undefined && !MODEL_LAYOUTS.includes(request.layout)) throw new UsageError(`--model-layout '${request.layout}': one of ${MODEL_LAYOUTS.join(', ')}`);
  const initializerInputs = g.inputs.filter((v) => v.initializer).length;
  const inputs = g.inputs.map((v, i) => ({ v, i })).filter(({ v }) => !v.initializer);
  const listInputs = inputs.map(({ v, i }) => describe(g, v, i, 'input')).join(', ');
  let chosen: { v: Value; i: number } | undefined;
  if (request.input !== undefined) {
    chosen = inputs.find(({ v }) => v.name === request.input);
    if (!chosen) {
      const weight = g.inputs.some((v) => v.name === request.input);
      throw new UsageError(`--input '${request.input}' is ${weight ? 'a weight of the model (a graph input with an initializer)' : 'not an input of the model'}; its input${inputs.length === 1 ? ' is' : 's are'} ${listInputs || 'none'}`, { code: 'model-interface' });
    }
  } else if (inputs.length === 1) {
    chosen = inputs[0];
  }
  if (inputs.length !== 1 || !chosen) {
    throw new UnsupportedModelError(`the harness feeds a classifier one image input; this model has ${inputs.length} input${inputs.length === 1 ? '' : 's'}${inputs.length ? ` (${listInputs})` : ''}, and nothing to feed the others with`, { code: 'classifier-inputs' });
  }

  // --- the output
  const outs = g.outputs.map((v, i) => ({ v, i, d: declaredShape(g.outputInfos[i]) }));
  const listOutputs = outs.map(({ v, i }) => describe(g, v, i, 'output')).join(', ');
  const notLogits = (o: (typeof outs)[number]): string | null => {
    if (o.d && o.d.elemType !== DataType.FLOAT) return `is ${elemName(o.d.elemType)}, not float`;
    const s = o.d?.shape;
    // a batch-less model's logits are [K]
    if (s && s.length !== 2 && s.length !== 1) return `has rank ${s.length}, not 2 ([N, classes])`;
    return null;
  };
  let output: (typeof outs)[number] | undefined;
  let outputWhy: string;
  if (request.output !== undefined) {
    output = outs.find((o) => o.v.name === request.output);
    if (!output) throw new UsageError(`--output '${request.output}' is not an output of the model; its outputs are ${listOutputs || 'none'}`, { code: 'model-interface' });
    const bad = notLogits(output);
    if (bad) throw new UsageError(`--output '${request.output}' ${bad}: the harness attacks float logits [N, classes]; the model's outputs are ${listOutputs}`, { code: 'model-interface' });
    outputWhy = '--output';
  } else {
    if (outs.length === 0) throw new UnsupportedModelError('the model has no output', { code: 'no-output' });
    let candidates = outs.filter((o) => notLogits(o) === null);
    if (candidates.length > 1 && data.classes) {
      const byClasses = candidates.filter((o) => o.d?.shape?.at(-1) === data.classes);
      if (byClasses.length >= 1) candidates = byClasses;
    }
    if (candidates.length !== 1) {
      const what = candidates.length === 0 ? 'none of its outputs is a float tensor of rank 2' : `${candidates.length} of its outputs could be the logits`;
      throw new UnsupportedModelError(`cannot tell which output is the logits: ${what} (outputs: ${listOutputs}); pass --output NAME`, { code: 'model-interface' });
    }
    output = candidates[0]!;
    outputWhy = outs.length === 1 ? 'its only output' : `the only float output of rank 2${data.classes ? ` with ${data.classes} classes` : ''} among ${outs.length}`;
  }

  // --- layout and batch
  const { channels: C, height: H, width: W } = data;
  const declared = declaredShape(g.inputInfos[chosen.i]);
  const s = declared?.shape ?? null;
  let form: ResolvedInterface['form'] = 'batched';
  let layout: ModelLayout = 'NCHW';
  let layoutWhy: string;
  const dataShape = `${C}×${H}×${W}`;
  if (s === null) {
    layout = request.layout ?? 'NCHW';
    layoutWhy = request.layout ? '--model-layout' : 'assumed: the model does not declare its input shape (pass --model-layout NHWC if it is)';
  } else if (s.length === 2) {
    form = 'flat';
    if (typeof s[1] === 'number' && s[1] !== C * H * W) {
      throw new DataFormatError(`the data are ${dataShape} images (${C * H * W} values) but the model takes ${fmtDims(s)}`, { code: 'data-shape' });
    }
    if (request.layout) throw new UsageError(`--model-layout ${request.layout}: the model's input ${fmtDims(s)} is flattened, it has no layout to choose`, { code: 'model-interface' });
    layoutWhy = `a flattened input ${fmtDims(s)}: fed C·H·W in NCHW order`;
  } else if (s.length === 3 && typeof s[0] !== 'number') {
    // [N, H, W]: a single-channel model without a channel dimension
    if (C !== 1 || !fits(s.slice(1), [H, W])) {
      throw new DataFormatError(`the data are ${dataShape} images but the model's declared input ${fmtDims(s)} takes single-channel ${fmtDims(s.slice(1))} images without a channel dimension`, { code: 'data-shape' });
    }
    if (request.layout) throw new UsageError(`--model-layout ${request.layout}: the model's input ${fmtDims(s)} has no channel dimension, so no layout to choose`, { code: 'model-interface' });
    form = 'channel-less';
    layoutWhy = `a single-channel input without a channel dimension: fed [N,1,${H},${W}] reshaped`;
  } else if (s.length === 3 || s.length === 4) {
    const body = s.length === 4 ? s.slice(1) : s;
    if (s.length === 3) form = 'batch-less';
    const nchw = fits(body, [C, H, W]);
    const nhwc = fits(body, [H, W, C]);
    const declaredText = `the model's declared input ${fmtDims(s)}`;
    if (!nchw && !nhwc) {
      throw new DataFormatError(`the data are ${dataShape} images but ${declaredText} takes neither ${dataShape} (NCHW) nor ${H}×${W}×${C} (NHWC)`, { code: 'data-shape' });
    }
    if (request.layout) {
      const ok = request.layout === 'NCHW' ? nchw : nhwc;
      if (!ok) throw new UsageError(`--model-layout ${request.layout} contradicts ${declaredText}, which is ${request.layout === 'NCHW' ? 'NHWC' : 'NCHW'} for ${dataShape} data`, { code: 'model-interface' });
      layout = request.layout;
      layoutWhy = '--model-layout';
    } else if (nchw && nhwc) {
      layout = s.length === 4 && isTransposeFromNhwc(chosen.v, g) ? 'NHWC' : 'NCHW';
      layoutWhy = layout === 'NHWC' ? 'its first op is a Transpose NHWC→NCHW' : `assumed: ${declaredText} fits both layouts (pass --model-layout NHWC if it is)`;
    } else {
      layout = nchw ? 'NCHW' : 'NHWC';
      layoutWhy = `from ${declaredText}`;
    }
  } else {
    throw new UnsupportedModelError(`the model's input ${fmtDims(s)} has rank ${s.length}: the harness feeds images [N,C,H,W] (or [C,H,W], [N,H,W,C], [N,C·H·W])`, { code: 'model-interface' });
  }
  const run: ResolvedInterface['run'] = form === 'batch-less' ? 'one' : 'free';
  const parts = [
    `input '${chosen.v.name}' ${fmtDims(s)} ${form === 'flat' ? 'flattened' : form === 'channel-less' ? 'without channels' : layout}${form === 'batch-less' ? ' without a batch dimension (run one sample at a time)' : ''} (${layoutWhy})`,
    `output '${output.v.name}' ${fmtDims(output.d?.shape)} (${outputWhy})`,
    ...(initializerInputs ? [`${initializerInputs} weight${initializerInputs === 1 ? '' : 's'} listed as graph input${initializerInputs === 1 ? '' : 's'} (IR ${model.irVersion}) treated as initializer${initializerInputs === 1 ? '' : 's'}`] : []),
  ];
  return {
    input: chosen.v.name, output: output.v.name, layout, form, shape: [C, H, W], initializerInputs, run,
    summary: `interface: ${parts.join('; ')}`,
  };
}

/** The reason a batch is fixed to one, added to the summary. */
export function withRunOne(r: ResolvedInterface, why: string): ResolvedInterface {
  return { ...r, run: 'one', oneWhy: why, summary: `${r.summary}; ${why}: run one sample at a time` };
}

function ints(name: string, values: number[]): Attribute {
  return new Attribute(name, { type: AttributeType.INTS, value: values.map((x) => BigInt(x)) });
}

/**
 * Adapts the model in place to the resolved interface: afterwards it has one float input [N|1, C, H, W] (NCHW)
 * and one output, the logits [N|1, K].
 */
export function adaptInterface(model: Model, r: ResolvedInterface): void {
  const g = model.graph;
  for (const v of [...g.inputs]) if (v.initializer) g.removeInput(v);
  const old = g.inputs.find((v) => v.name === r.input);
  const out = g.outputs.find((v) => v.name === r.output);
  if (!old || !out) throw new UnsupportedModelError(`the model no longer has input '${r.input}' and output '${r.output}'`, { code: 'model-interface' });
  if (g.outputs.length !== 1) g.setOutputs([out]);
  const names = NameAuthority.forModel(model);
  const [C, H, W] = r.shape;
  const d = declaredShape(g.declaredType(old));
  const needsTranspose = r.layout === 'NHWC' && !(r.form === 'batched' && isTransposeFromNhwc(old, g));
  if (r.form === 'batched' && !needsTranspose) return;
  if (d && d.elemType !== DataType.FLOAT) {
    throw new UnsupportedModelError(`the model takes ${elemName(d.elemType)} input ${r.form === 'batched' ? 'in NHWC without a leading Transpose' : r.form}: the harness adapts only float inputs`, { code: 'model-interface' });
  }
  const batch: Dim = r.form === 'batch-less' ? 1 : d?.shape?.[0] ?? 'N';
  const x = new Value(names.fresh(`${r.input}_nchw`));
  x.scope = g;
  const added: Node[] = [];
  const op = (type: string, inputs: Value[], attrs: Attribute[] = []): Value => {
    const n = new Node(type, inputs, { name: names.fresh(`interface/${type}`), attributes: attrs, outputNames: [names.fresh(`interface/${type}_output`)] });
    added.push(n);
    return n.outputs[0]!;
  };
  const shapeConst = (dims: number[]) => g.addInitializer(makeTensor(names.fresh('interface/shape'), DataType.INT64, [dims.length], dims));
  let cur: Value = x;
  let transpose: Node | null = null;
  if (r.form === 'flat') cur = op('Reshape', [cur, shapeConst([0, C * H * W])]);
  else if (r.form === 'channel-less') cur = op('Reshape', [cur, shapeConst([0, H, W])]);
  else {
    if (r.form === 'batch-less') cur = op('Reshape', [cur, shapeConst([C, H, W])]);
    if (needsTranspose) {
      cur = op('Transpose', [cur], [ints('perm', r.form === 'batch-less' ? [1, 2, 0] : [0, 2, 3, 1])]);
      transpose = added.at(-1)!;
    }
  }
  old.replaceAllUsesWith(cur);
  g.replaceInput(old, x, ValueInfo.tensor(DataType.FLOAT, [batch, C, H, W]));
  for (const n of [...added].reverse()) g.prepend(n);
  if (transpose && r.form === 'batched') sinkPreprocessing(g, names, transpose, C);
  if (r.form === 'batch-less') {
    const logits = g.outputs[0]!;
    const k = declaredShape(g.outputInfos[0])?.shape?.at(-1);
    const reshaped = new Node('Reshape', [logits, shapeConst([1, -1])], { name: names.fresh('interface/Reshape'), outputNames: [names.fresh(`${r.output}_batched`)] });
    g.append(reshaped);
    g.setOutputs([{ value: reshaped.outputs[0]!, info: ValueInfo.tensor(DataType.FLOAT, [1, typeof k === 'number' ? k : 'classes']) }]);
  }
}

/** Per-channel constants of an NHWC elementwise op (scalar, [C], [1,C], [1,1,C], [1,1,1,C]) as NCHW [1,C,1,1]. */
function lastAxisConstant(v: Value | null | undefined, C: number): { dataType: number; values: number[]; scalar: boolean } | null {
  const c = constantOf(v);
  if (!c || c.values.length === 0) return null;
  if (c.values.length === 1 && c.dims.every((d) => d === 1)) return { dataType: c.dataType, values: [...c.values], scalar: true };
  if (c.dims.length > 4 || c.dims.at(-1) !== C || c.dims.slice(0, -1).some((d) => d !== 1)) return null;
  return { dataType: c.dataType, values: [...c.values], scalar: false };
}

/**
 * Moves Sub/Add/Mul/Div by per-channel constants from after the added Transpose NCHW→NHWC to before it (with the
 * constant reshaped to [1,C,1,1]), so the input convention finds the model's preprocessing where it looks for it.
 */
function sinkPreprocessing(g: Graph, names: NameAuthority, transpose: Node, C: number): void {
  let t = transpose;
  for (;;) {
    const y = t.outputs[0]!;
    if (y.uses.length !== 1 || g.hasOutput(y)) return;
    const n = y.uses[0]!.node;
    if (!['Sub', 'Add', 'Mul', 'Div'].includes(n.opType) || n.domain !== '' || n.inputs.length !== 2 || n.outputs.length !== 1) return;
    const slot = n.inputs[0] === y ? 0 : 1;
    if (n.inputs[1 - slot] === y) return;
    const k = lastAxisConstant(n.inputs[1 - slot], C);
    if (!k) return;
    const z = n.outputs[0]!;
    if (g.hasOutput(z)) return;
    const uses = [...z.uses];
    const constant = k.scalar ? n.inputs[1 - slot]! : g.addInitializer(makeTensor(names.fresh('interface/channel_constant'), k.dataType, [1, C, 1, 1], k.values));
    n.setInput(slot, t.inputs[0]!);
    n.setInput(1 - slot, constant);
    const next = new Node('Transpose', [z], { name: names.fresh('interface/Transpose'), attributes: [ints('perm', [0, 2, 3, 1])], outputNames: [names.fresh(`${z.name}_nhwc`)] });
    g.insertAfter(n, next);
    for (const u of uses) u.node.setInput(u.index, next.outputs[0]!);
    if (g.declaredType(z)) g.removeValueInfo(z);
    g.remove(t);
    t = next;
  }
}

/** The class count of the data kinds that have one (used only to choose among several logits-like outputs). */
export function knownClasses(ds: Pick<Dataset, 'kind'>): number | null {
  return ds.kind === 'mnist' || ds.kind === 'fashion-mnist' || ds.kind === 'cifar10' ? 10 : null;
}

/**
 * Whether the model runs on batches: a batch fixed to 1 that cannot be freed (the batch is lost at some node) is
 * run one sample per call, and the summary says where and why.
 */
export function checkBatch(path: string, iface: ResolvedInterface, adapted?: Model): ResolvedInterface {
  // only a batch fixed to 1 needs freeing: anything else is left as it is (no second load of a big model)
  if (adapted) {
    const i = adapted.graph.inputs.findIndex((v) => !v.initializer);
    if (i >= 0 && declaredShape(adapted.graph.inputInfos[i])?.shape?.[0] !== 1) return iface;
  }
  const target = loadModel(path);
  adaptInterface(target, iface);
  prepareClassifier(target);
  try {
    freeBatchDimension(target);
    return iface;
  } catch (e) {
    if (!(e instanceof JumpReluError)) throw e;
    return withRunOne(iface, `its batch is fixed to 1 (${e.message.replace(/^cannot free the batch dimension: /, '')})`);
  }
}
