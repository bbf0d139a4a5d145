// A small builder for test models through the IR API: Conv/Gemm/MatMul/Add/Relu/MaxPool/Flatten/
// Concat (and Clip, If, model-local functions for the CLI tests), with random float32 weights as
// initializers and declared input/output types. Every op tracks the concrete shape of its output, so
// graphs are shape-consistent by construction.

import { Attribute, AttributeType } from '../../src/ir/attribute.js';
import { encodeModel } from '../../src/ir/encode.js';
import { IrFunction } from '../../src/ir/function.js';
import { Graph } from '../../src/ir/graph.js';
import { Model } from '../../src/ir/model.js';
import { Node } from '../../src/ir/node.js';
import { DataType, Tensor } from '../../src/ir/tensor.js';
import { Value } from '../../src/ir/value.js';
import { ValueInfo } from '../../src/ir/value-info.js';
import { mulberry32 } from '../../src/runtime/random.js';

/** A seeded PRNG, uniform in [0, 1): the project's mulberry32. */
export const makeRng = mulberry32;

/** A value with the concrete shape it has at run time. */
export interface Shaped {
  value: Value;
  shape: number[];
}

export interface OpOptions {
  /** Node name (may collide with other node or value names on purpose). */
  name?: string;
  /** Preferred output value name; made unique if it is taken. */
  out?: string;
}

/** Builds one graph (the main graph, an If branch or a function body). */
export class GraphBuilder {
  readonly graph: Graph;
  /** Symbolic name of the batch dimension in declarations (dim 0), or null for a concrete one. */
  batchSymbol: string | null = null;

  constructor(readonly owner: ModelBuilder, graph: Graph) {
    this.graph = graph;
  }

  private node(op: string, inputs: (Value | null)[], outName: string, o: OpOptions, attrs: Attribute[] = [], domain = ''): Value {
    const init: ConstructorParameters<typeof Node>[2] = { outputNames: [this.owner.uniqueValueName(o.out ?? outName)], attributes: attrs };
    if (o.name !== undefined) init.name = this.owner.nodeName(o.name);
    if (domain !== '') init.domain = domain;
    const n = this.graph.append(new Node(op, inputs, init));
    return n.outputs[0]!;
  }

  /** Declared type of a value with this concrete shape (batch symbolic when batchSymbol is set). */
  declare(shape: readonly number[]): ValueInfo {
    const dims: Array<number | string> = [...shape];
    if (this.batchSymbol !== null && dims.length > 0) dims[0] = this.batchSymbol;
    return ValueInfo.tensor(DataType.FLOAT, dims);
  }

  input(name: string, shape: number[]): Shaped {
    const v = new Value(this.owner.uniqueValueName(name));
    v.scope = this.graph;
    this.graph.addInput(v, this.declare(shape));
    return { value: v, shape };
  }

  /** Declares a graph output (declared shape as given, the concrete one by default). */
  output(x: Shaped, declared: ValueInfo | null = this.declare(x.shape)): void {
    this.graph.addOutput(x.value, declared ?? new ValueInfo(null));
  }

  /** Adds a value_info entry (type of an intermediate value). */
  valueInfo(x: Shaped): void {
    this.graph.addValueInfo(x.value, this.declare(x.shape));
  }

  /** A float32 initializer with values uniform in ±scale (or the given values). */
  initializer(name: string, dims: number[], scale = 1, values?: readonly number[]): Value {
    const count = dims.reduce((a, b) => a * b, 1);
    const data = values ? Float32Array.from(values) : new Float32Array(count).map(() => (this.owner.rng() * 2 - 1) * scale);
    return this.graph.addInitializer(Tensor.fromFloat32(this.owner.uniqueValueName(name), dims, data));
  }

  relu(x: Shaped, o: OpOptions = {}): Shaped {
    return { value: this.node('Relu', [x.value], 'relu_out', o), shape: x.shape };
  }

