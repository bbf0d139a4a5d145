// External data (issue 2, codec): saving with a size threshold, reloading, running in ONNX Runtime
// (which reads the data itself when the session is created from a file path), converting a model whose
// weights are external into another folder (the data file is copied), and Python onnx reading it.

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { decodeModel } from '../src/ir/decode.js';
import { encodeModel } from '../src/ir/encode.js';
import { loadModel, saveModel } from '../src/ir/io.js';
import type { Model } from '../src/ir/model.js';
import { retrofit } from '../src/index.js';
import { constantOf } from '../src/ir/analysis/constants.js';
import { Node } from '../src/ir/node.js';
import { DataType, Tensor } from '../src/ir/tensor.js';
import { ValueInfo } from '../src/ir/value-info.js';
import type { Target } from '../src/passes/retrofit-record.js';
import { ModelBuilder, makeRng, modelWithInput, sitesModel } from './helpers/build-model.js';
import { type Feeds, describeDifference, randomFeed, runModel, sameOutputs } from './helpers/ort.js';

const CLI = fileURLToPath(new URL('../src/cli/jumprelu-convert.js', import.meta.url));

function cli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

/** Conv(8×3×3×3) → Relu → MaxPool → Flatten → Gemm(10) → Relu: weights of 864 and 2880 bytes, biases of 32 and 40. */
function convNet(): ModelBuilder {
  const mb = new ModelBuilder({ seed: 42 });
  const g = mb.main;
  const x = g.input('x', [2, 3, 6, 6]);
  const c = g.relu(g.conv(x, 8, 3, 1, { name: 'conv' }), { name: 'relu1' });
  const f = g.flatten(g.maxPool(c, { name: 'pool' }), { name: 'flat' });
  g.output(g.relu(g.gemm(f, 10, { name: 'fc' }), { name: 'relu2' }));
  return mb;
}

const feeds: Feeds = { x: randomFeed(makeRng(5), [2, 3, 6, 6], 2) };

function externalInitializers(m: Model): string[] {
  return [...m.graph.initializers.values()].filter((v) => v.initializer?.external).map((v) => v.name).sort();
}

function inMemory(bytes: Uint8Array, kappa: number, target: Target): Uint8Array {
  const m = decodeModel(bytes);
  retrofit(m, { kappa, target });
  return encodeModel(m).toBytes();
}

