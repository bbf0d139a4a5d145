// Memory of `jumprelu eval` (issue #15): the κ models live one at a time (OraclePool), so a run's peak RSS is
// that of one setting, not the grid's. Measured in child processes (test/helpers/max-rss.ts) on a VGG-style
// model; the pool's own rules are checked without ONNX Runtime.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ModelOracle } from '../src/runtime/oracle.js';
import { OraclePool } from '../src/runtime/oracle-pool.js';
import { writeVggCase } from './helpers/vgg.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '../src/cli/jumprelu.js');
const maxRss = pathToFileURL(join(here, 'helpers/max-rss.js')).href;

test('OraclePool keeps at most `capacity` κ models alive and releases the least recently used', async () => {
  const released: number[] = [];
  const pool = new OraclePool(2);
  pool.make = (kappa) => ({ kappa, release: async () => { released.push(kappa); } }) as unknown as ModelOracle;
  const a = await pool.get(0);
  await pool.get(1);
  assert.equal(await pool.get(0), a, 'an alive κ is not rebuilt');
  await pool.get(2); // evicts 1, the least recently used
  assert.deepEqual(released, [1]);
  assert.deepEqual(pool.alive, [0, 2]);
  await pool.get(1);
  assert.deepEqual(released, [1, 0]);
  assert.equal(pool.built, 4);
  await pool.releaseAll();
  assert.deepEqual(released.sort(), [0, 1, 1, 2]);
  assert.deepEqual(pool.alive, []);
  assert.throws(() => new OraclePool(0), RangeError);
});

/** Runs `jumprelu eval` in a child; its peak RSS in MB. */
function evalPeakMb(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', maxRss, cli, 'eval', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /max-rss-kb (\d+)/.exec(err);
      if (code !== 0 || !m) reject(new Error(`eval exited ${code}: ${err.slice(-2000)}`));
      else resolve(Number(m[1]) / 1024);
    });
  });
}

// The bounds: 4 settings within 30 % of 1 setting (before the pool: +95 %, 218 → 425 MB here), and under 400 MB
// (the 1-setting run is ~220 MB: Node, ONNX Runtime, and the 9 MB model as IR, forward and gradient session).
const GROWTH = 1.3;
const BOUND_MB = 400;

test('eval on a VGG-style model: peak RSS of a 4-setting grid stays under 400 MB and within 30 % of one setting', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-memory-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // VGG-11's stages at half width (2.3 M parameters), 8 CIFAR-sized images labelled with its own predictions
  const c = await writeVggCase(dir, 8, { shrink: 2 });
  const common = [c.model, '--data', c.data, '--attacks', 'fgsm', '--mode', 'white-box', '--threads', '1', '--preprocessing', 'none', '--quiet', '--json'];
  const one = await evalPeakMb([...common, '--kappa', '0']);
  const four = await evalPeakMb([...common, '--kappa', '0,0.1,0.2,0.3']);
  t.diagnostic(`peak RSS: 1 setting ${one.toFixed(0)} MB, 4 settings ${four.toFixed(0)} MB (×${(four / one).toFixed(2)})`);
  assert.ok(four < BOUND_MB, `4 settings peaked at ${four.toFixed(0)} MB, over ${BOUND_MB} MB`);
  assert.ok(four <= GROWTH * one, `peak grew with the grid: ${one.toFixed(0)} MB for 1 setting, ${four.toFixed(0)} MB for 4 (limit ×${GROWTH})`);
});
