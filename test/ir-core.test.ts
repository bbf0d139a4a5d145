// The IR core on its own: use lists and replaceAllUsesWith, the node list, graph inputs/outputs with
// their declarations, renaming, NameAuthority, the verifier's messages, PassManager, the text printer,
// and a 128k-node chain through everything that walks a graph (no recursion, no quadratic step).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { Attribute, AttributeType } from '../src/ir/attribute.js';
import { makeTensor } from '../src/ir/analysis/constants.js';
import { decodeModel } from '../src/ir/decode.js';
import { encodeModel } from '../src/ir/encode.js';
import {
  DataError, ExternalDataError, InvalidModelError, JumpReluError, ModelFormatError, UnsupportedModelError, UsageError,
  VerifyError, describeError, exitStatusOf,
} from '../src/ir/errors.js';
import { IrFunction } from '../src/ir/function.js';
import { Graph } from '../src/ir/graph.js';
import { Model } from '../src/ir/model.js';
import { NameAuthority } from '../src/ir/names.js';
import { Node } from '../src/ir/node.js';
import { printModel } from '../src/ir/print.js';
import { DataType, Tensor } from '../src/ir/tensor.js';
import { Value } from '../src/ir/value.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { assertValid, verifyModel } from '../src/ir/verify.js';
import { topologicalSort } from '../src/passes/cleanup.js';
import { PassManager } from '../src/passes/pass-manager.js';
import { packageRoot as repoRoot } from '../src/package-root.js';

const F = (shape: Array<number | string>): ValueInfo => ValueInfo.tensor(DataType.FLOAT, shape);

/** x → Relu → r → Add(r, r) → y, with one initializer `w` used by a Mul: a small graph to edit. */
function small(): { model: Model; g: Graph; x: Value; relu: Node; add: Node; mul: Node; w: Value } {
  const g = new Graph('main');
  const model = new Model(g);
  model.opsetImports = [{ domain: '', version: 13n }];
  const x = g.addInput(new Value('x'), F(['N', 4]));
  const w = g.addInitializer(Tensor.fromFloat32('w', [4], [1, 2, 3, 4]));
  const relu = g.append(new Node('Relu', [x], { name: 'relu', outputNames: ['r'] }));
  const r = relu.outputs[0]!;
  const add = g.append(new Node('Add', [r, r], { name: 'add', outputNames: ['s'] }));
  const mul = g.append(new Node('Mul', [add.outputs[0]!, w], { name: 'mul', outputNames: ['y'] }));
  g.addOutput(mul.outputs[0]!, F(['N', 4]));
  return { model, g, x, relu, add, mul, w };
}

test('use lists follow every edit; replaceAllUsesWith moves node inputs and graph outputs', () => {
  const { model, g, relu, add, mul } = small();
  const r = relu.outputs[0]!;
  assert.deepEqual(r.uses.map((u) => [u.node.name, u.index]), [['add', 0], ['add', 1]]);
  const fresh = g.insertAfter(relu, new Node('Identity', [r], { outputNames: ['r2'] })).outputs[0]!;
  r.replaceAllUsesWith(fresh);
  // The Identity itself now reads r2: point it back at r, as a rewrite would.
  fresh.producer!.setInput(0, r);
  assert.deepEqual(r.uses.map((u) => u.node.opType), ['Identity']);
  assert.deepEqual(fresh.uses.map((u) => [u.node.name, u.index]), [['add', 0], ['add', 1]]);
  assert.deepEqual(verifyModel(model), []);

  const y = mul.outputs[0]!;
  const y2 = g.append(new Node('Neg', [y], { outputNames: ['y2'] })).outputs[0]!;
  y.replaceAllUsesWith(y2); // the graph output moves, keeping its declaration
  assert.equal(g.outputs[0], y2);
  assert.equal(g.outputInfos[0]!.tensorType!.shape!.join(), 'N,4');
  assert.ok(y2.isGraphOutput && !y.isGraphOutput);
  // …and so does the Neg's own input, which makes a cycle-free but self-referencing node: undo it.
  y2.producer!.setInput(0, y);
  assert.deepEqual(verifyModel(model), []);

  assert.throws(() => g.remove(add), /still used/);
  assert.throws(() => add.setInput(5, r), /no input slot 5/);
});

