// `--target custom` on real models, run by Python onnxruntime with the library built from customops/:
// outputs identical to the thresholded-relu lowering (scalar κ) and to the where lowering (per-channel
// κ) on real test images when ORT runs both without graph optimisations (its fusions treat a custom op
// differently, which reorders float additions: then they agree to float32 round-off). Also checks `--emit-customops`.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
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
    type Result = { custom: string; identical: boolean; max_abs_diff: number; optimized_max_rel_diff: number; custom_nodes: number };
    const results = String(r.stdout).trim().split('\n').map((l: string) => JSON.parse(l) as Result);
    assert.equal(results.length, c.kappas.length + 1);
    for (const res of results) {
      assert.ok(res.identical, `${path.basename(res.custom)}: max |Δ| = ${res.max_abs_diff} without graph optimisations`);
      // With ORT's fusions the float additions may be reordered: float32 round-off only.
      assert.ok(res.optimized_max_rel_diff < 1e-5, `${path.basename(res.custom)}: relative Δ ${res.optimized_max_rel_diff} with optimisations`);
      assert.ok(res.custom_nodes >= 4, `${path.basename(res.custom)} has ${res.custom_nodes} custom nodes`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--emit-customops builds the library and copies it with its usage note', (t) => {
  const lib = buildLibrary(t);
  if (!lib) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-emit-'));
  const model = path.join(repoRoot(), 'fixtures', 'default', 'lenet_mnist_baseline.onnx');
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'dist', 'src', 'cli', 'jumprelu-convert.js'), model,
    path.join(dir, 'm.onnx'), '--kappa', '1', '--target', 'custom', '--emit-customops', path.join(dir, 'lib')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'lib', path.basename(lib))));
  assert.ok(fs.existsSync(path.join(dir, 'lib', 'JUMPRELU_CUSTOMOPS.md')));
  fs.rmSync(dir, { recursive: true, force: true });
});
