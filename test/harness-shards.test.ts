// eval --shard i/n and jumprelu merge on the committed default model and held-out digits: the merged report of
// 3 shards (each run with another --batch) equals the unsharded run's field for field — timings (created,
// wall_s), peak memory (resources) and the shards' provenance (merged_from) aside — with every attack whose randomness or curve could
// depend on the batch (pgd's random start, square, apgd with restarts, bpda) and every mode; per-sample.jsonl
// byte for byte. Then each refusal of merge, tune --shard and --ep cuda, by its stable code.

import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import { evalCommand } from '../src/cli/eval-command.js';
import { mergeCommand } from '../src/cli/merge-command.js';
import { tuneCommand } from '../src/cli/tune-command.js';
import { JumpReluError, exitStatusOf } from '../src/ir/errors.js';
import { listedProviders } from '../src/runtime/execution-provider.js';
import { mergeShards } from '../src/runtime/merge.js';
import { shardRange } from '../src/runtime/shard.js';
import { fromArrays, toAttackSpace } from '../src/runtime/dataset.js';
import type { Report } from '../src/runtime/report/schema.js';
import { defaultModelPath, defaultModelsDir } from './fixtures.js';
import { captureStdout, runCommands } from './helpers/cli.js';
import { comparable } from './helpers/comparable-report.js';

const cli = (args: string[]) => captureStdout(() => runCommands([evalCommand, tuneCommand, mergeCommand], args));

async function refusal(args: string[]): Promise<{ code: string; exit: number; message: string }> {
  try {
    await cli(args);
  } catch (e) {
    if (!(e instanceof JumpReluError)) throw e;
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    return { code: e.code, exit: exitStatusOf(e.kind), message: e.message };
  }
  throw new Error(`not refused: ${args.join(' ')}`);
}

test('shards: contiguous ranges cover the set once', () => {
  for (const total of [1, 7, 10, 1000]) {
    for (const count of [1, 2, 3, 4, 7].filter((c) => c <= total)) {
      let at = 0;
      for (let index = 1; index <= count; index++) {
        const r = shardRange({ index, count }, total);
        assert.equal(r.start, at);
        assert.ok(r.end > r.start, 'no shard is empty');
        at = r.end;
      }
      assert.equal(at, total);
    }
  }  // a shard's samples in the attack space are those of the whole set (float data and 8-bit data)
  const values = Float32Array.from({ length: 5 * 2 * 2 * 2 }, (_, i) => (i * 37) % 11 / 10);
  const float = fromArrays('npy', 'mem', { dtype: 'float32', shape: [5, 2, 2, 2], data: values }, { dtype: 'int64', shape: [5], data: BigInt64Array.from([0n, 1n, 0n, 1n, 0n]) }, 'NCHW');
  const bytes = fromArrays('npy', 'mem', { dtype: 'uint8', shape: [5, 2, 2, 2], data: Uint8Array.from(values, (v) => v * 200) }, { dtype: 'int64', shape: [5], data: BigInt64Array.from([0n, 1n, 0n, 1n, 0n]) }, 'NCHW');
  for (const [ds, scale] of [[float, 1], [bytes, 1 / 255]] as const) {
    const p = { scale, mean: [0.5, 0.4], std: [0.2, 0.3], layout: 'NCHW' as const };
    for (const space of ['normalized', 'pixel'] as const) {
      assert.deepEqual(toAttackSpace(ds, p, space, 3, 2), toAttackSpace(ds, p, space, 5).subarray(2 * 8));
    }
  }
});

