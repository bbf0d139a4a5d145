// The input convention is read from the model's graph: the default LeNet with its normalisation (and, in a second
// model, an NHWC Transpose and a final Softmax) built into the graph, evaluated with no preprocessing flags, gives
// the figures of the explicit flags (and of the plain model fed normalised data); flags that contradict the
// graph are refused; the convention stands in report.json.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import { evalCommand } from '../src/cli/eval-command.js';
import { Attribute } from '../src/ir/attribute.js';
import { JumpReluError, UsageError } from '../src/ir/errors.js';
import { loadModel, saveModel } from '../src/ir/io.js';
import { retrofit } from '../src/index.js';
import { Node } from '../src/ir/node.js';
import { DataType } from '../src/ir/tensor.js';
import { Value } from '../src/ir/value.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { makeTensor } from '../src/ir/analysis/constants.js';
import { analyseInput } from '../src/runtime/input-convention.js';
import type { Report } from '../src/runtime/report/schema.js';
import { defaultHeldoutPaths, defaultModelPath } from './fixtures.js';
import { runCommands, captureStdout } from './helpers/cli.js';

/** The default LeNet with the MNIST normalisation prepended (x − 0.1307) / 0.3081, optionally NHWC and ending in Softmax. */
function pixelModel(file: string, options: { nhwc?: boolean; softmax?: boolean; mulAdd?: boolean } = {}): void {
  const m = loadModel(defaultModelPath());
  const g = m.graph;
  const old = g.inputs[0]!;
  const first = g.nodes[0]!;
  const pixels = new Value('pixels');
  pixels.scope = g;
  let v = pixels;
  const add = (node: Node) => {
    g.insertBefore(first, node);
    v = node.outputs[0]!;
  };
  if (options.nhwc) add(new Node('Transpose', [v], { outputNames: ['nchw'], name: 'to_nchw', attributes: [new Attribute('perm', { type: 7, value: [0n, 3n, 1n, 2n] })] }));
  if (options.mulAdd) {
    // the same map written as x·(1/σ) + (−μ/σ)
    add(new Node('Mul', [v, g.addInitializer(makeTensor('inv_std', DataType.FLOAT, [1, 1, 1], [1 / 0.3081]))], { outputNames: ['scaled'], name: 'norm_mul' }));
    add(new Node('Add', [v, g.addInitializer(makeTensor('shift', DataType.FLOAT, [1], [-0.1307 / 0.3081]))], { outputNames: ['normalised'], name: 'norm_add' }));
  } else {
    add(new Node('Sub', [v, g.addInitializer(makeTensor('mean', DataType.FLOAT, [1, 1, 1], [0.1307]))], { outputNames: ['centred'], name: 'norm_sub' }));
    add(new Node('Div', [v, g.addInitializer(makeTensor('std', DataType.FLOAT, [], [0.3081]))], { outputNames: ['normalised'], name: 'norm_div' }));
  }
  old.replaceAllUsesWith(v);
  g.replaceInput(g.inputs[0]!, pixels, ValueInfo.tensor(DataType.FLOAT, options.nhwc ? ['N', 28, 28, 1] : ['N', 1, 28, 28]));
  if (options.softmax) {
    const out = g.outputs[0]!;
    const sm = g.append(new Node('Softmax', [out], { outputNames: ['probs'], name: 'probs', attributes: [Attribute.int('axis', 1)] }));
    g.replaceOutput(out, sm.outputs[0]!);
  }
  saveModel(m, file);
}

async function cli(args: string[]): Promise<void> {
  await runCommands([evalCommand], args);
}

async function json(args: string[]): Promise<Report> {
  return JSON.parse(await captureStdout(() => cli([...args, '--json', '--threads', '1']))) as Report;
}

const figures = (r: Report) => r.results.map((x) => [x.kappa, x.attack, x.mode, x.accuracy, x.rho_all]);