describe('external data', () => {
  let tmp: string;
  let original: Uint8Array;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-extdata-'));
    original = convNet().bytes();
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const folder = (name: string): string => {
    const d = path.join(tmp, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };

  test('saveModel with threshold 0 moves every initializer of ≥ 64 bytes out; the model reloads and ORT gives the same outputs', async () => {
    const dir = folder('save0');
    const file = path.join(dir, 'model.onnx');
    const result = saveModel(decodeModel(original), file, { externalData: { threshold: 0 } });
    const dataFile = `${file}.data`;
    assert.deepEqual(result.externalFiles, [dataFile]);
    assert.ok(fs.existsSync(dataFile));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx.data'], 'no temp files left');
    assert.ok(fs.statSync(file).size < original.length, 'the .onnx file lost its weights');
    const reloaded = loadModel(file);
    // Tensors under 64 bytes stay inline (ORT constant-folds tiny tensors and misresolves their location).
    const big = [...reloaded.graph.initializers.values()].filter((v) => (v.initializer!.expectedByteLength ?? 0n) >= 64n).map((v) => v.name).sort();
    assert.ok(big.length > 0);
    assert.deepEqual(externalInitializers(reloaded), big, 'every initializer of at least 64 bytes is external');
    // Re-encoding the loaded model gives the file's bytes back.
    assert.ok(Buffer.from(encodeModel(reloaded).toBytes()).equals(fs.readFileSync(file)));
    const want = await runModel(original, feeds);
    const got = await runModel(file, feeds);
    assert.ok(sameOutputs(got, want), describeDifference(got, want));
  });

  test('a threshold keeps small tensors inline', () => {
    const dir = folder('save1000');
    const file = path.join(dir, 'model.onnx');
    saveModel(decodeModel(original), file, { externalData: { threshold: 800 } });
    const m = loadModel(file);
    const ext = externalInitializers(m);
    assert.equal(ext.length, 2, `the two weight matrices go out, the biases stay: ${ext}`);
    for (const name of ext) assert.match(name, /_w/);
    assert.equal(fs.statSync(`${file}.data`).size >= 864 + 2880, true);
  });

  test('jumprelu-convert --external-data 0 writes OUT.data; ORT runs it from its path like the in-memory conversion', async () => {
    const src = folder('cli-src');
    const input = path.join(src, 'in.onnx');
    fs.writeFileSync(input, original);
    const out = folder('cli-out');
    for (const target of ['thresholded-relu', 'where', 'function'] as const) {
      const outFile = path.join(out, `${target}.onnx`);
      const r = cli([input, outFile, '--kappa', '0.3', '--target', target, '--external-data', '0', '--json']);
      assert.equal(r.status, 0, r.stderr);
      const summary = JSON.parse(r.stdout) as { externalFiles: string[] };
      assert.deepEqual(summary.externalFiles.map((f) => path.resolve(f)), [path.resolve(`${outFile}.data`)]);
      assert.ok(fs.existsSync(`${outFile}.data`));
      const want = await runModel(inMemory(original, 0.3, target), feeds);
      const got = await runModel(outFile, feeds);
      assert.ok(sameOutputs(got, want), `${target}: ${describeDifference(got, want)}`);
    }
    assert.deepEqual(fs.readdirSync(src), ['in.onnx'], 'the input folder is untouched');
  });

  test('converting a model with external weights into another folder copies the data file; into its own folder, it does not', async () => {
    const a = folder('ext-a');
    const modelA = path.join(a, 'model.onnx');
    saveModel(decodeModel(original), modelA, { externalData: { threshold: 0, location: 'weights.bin' } });
    const dataBytes = fs.readFileSync(path.join(a, 'weights.bin'));
    const want = await runModel(inMemory(original, 0.3, 'where'), feeds);

    const b = folder('ext-b');
    const modelB = path.join(b, 'converted.onnx');
    const r = cli([modelA, modelB, '--kappa', '0.3', '--target', 'where']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(b).sort(), ['converted.onnx', 'weights.bin'], 'the data file is copied beside the output, no temp files');
    assert.ok(fs.readFileSync(path.join(b, 'weights.bin')).equals(dataBytes), 'copied byte for byte');
    assert.deepEqual(externalInitializers(loadModel(modelB)), externalInitializers(loadModel(modelA)), 'the weights stay external');
    let got = await runModel(modelB, feeds);
    assert.ok(sameOutputs(got, want), describeDifference(got, want));
    // The source folder is untouched.
    assert.deepEqual(fs.readdirSync(a).sort(), ['model.onnx', 'weights.bin']);
    assert.ok(fs.readFileSync(path.join(a, 'weights.bin')).equals(dataBytes));

    // Same folder: the output refers to the existing data file, which is neither copied nor rewritten.
    const modelA2 = path.join(a, 'converted.onnx');
    const r2 = cli([modelA, modelA2, '--kappa', '0.3', '--target', 'where']);
    assert.equal(r2.status, 0, r2.stderr);
    assert.deepEqual(fs.readdirSync(a).sort(), ['converted.onnx', 'model.onnx', 'weights.bin']);
    got = await runModel(modelA2, feeds);
    assert.ok(sameOutputs(got, want), describeDifference(got, want));

    // External in, external out (re-packed into a new data file) in a third folder.
    const c = folder('ext-c');
    const modelC = path.join(c, 'repacked.onnx');
    const r3 = cli([modelA, modelC, '--kappa', '0.3', '--target', 'where', '--external-data', '0']);
    assert.equal(r3.status, 0, r3.stderr);
    assert.deepEqual(fs.readdirSync(c).sort(), ['repacked.onnx', 'repacked.onnx.data']);
    got = await runModel(modelC, feeds);
    assert.ok(sameOutputs(got, want), describeDifference(got, want));
  });

  test('a data location in an existing subfolder works; in a missing one it is created or refused cleanly', async () => {
    const src = path.join(folder('sub-src'), 'in.onnx');
    fs.writeFileSync(src, original);
    const out = folder('sub-out');
    fs.mkdirSync(path.join(out, 'data'));
    const r = cli([src, path.join(out, 'm.onnx'), '--kappa', '0.3', '--external-data', '0', '--external-data-location', 'data/w.bin']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(out, 'data', 'w.bin')));
    const got = await runModel(path.join(out, 'm.onnx'), feeds);
    const want = await runModel(inMemory(original, 0.3, 'thresholded-relu'), feeds);
    assert.ok(sameOutputs(got, want), describeDifference(got, want));

    const out2 = folder('sub-out2');
    const r2 = cli([src, path.join(out2, 'm.onnx'), '--kappa', '0.3', '--external-data', '0', '--external-data-location', 'missing/w.bin']);
    assert.doesNotMatch(r2.stderr, /internal error/, r2.stderr);
    if (r2.status === 0) assert.ok(fs.existsSync(path.join(out2, 'missing', 'w.bin')));
    else assert.deepEqual(fs.readdirSync(out2), [], 'nothing written');

    for (const bad of ['../w.bin', '/tmp/w.bin']) {
      const out3 = folder(`sub-bad-${bad.length}`);
      const r3 = cli([src, path.join(out3, 'm.onnx'), '--kappa', '0.3', '--external-data', '0', '--external-data-location', bad]);
      assert.notEqual(r3.status, 0, `location ${bad} accepted`);
      assert.equal(r3.stderr.trim().split('\n').length, 1);
      assert.deepEqual(fs.readdirSync(out3), []);
    }
  });

  test('an --external-data location that collides with the output model or with the input\'s data file damages nothing', async () => {
    const want = await runModel(inMemory(original, 0, 'thresholded-relu'), feeds);
    const wantOriginal = await runModel(original, feeds);
    const problems: string[] = [];
    const check = async (what: string, file: string, expected: typeof want): Promise<void> => {
      try {
        const got = await runModel(file, feeds);
        if (!sameOutputs(got, expected)) problems.push(`${what}: ${describeDifference(got, expected)}`);
      } catch (e) {
        problems.push(`${what}: ${(e as Error).message.split('\n')[0]!.slice(-160)}`);
      }
    };
    // (a) the data file would be the output model file itself: refused, or a working model.
    const a = folder('collide-a');
    const inA = path.join(a, 'in.onnx');
    fs.writeFileSync(inA, original);
    const ra = cli([inA, path.join(a, 'self.onnx'), '--kappa', '0', '--external-data', '0', '--external-data-location', 'self.onnx']);
    if (ra.status === 0) await check('(a) location = the output file', path.join(a, 'self.onnx'), want);
    else assert.ok(!fs.existsSync(path.join(a, 'self.onnx')), 'refused without output');
    // (b) in place, with a threshold, on a model whose weights already live in m.onnx.data.
    const b = folder('collide-b');
    const inB = path.join(b, 'm.onnx');
    saveModel(decodeModel(original), inB, { externalData: { threshold: 0 } });
    const rb = cli([inB, inB, '--in-place', '--kappa', '0', '--grad-kappa', '0.1', '--external-data', '100']);
    if (rb.status === 0) await check('(b) --in-place --external-data 100 over m.onnx.data', inB, want);
    // (c) into the input's folder, naming the input's own data file as the new location.
    const c = folder('collide-c');
    const inC = path.join(c, 'model.onnx');
    saveModel(decodeModel(original), inC, { externalData: { threshold: 0, location: 'weights.bin' } });
    const rc = cli([inC, path.join(c, 'conv.onnx'), '--kappa', '0', '--external-data', '100', '--external-data-location', 'weights.bin']);
    await check('(c) the input, after converting beside it into its own data file', inC, wantOriginal);
    if (rc.status === 0) await check('(c) the output beside the input', path.join(c, 'conv.onnx'), want);
    assert.deepEqual(problems, []);
  });

  test('--external-data 0 on a model with an If (constant condition) and a local function still runs in ORT from its path', async () => {
    // ORT's If constant folding reads the condition's external data relative to the working directory,
    // not the model's folder (onnxruntime 1.30 node / 1.32 python): keeping tiny tensors inline avoids it.
    const src = path.join(folder('if-src'), 'in.onnx');
    const bytes = sitesModel().bytes();
    fs.writeFileSync(src, bytes);
    const outFile = path.join(folder('if-out'), 'm.onnx');
    const r = cli([src, outFile, '--kappa', '0.3', '--external-data', '0']);
    assert.equal(r.status, 0, r.stderr);
    const xs: Feeds = { x: randomFeed(makeRng(8), [1, 2, 4, 4], 2) };
    const want = await runModel(inMemory(bytes, 0.3, 'thresholded-relu'), xs);
    const got = await runModel(outFile, xs);
    assert.ok(sameOutputs(got, want), describeDifference(got, want));
  });

  test('Python onnx loads the external-data models and they pass check_model(full_check=True)', () => {
    const files = ['save0/model.onnx', 'cli-out/where.onnx', 'cli-out/function.onnx', 'ext-b/converted.onnx', 'ext-c/repacked.onnx']
      .map((f) => path.join(tmp, f)).filter((f) => fs.existsSync(f));
    assert.ok(files.length >= 3, 'the earlier tests wrote their models');
    const script = [
      'import sys, json, onnx',
      'from onnx import numpy_helper',
      'res = {}',
      'for f in sys.argv[1:]:',
      '    try:',
      '        m = onnx.load(f)',
      '        total = sum(numpy_helper.to_array(t).size for t in m.graph.initializer)',
      '        onnx.checker.check_model(f, full_check=True)',
      '        res[f] = total',
      '    except Exception as e:',
      "        res[f] = type(e).__name__ + ': ' + str(e).splitlines()[0]",
      'print(json.dumps(res))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', script, ...files], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout) as Record<string, number | string>;
    const weights = 8 * 3 * 3 * 3 + 8 + 10 * 72 + 10;
    for (const f of files) assert.ok(typeof res[f] === 'number' && res[f] >= weights, `${path.relative(tmp, f)}: ${res[f]}`);
  });
});

test('a small external constant is read as its own byte range, not with its whole data file (here a sparse 3 GiB file, more than readFileSync takes)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-ext-range-'));
  try {
    const at = 3 * 2 ** 30;
    const fd = fs.openSync(path.join(dir, 'w.bin'), 'w');
    fs.writeSync(fd, new Uint8Array(new Float32Array([0.25]).buffer), 0, 4, at); // sparse: nothing before it on disk
    fs.closeSync(fd);
    const { model: m, g, x } = modelWithInput('g', [1]);
    const k = g.addInitializer(Tensor.fromFloat32('k', [1], [0.25]).withExternalData('w.bin', at, 4));
    g.addOutput(g.append(new Node('Add', [x, k], { name: 'add', outputNames: ['y'] })).outputs[0]!, ValueInfo.tensor(DataType.FLOAT, [1]));
    fs.writeFileSync(path.join(dir, 'm.onnx'), encodeModel(m).toBytes());
    const loaded = loadModel(path.join(dir, 'm.onnx'));
    const v = loaded.graph.initializers.get('k') ?? assert.fail('no initializer k');
    assert.deepEqual(constantOf(v)?.values, [0.25]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
