// Bad data is refused before any attack with one line, the data kind's exit status (1) and a stable code, and no
// report: corrupt or truncated .npz/.gz/idx files, NaN pixels, 0–255 floats taken for [0,1], labels the model
// cannot output, images of the wrong shape, image/label counts that differ.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { gunzipSync } from 'node:zlib';
import yargs from 'yargs';

import { evalCommand } from '../src/cli/eval-command.js';
import { JumpReluError, UsageError, exitStatusOf } from '../src/ir/errors.js';
import { loadDataset } from '../src/runtime/dataset.js';
import { defaultHeldoutPaths, defaultModelPath, repoRoot } from './fixtures.js';
import { npy, zip } from './helpers/arrays.js';

const N = 20;

async function cli(args: string[]): Promise<void> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await run(args);
  } finally {
    process.stdout.write = write;
  }
}

async function run(args: string[]): Promise<void> {
  await yargs(['eval', defaultModelPath(), ...args, '--limit', String(N), '--attacks', 'fgsm', '--quiet', '--threads', '1'])
    .command(evalCommand).strict().fail((msg, err) => {
      throw err ?? new UsageError(msg);
    }).parseAsync();
}

/** Rejects with a one-line data error (exit 1) whose code and message match. */
async function refused(args: string[], code: string, message: RegExp): Promise<void> {
  await assert.rejects(cli(args), (e: Error) => {
    assert.ok(e instanceof JumpReluError, `a JumpReluError, got ${e.name}: ${e.message}`);
    assert.equal(exitStatusOf(e.kind), 1, `${e.message}: exit 1`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

test('bad data files and data that do not fit the model: one line, exit 1, before any attack', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-baddata-'));
  try {
    const { images, labels } = defaultHeldoutPaths();
    const ds = await loadDataset(`mnist:${images},${labels}`);
    const px = ds.values.subarray(0, N * 784) as Uint8Array;
    const lab = new Uint8Array(BigInt64Array.from(ds.labels.subarray(0, N), (v) => BigInt(v)).buffer);
    const write = (name: string, bytes: Uint8Array) => {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    };
    const xs = npy('|u1', [N, 28, 28], px);
    const ys = npy('<i8', [N], lab);
    // a good archive loads and runs
    const good = write('good.npz', zip([['x.npy', xs, false], ['y.npy', ys, true]]));
    await cli(['--data', `npz:${good}`]).then(() => {}, (e) => assert.fail(`a good npz: ${(e as Error).message}`));
    // one flipped byte in a stored entry: only the CRC sees it
    const flipped = zip([['x.npy', xs, false], ['y.npy', ys, true]]);
    flipped[500]! ^= 0x10;
    await refused(['--data', `npz:${write('flipped.npz', flipped)}`], 'data-crc', /x\.npy' fails its CRC-32 check/);
    // one flipped byte in a deflated entry
    const deflated = zip([['x.npy', xs, true], ['y.npy', ys, true]]);
    deflated[200]! ^= 0xff;
    await assert.rejects(cli(['--data', `npz:${write('deflated.npz', deflated)}`]), (e: Error) => e instanceof JumpReluError && e.kind === 'data' && /corrupt/.test(e.message));
    // a cut archive
    await refused(['--data', `npz:${write('cut.npz', good.length ? readFileSync(good).subarray(0, 3000) : new Uint8Array())}`], 'data-format', /not a zip archive/);
    // truncated gzip, truncated raw idx
    const gz = readFileSync(images);
    await refused(['--data', `mnist:${write('cut-images.gz', gz.subarray(0, gz.length >> 1))},${labels}`], 'data-truncated', /cut-images\.gz: truncated gzip data/);
    const raw = gunzipSync(gz);
    await refused(['--data', `mnist:${write('cut-images-idx3', raw.subarray(0, raw.length - 100))},${labels}`], 'data-format', /cut-images-idx3: idx: .* needs 784016 bytes, file has 783916/);
    // NaN pixels; 0–255 floats; labels out of range; wrong shape; counts that differ
    const f = Float32Array.from(px, (v) => v / 255);
    f[3 * 784 + 10] = NaN;
    await refused(['--data', `npy:${write('nan.npy', npy('<f4', [N, 28, 28], new Uint8Array(f.buffer)))},${write('y.npy', ys)}`], 'data-nan', /1 pixel value\(s\) are NaN or infinite \(first in sample 3\)/);
    const f255 = Float32Array.from(px);
    await refused(['--data', `npy:${write('f255.npy', npy('<f4', [N, 28, 28], new Uint8Array(f255.buffer)))},${join(dir, 'y.npy')}`], 'data-range', /span \[0, 255\].*pass --scale 0\.0039/);
    const bad = BigInt64Array.from(ds.labels.subarray(0, N), (v) => BigInt(v));
    bad[7] = 12n;
    await refused(['--data', `npy:${write('x.npy', xs)},${write('bad-y.npy', npy('<i8', [N], new Uint8Array(bad.buffer)))}`], 'data-labels', /1 label\(s\) reach 12, but the model has 10 classes/);
    await refused(['--data', `npy:${write('small.npy', npy('|u1', [N, 14, 14], px.subarray(0, N * 196)))},${join(dir, 'y.npy')}`], 'data-shape', /the data are 1×14×14 images but the model's declared input \[batch,1,28,28\] takes neither 1×14×14 \(NCHW\) nor 14×14×1 \(NHWC\)/);
    await refused(['--data', `npy:${join(dir, 'x.npy')},${write('short-y.npy', npy('<i8', [N - 1], lab.subarray(0, 8 * (N - 1))))}`], 'data-format', /20 images but 19 labels/);

    // through the real command line: one plain line on stderr (NO_COLOR or not), exit 1, no report written
    const bin = join(repoRoot(), 'dist', 'src', 'cli', 'jumprelu.js');
    const out = join(dir, 'report');
    const r = spawnSync(process.execPath, [bin, 'eval', defaultModelPath(), '--data', `npz:${join(dir, 'flipped.npz')}`, '--report', out], {
      encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' },
    });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^jumprelu: error: .*flipped\.npz: entry 'x\.npy' fails its CRC-32 check.* \[data-crc\]$/);
    assert.ok(!r.stderr.includes('\x1b'), 'no colour codes');
    assert.ok(!existsSync(join(out, 'report.json')), 'no report');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
