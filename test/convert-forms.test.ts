// The JumpReLU forms (src/retrofit/forms): each form's lowering, in-place κ update and removal as IR text
// (golden files in test/golden/forms/, printed by src/ir/print.ts), and the form objects' own answers:
// check's failure reasons, recognition from a node, and what they give the gradient compiler.
// JUMPRELU_UPDATE_GOLDEN=1 rewrites the golden files (review the diff).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Graph } from '../src/ir/graph.js';
import { Model } from '../src/ir/model.js';
import { NameAuthority } from '../src/ir/names.js';
import { Node } from '../src/ir/node.js';
import { printModel } from '../src/ir/print.js';
import { DataType, Tensor } from '../src/ir/tensor.js';
import { Value } from '../src/ir/value.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { assertValid } from '../src/ir/verify.js';
import { parseKappaMap } from '../src/passes/kappa-map.js';
import { retrofit } from '../src/passes/retrofit.js';
import { ActivationTypes, FORMS, formOfNode, recognisesSite } from '../src/retrofit/forms/index.js';
import { RECORD_KEY, TARGETS, type Target } from '../src/retrofit/record.js';
import { IrFunction } from '../src/ir/function.js';
import { packageRoot as repoRoot } from '../src/package-root.js';

/** x → Conv(1×1) → Relu → y, [N,2,3,3] declared in `elem` throughout (the weights stay float32: only the lowering is printed, never run). */
function convRelu(opset = 17, elem: number = DataType.FLOAT): Model {
  const g = new Graph('main');
  const model = new Model(g);
  model.irVersion = 8n;
  model.opsetImports = [{ domain: '', version: BigInt(opset) }];
  const x = new Value('x');
  x.scope = g;
  g.addInput(x, ValueInfo.tensor(elem, ['N', 2, 3, 3]));
  const w = g.addInitializer(Tensor.fromFloat32('w', [2, 2, 1, 1], [1, 0, 0, 1]));
  const conv = g.append(new Node('Conv', [x, w], { name: 'conv', outputNames: ['c'] }));
  g.addValueInfo(conv.outputs[0]!, ValueInfo.tensor(elem, ['N', 2, 3, 3]));
  const relu = g.append(new Node('Relu', [conv.outputs[0]!], { name: 'relu', outputNames: ['y'] }));
  g.addOutput(relu.outputs[0]!, ValueInfo.tensor(elem, ['N', 2, 3, 3]));
  return model;
}

/** The IR text and the retrofit record (the part of the form's output that lives in metadata). */
function printed(model: Model): string {
  return printModel(model) + `record ${model.getMetadata(RECORD_KEY) ?? '(none)'}\n`;
}

function golden(name: string, text: string): void {
  const file = path.join(repoRoot(), 'test/golden/forms', `${name}.txt`);
  if (process.env.JUMPRELU_UPDATE_GOLDEN === '1') fs.writeFileSync(file, text);
  assert.equal(text, fs.readFileSync(file, 'utf8'), `golden ${name}`);
}

for (const target of TARGETS) {
  test(`form ${target}: lowering, κ update in place and removal (golden IR text)`, () => {
    const model = convRelu();
    retrofit(model, { kappa: 0.5, gradKappa: 0.25, target });
    assertValid(model, 'lowered');
    golden(`${target}-lower`, printed(model));
    // A new κ edits the same nodes (no new node, no new name).
    const before = model.graph.nodes.length;
    const r = retrofit(model, { kappa: 0.75, target });
    assert.equal(r.counts.updated, 1);
    assert.equal(model.graph.nodes.length, before);
    golden(`${target}-update`, printed(model));
    // κ = 0 takes the form out again: the Relu comes back and the record goes.
    retrofit(model, { kappa: 0, target });
    assert.equal(printed(model), printed(convRelu()));
  });
}

for (const target of ['where', 'custom'] as const) {
  test(`form ${target}: per-channel κ (golden IR text)`, () => {
    const model = convRelu();
    retrofit(model, { kappaMap: parseKappaMap({ relu: [0.5, 1.5] }), target });
    golden(`${target}-per-channel`, printed(model));
  });
}

test('form where: float16 activation casts κ and 0 (golden IR text)', () => {
  const model = convRelu(17, DataType.FLOAT16);
  retrofit(model, { kappa: 0.5, target: 'where' });
  golden('where-float16', printed(model));
});