test('the node list: O(1) inserts and removes, a stable snapshot, indexOf, reorder', () => {
  const { g, relu, add, mul } = small();
  const snapshot = g.nodes;
  const first = g.prepend(new Node('Constant', [], { outputNames: ['c'], attributes: [Attribute.float('value_float', 1)] }));
  const mid = g.insertBefore(add, new Node('Identity', [relu.outputs[0]!], { outputNames: ['i'] }));
  assert.deepEqual(snapshot.map((n) => n.opType), ['Relu', 'Add', 'Mul'], 'an earlier snapshot does not change');
  assert.deepEqual(g.nodes.map((n) => n.opType), ['Constant', 'Relu', 'Identity', 'Add', 'Mul']);
  assert.equal(g.indexOf(mid), 2);
  assert.equal(g.indexOf(mul), 4);
  assert.equal(g.firstNode, first);
  assert.equal(g.lastNode, mul);
  g.remove(mid);
  g.remove(first);
  assert.equal(g.nodeCount, 3);
  assert.equal(g.indexOf(mid), -1);
  assert.throws(() => g.insertAfter(mid, new Node('Relu', [null], { outputNames: ['z'] })), /not in graph/);
  assert.throws(() => g.append(add), /already belongs/);
  assert.throws(() => g.reorder([relu, add]), /same nodes/);
  assert.throws(() => g.reorder([relu, relu, add]), /same nodes/);
  g.reorder([add, relu, mul]);
  assert.deepEqual(g.nodes.map((n) => n.name), ['add', 'relu', 'mul']);
  assert.equal(g.indexOf(relu), 1);
});

test('graph inputs and outputs go through methods that keep declarations with the values', () => {
  const { model, g, x, mul } = small();
  assert.equal(x.type?.tensorType?.shape?.join(), 'N,4');
  assert.ok(x.isGraphInput);
  const extra = g.addInput(new Value('extra'), F([1]));
  assert.equal(extra.scope, g);
  assert.deepEqual(g.inputs.map((v) => v.name), ['x', 'extra']);
  assert.equal(g.declaredType(extra)?.tensorType?.shape?.join(), '1');
  g.setInputInfo(extra, F([2]));
  assert.equal(extra.type?.tensorType?.shape?.join(), '2');
  g.removeInput(extra);
  assert.ok(!extra.isGraphInput);
  assert.throws(() => g.removeInput(x), /still used/);

  const fresh = new Value('x_new');
  g.replaceInput(x, fresh, F(['N', 4]));
  x.replaceAllUsesWith(fresh);
  assert.equal(g.inputs[0], fresh);
  assert.deepEqual(verifyModel(model), []);

  // An output added without a declaration takes the value's own (its value_info entry here).
  const s = mul.inputs[0]!;
  g.addValueInfo(s, F(['N', 4]));
  g.addOutput(s);
  assert.equal(g.outputInfos[1]!.tensorType!.shape!.join(), 'N,4');
  g.setOutputs([s]);
  assert.deepEqual(g.outputs.map((v) => v.name), ['s']);
  assert.ok(!mul.outputs[0]!.isGraphOutput);
  g.setOutputs([{ value: mul.outputs[0]!, info: F([7]) }, s]);
  assert.equal(g.outputInfos[0]!.tensorType!.shape!.join(), '7');
  g.removeOutput(s);
  assert.deepEqual(g.outputs.map((v) => v.name), ['y']);
  // Round trip: what the methods built is what is saved.
  const back = decodeModel(encodeModel(model).toBytes());
  assert.deepEqual(back.graph.inputs.map((v) => v.name), ['x_new']);
  assert.deepEqual(back.graph.outputs.map((v) => v.name), ['y']);
  assert.deepEqual(back.graph.valueInfos.map((e) => e.value.name), ['s']);
});

test('renaming an initializer renames its map entry and tensor, and the saved model keeps working', () => {
  const { model, g, w, mul } = small();
  const b = g.addInitializer(Tensor.fromFloat32('b', [1], [0]));
  g.append(new Node('Add', [mul.outputs[0]!, b], { outputNames: ['unused_out'] }));
  w.name = 'weights';
  assert.deepEqual([...g.initializers.keys()], ['weights', 'b'], 'file order is kept');
  assert.equal(g.initializers.get('weights'), w);
  assert.equal(w.initializer!.name, 'weights');
  assert.deepEqual(verifyModel(model), []);
  const back = decodeModel(encodeModel(model).toBytes());
  const bw = back.graph.initializers.get('weights');
  assert.ok(bw, 'the renamed initializer is saved under its new name');
  assert.equal(bw.initializer!.name, 'weights');
  assert.equal(back.graph.nodes.find((n) => n.name === 'mul')!.inputs[1], bw, 'and the node still reads it');
  assert.deepEqual(verifyModel(back), []);
  assert.throws(() => { w.name = 'b'; }, /an initializer has that name/);
  assert.equal(w.name, 'weights');

  // Edits that bypass the rename are what the verifier catches.
  w.initializer!.name = 'other';
  assert.deepEqual(verifyModel(model), ["main: initializer 'weights' holds a tensor named 'other'"]);
});