test('eval --shard i/n ×3 merged = the unsharded run, field for field; refusals', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-shards-'));
  try {
    const data = join(dir, 'mnist');
    await mkdir(data);
    await copyFile(join(defaultModelsDir(), 'mnist-heldout-1000-images-idx3-ubyte.gz'), join(data, 't10k-images-idx3-ubyte.gz'));
    await copyFile(join(defaultModelsDir(), 'mnist-heldout-1000-labels-idx1-ubyte.gz'), join(data, 't10k-labels-idx1-ubyte.gz'));
    const common = [
      'eval', defaultModelPath(), '--data', `mnist:${data}`, '--limit', '14', '--kappa', '0,1', '--mode', 'white-box,gray-box,adaptive',
      '--attacks', 'fgsm,pgd,deepfool2,square,apgd-ce,bpda', '--transfer', '--examples', '3', '--threads', '1', '--quiet',
      '--attack-param', 'pgd.random_start=true', '--attack-param', 'pgd.iterations=4', '--attack-param', 'deepfool2.iterations=6',
      '--attack-param', 'square.queries=12', '--attack-param', 'apgd-ce.iterations=4', '--attack-param', 'apgd-ce.restarts=2',
      '--attack-param', 'bpda.iterations=3', '--attack-param', 'bpda.taus=0.1,1',
    ];
    await cli([...common, '--batch', '5', '--report', join(dir, 'full')]);
    const shards = [1, 2, 3].map((i) => join(dir, `shard${i}`));
    for (const [i, s] of shards.entries()) await cli([...common, '--batch', String(2 + i), '--shard', `${i + 1}/3`, '--report', s]);

    const shard2 = JSON.parse(await readFile(join(shards[1]!, 'report.json'), 'utf8')) as Report;
    assert.deepEqual([shard2.shard?.first, shard2.shard?.end, shard2.shard?.total, shard2.data.n], [4, 9, 14, 5]);
    assert.equal(shard2.settings.execution_provider, 'cpu');

    // shards in any order
    const table = await cli(['merge', shards[2]!, shards[0]!, shards[1]!, '--report', join(dir, 'merged'), '--quiet']);
    assert.match(table, /^verdict: /);
    const full = JSON.parse(await readFile(join(dir, 'full', 'report.json'), 'utf8')) as Report;
    const merged = JSON.parse(await readFile(join(dir, 'merged', 'report.json'), 'utf8')) as Report;
    assert.equal(merged.shard, undefined);
    assert.equal(merged.merged_from?.shards, 3);
    // the batch is a shard's own performance setting: the merged report records shard 1's
    assert.equal(merged.settings.batch, 2);
    merged.settings.batch = full.settings.batch;
    assert.deepEqual(comparable(merged), comparable(full));
    // what makes the comparison worth something: random starts, pictures from several shards, curves, transfer
    assert.ok((full.examples ?? []).some((e) => e.index >= 4), 'pictures from beyond the first shard');
    assert.ok((full.curves ?? []).length > 0 && (full.transfers ?? []).length > 0 && full.worst_case?.length);
    assert.equal(
      await readFile(join(dir, 'merged', 'per-sample.jsonl'), 'utf8'),
      await readFile(join(dir, 'full', 'per-sample.jsonl'), 'utf8'),
    );
    assert.match(await readFile(join(dir, 'merged', 'report.html'), 'utf8'), /<dt>merged from<\/dt><dd>3 contiguous shards/);
    assert.match(await readFile(join(shards[1]!, 'report.html'), 'utf8'), /2 of 3: samples 4…8 of 14/);
    assert.deepEqual(mergeShards(shards).report.results.map((r) => r.accuracy), full.results.map((r) => r.accuracy));

    // refusals, each one line with its code
    const out = join(dir, 'out');
    assert.deepEqual(await refusal(['merge', shards[0]!, shards[1]!, '--report', out]).then((r) => [r.code, r.exit]), ['merge-missing', 2]);
    assert.deepEqual(await refusal(['merge', ...shards, shards[1]!, '--report', out]).then((r) => [r.code, r.exit]), ['merge-overlap', 2]);
    assert.deepEqual(await refusal(['merge', join(dir, 'full'), '--report', out]).then((r) => [r.code, r.exit]), ['merge-not-shard', 2]);
    // a folder that is not there is a missing file: io, exit 1, like every path option's
    assert.deepEqual(await refusal(['merge', join(dir, 'nowhere'), '--report', out]).then((r) => [r.code, r.exit]), ['file-not-found', 1]);
    assert.deepEqual(await refusal(['merge', ...shards, '--report', shards[0]!]).then((r) => r.code), 'merge-output');

    // shards of other runs: another seed (settings), another model (hash), other data (fewer samples)
    const small = ['eval', '--data', `mnist:${data}`, '--attacks', 'fgsm', '--threads', '1', '--quiet'];
    const other = async (name: string, model: string, extra: string[]) => {
      const d = join(dir, name);
      await cli([small[0]!, model, ...small.slice(1), ...extra, '--report', d]);
      return d;
    };
    const a1 = await other('a1', defaultModelPath(), ['--limit', '6', '--shard', '1/2']);
    const a2 = await other('a2', defaultModelPath(), ['--limit', '6', '--shard', '2/2']);
    const seed = await other('seed', defaultModelPath(), ['--limit', '6', '--shard', '2/2', '--seed', '3']);
    const model = await other('model', defaultModelPath('robust'), ['--limit', '6', '--shard', '2/2']);
    const fewer = await other('fewer', defaultModelPath(), ['--limit', '4', '--shard', '2/2']);
    await cli(['merge', a1, a2, '--report', join(dir, 'a'), '--quiet']);
    const mismatch = async (d: string, what: RegExp) => {
      const r = await refusal(['merge', a1, d, '--report', out]);
      assert.deepEqual([r.code, r.exit], ['merge-mismatch', 2]);
      assert.match(r.message, what);
    };
    await mismatch(seed, /settings \(seed\)/);
    await mismatch(model, /model \(sha256\)/);
    await mismatch(fewer, /number of samples/);

    // an unfinished shard, and rows that do not match their report
    const report = JSON.parse(await readFile(join(a2, 'report.json'), 'utf8')) as Report;
    await writeFile(join(a2, 'report.json'), JSON.stringify({ ...report, partial: { results_done: 0, note: '' } }));
    assert.equal((await refusal(['merge', a1, a2, '--report', out])).code, 'merge-partial');
    await writeFile(join(a2, 'report.json'), JSON.stringify(report));
    const rows = (await readFile(join(a2, 'per-sample.jsonl'), 'utf8')).split('\n').filter(Boolean);
    await writeFile(join(a2, 'per-sample.jsonl'), `${rows.slice(1).join('\n')}\n`);
    assert.deepEqual(await refusal(['merge', a1, a2, '--report', out]).then((r) => [r.code, r.exit]), ['merge-corrupt', 1]);

    // eval --shard's own refusals, tune --shard, --ep cuda where the binding cannot run it
    const base = [defaultModelPath(), '--data', `mnist:${data}`, '--limit', '4', '--attacks', 'fgsm', '--quiet'];
    assert.equal((await refusal(['eval', ...base, '--shard', '1/2'])).code, 'shard-needs-report');
    assert.equal((await refusal(['eval', ...base, '--shard', '3/2', '--report', out])).code, 'shard-spec');
    assert.equal((await refusal(['eval', ...base, '--shard', '1/5', '--report', out])).code, 'shard-spec');
    assert.deepEqual(await refusal(['tune', ...base, '--shard', '1/2', '--report', out]).then((r) => [r.code, r.exit]), ['shard-tune', 2]);
    // (JUMPRELU_EXPECT_CUDA=1 on a machine with a GPU and onnxruntime-node's CUDA libraries: the run instead)
    if (process.env['JUMPRELU_EXPECT_CUDA'] !== '1') {
      const r = await refusal(['eval', ...base, '--ep', 'cuda']);
      assert.deepEqual([r.code, r.exit], ['ep-unavailable', 2]);
      assert.match(r.message, /^--ep cuda: /);
    } else {
      assert.ok(listedProviders().includes('cuda'));
      const r = JSON.parse(await cli(['eval', ...base, '--ep', 'cuda', '--json'])) as Report;
      assert.equal(r.settings.execution_provider, 'cuda');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