test("forms: check gives each form's failure reason without changing the model", () => {
  const model = convRelu();
  const x17 = model.graph.nodes[1]!.inputs[0]!;
  const at = (opset: number) => ({ graph: x17.scope!, graphPath: 'main', opset: BigInt(opset), types: new ActivationTypes(model) });
  const spec = { kappa: 0.5, name: 'relu' };
  for (const target of TARGETS) assert.equal(FORMS[target].check(at(17), x17, spec), null, target);
  const reasons: Record<Target, [number, RegExp]> = {
    'thresholded-relu': [9, /--target thresholded-relu needs ai\.onnx opset ≥ 10, but main imports 9; use --target where/],
    'where': [8, /--target where needs ai\.onnx opset ≥ 9, but main imports 8; use --target custom/],
    'function': [11, /--target function needs ai\.onnx opset ≥ 12, but main imports 11/],
    'custom': [0, /--target custom needs ai\.onnx opset ≥ 1, but main imports 0/],
  };
  for (const target of TARGETS) {
    const [opset, re] = reasons[target];
    const err = FORMS[target].check(at(opset), x17, spec);
    assert.ok(err, target);
    assert.match(err.message, re);
    assert.equal(err.code, 'opset-too-old');
  }
  const perChannel = { kappa: [0.5, 1.5], name: 'relu' };
  assert.match(FORMS['thresholded-relu'].check(at(17), x17, perChannel)!.message, /a per-channel κ needs --target where or --target custom/);
  assert.match(FORMS.function.check(at(17), x17, perChannel)!.message, /a per-channel κ needs/);
  assert.equal(FORMS.where.check(at(17), x17, perChannel), null);
  const wrong = FORMS.custom.check(at(17), x17, { kappa: [1, 2, 3], name: 'relu' })!;
  assert.equal(wrong.code, 'kappa-channels');
  const m64 = convRelu(17, DataType.DOUBLE);
  const f64 = m64.graph.nodes[1]!.inputs[0]!;
  const at64 = { graph: m64.graph, graphPath: 'main', opset: 17n, types: new ActivationTypes(m64) };
  assert.equal(FORMS.custom.check(at64, f64, spec)!.code, 'element-type');
  assert.equal(FORMS.where.check(at64, f64, spec), null);
  // Undeclared activations: element type and channels come from the analysis (src/ir/analysis) instead.
  const bare = convRelu(17, DataType.DOUBLE);
  bare.graph.removeValueInfo(bare.graph.nodes[0]!.outputs[0]!);
  const atBare = { graph: bare.graph, graphPath: 'main', opset: 17n, types: new ActivationTypes(bare) };
  const xb = bare.graph.nodes[1]!.inputs[0]!;
  assert.equal(FORMS.custom.check(atBare, xb, spec)!.code, 'element-type', 'float64 inferred through the Conv');
  assert.equal(FORMS.where.check(atBare, xb, { kappa: [1, 2], name: 'relu' }), null, '2 channels inferred');
  assert.equal(FORMS.where.check(atBare, xb, { kappa: [1, 2, 3], name: 'relu' })!.code, 'kappa-channels');
});

test('forms: each recognises its own output node (with the record) and offers x and κ for the gradient', () => {
  for (const target of TARGETS) {
    const model = convRelu();
    retrofit(model, { kappa: 0.5, gradKappa: 0.25, target });
    const out = model.graph.nodes.find((n) => n.name === 'relu')!;
    const record = { graph: 'main', node: 'relu', target, kappa: 0.5 };
    for (const other of TARGETS) {
      const same = other === target || (other === 'function' && target === 'custom') || (other === 'custom' && target === 'function');
      if (!same) assert.equal(recognisesSite(out, { ...record, target: other }), false, `${target} node as ${other}`);
    }
    assert.equal(recognisesSite(out, record), true, target);
    assert.equal(formOfNode(out), FORMS[target]);
    const g = FORMS[target].gradient(out, () => undefined)!;
    assert.equal(g.x.name, 'c', target);
    if (target === 'where') assert.equal(g.kappaInput!.initializer!.dims.length, 0);
    else assert.equal(g.kappa, 0.5);
    if (target === 'custom' || target === 'function') assert.equal(g.gradKappa, 0.25);
  }
  // A Where that is not the pattern Where(Greater(x, κ), x, 0) offers no gradient of its own.
  const model = convRelu();
  retrofit(model, { kappa: 0.5, target: 'where' });
  const where = model.graph.nodes.find((n) => n.opType === 'Where')!;
  where.setInput(2, where.inputs[1]!);
  assert.equal(FORMS.where.gradient(where, () => undefined), null);
});

test('forms: a lowering inside a model-local function writes Constant nodes, not initializers', () => {
  const model = convRelu();
  const names = NameAuthority.forModel(model);
  const body = new Graph('F');
  const x = new Value('X');
  x.scope = body;
  body.addInput(x, ValueInfo.tensor(DataType.FLOAT, ['N', 2]));
  const y = new Value('Y');
  const anchor = body.append(new Node('Identity', [x], { outputNames: ['t'] }));
  const fn = new IrFunction('F', 'local', body);
  fn.opsetImports = [{ domain: '', version: 17n }];
  const fnCtx = { model, names, graph: body, graphPath: 'function local::F', fn, opset: 17n, types: new ActivationTypes(model) };
  const { nodes } = FORMS.where.lower(fnCtx, x, y, anchor, { kappa: 0.5, name: 'j' });
  assert.deepEqual(nodes.map((n) => n.opType), ['Constant', 'Constant', 'Greater', 'Where']);
  assert.equal(body.initializers.size, 0);
  const custom = FORMS.custom.lower(fnCtx, x, new Value('Y2'), anchor, { kappa: 0.5, name: 'k' });
  assert.equal(custom.nodes.length, 1);
  assert.ok(fn.opsetImports.some((o) => o.domain === 'com.jumprelu'), 'the function imports the custom domain');
});
