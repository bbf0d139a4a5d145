// `jumprelu eval` on models as they come (issue 15, items 2 and 3): the interface read from the model (external
// data from another working directory, a labels-first output, an NHWC input, a batch-less input, IR-3 weights
// listed as graph inputs, a batch that cannot be freed) and κ that acts (MobileNetV2: ReLU6 only, so κ does
// something only with --relu6). The models are built by test/py/interface_models.py (onnx; MobileNetV2 with
// torchvision) and cached in fixtures/.cache/interface-<hash of the script>/. Every data set's labels are the
// model's own predictions on the images in its own layout, so a clean accuracy of 100 % at κ = 0 shows that the
// harness fed the model exactly what it takes.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { evalCommand } from '../src/cli/eval-command.js';
import { convertCommand } from '../src/cli/convert-command.js';
import { detectCommand } from '../src/cli/detect-command.js';
import { gradCommand } from '../src/cli/grad-command.js';
import { tuneCommand } from '../src/cli/tune-command.js';
import * as ort from 'onnxruntime-node';
import { JumpReluError, UsageError } from '../src/ir/errors.js';
import type { Report } from '../src/runtime/report/schema.js';
import { repoRoot, torchPython } from './fixtures.js';
import { captureStdout, runCommands } from './helpers/cli.js';

const script = join(repoRoot(), 'test', 'py', 'interface_models.py');
const hasOnnx = spawnSync('python3', ['-c', 'import onnx, onnxruntime, numpy'], { stdio: 'ignore' }).status === 0;

function cacheDir(): string {
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
  return join(repoRoot(), 'fixtures', '.cache', `interface-${hash}`);
}