  /** Conv with a [outC, C, k, k] weight, bias, stride 1 and symmetric padding. */
  conv(x: Shaped, outC: number, kernel: number, pad: number, o: OpOptions = {}): Shaped {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const scale = Math.sqrt(6 / (c * kernel * kernel));
    const W = this.initializer('conv_w', [outC, c, kernel, kernel], scale);
    const B = this.initializer('conv_b', [outC], 0.1);
    const attrs = [
      new Attribute('kernel_shape', { type: AttributeType.INTS, value: [BigInt(kernel), BigInt(kernel)] }),
      new Attribute('pads', { type: AttributeType.INTS, value: [pad, pad, pad, pad].map(BigInt) }),
    ];
    const y = this.node('Conv', [x.value, W, B], 'conv_out', o, attrs);
    return { value: y, shape: [n, outC, h - kernel + 1 + 2 * pad, w - kernel + 1 + 2 * pad] };
  }

  /** Gemm(x, W^T, b) on a rank-2 input. */
  gemm(x: Shaped, outF: number, o: OpOptions = {}): Shaped {
    const [n, k] = x.shape as [number, number];
    const W = this.initializer('gemm_w', [outF, k], Math.sqrt(6 / k));
    const B = this.initializer('gemm_b', [outF], 0.1);
    const y = this.node('Gemm', [x.value, W, B], 'gemm_out', o, [Attribute.int('transB', 1)]);
    return { value: y, shape: [n, outF] };
  }

  /** MatMul by a [K, outF] weight over the last axis. */
  matMul(x: Shaped, outF: number, o: OpOptions = {}): Shaped {
    const k = x.shape[x.shape.length - 1]!;
    const W = this.initializer('matmul_w', [k, outF], Math.sqrt(6 / k));
    const y = this.node('MatMul', [x.value, W], 'matmul_out', o);
    return { value: y, shape: [...x.shape.slice(0, -1), outF] };
  }

  /** a + b (same shape). */
  add(a: Shaped, b: Shaped, o: OpOptions = {}): Shaped {
    if (a.shape.join() !== b.shape.join()) throw new Error(`add: shapes [${a.shape}] and [${b.shape}] differ`);
    return { value: this.node('Add', [a.value, b.value], 'add_out', o), shape: a.shape };
  }

  /** x + bias, the bias broadcast over the last axis. */
  addBias(x: Shaped, o: OpOptions = {}): Shaped {
    const B = this.initializer('bias', [x.shape[x.shape.length - 1]!], 0.5);
    return { value: this.node('Add', [x.value, B], 'add_out', o), shape: x.shape };
  }

  maxPool(x: Shaped, o: OpOptions = {}): Shaped {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const attrs = [
      new Attribute('kernel_shape', { type: AttributeType.INTS, value: [2n, 2n] }),
      new Attribute('strides', { type: AttributeType.INTS, value: [2n, 2n] }),
    ];
    return { value: this.node('MaxPool', [x.value], 'pool_out', o, attrs), shape: [n, c, Math.floor(h / 2), Math.floor(w / 2)] };
  }

  flatten(x: Shaped, o: OpOptions = {}): Shaped {
    const rest = x.shape.slice(1).reduce((a, b) => a * b, 1);
    return { value: this.node('Flatten', [x.value], 'flat_out', o, [Attribute.int('axis', 1)]), shape: [x.shape[0]!, rest] };
  }

  /** Concatenation along axis 1. */
  concat(xs: Shaped[], o: OpOptions = {}): Shaped {
    const shape = [...xs[0]!.shape];
    shape[1] = xs.reduce((a, x) => a + x.shape[1]!, 0);
    return { value: this.node('Concat', xs.map((x) => x.value), 'concat_out', o, [Attribute.int('axis', 1)]), shape };
  }

  /** Clip(min, max) with the bounds as initializer inputs (opset ≥ 11); max may be left out. */
  clip(x: Shaped, min: number, max: number | null, o: OpOptions = {}): Shaped {
    const lo = this.initializer('clip_min', [], 1, [min]);
    const inputs: Value[] = [x.value, lo];
    if (max !== null) inputs.push(this.initializer('clip_max', [], 1, [max]));
    return { value: this.node('Clip', inputs, 'clip_out', o), shape: x.shape };
  }

