// `jumprelu grad`: the yargs command module, registered the way the bin does it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import yargs from 'yargs';

import { gradientSignature, gradientSupport } from '../src/autodiff/index.js';
import { DataType } from '../src/ir/tensor.js';
import { gradCommand } from '../src/cli/grad-command.js';
import { JumpReluError, UnsupportedModelError, UsageError, exitStatusOf } from '../src/ir/errors.js';
import { loadModel, saveModel } from '../src/ir/io.js';
import { TinyModel, f32, i64, run } from './autodiff-helpers.js';

function classifier(batch: number | string) {
  const m = new TinyModel();
  const x = m.input('x', [batch, 4]);
  const h = m.one('Relu', [m.one('Gemm', [x, m.init('w', [4, 3], [0.5, -1, 0.25, 1, 0.75, -0.5, -0.25, 0.5, 1, 0.125, -0.75, 0.5])])]);
  const y = m.one('Reshape', [h, m.ints('shape', [1, -1])]);
  y.name = 'logits';
  return m.output(y);
}

async function grad(args: string[]): Promise<string> {
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => { out += String(chunk); return true; }) as typeof process.stdout.write;
  try {
    await yargs().command(gradCommand).strict().fail((msg, err) => { throw err ?? new UsageError(msg); }).parseAsync(['grad', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test('jumprelu grad writes a gradient model and prints its signature', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-grad-cli-'));
  try {
    const input = join(dir, 'model.onnx');
    saveModel(classifier(1), input);
    const output = join(dir, 'model.grad.onnx');
    const text = await grad([input, output, '--wrt', 'x', '--of', 'logits', '--mode', 'cross-entropy', '--free-batch', '--grad-kappa', '0']);
    assert.match(text, /^wrote .*model\.grad\.onnx\nmode cross-entropy, opset 13\nadded inputs: labels/);
    assert.match(text, /x_grad \(gradient w\.r\.t\. x\)/);
    const g = loadModel(output);
    assert.equal(gradientSignature(g)!.mode, 'cross-entropy');
    const out = await run(g, { x: f32([1, 2, 3, 4, -1, 0.5, 2, 1], [2, 4]), labels: i64([0, 2], [2]) });
    assert.deepEqual(out['x_grad']!.dims, [2, 4]);

    const json = JSON.parse(await grad([input, output, '--wrt', 'x', '--of', 'logits', '--json']));
    assert.equal(json.mode, 'vjp');
    assert.deepEqual(json.inputs.cotangents, { logits: 'logits_cotangent' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jumprelu grad errors are JumpReluErrors with one-line messages', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-grad-cli-'));
  try {
    const input = join(dir, 'model.onnx');
    saveModel(classifier(1), input);
    const out = join(dir, 'g.onnx');
    await assert.rejects(grad([join(dir, 'missing.onnx'), out, '--wrt', 'x', '--of', 'logits']), JumpReluError);
    await assert.rejects(grad([input, out, '--wrt', 'nope', '--of', 'logits']), (e: unknown) => e instanceof UsageError && !e.message.includes('\n'));
    await assert.rejects(grad([input, out, '--wrt', 'x', '--of', 'logits', '--mode', 'logit-differences']), /free it first/);
    await assert.rejects(grad([input, out, '--wrt', 'x', '--of', 'logits', '--mode', 'nonsense']), /Invalid values|Choices/);
    await assert.rejects(grad([input, out, '--of', 'logits']), /Missing required argument: wrt/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jumprelu grad --check lists every op on the path without a rule, at once, and exits 1 (unsupported model)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-grad-cli-'));
  try {
    // Two Hardmax nodes and a CumSum on the path from x, and a CumSum off it (it reads only constants)
    // that must not be listed.
    const m = new TinyModel();
    const x = m.input('x', [2, 3]);
    const h1 = m.one('Hardmax', [m.one('Exp', [x])]);
    const h2 = m.one('Hardmax', [x]);
    const off = m.one('CumSum', [m.init('k', [2, 3], [1, 2, 3, 4, 5, 6]), m.init('ax', [], [1], DataType.INT64)]);
    const y = m.one('Add', [m.one('CumSum', [m.one('Add', [h1, h2]), m.init('ax2', [], [0], DataType.INT64)]), off]);
    y.name = 'logits';
    const input = join(dir, 'model.onnx');
    saveModel(m.output(y), input);
    await assert.rejects(grad(['--check', input]), (e: unknown) => {
      assert.ok(e instanceof UnsupportedModelError, String(e));
      assert.equal(e.code, 'no-gradient-rule');
      assert.equal(exitStatusOf(e.kind), 1);
      assert.match(e.message, /no gradient rule for Hardmax, CumSum on the path from x to logits/);
      return true;
    });
    const r = gradientSupport(loadModel(input));
    assert.deepEqual(r.missing.map((x) => [x.op, x.nodes.length]), [['Hardmax', 2], ['CumSum', 1]]);
    assert.match(r.missing[0]!.path, /^x → Exp 'n0_Exp' → Hardmax 'n1_Hardmax'$/);

    saveModel(classifier(2), input);
    const ok = await grad(['--check', input]);
    assert.match(ok, /checked .*: from x to logits\nevery op on the path has a gradient rule, and the vjp gradient model builds/);
    await assert.rejects(grad(['--check', input, join(dir, 'out.onnx')]), /--check writes nothing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
