// Ctrl-C during a conversion of a big model leaves no partial output and no temporary file: before the
// write starts the process stops at once with nothing on disk; during the write (temporary file, then
// rename) the signal is held until the write has finished, and the process then exits 130 with the output
// complete (src/cli/interrupt.ts). Both bins, `jumprelu-convert` and `jumprelu convert`.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Attribute } from '../src/ir/attribute.js';
import { encodeModel } from '../src/ir/encode.js';
import { Node } from '../src/ir/node.js';
import { DataType, Tensor } from '../src/ir/tensor.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { modelWithInput } from './helpers/build-model.js';

const CLI = fileURLToPath(new URL('../src/cli/', import.meta.url));

/** `blocks` Conv(C→C, 3×3) + Relu blocks with inline weights: C = 256 is 2.4 MB per block. */
function bigModel(blocks: number, channels: number): Uint8Array {
  const { model, g, x } = modelWithInput('big', ['N', channels, 8, 8]);
  let cur = x;
  for (let i = 0; i < blocks; i++) {
    const data = new Float32Array(channels * channels * 9);
    for (let k = 0; k < data.length; k++) data[k] = ((k * 7 + i) % 13) * 1e-3;
    const w = g.addInitializer(Tensor.fromFloat32(`w${i}`, [channels, channels, 3, 3], data));
    const conv = g.append(new Node('Conv', [cur, w], { name: `conv${i}`, outputNames: [`c${i}`], attributes: [new Attribute('pads', { type: 7, value: [1n, 1n, 1n, 1n] })] }));
    cur = g.append(new Node('Relu', [conv.outputs[0]!], { name: `relu${i}`, outputNames: [`r${i}`] })).outputs[0]!;
  }
  g.addOutput(cur, ValueInfo.tensor(DataType.FLOAT, ['N', channels, 8, 8]));
  return encodeModel(model).toBytes();
}

interface Exit { code: number | null; signal: NodeJS.Signals | null; stderr: string }

/**
 * Runs a conversion into `dir` and sends SIGINT when `when` says: 'write' as soon as a temporary file shows
 * up in `dir` (the write has started), 'start' right after the spawn (Node is starting or the model loading).
 */
function interrupted(args: string[], dir: string, when: 'write' | 'start'): Promise<Exit & { sent: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    let sent = false;
    const send = (): void => { if (!sent) { sent = true; child.kill('SIGINT'); } };
    const watcher = when === 'write' ? fs.watch(dir, (_event, name) => { if (name && name.endsWith('.tmp')) send(); }) : null;
    if (when === 'start') send();
    child.on('error', reject);
    child.on('exit', (code, signal) => { watcher?.close(); resolve({ code, signal, stderr, sent }); });
  });
}

describe('SIGINT during a conversion of a big model', () => {
  let tmp: string;
  let big: string;
  let reference: Buffer;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-interrupt-'));
    big = path.join(tmp, 'big.onnx');
    fs.writeFileSync(big, bigModel(48, 256)); // 113 MB
    const ref = path.join(tmp, 'ref.onnx');
    const r = spawnSync(process.execPath, [path.join(CLI, 'jumprelu-convert.js'), big, ref, '--kappa', '0.5'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    reference = fs.readFileSync(ref);
    fs.rmSync(ref);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const [name, pre] of [['jumprelu-convert', []], ['jumprelu convert', ['convert']]] as const) {
    const bin = path.join(CLI, pre.length ? 'jumprelu.js' : 'jumprelu-convert.js');
    test(`${name}: during the write, the output is finished and complete, nothing else is left, exit 130`, async () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'w-'));
      const out = path.join(dir, 'out.onnx');
      const r = await interrupted([bin, ...pre, big, out, '--kappa', '0.5'], dir, 'write');
      assert.ok(r.sent, 'the write started (a temporary file appeared) and SIGINT was sent');
      assert.deepEqual([r.code, r.signal], [130, null], r.stderr);
      assert.match(r.stderr, /interrupted \(SIGINT\) while writing .*out\.onnx: the write was finished first/);
      assert.deepEqual(fs.readdirSync(dir), ['out.onnx'], 'no temporary file left');
      assert.ok(fs.readFileSync(out).equals(reference), 'the output is the whole converted model');
    });

    test(`${name}: before the write, the process stops at once and leaves nothing`, async () => {
      const dir = fs.mkdtempSync(path.join(tmp, 's-'));
      const r = await interrupted([bin, ...pre, big, path.join(dir, 'out.onnx'), '--kappa', '0.5'], dir, 'start');
      assert.equal(r.signal, 'SIGINT', `killed by the signal (exit ${r.code}): ${r.stderr}`);
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  }
});

/**
 * Runs in a child `withInterruptsHeld(out, async () => { …; then })`: the write makes its temporary file, says
 * so, waits 400 ms (the event loop turns, so a signal is delivered while the promise is pending) and then
 * runs `then` (JS source); SIGINT is sent when it says it is writing.
 */
function heldAsyncWrite(out: string, then: string): Promise<Exit> {
  const script = `
    import * as fs from 'node:fs';
    import { withInterruptsHeld } from ${JSON.stringify(new URL('../src/cli/interrupt.js', import.meta.url).href)};
    const out = ${JSON.stringify(out)};
    await withInterruptsHeld(out, async () => {
      fs.writeFileSync(out + '.tmp', 'complete');
      process.stdout.write('writing\\n');
      await new Promise((r) => setTimeout(r, 400));
      ${then}
    });`;
  return new Promise<Exit>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.stdout.setEncoding('utf8').on('data', (d: string) => { if (d.includes('writing')) child.kill('SIGINT'); });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('withInterruptsHeld with an asynchronous write', () => {
  test('SIGINT while the promise is pending: the write finishes, then exit 130, nothing partial left', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-interrupt-async-'));
    try {
      const out = path.join(dir, 'out.txt');
      const r = await heldAsyncWrite(out, "fs.renameSync(out + '.tmp', out);");
      assert.deepEqual([r.code, r.signal], [130, null], r.stderr);
      assert.match(r.stderr, /interrupted \(SIGINT\) while writing .*out\.txt: the write was finished first/);
      assert.deepEqual(fs.readdirSync(dir), ['out.txt'], 'no temporary file left');
      assert.equal(fs.readFileSync(out, 'utf8'), 'complete');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test('SIGINT while a write is pending that then fails: exit 130 with the failure said, not "finished"', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-interrupt-fail-'));
    try {
      const out = path.join(dir, 'out.txt');
      const r = await heldAsyncWrite(out, "fs.rmSync(out + '.tmp'); throw new Error('no space left on device');");
      assert.deepEqual([r.code, r.signal], [130, null], r.stderr);
      assert.match(r.stderr, /interrupted \(SIGINT\) while writing .*out\.txt: the write failed first \(no space left on device\)/);
      assert.doesNotMatch(r.stderr, /finished/);
      assert.deepEqual(fs.readdirSync(dir), [], 'nothing left');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
