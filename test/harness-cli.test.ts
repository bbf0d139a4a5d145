// The eval/tune commands end to end on the committed default model and held-out digits (always present),
// and the .npy/.npz/TensorProto loaders on hand-made bytes.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import onnxProto from 'onnx-proto';

import { evalCommand } from '../src/cli/eval-command.js';
import { tuneCommand } from '../src/cli/tune-command.js';
import { JumpReluError, UsageError } from '../src/ir/errors.js';
import { parseNpy, parseNpz, parseTensorProto } from '../src/runtime/data/index.js';
import { fromArrays, loadDataset, parseDataSpec } from '../src/runtime/dataset.js';
import type { Report } from '../src/runtime/report/schema.js';
import { defaultModelPath, defaultModelsDir } from './fixtures.js';
import { npy, zip } from './helpers/arrays.js';
import { runCommands, captureStdout } from './helpers/cli.js';

test('npy, npz and TensorProto loaders', () => {
  const img = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i * 10);
  const a = parseNpy(npy('|u1', [2, 2, 3], img));
  assert.deepEqual(a.shape, [2, 2, 3]);
  assert.equal(a.dtype, 'uint8');
  const f = parseNpy(npy('<f4', [3], new Uint8Array(Float32Array.of(0.5, -1, 2).buffer)));
  assert.deepEqual(Array.from(f.data as Float32Array), [0.5, -1, 2]);
  const big = new Uint8Array(8);
  new DataView(big.buffer).setInt32(0, 7);
  new DataView(big.buffer).setInt32(4, -3);
  assert.deepEqual(Array.from(parseNpy(npy('>i4', [2], big)).data as Int32Array), [7, -3]);
  const labels = new Uint8Array(BigInt64Array.of(3n, 1n).buffer);
  const z = parseNpz(zip([['x.npy', npy('|u1', [2, 2, 3], img), true], ['y.npy', npy('<i8', [2], labels), false]]));
  assert.deepEqual([...z.keys()], ['x', 'y']);
  const ds = fromArrays('npz', 'mem', z.get('x')!, z.get('y')!);
  assert.deepEqual([ds.count, ds.channels, ds.height, ds.width], [2, 1, 2, 3]);
  assert.deepEqual(Array.from(ds.labels), [3, 1]);
  // NHWC 4-D images are moved to NCHW
  const nhwc = fromArrays('npy', 'mem', { dtype: 'uint8', shape: [1, 2, 2, 3], data: Uint8Array.from({ length: 12 }, (_, i) => i + 1) }, { dtype: 'int64', shape: [1], data: BigInt64Array.of(0n) });
  assert.deepEqual([nhwc.channels, nhwc.height, nhwc.width], [3, 2, 2]);
  assert.deepEqual(Array.from(nhwc.values), [1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
  const { onnx } = onnxProto;
  const pb = onnx.TensorProto.encode({ dims: [2, 2], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [1, 2, 3, 4] }).finish();
  const t = parseTensorProto(pb);
  assert.deepEqual(t.shape, [2, 2]);
  assert.deepEqual(Array.from(t.data as Float32Array), [1, 2, 3, 4]);
  const raw = onnx.TensorProto.encode({ dims: [2], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(BigInt64Array.of(5n, 9n).buffer) }).finish();
  assert.deepEqual(Array.from(parseTensorProto(raw).data as BigInt64Array), [5n, 9n]);
  assert.throws(() => parseDataSpec('imagenet:/x'), UsageError);
  assert.throws(() => parseNpy(new Uint8Array(12)), /not a .npy/);
});

async function cli(args: string[]): Promise<void> {
  await runCommands([evalCommand, tuneCommand], args);
}


test('eval on the default model: report.json (schema fields), report.html, per-sample.jsonl', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-eval-'));
  try {
    // the committed held-out digits as an idx folder
    const data = join(dir, 'digits');
    const { mkdir, copyFile } = await import('node:fs/promises');
    await mkdir(data);
    await copyFile(join(defaultModelsDir(), 'mnist-heldout-1000-images-idx3-ubyte.gz'), join(data, 't10k-images-idx3-ubyte.gz'));
    await copyFile(join(defaultModelsDir(), 'mnist-heldout-1000-labels-idx1-ubyte.gz'), join(data, 't10k-labels-idx1-ubyte.gz'));
    const report = join(dir, 'out');
    const table = await captureStdout(() => cli(['eval', defaultModelPath(), '--data', `mnist:${data}`, '--kappa', '0,1', '--attacks', 'fgsm,ifgsm,deepfool2',
      '--mode', 'white-box,gray-box,adaptive', '--limit', '40', '--report', report, '--quiet', '--threads', '1', '--attack-param', 'ifgsm.iterations=10']));
    assert.match(table, /clean accuracy: κ=0/);
    const r = JSON.parse(await readFile(join(report, 'report.json'), 'utf8')) as Report;
    assert.equal(r.format, 1);
    assert.equal(r.kind, 'eval');
    assert.equal(r.data.space, 'normalized');
    assert.equal(r.data.clamp, 'batch-minmax');
    assert.deepEqual(r.data.preprocessing.mean, [0.1307]);
    assert.equal(r.data.n, 40);
    assert.equal(r.settings.attacks['ifgsm']!['iterations'], 10);
    assert.equal(r.settings.attacks['ifgsm']!['step'], 0.01);
    assert.equal(r.results.length, 2 * 3 * 3);
    for (const x of r.results) {
      for (const k of ['kappa', 'attack', 'mode', 'n', 'accuracy', 'fooling_rate', 'rho_all', 'rho_success'] as const) assert.ok(x[k] !== undefined, k);
      assert.ok(x.accuracy >= 0 && x.accuracy <= 1 && x.rho_all >= 0);
    }
    assert.deepEqual(r.transfer?.target_kappas, [0, 1]);
    assert.equal(r.per_sample_file, 'per-sample.jsonl');
    const lines = (await readFile(join(report, 'per-sample.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(lines.length, 40 * r.results.length);
    const html = await readFile(join(report, 'report.html'), 'utf8');
    assert.match(html, /<html/i);
    await assert.rejects(cli(['eval', defaultModelPath(), '--data', `mnist:${data}`, '--mode', 'black-box']), /--mode 'black-box'/);
    // a missing data file is io (exit 1), not a usage error
    await assert.rejects(cli(['eval', defaultModelPath(), '--data', `cifar10:${join(dir, 'missing.bin')}`]),
      (e: unknown) => e instanceof JumpReluError && !(e instanceof UsageError) && e.kind === 'io' && e.code === 'file-not-found');
    await assert.rejects(cli(['eval', defaultModelPath(), '--data', `mnist:${data}`, '--attacks', 'cw']), /unknown attack 'cw'/);
    // tune: picks a κ within the budget; scale-aware per-layer quantiles
    const tuneOut = await captureStdout(() => cli(['tune', defaultModelPath(), '--data', `mnist:${data}`, '--kappa', '0,0.5,1', '--limit', '40',
      '--max-accuracy-drop', '100', '--json', '--threads', '1']));
    const tr = JSON.parse(tuneOut) as Report;
    assert.equal(tr.kind, 'tune');
    // the grid, plus the points halfway to the best candidate's neighbours
    for (const k of [0, 0.5, 1]) assert.ok(tr.tuning!.candidates.some((c) => c.kappa === k));
    assert.equal(tr.tuning!.candidates.length, 3 + (tr.tuning!.refined?.length ?? 0));
    const best = Math.max(...tr.tuning!.candidates.map((c) => c.rho_all));
    assert.equal(tr.tuning!.candidates.find((c) => c.kappa === tr.tuning!.chosen_kappa)!.rho_all, best);
    const sa = JSON.parse(await captureStdout(() => cli(['tune', defaultModelPath(), '--data', `mnist:${data}`, '--scale-aware', '--quantiles', '0,0.2',
      '--limit', '30', '--max-accuracy-drop', '100', '--json', '--threads', '1']))) as Report;
    assert.ok(sa.tuning!.per_layer && Object.keys(sa.tuning!.per_layer.kappas).length > 0);
    assert.ok(sa.settings.per_layer_kappa);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('pixel space with a [0,1] box is honoured and recorded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-eval-'));
  try {
    const data = join(dir, 'd');
    const { mkdir, copyFile } = await import('node:fs/promises');
    await mkdir(data);
    await copyFile(join(defaultModelsDir(), 'mnist-heldout-1000-images-idx3-ubyte.gz'), join(data, 't10k-images-idx3-ubyte.gz'));
    await copyFile(join(defaultModelsDir(), 'mnist-heldout-1000-labels-idx1-ubyte.gz'), join(data, 't10k-labels-idx1-ubyte.gz'));
    const r = JSON.parse(await captureStdout(() => cli(['eval', defaultModelPath(), '--data', `mnist:${data}`, '--space', 'pixel', '--clamp', 'box',
      '--attacks', 'deepfoolinf', '--limit', '20', '--json', '--threads', '1']))) as Report;
    assert.equal(r.data.space, 'pixel');
    assert.deepEqual(r.data.bounds, { min: 0, max: 1 });
    for (const e of r.examples ?? []) assert.ok(e.adversarial.every((v) => v >= 0 && v <= 1));
    const ds = await loadDataset(`mnist:${data}`);
    assert.equal(ds.count, 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