test('NameAuthority: every name in the model is taken; fresh names are unique and linear to make', () => {
  const { model } = small();
  const names = NameAuthority.forModel(model);
  for (const n of ['x', 'w', 'r', 's', 'y', 'relu', 'add', 'mul']) assert.ok(names.isUsed(n), n);
  assert.equal(names.fresh('k'), 'k');
  assert.equal(names.fresh('r'), 'r_1');
  names.reserve('r_2');
  assert.equal(names.fresh('r'), 'r_3');
  assert.equal(names.fresh('r'), 'r_4');
  const many = new Set<string>();
  for (let i = 0; i < 50_000; i++) many.add(names.fresh('kappa'));
  assert.equal(many.size, 50_000);
  assert.ok(many.has('kappa') && many.has('kappa_49999'));
});

test('NameAuthority.lazy: the model is read at the first question, as it is then', () => {
  const { model, g } = small();
  const names = NameAuthority.lazy(model);
  // A name the model gains before the first question is taken too (an eager authority would not know it).
  g.addInitializer(Tensor.fromFloat32('late', [], [1]));
  assert.equal(names.fresh('late'), 'late_1');
  for (const n of ['x', 'w', 'r', 'y', 'relu']) assert.ok(names.isUsed(n), n);
  assert.equal(names.fresh('r'), 'r_1');
});

/** Verifier problems of a model after `edit`. */
function problemsAfter(edit: (s: ReturnType<typeof small>) => void): string[] {
  const s = small();
  edit(s);
  return verifyModel(s.model);
}

test('verifier: the message names the graph, the node and what is wrong', () => {
  assert.deepEqual(problemsAfter(({ relu, g }) => relu.appendInput(g.inputs[0]!)),
    ['main: Relu node relu has 2 inputs; Relu takes 1']);
  assert.deepEqual(problemsAfter(({ g, x }) => g.append(new Node('Where', [x, x], { name: 'wh', outputNames: ['q'] }))),
    ['main: Where node wh has 2 inputs; Where takes 3']);
  assert.deepEqual(problemsAfter(({ g }) => g.append(new Node('Clip', [null], { name: 'clip', outputNames: ['q'] }))),
    ['main: Clip node clip leaves its required input 0 empty']);
  assert.deepEqual(problemsAfter(({ g, x }) => g.append(new Node('Relu', [x], { name: 'two', outputNames: ['q', 'q2'] }))),
    ['main: Relu node two has 2 outputs; Relu gives 1']);
  assert.deepEqual(problemsAfter(({ relu }) => relu.setInput(0, new Value('ghost'))),
    ["main: relu uses undefined value 'ghost'"]);
  assert.deepEqual(problemsAfter(({ g, x }) => g.append(new Node('Neg', [x], { name: 'dup', outputNames: ['r'] }))),
    ["main: 'r' is defined twice (output of dup)"]);
  assert.deepEqual(problemsAfter(({ relu, add }) => relu.setInput(0, add.outputs[0]!)),
    ['main: the graph has a cycle']);
  assert.deepEqual(problemsAfter(({ g, relu, add, mul }) => g.reorder([add, relu, mul])),
    ['main: nodes are not in topological order']);
  assert.deepEqual(problemsAfter(({ g, relu }) => g.remove(relu, true)),
    ["main: add uses 'r' whose producer was removed", "main: add uses 'r' whose producer was removed"]);
  assert.deepEqual(problemsAfter(({ g, x }) => g.addInput(x)),
    ["main: 'x' is listed twice as a graph input"]);
  assert.deepEqual(problemsAfter(({ g }) => g.addOutput(new Value('nowhere'))),
    ["main: graph output 'nowhere' is not defined"]);
  // Subgraphs are checked with their path; other domains are not arity-checked.
  assert.deepEqual(problemsAfter(({ g, x }) => {
    const branch = new Graph('then', g);
    const bad = branch.append(new Node('Relu', [x, x], { name: 'inner', outputNames: ['t'] }));
    branch.addOutput(bad.outputs[0]!);
    const other = new Graph('else', g);
    other.append(new Node('Relu', [x], { outputNames: ['e'] }));
    other.addOutput(other.lastNode!.outputs[0]!);
    const cond = g.addInitializer(makeTensor('cond', DataType.BOOL, [], [1]));
    g.append(new Node('If', [cond], {
      name: 'if', outputNames: ['o'],
      attributes: [new Attribute('then_branch', { type: AttributeType.GRAPH, value: branch }), new Attribute('else_branch', { type: AttributeType.GRAPH, value: other })],
    }));
    g.append(new Node('Anything', [x, x, x], { domain: 'com.example', outputNames: ['any'] }));
  }), ['main/if: Relu node inner has 2 inputs; Relu takes 1']);

  const { model, relu, g } = small();
  relu.appendInput(g.inputs[0]!);
  assert.throws(() => assertValid(model, 'input model', 'verify-input'), (e: unknown) =>
    e instanceof VerifyError && e.code === 'verify-input' && e.kind === 'invalid-model'
    && e.message === 'input model: main: Relu node relu has 2 inputs; Relu takes 1');
});