  /**
   * If(cond) with two branches built by the callbacks; each returns the branch's single output (of
   * the given shape). Branches may use any value of this graph.
   */
  ifNode(cond: Value, shape: number[], thenBranch: (b: GraphBuilder) => Shaped, elseBranch: (b: GraphBuilder) => Shaped, o: OpOptions = {}): Shaped {
    const makeBranch = (name: string, body: (b: GraphBuilder) => Shaped): Graph => {
      const g = new Graph(name, this.graph);
      const b = new GraphBuilder(this.owner, g);
      b.batchSymbol = this.batchSymbol;
      b.output(body(b));
      return g;
    };
    const attrs = [
      new Attribute('then_branch', { type: AttributeType.GRAPH, value: makeBranch('then', thenBranch) }),
      new Attribute('else_branch', { type: AttributeType.GRAPH, value: makeBranch('else', elseBranch) }),
    ];
    return { value: this.node('If', [cond], 'if_out', o, attrs), shape };
  }

  /** A call of a model-local function with one input and one output. */
  call(domain: string, name: string, x: Shaped, o: OpOptions = {}): Shaped {
    return { value: this.node(name, [x.value], `${name}_out`, o, [], domain), shape: x.shape };
  }

  /** A boolean scalar initializer (for If conditions). */
  boolConstant(name: string, value: boolean): Value {
    // TensorProto: dims (none), data_type = BOOL (9), name, raw_data = one byte.
    const bytes: number[] = [];
    const str = new TextEncoder().encode(this.owner.uniqueValueName(name));
    bytes.push(0x10, DataType.BOOL, 0x42, str.length, ...str, 0x4a, 1, value ? 1 : 0);
    return this.graph.addInitializer(Tensor.decode(Uint8Array.from(bytes)));
  }
}

export interface ModelOptions {
  opset?: number;
  irVersion?: number;
  seed?: number;
}

/** A model under construction: the main graph's builder plus model-level helpers. */
export class ModelBuilder {
  readonly model: Model;
  readonly main: GraphBuilder;
  readonly rng: () => number;
  private readonly valueNames = new Set<string>();
  private readonly nodeNames = new Set<string>();
  /**
   * Make node names unique (ONNX Runtime refuses two nodes with the same name; ONNX itself allows
   * it, so structural tests leave this off to exercise the converter's handling of duplicates).
   */
  uniqueNodeNames = false;

  constructor(options: ModelOptions = {}) {
    this.rng = makeRng(options.seed ?? 1);
    this.model = new Model(new Graph('test_graph'));
    this.model.irVersion = BigInt(options.irVersion ?? 8);
    this.model.producerName = 'jumprelu-tests';
    this.model.opsetImports = [{ domain: '', version: BigInt(options.opset ?? 17) }];
    this.main = new GraphBuilder(this, this.model.graph);
  }

  /** `name` if no value has it yet, else `name__1`, `name__2`, … (value names must be unique). */
  uniqueValueName(name: string): string {
    let n = name === '' ? 'v' : name;
    for (let i = 1; this.valueNames.has(n); i++) n = `${name}__${i}`;
    this.valueNames.add(n);
    return n;
  }

  /** A node name: as given, or made unique when `uniqueNodeNames` is set ('' stays ''). */
  nodeName(name: string): string {
    if (!this.uniqueNodeNames || name === '') return name;
    let n = name;
    for (let i = 1; this.nodeNames.has(n); i++) n = `${name}__${i}`;
    this.nodeNames.add(n);
    return n;
  }

