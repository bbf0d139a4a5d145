// `--target custom` on real models, run by Python onnxruntime with the library built from customops/:
// outputs identical to the thresholded-relu lowering (scalar κ) and to the where lowering (per-channel
// κ) on real test images when ORT runs both without graph optimisations, and bit for bit the thresholded-relu
// ones with ORT's default optimisations too (the library's shape inference lets ORT fuse around the op as it
// does around ThresholdedRelu). Also --emit-customops, and `jumprelu grad` on a custom-op model.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import test, { type TestContext } from 'node:test';
import { loadModel, retrofit, saveModel } from '../src/index.js';
import type { RetrofitOptions } from '../src/passes/jumprelu.js';
import { type AuthorsModelName, authorsCacheDir, authorsModelPath, repoRoot, requireAuthorsCache } from './fixtures.js';

function buildLibrary(t: TestContext): string | undefined {
  const r = spawnSync('bash', [path.join(repoRoot(), 'customops', 'build.sh'), path.join(repoRoot(), 'customops', 'build')], { encoding: 'utf8' });
  if (r.status !== 0) {
    t.skip(`custom-op library did not build here: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
    return undefined;
  }
  return r.stdout.trim().split('\n').pop()!;
}

function pythonHasOrt(): boolean {
  return spawnSync('python3', ['-c', 'import onnx, onnxruntime, numpy'], { stdio: 'ignore' }).status === 0;
}

function convertTo(file: string, out: string, options: RetrofitOptions): string {
  const m = loadModel(file);
  retrofit(m, options);
  saveModel(m, out);
  return out;
}

test('custom-op models equal the standard lowerings on the authors\' LeNetLike and ResNet-20', async (t) => {
  if (!pythonHasOrt()) { t.skip('python3 with onnx, onnxruntime and numpy is not installed'); return; }
  if (!(await requireAuthorsCache(t))) return;
  const lib = buildLibrary(t);
  if (!lib) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-custom-'));
  const cases: Array<{ name: AuthorsModelName; kappas: number[]; channels: number }> = [
    { name: 'lenet_baseline', kappas: [0.5, 1.0, 1.5], channels: 10 },
    { name: 'resnet20_baseline', kappas: [0.01, 0.05, 0.09], channels: 16 },
  ];
  for (const c of cases) {
    const file = authorsModelPath(c.name);
    const ref = JSON.parse(fs.readFileSync(path.join(authorsCacheDir(), `${c.name}.reference.json`), 'utf8')) as { input_file: string; input_shape: number[] };
    const args: string[] = [];
    for (const kappa of c.kappas) {
      args.push(convertTo(file, path.join(dir, `${c.name}-${kappa}-custom.onnx`), { kappa, target: 'custom', gradKappa: kappa / 2 }),
        convertTo(file, path.join(dir, `${c.name}-${kappa}-tr.onnx`), { kappa, target: 'thresholded-relu' }));
    }
    // A per-channel κ on the first site (its channel count is known for these two models).
    const perChannel = Array.from({ length: c.channels }, (_, i) => c.kappas[0]! * (i % 3));
    const map = { kappaMap: { byName: new Map(), byIndex: new Map([[0, { kappa: perChannel }]]), byRegex: [] }, kappa: c.kappas[1]! };
    args.push(convertTo(file, path.join(dir, `${c.name}-pc-custom.onnx`), { ...map, target: 'custom' }),
      convertTo(file, path.join(dir, `${c.name}-pc-where.onnx`), { ...map, target: 'where' }));
    const r: ReturnType<typeof spawnSync> = spawnSync('python3', [path.join(repoRoot(), 'test', 'py', 'compare_custom.py'), lib,
      path.join(authorsCacheDir(), ref.input_file), ref.input_shape.join(','), ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, String(r.stderr));
    type Result = { custom: string; reference: string; identical: boolean; max_abs_diff: number; optimized_max_rel_diff: number; custom_nodes: number };
    const results = String(r.stdout).trim().split('\n').map((l: string) => JSON.parse(l) as Result);
    assert.equal(results.length, c.kappas.length + 1);
    for (const res of results) {
      assert.ok(res.identical, `${path.basename(res.custom)}: max |Δ| = ${res.max_abs_diff} without graph optimisations`);
      // With ORT's default optimisations too: the library's shape inference lets ORT optimise the graph around a
      // JumpRelu node as it does around ThresholdedRelu (without it, ResNet-20 differed by 1e-3 after a
      // κ-threshold flip). Against the where lowering (per-channel κ) the fused graphs may still differ.
      if (res.reference.endsWith('-tr.onnx')) assert.equal(res.optimized_max_rel_diff, 0, `${path.basename(res.custom)}: relative Δ ${res.optimized_max_rel_diff} with optimisations`);
      else assert.ok(res.optimized_max_rel_diff < 1e-5, `${path.basename(res.custom)}: relative Δ ${res.optimized_max_rel_diff} with optimisations`);
      assert.ok(res.custom_nodes >= 4, `${path.basename(res.custom)} has ${res.custom_nodes} custom nodes`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The checkout's prebuilt libraries, (re)built by build-prebuilt.sh when missing or stale (a no-op otherwise). */
function ensurePrebuilt(t: TestContext): boolean {
  const env = { ...process.env };
  const nvcc = spawnSync('bash', ['-c', `command -v nvcc || ls ${path.join(repoRoot(), 'customops', 'third_party', 'cuda', 'nvidia')}/cu*/bin/nvcc`], { encoding: 'utf8' });
  if (!process.env['CUDACXX'] && nvcc.status !== 0) env['JUMPRELU_PREBUILT_CUDA'] = '0';
  const r = spawnSync('bash', [path.join(repoRoot(), 'customops', 'build-prebuilt.sh')], { encoding: 'utf8', env });
  if (r.status !== 0) { t.skip(`the prebuilt libraries did not build here: ${r.stderr.trim().split('\n').pop()}`); return false; }
  return true;
}

const convertBin = (): string => path.join(repoRoot(), 'dist', 'src', 'cli', 'jumprelu-convert.js');

test('--emit-customops copies the prebuilt libraries, their manifest and the usage note; --target custom says what can run it', (t) => {
  if (!ensurePrebuilt(t)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-emit-'));
  const model = path.join(repoRoot(), 'fixtures', 'default', 'lenet_mnist_baseline.onnx');
  const r = spawnSync(process.execPath, [convertBin(), model, path.join(dir, 'm.onnx'), '--kappa', '1', '--target', 'custom', '--emit-customops', path.join(dir, 'lib')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^note: .*m\.onnx needs the JumpReLU custom-op library .* onnxruntime-node and onnxruntime-web cannot: .*--target thresholded-relu/);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'lib', 'MANIFEST.json'), 'utf8')) as { libraries: Record<string, { file: string; sha256: string }> };
  for (const lib of Object.values(manifest.libraries)) {
    assert.equal(createHash('sha256').update(fs.readFileSync(path.join(dir, 'lib', lib.file))).digest('hex'), lib.sha256);
  }
  assert.match(r.stdout, new RegExp(`custom-op library: ${path.join(dir, 'lib', 'libjumprelu_customops.so')}`));
  assert.ok(fs.existsSync(path.join(dir, 'lib', 'JUMPRELU_CUSTOMOPS.md')));
  // the thresholded-relu target prints no such note; a DIR that is a file is refused before the model is written
  const tr = spawnSync(process.execPath, [convertBin(), model, path.join(dir, 't.onnx'), '--kappa', '1'], { encoding: 'utf8' });
  assert.equal(tr.status, 0, tr.stderr);
  assert.equal(tr.stderr, '');
  const bad = spawnSync(process.execPath, [convertBin(), model, path.join(dir, 'x.onnx'), '--kappa', '1', '--target', 'custom', '--emit-customops', path.join(dir, 't.onnx')], { encoding: 'utf8' });
  assert.equal(bad.status, 1); // io: a file where the folder should be
  assert.match(bad.stderr, /is not a folder \[emit-customops-dir\]/);
  assert.ok(!fs.existsSync(path.join(dir, 'x.onnx')));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('jumprelu grad on a custom-op model writes standard ops (and says so): the same gradients as from the thresholded-relu model', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-grad-custom-'));
  const model = path.join(repoRoot(), 'fixtures', 'default', 'lenet_mnist_baseline.onnx');
  const cli = path.join(repoRoot(), 'dist', 'src', 'cli', 'jumprelu.js');
  const outputs: Record<string, Float32Array>[] = [];
  for (const target of ['custom', 'thresholded-relu']) {
    const m = loadModel(model);
    const map = { byName: new Map(), byIndex: new Map([[1, { kappa: 0.25, gradKappa: 0.5 }]]), byRegex: [] };
    retrofit(m, { kappa: 1, gradKappa: 0.75, kappaMap: map, target: target as RetrofitOptions['target'] });
    saveModel(m, path.join(dir, `${target}.onnx`));
    const r = spawnSync(process.execPath, [cli, 'grad', path.join(dir, `${target}.onnx`), path.join(dir, `${target}.grad.onnx`), '--wrt', 'input', '--of', 'logits', '--mode', 'cross-entropy'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    if (target === 'custom') assert.match(r.stderr, /^note: the gradient model is written without the custom-op library: the model's 4 com\.jumprelu::JumpRelu site\(s\) are rewritten into standard ops with the same κ \(4 as ThresholdedRelu; same outputs\)\n$/);
    else assert.equal(r.stderr, '');
    const g = loadModel(path.join(dir, `${target}.grad.onnx`));
    assert.ok(g.graph.nodes.every((n) => n.domain !== 'com.jumprelu'), 'the gradient model still has custom ops');
    const ort = await import('onnxruntime-node');
    const s = await ort.InferenceSession.create(path.join(dir, `${target}.grad.onnx`), { intraOpNumThreads: 1 });
    const x = Float32Array.from({ length: 2 * 28 * 28 }, (_, i) => Math.sin(i * 0.37) * 2);
    const res = await s.run({ input: new ort.Tensor('float32', x, [2, 1, 28, 28]), labels: new ort.Tensor('int64', BigInt64Array.from([3n, 7n]), [2]) });
    outputs.push(Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.data as Float32Array])));
  }
  for (const k of Object.keys(outputs[1]!)) assert.deepEqual(outputs[0]![k], outputs[1]![k], `${k} differs`);
  fs.rmSync(dir, { recursive: true, force: true });
});