test('PassManager verifies the input and each pass, naming the pass that broke the graph', () => {
  const { model, relu } = small();
  const records = new PassManager()
    .add({ name: 'noop', run: () => 42 })
    .add({ name: 'rename', run: (m) => { m.graph.initializers.get('w')!.name = 'w2'; return 'ok'; } })
    .run(model);
  assert.deepEqual(records.map((r) => [r.pass, r.result]), [['noop', 42], ['rename', 'ok']]);
  assert.throws(() => new PassManager().add({ name: 'breaker', run: () => relu.setInput(0, new Value('lost')) }).run(model),
    (e: unknown) => e instanceof VerifyError && e.code === 'verify-pass'
      && e.message === "after pass 'breaker': main: relu uses undefined value 'lost'");
  // The model is now invalid: the next run refuses it before any pass runs.
  let ran = false;
  assert.throws(() => new PassManager().add({ name: 'never', run: () => { ran = true; } }).run(model),
    (e: unknown) => e instanceof VerifyError && e.code === 'verify-input');
  assert.equal(ran, false);
});

test('errors carry a kind and a stable code; only usage errors exit 2', () => {
  const cases: Array<[JumpReluError, string, string]> = [
    [new UsageError('m'), 'usage', 'usage'],
    [new ModelFormatError('m'), 'invalid-model', 'model-format'],
    [new InvalidModelError('m'), 'invalid-model', 'invalid-model'],
    [new ExternalDataError('m', { code: 'external-data-escape' }), 'invalid-model', 'external-data-escape'],
    [new VerifyError('m'), 'invalid-model', 'verify'],
    [new UnsupportedModelError('m'), 'unsupported-model', 'unsupported-model'],
    [new DataError('m'), 'data', 'data'],
    [new JumpReluError('m'), 'io', 'io'],
  ];
  for (const [e, kind, code] of cases) {
    assert.equal(e.kind, kind, e.name);
    assert.equal(e.code, code, e.name);
    assert.ok(e instanceof JumpReluError && e instanceof Error);
    assert.equal(exitStatusOf(e.kind), kind === 'usage' ? 2 : 1);
  }
  assert.deepEqual(describeError(new TypeError('boom')), { kind: 'internal', code: 'internal', message: 'boom' });

  // The CLI prints the code and exits by kind.
  const bin = path.join(repoRoot(), 'dist/src/cli/jumprelu-convert.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ir-core-'));
  try {
    const junk = path.join(dir, 'junk.onnx');
    fs.writeFileSync(junk, Buffer.from([0x08, 0x07, 0x12])); // ir_version then a truncated field
    const bad = spawnSync(process.execPath, [bin, junk, path.join(dir, 'o.onnx'), '--kappa', '0.5'], { encoding: 'utf8' });
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /^jumprelu-convert: error: .* \[model-format\]\n$/);
    const usage = spawnSync(process.execPath, [bin, junk, path.join(dir, 'o.onnx'), '--kappa', 'lots'], { encoding: 'utf8' });
    assert.equal(usage.status, 2, usage.stderr);
    assert.match(usage.stderr, /\[usage\]\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the text printer: one line per node, declared types, small constants, subgraphs and functions', () => {
  const { model, g, relu } = small();
  g.addValueInfo(relu.outputs[0]!, F(['N', 4]));
  const k = g.addInitializer(Tensor.fromFloat32('kappa', [], [0.1]));
  g.insertAfter(relu, new Node('Greater', [relu.outputs[0]!, k], { outputNames: ['mask'] }));
  model.opsetImports.push({ domain: 'com.jumprelu', version: 1n });
  assert.equal(printModel(model), [
    'model ir_version=8 opsets=[ai.onnx:13, com.jumprelu:1]',
    "graph 'main' (x: float[N,4]) -> (y: float[N,4])",
    '  init w: float[4] = [1, 2, 3, 4]',
    '  init kappa: float[] = 0.1',
    '  value r: float[N,4]',
    "  r = Relu(x)   # 'relu'",
    '  mask = Greater(r, kappa)',
    "  s = Add(r, r)   # 'add'",
    "  y = Mul(s, w)   # 'mul'",
    '',
  ].join('\n'));
  const golden = fs.readFileSync(path.join(repoRoot(), 'test/golden/ir-print-function.txt'), 'utf8');
  assert.equal(printModel(functionModel()), golden);
});