function run(py: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(py, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Builds one part ('onnx' or 'torch') into the cache once: into a temporary folder, renamed when complete. */
async function ensure(part: 'onnx' | 'torch', py: string, marker: string): Promise<string> {
  const dir = join(cacheDir(), part);
  if (existsSync(join(dir, marker))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    const r = await run(py, [tmp, part]);
    if (r.code !== 0) throw new Error(`interface_models.py ${part} failed (exit ${r.code}):\n${r.output}`);
    mkdirSync(cacheDir(), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** eval --json in-process (captureStdout takes string writes only, so the test runner's own messages pass). */
async function evalJson(dir: string, extra: string[], data = dir): Promise<Report> {
  const out = await captureStdout(() => runCommands([evalCommand], [
    'eval', join(dir, 'model.onnx'), '--data', `npy:${join(data, 'x.npy')},${join(data, 'y.npy')}`,
    ...(extra.includes('--attacks') ? [] : ['--attacks', 'fgsm']), '--limit', '6', '--threads', '1', '--json', ...extra,
  ]));
  return JSON.parse(out) as Report;
}

const cleanAt = (r: Report, kappa: number) => r.clean.find((c) => c.kappa === kappa)!.accuracy;

describe('eval on models as they come', { skip: hasOnnx ? false : 'python3 with onnx, onnxruntime and numpy is not installed' }, () => {
  let models = '';
  const m = (name: string) => join(models, name);
  const cwd = process.cwd();
  before(async () => {
    models = await ensure('onnx', 'python3', join('ir3_opset8', 'y.npy'));
  });
  after(() => process.chdir(cwd));

  test('external data is resolved against the model\'s folder, from another working directory; an escaping location is refused', async () => {
    process.chdir(tmpdir());
    try {
      const r = await evalJson(m('external'), ['--kappa', '0']);
      assert.equal(cleanAt(r, 0), 1);
      await assert.rejects(() => evalJson(m('escape'), [], m('external')), (e: Error) => e instanceof JumpReluError && e.code === 'external-data-escape' && e.kind === 'invalid-model');
    } finally {
      process.chdir(cwd);
    }
  });

  test('grad resolves external data against the model\'s folder too, from another working directory', async () => {
    const work = mkdtempSync(join(tmpdir(), 'jumprelu-grad-'));
    process.chdir(work);
    try {
      await captureStdout(() => runCommands([gradCommand], ['grad', join(m('external'), 'model.onnx'), 'grad.onnx', '--wrt', 'input', '--of', 'logits']));
      const s = await ort.InferenceSession.create(join(work, 'grad.onnx'));
      assert.deepEqual([...s.inputNames].sort(), ['input', 'logits_cotangent']);
      await s.release();
    } finally {
      process.chdir(cwd);
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('a labels-first model: the logits are found by default, --output names them, an int64 output is refused with the candidates', async () => {
    const r = await evalJson(m('labels_first'), ['--kappa', '0']);
    assert.equal(r.model.interface?.output, 'logits');
    assert.match(r.model.interface!.summary, /output 'logits' \[N,10\] \(the only float output of rank 2 among 2\)/);
    assert.equal(cleanAt(r, 0), 1);
    const named = await evalJson(m('labels_first'), ['--kappa', '0', '--output', 'logits']);
    assert.equal(named.model.interface?.output, 'logits');
    await assert.rejects(() => evalJson(m('labels_first'), ['--output', 'label']),
      (e: Error) => e instanceof UsageError && /--output 'label' is int64, not float.*'label' int64 \[N\], 'logits' float \[N,10\]/.test(e.message));
    await assert.rejects(() => evalJson(m('labels_first'), ['--output', 'probs']), (e: Error) => e instanceof UsageError && /not an output of the model/.test(e.message));
    await assert.rejects(() => evalJson(m('labels_first'), ['--input', 'x']), (e: Error) => e instanceof UsageError && /--input 'x' is not an input.*'input' float \[N,3,8,8\]/.test(e.message));
  });

  test('two float outputs of rank 2: refused with both listed, --output chooses', async () => {
    await assert.rejects(() => evalJson(m('two_outputs'), []),
      (e: Error) => e instanceof JumpReluError && e.code === 'model-interface' && /2 of its outputs could be the logits \(outputs: 'features' float \[N,10\], 'logits' float \[N,10\]\); pass --output NAME/.test(e.message));
    const r = await evalJson(m('two_outputs'), ['--kappa', '0', '--output', 'logits']);
    assert.equal(r.model.interface?.output, 'logits');
    assert.equal(cleanAt(r, 0), 1);
  });

  test('a single-channel model without a channel dimension ([N,8,8])', async () => {
    const r = await evalJson(m('channel_less'), ['--kappa', '0']);
    assert.equal(r.model.interface?.form, 'channel-less');
    assert.equal(cleanAt(r, 0), 1);
  });

  test('an NHWC model: layout read from its declared shape, its normalisation found through the added Transpose; a contradicting --model-layout is refused', async () => {
    const r = await evalJson(m('nhwc'), ['--kappa', '0']);
    assert.equal(r.model.interface?.layout, 'NHWC');
    assert.equal(cleanAt(r, 0), 1);
    assert.deepEqual(r.input_convention?.model_mean, [0.5, 0.4, 0.3]);
    assert.deepEqual(r.input_convention?.model_std, [0.2, 0.25, 0.3]);
    await assert.rejects(() => evalJson(m('nhwc'), ['--model-layout', 'NCHW']),
      (e: Error) => e instanceof UsageError && /--model-layout NCHW contradicts the model's declared input \[N,8,8,3\], which is NHWC/.test(e.message));
  });

  test('detect reads the interface the same way (NHWC model)', async () => {
    const d = m('nhwc');
    const out = await captureStdout(() => runCommands([detectCommand], [
      'detect', join(d, 'model.onnx'), '--data', `npy:${join(d, 'x.npy')},${join(d, 'y.npy')}`, '--attacks', 'fgsm', '--mode', 'white-box',
      '--batch', '6', '--k', '2', '--folds', '2', '--bootstrap', '10', '--threads', '1', '--json', '-q',
    ]));
    const r = JSON.parse(out) as { model: Report['model']; clean: Array<{ kappa: number; accuracy: number }> };
    assert.equal(r.model.interface?.layout, 'NHWC');
    assert.equal(r.clean[0]!.accuracy, 1);
  });

  test('a batch-less model ([3,8,8] in, [10] out) runs one sample per call, DeepFool included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jumprelu-interface-'));
    const r = await evalJson(m('batchless'), ['--kappa', '0,0.5', '--attacks', 'fgsm,deepfool2', '--batch', '4', '--report', dir]);
    assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /id="model-interface">interface: input &#39;image&#39; \[3,8,8\] NCHW without a batch dimension|id="model-interface">interface: input 'image' \[3,8,8\] NCHW without a batch dimension/);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.model.interface?.form, 'batch-less');
    assert.equal(r.model.interface?.batch, 'one sample per call');
    assert.equal(cleanAt(r, 0), 1);
    const df = r.results.find((x) => x.kappa === 0 && x.attack === 'deepfool2')!;
    assert.ok(df.fooling_rate > 0, 'DeepFool fooled nothing on a random model');
  });

  test('IR-3 weights listed as graph inputs are treated as initializers (the batch is freed); a batch that still cannot be freed is run one sample per call, saying where it is lost', async () => {
    const r = await evalJson(m('ir3'), ['--kappa', '0', '--batch', '6']);
    assert.equal(r.model.interface?.initializer_inputs, 5);
    assert.equal(r.model.interface?.batch, 'free');
    assert.equal(cleanAt(r, 0), 1);
    const fixed = await evalJson(m('ir3_fixed'), ['--kappa', '0', '--batch', '6']);
    assert.equal(fixed.model.interface?.batch, 'one sample per call');
    assert.match(fixed.model.interface!.summary, /batch is fixed to 1 .*lost at Reshape node/);
    assert.equal(cleanAt(fixed, 0), 1);
    // opset 9 (these two) is retrofitted with the Where form; opset 8 (mnist-8's) is refused with what to do
    await assert.rejects(() => evalJson(m('ir3_opset8'), ['--kappa', '0']),
      (e: Error) => e instanceof JumpReluError && e.code === 'gradient-opset' && /opset 8; the harness needs opset 9 or later.*version_converter/.test(e.message));
  });

  test('a missing model file is an io error (exit 1) in eval as in convert', async () => {
    const missing = join(tmpdir(), 'no-such-model.onnx');
    for (const args of [['eval', missing, '--data', 'npy:a.npy,b.npy'], ['convert', missing, join(tmpdir(), 'out.onnx'), '--kappa', '1']]) {
      await assert.rejects(() => runCommands([evalCommand, convertCommand], args), (e: Error) => e instanceof JumpReluError && e.kind === 'io' && e.code === 'file-not-found');
    }
  });
});

describe('κ must act: MobileNetV2 (ReLU6 only)', { skip: hasOnnx ? false : 'python3 with onnx is not installed' }, () => {
  let dir = '';
  let skip: string | false = false;
  before(async () => {
    const py = await torchPython();
    const hasVision = py !== undefined && spawnSync(py, ['-c', 'import torchvision'], { stdio: 'ignore' }).status === 0;
    if (!hasVision) skip = 'no Python with torch and torchvision';
    else dir = await ensure('torch', py, join('mobilenet_v2', 'y.npy'));
  });

  test('without --relu6 eval refuses, naming the activations; with --allow-no-sites only κ = 0 runs; with --relu6 the κ rows differ', async (t) => {
    if (skip) return t.skip(skip);
    const d = join(dir, 'mobilenet_v2');
    const refused = (e: Error) => e instanceof JumpReluError && e.code === 'no-relu-sites' && /the model uses Clip\(0,6\) ×35 \(ReLU6: pass --relu6\)/.test(e.message);
    await assert.rejects(() => evalJson(d, ['--kappa', '0,1']), refused);
    const data = `npy:${join(d, 'x.npy')},${join(d, 'y.npy')}`;
    await assert.rejects(() => runCommands([tuneCommand], ['tune', join(d, 'model.onnx'), '--data', data, '--limit', '4', '-q']), refused);
    await assert.rejects(() => runCommands([detectCommand], ['detect', join(d, 'model.onnx'), '--data', data, '--limit', '4', '-q']), refused);
    await assert.rejects(() => evalJson(d, ['--kappa', '0,1', '--relu6', '--require', '40']), (e: Error) => e instanceof JumpReluError && e.code === 'require-unmet');
    const none = await evalJson(d, ['--kappa', '0,1', '--allow-no-sites']);
    assert.deepEqual(none.clean.map((c) => c.kappa), [0]);
    const r = await evalJson(d, ['--kappa', '0,1', '--relu6']);
    assert.equal(r.settings.retrofit?.relu6, true);
    assert.equal(r.settings.retrofit?.sites_changed, 35);
    assert.equal(cleanAt(r, 0), 1);
    assert.notEqual(cleanAt(r, 1), cleanAt(r, 0), 'κ = 1 on the ReLU6 sites changed no prediction');
  });
});