  /**
   * Adds a model-local function `domain::name` of one input X and one output Y; `body` builds it
   * (its constants must be Constant nodes, not initializers).
   */
  addFunction(domain: string, name: string, body: (b: GraphBuilder, x: Shaped) => Shaped, shape: number[]): void {
    const g = new Graph(name);
    const b = new GraphBuilder(this, g);
    const x = new Value('X');
    x.scope = g;
    g.addInput(x, new ValueInfo(null));
    const y = body(b, { value: x, shape });
    g.addOutput(y.value, new ValueInfo(null));
    const fn = new IrFunction(name, domain, g);
    fn.opsetImports = [{ domain: '', version: this.model.opsetVersion('') ?? 17n }];
    this.model.functions.push(fn);
    if (this.model.opsetVersion(domain) === undefined) this.model.setOpsetVersion(domain, 1n);
  }

  bytes(): Uint8Array {
    return encodeModel(this.model).toBytes();
  }
}

/**
 * A model with a site of every kind, in this order: relu_a (after a Conv), relu_b (after a Gemm),
 * clip6 (Clip(0, 6)), [fused: com.microsoft FusedConv with a Relu activation, when asked], relu_then /
 * relu_else (the two branches of If `branch`), relu_in_fn (in the model-local function local.fns::Act,
 * called by `call_act`). Without the fused node it runs in ONNX Runtime.
 */
export function sitesModel(options: { withFused?: boolean; seed?: number } = {}): ModelBuilder {
  const mb = new ModelBuilder({ seed: options.seed ?? 3 });
  const g = mb.main;
  const x = g.input('x', [1, 2, 4, 4]);
  const c = g.relu(g.conv(x, 3, 3, 1, { name: 'conv' }), { name: 'relu_a' });
  const f = g.flatten(g.addBias(c, { name: 'bias' }), { name: 'flat' });
  const h = g.relu(g.gemm(f, 6, { name: 'fc' }), { name: 'relu_b' });
  const clipped = g.clip(h, 0, 6, { name: 'clip6' });
  if (options.withFused) {
    const w = g.initializer('fused_w', [2, 2, 1, 1]);
    const fused = new Node('FusedConv', [x.value, w], {
      domain: 'com.microsoft', name: 'fused', outputNames: [mb.uniqueValueName('fused_out')], attributes: [Attribute.string('activation', 'Relu')],
    });
    g.graph.append(fused);
    g.output({ value: fused.outputs[0]!, shape: [1, 2, 4, 4] });
    mb.model.setOpsetVersion('com.microsoft', 1n);
  }
  const cond = g.boolConstant('cond', true);
  const branched = g.ifNode(cond, [1, 6], (b) => b.relu(clipped, { name: 'relu_then' }), (b) => b.relu(clipped, { name: 'relu_else' }), { name: 'branch' });
  mb.addFunction('local.fns', 'Act', (b, v) => b.relu(v, { name: 'relu_in_fn' }), [1, 6]);
  g.output(g.call('local.fns', 'Act', branched, { name: 'call_act' }));
  return mb;
}