/** A model with an If whose branches read the outer x, and a local function with a referenced attribute. */
function functionModel(): Model {
  const g = new Graph('main');
  const model = new Model(g);
  model.irVersion = 8n;
  model.opsetImports = [{ domain: '', version: 17n }, { domain: 'local', version: 1n }];
  const x = g.addInput(new Value('x'), F(['N', 3]));
  const cond = g.addInput(new Value('cond'), ValueInfo.tensor(DataType.BOOL, []));
  const branch = (name: string, op: string): Graph => {
    const b = new Graph(name, g);
    b.addOutput(b.append(new Node(op, [x], { outputNames: [`${name}_out`] })).outputs[0]!, F(['N', 3]));
    return b;
  };
  const iff = g.append(new Node('If', [cond], {
    name: 'choose', outputNames: ['chosen'],
    attributes: [new Attribute('then_branch', { type: AttributeType.GRAPH, value: branch('then', 'Relu') }),
      new Attribute('else_branch', { type: AttributeType.GRAPH, value: branch('else', 'Neg') })],
  }));
  const call = g.append(new Node('Shift', [iff.outputs[0]!], { domain: 'local', outputNames: ['y'], attributes: [Attribute.float('by', 0.25)] }));
  g.addOutput(call.outputs[0]!, F(['N', 3]));
  const body = new Graph('Shift');
  const X = body.addInput(new Value('X'));
  const by = new Attribute('value_float', { type: AttributeType.FLOAT, value: 0 });
  by.refAttrName = 'by';
  const c = body.append(new Node('Constant', [], { outputNames: ['c'], attributes: [by] })).outputs[0]!;
  body.addOutput(body.append(new Node('Add', [X, c], { outputNames: ['Y'] })).outputs[0]!);
  const f = new IrFunction('Shift', 'local', body);
  f.attributeNames = ['by'];
  f.opsetImports = [{ domain: '', version: 17n }];
  model.functions.push(f);
  assert.deepEqual(verifyModel(model), []);
  return model;
}

test('a 128k-node Relu chain: built, edited, verified and sorted without recursion', () => {
  const N = 128 * 1024;
  const g = new Graph('chain');
  const model = new Model(g);
  model.opsetImports = [{ domain: '', version: 13n }];
  let cur = g.addInput(new Value('x'), F(['N', 8]));
  const nodes: Node[] = [];
  for (let i = 0; i < N; i++) {
    const n = g.append(new Node('Relu', [cur], { name: `r${i}`, outputNames: [`v${i}`] }));
    nodes.push(n);
    cur = n.outputs[0]!;
  }
  g.addOutput(cur, F(['N', 8]));
  // Insert an Identity before every other node (the retrofit's access pattern).
  for (let i = 0; i < N; i += 2) {
    const n = nodes[i]!;
    const id = g.insertBefore(n, new Node('Identity', [n.inputs[0]!], { outputNames: [`id${i}`] }));
    n.setInput(0, id.outputs[0]!);
  }
  assert.equal(g.nodeCount, N + N / 2);
  assert.equal(g.indexOf(nodes[2]!), 4);
  // Reverse the list (the worst case for a depth-first sort: a 192k-deep dependency chain from the first
  // node): the verifier reports it and the iterative sort puts it back.
  g.reorder([...g.nodes].reverse());
  assert.deepEqual(verifyModel(model), ['main: nodes are not in topological order']);
  topologicalSort(model);
  assert.deepEqual(verifyModel(model), []);
  assert.equal(g.indexOf(nodes[N - 1]!), g.nodeCount - 1);
  assert.equal([...model.graphs()].length, 1);
});