test('a model that normalises in its graph: auto = explicit flags = the plain model fed normalised data; contradictions refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-input-'));
  try {
    const { images, labels } = defaultHeldoutPaths();
    const data = `mnist:${images},${labels}`;
    const model = join(dir, 'pixel.onnx');
    pixelModel(model);
    const a = analyseInput(loadModel(model));
    assert.deepEqual(a.chain, ['Sub', 'Div']);
    assert.ok(Math.abs(1 / a.affine!.a[0]! - 0.3081) < 1e-6 && Math.abs(-a.affine!.b[0]! / a.affine!.a[0]! - 0.1307) < 1e-6);
    const common = ['--kappa', '0,1', '--attacks', 'fgsm,deepfool2', '--limit', '60', '--attack-param', 'deepfool2.iterations=10'];
    const auto = await json(['eval', model, '--data', data, ...common]);
    const explicit = await json(['eval', model, '--data', data, ...common, '--space', 'pixel', '--mean', '0', '--std', '1']);
    assert.deepEqual(figures(auto), figures(explicit));
    assert.equal(auto.data.space, 'pixel');
    assert.deepEqual([auto.data.preprocessing.mean, auto.data.preprocessing.std], [[0], [1]]);
    const ic = auto.input_convention!;
    assert.equal(ic.resolved_from, 'graph');
    assert.match(ic.model_expects, /\[0,1\] pixels, normalised in its graph \(Sub, Div: mean 0\.1307, std 0\.3081\)/);
    assert.equal(ic.epsilon_in, '[0,1] pixels');
    assert.deepEqual(Object.keys(auto).slice(0, 5), ['format', 'kind', 'created', 'tool', 'input_convention']);
    // the plain model with the harness normalising in pixel space computes the same thing
    const plain = await json(['eval', defaultModelPath(), '--data', data, ...common, '--space', 'pixel']);
    assert.equal(plain.input_convention!.resolved_from, 'data kind');
    for (let i = 0; i < plain.results.length; i++) {
      assert.ok(Math.abs(plain.results[i]!.accuracy - auto.results[i]!.accuracy) <= 1 / 60 + 1e-9, `${plain.results[i]!.attack}: accuracy`);
      assert.ok(Math.abs(plain.results[i]!.rho_all - auto.results[i]!.rho_all) < 2e-3, `${plain.results[i]!.attack}: ρ̃ ${plain.results[i]!.rho_all} vs ${auto.results[i]!.rho_all}`);
    }
    // contradictions: one line naming the flags to use
    await assert.rejects(cli(['eval', model, '--data', data, '--mean', '0.1307', '--std', '0.3081', '--limit', '5']),
      (e: Error) => e instanceof UsageError && /preprocesses its input itself .*drop --mean\/--std/.test(e.message) && !e.message.includes('\n'));
    await assert.rejects(cli(['eval', model, '--data', data, '--preprocessing', 'normalize', '--limit', '5']), /normalise twice: use --preprocessing auto/);
    // --space normalized measures ε in the space the graph normalises to: the plain model's default (the paper's)
    const inner = await json(['eval', model, '--data', data, ...common, '--space', 'normalized']);
    const paper = await json(['eval', defaultModelPath(), '--data', data, ...common]);
    assert.equal(paper.data.space, 'normalized');
    assert.match(inner.input_convention!.epsilon_in, /the model's own normalised input .*mean 0\.1307, std 0\.3081/);
    assert.deepEqual([inner.data.space, inner.data.preprocessing.mean, inner.data.preprocessing.std], ['normalized', [0.1307], [0.3081]]);
    assert.ok(Math.abs(inner.data.bounds.min - paper.data.bounds.min) < 1e-5 && Math.abs(inner.data.bounds.max - paper.data.bounds.max) < 1e-5);
    for (let i = 0; i < paper.results.length; i++) {
      assert.ok(Math.abs(paper.results[i]!.accuracy - inner.results[i]!.accuracy) <= 1 / 60 + 1e-9, `${paper.results[i]!.attack}: accuracy`);
      assert.ok(Math.abs(paper.results[i]!.rho_all - inner.results[i]!.rho_all) < 2e-3, `${paper.results[i]!.attack}: ρ̃ ${paper.results[i]!.rho_all} vs ${inner.results[i]!.rho_all}`);
    }
    assert.ok(Math.abs(paper.results[1]!.rho_all - auto.results[1]!.rho_all) > 0.01, 'the two spaces give different ρ̃ (the test can tell them apart)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('NHWC input, Mul/Add normalisation and a final Softmax: cut and resolved from the graph', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-input-'));
  try {
    const { images, labels } = defaultHeldoutPaths();
    const data = `mnist:${images},${labels}`;
    const model = join(dir, 'nhwc.onnx');
    pixelModel(model, { nhwc: true, softmax: true, mulAdd: true });
    const common = ['--kappa', '0', '--attacks', 'deepfool2', '--limit', '40', '--attack-param', 'deepfool2.iterations=10', '--space', 'pixel'];
    const r = await json(['eval', model, '--data', data, ...common]);
    const plain = await json(['eval', defaultModelPath(), '--data', data, ...common]);
    const ic = r.input_convention!;
    assert.deepEqual(ic.graph_ops, ['Transpose NHWC→NCHW', 'Mul', 'Add', 'Softmax']);
    assert.equal(ic.cut.length, 2);
    assert.match(ic.cut.join(' '), /Transpose from NHWC.*Softmax \(attacks use the logits/);
    assert.equal(r.clean[0]!.accuracy, plain.clean[0]!.accuracy);
    assert.ok(Math.abs(r.results[0]!.rho_all - plain.results[0]!.rho_all) < 2e-3, `ρ̃ ${r.results[0]!.rho_all} vs ${plain.results[0]!.rho_all} (DeepFool on the logits)`);
    // a model without ReLU is refused, with the reason
    const m = loadModel(defaultModelPath());
    for (const n of m.graph.nodes) if (n.opType === 'Relu') n.opType = 'Sigmoid';
    saveModel(m, join(dir, 'sigmoid.onnx'));
    await assert.rejects(cli(['eval', join(dir, 'sigmoid.onnx'), '--data', data, '--limit', '5']),
      (e: Error) => e instanceof JumpReluError && !(e instanceof UsageError) && /no ReLU for JumpReLU to replace/.test(e.message));
    // --allow-no-sites evaluates it as it is, at κ = 0 only, and the report says why
    const s = await json(['eval', join(dir, 'sigmoid.onnx'), '--data', data, '--kappa', '0,1', '--attacks', 'fgsm', '--limit', '20', '--allow-no-sites']);
    assert.deepEqual(s.clean.map((c) => c.kappa), [0]);
    assert.ok(s.results.every((x) => x.kappa === 0) && s.results.length > 0);
    assert.ok(s.warnings.some((w) => /no ReLU for JumpReLU.*κ = 0 only.*κ = 1 left out/.test(w)), s.warnings.join(' | '));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a model converted already (custom-op sites at κ = 0.5): the sweep\'s κ replaces theirs and the run says so, also that they run as ThresholdedRelu', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-input-'));
  try {
    const { images, labels } = defaultHeldoutPaths();
    const data = `mnist:${images},${labels}`;
    const m = loadModel(defaultModelPath());
    retrofit(m, { kappa: 0.5, target: 'custom' });
    assert.ok(m.graph.nodes.some((n) => n.domain === 'com.jumprelu'));
    saveModel(m, join(dir, 'custom.onnx'));
    const common = ['--data', data, '--kappa', '0,1', '--attacks', 'fgsm', '--limit', '40'];
    const r = await json(['eval', join(dir, 'custom.onnx'), ...common]);
    const plain = await json(['eval', defaultModelPath(), ...common]);
    assert.deepEqual(figures(r), figures(plain), 'the converted model at each κ is the original at that κ');
    const note = r.warnings.find((x) => /already holds/.test(x)) ?? '';
    assert.match(note, /already holds 4 JumpReLU site\(s\) \(κ = 0\.5\): each κ of the sweep replaces/);
    assert.match(note, /4 com\.jumprelu::JumpRelu site\(s\) run as ThresholdedRelu/);
    assert.ok(!plain.warnings.some((x) => /already holds/.test(x)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--kappa-map and --only-mapped act at every κ > 0 of the sweep, as in the converter; κ = 0 stays the ReLU model; recorded in the report', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-input-'));
  try {
    const { images, labels } = defaultHeldoutPaths();
    const common = ['eval', defaultModelPath(), '--data', `mnist:${images},${labels}`, '--attacks', 'fgsm,deepfool2', '--limit', '40'];
    const write = (name: string, map: unknown) => {
      const p = join(dir, name);
      writeFileSync(p, JSON.stringify(map));
      return p;
    };
    const row = (r: Report, kappa: number) => figures(r).filter((f) => f[0] === kappa).map((f) => f.slice(1));
    const plain = await json([...common, '--kappa', '0,1']);
    // every site mapped to κ = 1: the κ = 3 row is the plain κ = 1 row, the κ = 0 row the ReLU model's
    const all = await json([...common, '--kappa', '0,3', '--kappa-map', write('all.json', { '/.*/': 1 })]);
    assert.deepEqual(row(all, 3), row(plain, 1));
    assert.deepEqual(row(all, 0), row(plain, 0));
    assert.deepEqual(all.settings.retrofit?.kappa_map, { '/.*/': 1 });
    // one site mapped, the rest left as ReLU: the global κ no longer matters; without --only-mapped it does
    const one = write('one.json', { '#0': 1.5 });
    const onlyA = await json([...common, '--kappa', '0,1', '--kappa-map', one, '--only-mapped']);
    const onlyB = await json([...common, '--kappa', '0,4', '--kappa-map', one, '--only-mapped']);
    assert.deepEqual(row(onlyA, 1), row(onlyB, 4));
    assert.notDeepEqual(row(onlyA, 1), row(plain, 1), 'one site at κ = 1.5 is not every site at κ = 1');
    assert.equal(onlyA.settings.retrofit?.only_mapped, true);
    const mixed = await json([...common, '--kappa', '0,4', '--kappa-map', one]);
    assert.notDeepEqual(row(mixed, 4), row(onlyB, 4));
    // a map that covers nothing under --only-mapped, and --only-mapped alone, are refused
    await assert.rejects(cli([...common, '--kappa', '0,1', '--kappa-map', write('none.json', { nothing: 1 }), '--only-mapped']),
      (e: Error) => e instanceof JumpReluError && (e as JumpReluError).code === 'no-relu-sites' && /covers none of the model's 4 ReLU-like site/.test(e.message));
    await assert.rejects(cli([...common, '--only-mapped']), (e: Error) => e instanceof UsageError && /--only-mapped needs --kappa-map/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('uint8 input with Cast and ÷255 in the graph is fed 0–255 and gives the plain model\'s figures; BatchNormalization is read as a normalisation; ORT failures are one line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-input-'));
  try {
    const { images, labels } = defaultHeldoutPaths();
    const data = `mnist:${images},${labels}`;
    // uint8 → Cast → Div 255 → Sub mean → Div std → LeNet
    const m = loadModel(defaultModelPath());
    const g = m.graph;
    const old = g.inputs[0]!;
    const first = g.nodes[0]!;
    const bytes = new Value('bytes');
    bytes.scope = g;
    const cast = g.insertBefore(first, new Node('Cast', [bytes], { outputNames: ['f'], name: 'cast', attributes: [Attribute.int('to', DataType.FLOAT)] }));
    const d255 = g.insertBefore(first, new Node('Div', [cast.outputs[0]!, g.addInitializer(makeTensor('k255', DataType.FLOAT, [], [255]))], { outputNames: ['p'], name: 'd255' }));
    const sub = g.insertBefore(first, new Node('Sub', [d255.outputs[0]!, g.addInitializer(makeTensor('mu', DataType.FLOAT, [1], [0.1307]))], { outputNames: ['c'], name: 'sub' }));
    const div = g.insertBefore(first, new Node('Div', [sub.outputs[0]!, g.addInitializer(makeTensor('sd', DataType.FLOAT, [1], [0.3081]))], { outputNames: ['z'], name: 'div' }));
    old.replaceAllUsesWith(div.outputs[0]!);
    g.replaceInput(g.inputs[0]!, bytes, ValueInfo.tensor(DataType.UINT8, ['N', 1, 28, 28]));
    const model = join(dir, 'uint8.onnx');
    saveModel(m, model);
    const common = ['--kappa', '0', '--attacks', 'fgsm', '--limit', '40', '--space', 'pixel'];
    const r = await json(['eval', model, '--data', data, ...common]);
    assert.match(r.input_convention!.model_expects, /^0–255 pixels \(uint8\), normalised in its graph \(Cast uint8→float, Div, Sub, Div: mean 0\.1307, std 0\.3081\)/);
    assert.deepEqual(r.data.preprocessing.std, [1 / 255]);
    const plain = await json(['eval', defaultModelPath(), '--data', data, ...common]);
    assert.equal(r.clean[0]!.accuracy, plain.clean[0]!.accuracy);
    assert.ok(Math.abs(r.results[0]!.accuracy - plain.results[0]!.accuracy) <= 1 / 40 + 1e-9);

    // BatchNormalization(scale 2, bias 1, mean 0.5, var 4 − ε) as the first op: y = (u − 0.5)·2/2 + 1 → mean −0.5, std 1
    const b = loadModel(defaultModelPath());
    const bg = b.graph;
    const inp = bg.inputs[0]!;
    const fresh = new Value('x0');
    fresh.scope = bg;
    const c = (name: string, v: number) => bg.addInitializer(makeTensor(name, DataType.FLOAT, [1], [v]));
    const bn = bg.insertBefore(bg.nodes[0]!, new Node('BatchNormalization', [fresh, c('s', 2), c('bb', 1), c('mm', 0.5), c('vv', 4 - 1e-5)], { outputNames: ['bn'], name: 'bn' }));
    inp.replaceAllUsesWith(bn.outputs[0]!);
    bg.replaceInput(inp, fresh);
    const a = analyseInput(b);
    assert.deepEqual(a.chain, ['BatchNormalization']);
    assert.ok(Math.abs(a.affine!.a[0]! - 1) < 1e-6 && Math.abs(a.affine!.b[0]! - 0.5) < 1e-6, JSON.stringify(a.affine));

    // a model whose declared input leaves H, W open, fed images its Gemm cannot take: ONNX Runtime's error as one line
    const open = loadModel(defaultModelPath());
    open.graph.setInputInfo(open.graph.inputs[0]!, ValueInfo.tensor(DataType.FLOAT, ['N', 1, 'H', 'W']));
    saveModel(open, join(dir, 'open.onnx'));
    const { writeFileSync } = await import('node:fs');
    const { npy } = await import('./helpers/arrays.js');
    writeFileSync(join(dir, 'x.npy'), npy('|u1', [4, 14, 14], new Uint8Array(4 * 196).fill(100)));
    writeFileSync(join(dir, 'y.npy'), npy('<i8', [4], new Uint8Array(32)));
    await assert.rejects(cli(['eval', join(dir, 'open.onnx'), '--data', `npy:${join(dir, 'x.npy')},${join(dir, 'y.npy')}`, '--quiet', '--attacks', 'fgsm']),
      (e: Error) => e instanceof JumpReluError && (e as JumpReluError).code === 'ort-failed' && /^ONNX Runtime cannot run the model: /.test(e.message) && !/\n|\x1b/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