/** Counts nodes by `domain::op` over every graph of the model (main, subgraphs, function bodies). */
export function countOps(model: Model, opts: { includeFunctionBodies?: boolean } = {}): Map<string, number> {
  const counts = new Map<string, number>();
  const visit = (g: Graph): void => {
    for (const n of g.graphsDeep()) {
      for (const node of n.nodes) {
        const key = `${node.domain === 'ai.onnx' ? '' : node.domain}::${node.opType}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
  };
  visit(model.graph);
  if (opts.includeFunctionBodies) for (const f of model.functions) visit(f.body);
  return counts;
}

// ---- a tiny random-graph language for property tests ------------------------------------------

export type Instr =
  | { op: 'relu'; a: number; name: string; out: string }
  | { op: 'conv'; a: number; ch: number; k: 1 | 3; name: string; out: string }
  | { op: 'gemm'; a: number; ch: number; name: string; out: string }
  | { op: 'matmul'; a: number; ch: number; name: string; out: string }
  | { op: 'add'; a: number; b: number; name: string; out: string }
  | { op: 'bias'; a: number; name: string; out: string }
  | { op: 'maxpool'; a: number; name: string; out: string }
  | { op: 'flatten'; a: number; name: string; out: string }
  | { op: 'concat'; a: number; b: number; name: string; out: string };

export interface GraphSpec {
  seed: number;
  /** Concrete input shape [N, C, H, W]. */
  input: [number, number, number, number];
  instrs: Instr[];
  inputName: string;
  /** Declare dim 0 as a symbolic 'N'. */
  symbolicBatch: boolean;
  /** Also make every Relu's input and output a graph output (to check J's semantics per site). */
  exposeSites: boolean;
  /** Add value_info entries for these instruction results (indices into the result list). */
  valueInfos: number[];
  /** How many of the most recent values become graph outputs (at least the last). */
  extraOutputs: number;
}

export interface BuiltGraph {
  builder: ModelBuilder;
  /** Relu sites as (input, output) values, in build order. */
  sites: Array<{ input: Value; output: Value }>;
  reluCount: number;
  inputShape: number[];
  inputName: string;
}

/**
 * Interprets a spec: each instruction picks its operands among the values built so far (index modulo
 * the candidates that fit) and is skipped when none fits. A Relu is appended if none was built.
 */
export function buildFromSpec(spec: GraphSpec, options: { opset?: number; uniqueNodeNames?: boolean } = {}): BuiltGraph {
  const mb = new ModelBuilder({ opset: options.opset ?? 17, seed: spec.seed });
  mb.uniqueNodeNames = options.uniqueNodeNames ?? false;
  const g = mb.main;
  if (spec.symbolicBatch) g.batchSymbol = 'N';
  const x = g.input(spec.inputName, spec.input);
  const pool: Shaped[] = [x];
  const sites: BuiltGraph['sites'] = [];
  const pick = (i: number, ok: (s: Shaped) => boolean): Shaped | undefined => {
    const c = pool.filter(ok);
    return c.length === 0 ? undefined : c[i % c.length];
  };
  const tooBig = (s: number[]): boolean => s.reduce((a, b) => a * b, 1) > 4096;
  for (const ins of spec.instrs) {
    const o: OpOptions = { name: ins.name, out: ins.out };
    let r: Shaped | undefined;
    switch (ins.op) {
      case 'relu': {
        const a = pick(ins.a, () => true)!;
        r = g.relu(a, o);
        sites.push({ input: a.value, output: r.value });
        break;
      }
      case 'conv': {
        const a = pick(ins.a, (s) => s.shape.length === 4 && s.shape[2]! >= ins.k && s.shape[3]! >= ins.k && s.shape[1]! <= 16);
        if (a) r = g.conv(a, ins.ch, ins.k, ins.k === 3 ? (ins.ch % 2) : 0, o);
        break;
      }
      case 'gemm': {
        // Gemm wants rank 2: flatten a value first when none is at hand.
        let a = pick(ins.a, (s) => s.shape.length === 2 && s.shape[1]! <= 512);
        if (!a) {
          const b = pick(ins.a, (s) => s.shape.length > 2 && s.shape.slice(1).reduce((p, d) => p * d, 1) <= 512);
          if (b) pool.push(a = g.flatten(b, { name: ins.name, out: `${ins.out}_flat` }));
        }
        if (a) r = g.gemm(a, ins.ch, o);
        break;
      }
      case 'matmul': {
        const a = pick(ins.a, (s) => s.shape[s.shape.length - 1]! <= 64 && !tooBig([...s.shape.slice(0, -1), ins.ch]));
        if (a) r = g.matMul(a, ins.ch, o);
        break;
      }
      case 'add': {
        const a = pick(ins.a, () => true)!;
        const b = pick(ins.b, (s) => s.shape.join() === a.shape.join());
        r = g.add(a, b ?? a, o);
        break;
      }
      case 'bias': r = g.addBias(pick(ins.a, () => true)!, o); break;
      case 'maxpool': {
        const a = pick(ins.a, (s) => s.shape.length === 4 && s.shape[2]! >= 2 && s.shape[3]! >= 2);
        if (a) r = g.maxPool(a, o);
        break;
      }
      case 'flatten': {
        const a = pick(ins.a, (s) => s.shape.length > 2);
        if (a) r = g.flatten(a, o);
        break;
      }
      case 'concat': {
        const a = pick(ins.a, (s) => s.shape.length >= 2);
        if (!a) break;
        const same = (s: Shaped): boolean => s.shape.length === a.shape.length && s.shape.every((d, i) => i === 1 || d === a.shape[i]);
        const b = pick(ins.b, same)!; // a itself fits
        if (!tooBig([a.shape[0]!, a.shape[1]! + b.shape[1]!, ...a.shape.slice(2)])) r = g.concat([a, b], o);
        break;
      }
    }
    if (r) pool.push(r);
  }
  if (sites.length === 0) {
    const a = pool[pool.length - 1]!;
    const r = g.relu(a, { name: 'relu_tail' });
    sites.push({ input: a.value, output: r.value });
    pool.push(r);
  }
  for (const i of spec.valueInfos) {
    const s = pool[1 + (i % Math.max(1, pool.length - 1))];
    if (s && s !== x && !g.graph.valueInfos.some((e) => e.value === s.value)) g.valueInfo(s);
  }
  const outputs = new Set<Value>();
  const addOutput = (s: Shaped): void => {
    if (outputs.has(s.value)) return;
    outputs.add(s.value);
    g.output(s);
  };
  const count = Math.min(pool.length - 1, Math.max(1, spec.extraOutputs));
  for (let i = 0; i < count; i++) addOutput(pool[pool.length - 1 - i]!);
  if (spec.exposeSites) {
    const shapeOf = new Map(pool.map((s) => [s.value, s]));
    for (const s of sites) {
      // The graph input stays an input only (its values are the feed anyway).
      if (s.input !== x.value) addOutput(shapeOf.get(s.input)!);
      addOutput(shapeOf.get(s.output)!);
    }
  }
  return { builder: mb, sites, reluCount: sites.length, inputShape: spec.input, inputName: x.value.name };
}

/** An empty IR 8 / opset 17 model whose graph `name` has one float input `x` of the given shape. */
export function modelWithInput(name: string, shape: (number | string)[]): { model: Model; g: Graph; x: Value } {
  const g = new Graph(name);
  const model = new Model(g);
  model.irVersion = 8n;
  model.opsetImports = [{ domain: '', version: 17n }];
  const x = new Value('x');
  x.scope = g;
  g.addInput(x, ValueInfo.tensor(DataType.FLOAT, shape));
  return { model, g, x };
}

/** A chain of n Relu nodes on a [1, 4] input: every node is a site, the weights are nothing. */
export function buildReluChain(n: number): Model {
  const { model, g, x } = modelWithInput('relu_chain', [1, 4]);
  let cur = x;
  for (let i = 0; i < n; i++) cur = g.append(new Node('Relu', [cur], { name: `relu${i}`, outputNames: [`r${i}`] })).outputs[0]!;
  g.addOutput(cur, ValueInfo.tensor(DataType.FLOAT, [1, 4]));
  return model;
}

/**
 * logits = W·flatten(x) + b on a [N, 1, height, width] input (W is [classes, height·width], row-major), as a
 * Flatten + Gemm(transB) model with a symbolic batch: the attack tests' classifier with closed-form answers.
 */
export function linearClassifier(W: readonly number[], b: readonly number[], classes: number, height: number, width: number): Model {
  const mb = new ModelBuilder({ seed: 1, opset: 17 });
  mb.uniqueNodeNames = true;
  const g = mb.main;
  g.batchSymbol = 'N';
  const x = g.input('input', [1, 1, height, width]);
  const flat = g.flatten(x);
  const Wv = g.initializer('W', [classes, height * width], 1, W);
  const Bv = g.initializer('B', [classes], 1, b);
  const n = mb.model.graph.append(new Node('Gemm', [flat.value, Wv, Bv], { outputNames: ['logits'], attributes: [Attribute.int('transB', 1)], name: 'fc' }));
  g.output({ value: n.outputs[0]!, shape: [1, classes] });
  return mb.model;
}
