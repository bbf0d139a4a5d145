// buildGradientModel: a copy of a model extended with its gradient, as an ONNX model that ONNX Runtime
// runs. Three modes:
//   vjp                inputs + one cotangent per `of` output → outputs + ∂⟨cotangent, of⟩/∂wrt
//   cross-entropy      inputs + int64 labels [N] → logits, per-sample loss [N], gradient of the SUM of the
//                      per-sample losses (so each sample's gradient is that of its own loss)
//   logit-differences  inputs + int64 labels [N] + int64 candidates [N, k] → logits, differences
//                      f_candidate − f_label [N, k], and their gradients [N, k, …input shape], from one
//                      forward pass over the input tiled k times along the batch
// The names of the added inputs and outputs are recorded in metadata_props['jumprelu.gradient'] (JSON,
// see GradientSignature) and returned by gradientSignature().

import { assertValid } from '../ir/verify.js';
import { decodeModel } from '../ir/decode.js';
import { encodeModel } from '../ir/encode.js';
import { UnsupportedModelError, UsageError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { NameAuthority } from '../ir/names.js';
import { DataType } from '../ir/tensor.js';
import { Value } from '../ir/value.js';
import { ValueInfo } from '../ir/value-info.js';
import { type MissingRule, differentiate, missingRules } from './differentiate.js';
import { Emitter } from './emitter.js';
import { freeBatchDimension } from './free-batch.js';
import { KappaResolver } from './kappa.js';
import { type Dim, ShapeInfo } from '../ir/analysis/shapes.js';
import { FLOAT_TYPES } from '../ir/analysis/constants.js';

export type GradientMode = 'vjp' | 'cross-entropy' | 'logit-differences';
export const GRADIENT_MODES: readonly GradientMode[] = ['vjp', 'cross-entropy', 'logit-differences'];

export interface GradientOptions {
  /** Graph inputs (or initializers) to differentiate with respect to. */
  wrt: string[];
  /** Outputs (or any float values) to differentiate; exactly one for the loss modes. */
  of: string[];
  mode?: GradientMode;
  /** Also output gradients for every float initializer the outputs depend on (true) or for the named ones. */
  withRespectToInitializers?: boolean | string[];
  /** Threshold of every JumpReLU's derivative 1[z > κ_grad], overriding recorded sites (0: ReLU surrogate). */
  gradKappa?: number;
  /**
   * BPDA: at JumpReLU sites with κ > 0, the derivative of the smooth surrogate z·σ((z − κ)/τ) with this τ > 0
   * instead of 1[z > κ_grad]; the forward pass is unchanged. Excludes gradKappa.
   */
  surrogateTau?: number;
  /** Run freeBatchDimension first (needed for logit-differences on models that fix batch 1). */
  freeBatch?: boolean;
}

export const GRADIENT_METADATA_KEY = 'jumprelu.gradient';

export interface GradientSignature {
  format: 1;
  mode: GradientMode;
  wrt: string[];
  of: string[];
  /** Names of the inputs the gradient model adds. */
  inputs: { cotangents?: Record<string, string>; labels?: string; candidates?: string };
  /** Names of the outputs: gradients per wrt (and initializer), loss, differences. */
  outputs: { gradients: Record<string, string>; loss?: string; differences?: string; logits?: string };
  /** cross-entropy: how the per-sample losses are combined before differentiating. */
  reduction?: 'sum';
  /** Default-domain opset of the gradient model. */
  opset: number;
  /**
   * Loss modes: when `of` holds probabilities or log-probabilities, the logits feeding them are used (a loss on
   * probabilities taken as logits would be silently wrong): the op(s) skipped and the value used.
   */
  logitsFrom?: { output: string; skipped: string[]; logits: string };
}

/** Ops whose meaning did not change between opset 9 and 13: a model using only these is moved to 13. */
const UPGRADABLE = new Set([
  'Conv', 'ConvTranspose', 'Relu', 'LeakyRelu', 'ThresholdedRelu', 'Sigmoid', 'Tanh', 'Add', 'Sub', 'Mul', 'Div',
  'Neg', 'Exp', 'Log', 'Sqrt', 'Sum', 'Gemm', 'MatMul', 'GlobalAveragePool', 'GlobalMaxPool', 'MaxPool',
  'AveragePool', 'BatchNormalization', 'Flatten', 'Reshape', 'Transpose', 'Concat', 'Identity', 'Constant',
  'Cast', 'Gather', 'Greater', 'Less', 'Equal', 'Where', 'Shape',
]);

/** IR version a default-domain opset needs at least. */
function irVersionFor(opset: number): bigint {
  return opset >= 15 ? 8n : 7n;
}

/**
 * The logits behind a classifier output: through a final Softmax or LogSoftmax over the class axis, or
 * Log(Softmax) (log-probabilities written in two ops), as exporters write `F.softmax(model(x), 1)`. Anything
 * else is taken as the logits themselves.
 */
function logitsBehind(out: Value, info: ShapeInfo): { logits: Value; skipped: string[] } {
  const lastAxis = (n: Node, x: Value): boolean => {
    const rank = info.shape(x)?.length ?? 2;
    const axis = Number(n.attr('axis')?.asInt() ?? -1);
    return axis === -1 || axis === rank - 1;
  };
  const p = out.producer;
  const std = (n: Node | null | undefined): n is Node => !!n && (n.domain === '' || n.domain === 'ai.onnx');
  if (std(p) && (p.opType === 'Softmax' || p.opType === 'LogSoftmax') && p.inputs[0] && lastAxis(p, p.inputs[0])) {
    return { logits: p.inputs[0], skipped: [`${p.opType} '${p.label}'`] };
  }
  const q = std(p) && p.opType === 'Log' ? p.inputs[0]?.producer : null;
  if (std(p) && std(q) && q.opType === 'Softmax' && q.inputs[0] && lastAxis(q, q.inputs[0])) {
    return { logits: q.inputs[0], skipped: [`Log '${p.label}'`, `Softmax '${q.label}'`] };
  }
  return { logits: out, skipped: [] };
}

function cloneModel(model: Model): Model {
  const copy = decodeModel(encodeModel(model).toBytes(), model.baseDir);
  for (const [name, v] of model.graph.initializers) {
    const t = copy.graph.initializers.get(name)?.initializer;
    if (t && v.initializer?.externalBytes) t.externalBytes = v.initializer.externalBytes;
  }
  return copy;
}

function prepareOpset(model: Model): number {
  const version = model.opsetVersion('');
  if (version === undefined) throw new UnsupportedModelError('the model imports no default-domain (ai.onnx) opset', { code: 'gradient-opset' });
  let opset = Number(version);
  if (opset < 13) {
    const blocking = model.graph.nodes.find((n) => (n.domain === '' || n.domain === 'ai.onnx') && !UPGRADABLE.has(n.opType));
    if (opset < 9 || blocking) {
      const why = blocking ? `its ${blocking.opType} node '${blocking.label}' changed meaning since` : 'it predates';
      throw new UnsupportedModelError(`the model uses opset ${opset}; gradients need opset 13 or later and ${why} opset 9: convert it first (e.g. onnx.version_converter)`,
        { code: 'gradient-opset' });
    }
    opset = 13;
    model.setOpsetVersion('', 13n);
  }
  if (model.irVersion < irVersionFor(opset)) model.irVersion = irVersionFor(opset);
  return opset;
}

function addInput(graph: Graph, names: NameAuthority, base: string, elem: number, shape: Dim[] | null): Value {
  const v = new Value(names.fresh(base));
  v.scope = graph;
  graph.addInput(v, ValueInfo.tensor(elem, shape));
  return v;
}

/**
 * Makes `value` a graph output (through an Identity) named `base`, or a fresh variant of it unless
 * `exact` (the caller has freed that name).
 */
function addOutput(e: Emitter, base: string, value: Value, elem: number, shape: Dim[] | null, exact = false): string {
  const name = exact ? base : e.names.fresh(base);
  e.prefix = 'grad/outputs';
  e.anchor = null;
  const id = e.one('Identity', [value]);
  id.name = name;
  e.graph.addOutput(id, ValueInfo.tensor(elem, shape));
  return name;
}

function findValue(graph: Graph, name: string, what: string): Value {
  const v = graph.lookup(name);
  if (!v) throw new UsageError(`${what} '${name}' is not a value of the model`);
  return v;
}

/** Builds the gradient model (a new Model; the argument is not modified). */
export function buildGradientModel(model: Model, options: GradientOptions): Model {
  const mode = options.mode ?? 'vjp';
  if (!GRADIENT_MODES.includes(mode)) throw new UsageError(`unknown gradient mode '${mode}' (use ${GRADIENT_MODES.join(', ')})`);
  if (options.wrt.length === 0) throw new UsageError('give at least one input to differentiate with respect to (--wrt)');
  if (options.of.length === 0) throw new UsageError('give at least one output to differentiate (--of)');
  if (mode !== 'vjp' && options.of.length !== 1) throw new UsageError(`mode ${mode} differentiates exactly one output (the logits)`);
  if (options.gradKappa !== undefined && !Number.isFinite(options.gradKappa)) throw new UsageError('gradKappa must be a finite number');

  if (options.surrogateTau !== undefined) {
    if (!(Number.isFinite(options.surrogateTau) && options.surrogateTau > 0)) throw new UsageError('surrogateTau must be a positive number');
    if (options.gradKappa !== undefined) throw new UsageError('give gradKappa or surrogateTau, not both');
  }

  assertValid(model, 'input model', 'verify-input');
  const m = cloneModel(model);
  const opset = prepareOpset(m);
  if (options.freeBatch) freeBatchDimension(m);
  const graph = m.graph;
  const names = NameAuthority.forModel(m);
  const info = new ShapeInfo(graph, opset);
  const e = new Emitter(graph, names, info);
  const kappa = new KappaResolver(m, options.gradKappa ?? null, options.surrogateTau ?? null);
  let needOpset = opset;
  const requireOpset = (v: number, why: string) => {
    if (v <= needOpset) return;
    const blocking = graph.nodes.find((n) => n.opType === 'RoiAlign' || (n.opType === 'BatchNormalization' && n.outputs.length > 3));
    if (blocking) {
      throw new UnsupportedModelError(`${why} needs opset ${v}, but the model's ${blocking.opType} node '${blocking.label}' changes meaning there`, { code: 'gradient-opset' });
    }
    needOpset = v;
  };

  const wrt = options.wrt.map((n) => findValue(graph, n, 'wrt'));
  for (const w of wrt) {
    if (!w.isGraphInput && !w.initializer) throw new UsageError(`wrt '${w.name}' is neither a graph input nor an initializer`);
    const elem = info.elem(w);
    if (elem !== null && !FLOAT_TYPES.has(elem)) throw new UsageError(`wrt '${w.name}' is not a floating-point tensor`);
  }
  const ofs = options.of.map((n) => findValue(graph, n, 'of'));
  for (const o of ofs) {
    const elem = info.elem(o);
    if (elem !== null && !FLOAT_TYPES.has(elem)) throw new UsageError(`of '${o.name}' is not a floating-point tensor`);
  }
  const initGrads = initializerLeaves(graph, options.withRespectToInitializers, wrt);
  if (initGrads.length > 0 && mode === 'logit-differences') {
    throw new UsageError('initializer gradients are not available in logit-differences mode (they would mix the candidates)');
  }

  const signature: GradientSignature = {
    format: 1, mode, wrt: wrt.map((w) => w.name), of: ofs.map((o) => o.name), inputs: {}, outputs: { gradients: {} }, opset,
  };
  const typeOf = (v: Value) => ({ elem: info.elem(v) ?? DataType.FLOAT, shape: info.shape(v) });
  const leaves = [...wrt, ...initGrads];

  let grads: Map<Value, Value>;
  let gradientShape = (w: Value): Dim[] | null => typeOf(w).shape;
  if (mode === 'vjp') {
    const seeds = ofs.map((o) => {
      const t = typeOf(o);
      const cot = addInput(graph, names, `${o.name}_cotangent`, t.elem, t.shape);
      info.set(cot, { elem: t.elem, shape: t.shape });
      (signature.inputs.cotangents ??= {})[o.name] = cot.name;
      return [o, cot] as const;
    });
    grads = differentiate({ graph, e, info, opset, kappa, wrt: leaves, seeds, requireOpset });
  } else {
    const found = logitsBehind(ofs[0]!, info);
    const logits = found.logits;
    if (found.skipped.length > 0) signature.logitsFrom = { output: ofs[0]!.name, skipped: found.skipped, logits: logits.name };
    const t = typeOf(logits);
    if (t.shape && t.shape.length !== 2) throw new UsageError(`mode ${mode} needs logits of rank 2 [batch, classes]; '${logits.name}' has rank ${t.shape.length}`);
    const batch = t.shape?.[0] ?? 'N';
    // The loss modes output the logits, the loss or differences, and the gradients only.
    const declaredLogits = graph.outputs.includes(logits) ? graph.outputInfos[graph.outputs.indexOf(logits)]! : null;
    graph.setOutputs([]);
    const labels = addInput(graph, names, 'labels', DataType.INT64, [batch]);
    info.set(labels, { elem: DataType.INT64, shape: [batch] });
    signature.inputs.labels = labels.name;
    if (mode === 'cross-entropy') {
      graph.addOutput(logits, declaredLogits ?? ValueInfo.tensor(t.elem, t.shape));
      signature.outputs.logits = logits.name;
      grads = crossEntropy(e, info, logits, labels, t.elem, signature, (seeds) =>
        differentiate({ graph, e, info, opset, kappa, wrt: leaves, seeds, requireOpset }));
    } else {
      const candidates = addInput(graph, names, 'candidates', DataType.INT64, [batch, 'k']);
      info.set(candidates, { elem: DataType.INT64, shape: [batch, 'k'] });
      signature.inputs.candidates = candidates.name;
      grads = logitDifferences(e, info, logits, labels, candidates, wrt, t.elem, signature, (leavesTiled, seeds) =>
        differentiate({ graph, e, info, opset, kappa, wrt: leavesTiled, seeds, requireOpset }));
      gradientShape = (w) => {
        const s = typeOf(w).shape;
        return s ? [batch, 'k', ...s.slice(1)] : null;
      };
    }
  }
  for (const w of leaves) {
    const g = grads.get(w)!;
    const name = addOutput(e, `${w.name}_grad`, g, typeOf(w).elem, wrt.includes(w) ? gradientShape(w) : typeOf(w).shape);
    signature.outputs.gradients[w.name] = name;
  }
  if (needOpset > opset) {
    m.setOpsetVersion('', BigInt(needOpset));
    if (m.irVersion < irVersionFor(needOpset)) m.irVersion = irVersionFor(needOpset);
    signature.opset = needOpset;
  }
  m.setMetadata(GRADIENT_METADATA_KEY, JSON.stringify(signature));
  assertValid(m, "after pass 'gradient'");
  return m;
}

function initializerLeaves(graph: Graph, option: boolean | string[] | undefined, wrt: Value[]): Value[] {
  if (!option) return [];
  if (option === true) {
    return [...graph.initializers.values()].filter((v) => v.initializer && FLOAT_TYPES.has(v.initializer.dataType) && !wrt.includes(v) && v.uses.length > 0);
  }
  return option.map((n) => {
    const v = graph.initializers.get(n);
    if (!v) throw new UsageError(`'${n}' is not an initializer of the model`);
    return v;
  }).filter((v) => !wrt.includes(v));
}

/** Per-sample loss −log softmax(logits)[label]; cotangent of the summed loss: softmax − onehot. */
function crossEntropy(
  e: Emitter, info: ShapeInfo, logits: Value, labels: Value, elem: number, signature: GradientSignature,
  run: (seeds: Array<readonly [Value, Value]>) => Map<Value, Value>,
): Map<Value, Value> {
  e.prefix = 'grad/loss';
  const logp = e.one('LogSoftmax', [logits], { axis: 1 });
  const picked = e.one('GatherElements', [logp, e.one('Unsqueeze', [labels, e.ints([1])])], { axis: 1 });
  const loss = e.one('Neg', [e.one('Squeeze', [picked, e.ints([1])])]);
  const cot = e.one('Sub', [e.one('Exp', [logp]), oneHot(e, info, labels, logits, elem)]);
  const grads = run([[logits, cot]]);
  const batch = info.shape(logits)?.[0] ?? null;
  signature.outputs.loss = addOutput(e, 'loss', loss, elem, [batch]);
  signature.reduction = 'sum';
  return grads;
}

/** One-hot rows of `indices` over the classes of `logits` (last axis), in the logits' element type. */
function oneHot(e: Emitter, info: ShapeInfo, indices: Value, logits: Value, elem: number): Value {
  const classes = info.shape(logits)?.[1];
  const depth = typeof classes === 'number' ? e.ints([classes]) : e.one('Slice', [e.shapeOf(logits), e.ints([1]), e.ints([2])]);
  return e.one('OneHot', [indices, depth, e.constant(elem, [2], [0, 1])], { axis: -1 });
}

/**
 * Tiles each wrt input k times along the batch ([N, …] → [N·k, …], sample-major), runs the forward once
 * on that, and differentiates with cotangent onehot(candidate) − onehot(label) per copy.
 */
function logitDifferences(
  e: Emitter, info: ShapeInfo, logits: Value, labels: Value, candidates: Value, wrt: Value[], elem: number,
  signature: GradientSignature,
  run: (leaves: Value[], seeds: Array<readonly [Value, Value]>) => Map<Value, Value>,
): Map<Value, Value> {
  const graph = e.graph;
  for (const v of graph.inputs) {
    if (v.initializer || v === labels || v === candidates || wrt.includes(v)) continue;
    if (v.uses.length > 0) throw new UsageError(`mode logit-differences tiles the batch: every input the logits read must be in --wrt ('${v.name}' is not)`);
  }
  const first = graph.nodes[0] ?? null;
  e.prefix = 'grad/tile';
  e.anchor = first;
  const k = e.one('Slice', [e.shapeOf(candidates), e.ints([1]), e.ints([2])]);
  const tiled = new Map<Value, Value>();
  for (const x of wrt) {
    if (!x.isGraphInput) throw new UsageError(`mode logit-differences differentiates with respect to graph inputs; '${x.name}' is an initializer`);
    const d0 = info.shape(x)?.[0];
    if (d0 === 1) throw new UsageError(`input '${x.name}' fixes its batch dimension to 1; free it first (freeBatch / --free-batch)`);
    const uses = [...x.uses];
    const rest = e.one('Slice', [e.shapeOf(x), e.ints([1]), e.ints([2 ** 62])]);
    const expanded = e.one('Expand', [
      e.one('Unsqueeze', [x, e.ints([1])]),
      e.one('Concat', [e.one('Slice', [e.shapeOf(x), e.ints([0]), e.ints([1])]), k, rest], { axis: 0 }),
    ]);
    const flat = e.one('Reshape', [expanded, e.one('Concat', [e.ints([-1]), rest], { axis: 0 })]);
    for (const u of uses) u.node.setInput(u.index, flat);
    tiled.set(x, flat);
  }
  e.anchor = null;
  // Shapes downstream of the tiled inputs changed (batch N·k): infer them again.
  for (const n of graph.nodes) info.inferNode(n);
  if (info.shape(logits)?.[0] === 1) {
    throw new UsageError(`the model fixes the batch of '${logits.name}' to 1; free it first (freeBatch / --free-batch)`);
  }

  e.prefix = 'grad/differences';
  const nk = e.one('Concat', [e.one('Slice', [e.shapeOf(candidates), e.ints([0]), e.ints([2])]), e.ints([-1])], { axis: 0 });
  const perCopy = e.one('Reshape', [logits, nk]); // [N, k, C]
  const original = e.one('Gather', [perCopy, e.ints([0])], { axis: 1 });
  const logitsOut = e.one('Squeeze', [original, e.ints([1])]);
  const cot3 = e.one('Sub', [
    oneHot(e, info, candidates, logits, elem),
    e.one('Unsqueeze', [oneHot(e, info, labels, logits, elem), e.ints([1])]),
  ]);
  const cot = e.one('Reshape', [cot3, e.shapeOf(logits)]);
  const differences = e.one('Sub', [
    e.one('GatherElements', [logitsOut, candidates], { axis: 1 }),
    e.one('GatherElements', [logitsOut, e.one('Unsqueeze', [labels, e.ints([1])])], { axis: 1 }),
  ]);
  const grads = run([...tiled.values()], [[logits, cot]]);
  const batch = info.shape(labels)?.[0] ?? null;
  // The forward now computes the tiled logits: they give their name to the per-sample logits output.
  const name = logits.name;
  logits.name = e.names.fresh(`${name}_tiled`);
  signature.outputs.logits = addOutput(e, name, logitsOut, elem, [batch, info.shape(logits)?.[1] ?? null], true);
  signature.outputs.differences = addOutput(e, `${name}_differences`, differences, elem, [batch, 'k']);
  const out = new Map<Value, Value>();
  for (const x of wrt) {
    e.prefix = `grad/${x.name}/untile`;
    const shape = e.one('Concat', [
      e.one('Slice', [e.shapeOf(candidates), e.ints([0]), e.ints([2])]),
      e.one('Slice', [e.shapeOf(x), e.ints([1]), e.ints([2 ** 62])]),
    ], { axis: 0 });
    out.set(x, e.one('Reshape', [grads.get(tiled.get(x)!)!, shape]));
  }
  return out;
}

export type { MissingRule } from './differentiate.js';

/**
 * What `buildGradientModel` would miss on this model, without building anything: every op on the path
 * from `wrt` to `of` that has no gradient rule, grouped by op (empty when every op has one). Opset
 * problems are thrown as by buildGradientModel. `wrt`/`of` default to the first graph input and output.
 */
export function gradientSupport(model: Model, options: { wrt?: string[]; of?: string[] } = {}): { wrt: string[]; of: string[]; missing: MissingRule[] } {
  const m = cloneModel(model);
  const opset = prepareOpset(m);
  const graph = m.graph;
  const wrtNames = options.wrt?.length ? options.wrt : graph.inputs.filter((v) => !v.initializer).slice(0, 1).map((v) => v.name);
  const ofNames = options.of?.length ? options.of : graph.outputs.slice(0, 1).map((v) => v.name);
  if (wrtNames.length === 0 || ofNames.length === 0) throw new UsageError('the model has no graph input or output to check (give --wrt and --of)');
  const wrt = wrtNames.map((n) => findValue(graph, n, 'wrt'));
  const of = ofNames.map((n) => findValue(graph, n, 'of'));
  return { wrt: wrtNames, of: ofNames, missing: missingRules(graph, new ShapeInfo(graph, opset), wrt, of) };
}

/** The signature a gradient model records, or null for other models. */
export function gradientSignature(model: Model): GradientSignature | null {
  const raw = model.getMetadata(GRADIENT_METADATA_KEY);
  return raw === undefined ? null : (JSON.parse(raw) as GradientSignature);
}
