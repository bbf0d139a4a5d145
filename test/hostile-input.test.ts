// Hostile input (issue 2): truncated files, random bytes, traversal in external data, absurd declared
// dims, bad κ, overwriting the input. Through the CLI every one must give a non-zero exit, exactly one
// line on stderr without a stack trace, no output file and no temp files left behind, and no hang.
// A fuzz test feeds mutated model bytes through the library (in a worker, so a hang can be stopped):
// each mutant either converts or throws a JumpReluError subclass — never another error type.

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { after, before, describe, test } from 'node:test';
import { Attribute, AttributeType } from '../src/ir/attribute.js';
import { decodeModel } from '../src/ir/decode.js';
import { encodeModel } from '../src/ir/encode.js';
import { JumpReluError } from '../src/ir/errors.js';
import { loadModel } from '../src/ir/io.js';
import { Node } from '../src/ir/node.js';
import { DataType, Tensor } from '../src/ir/tensor.js';
import { ChunkWriter } from '../src/ir/wire.js';
import { retrofit } from '../src/index.js';
import { RECORD_KEY, type Target } from '../src/passes/retrofit-record.js';
import { ModelBuilder, makeRng, sitesModel } from './helpers/build-model.js';

const CLI = fileURLToPath(new URL('../src/cli/jumprelu-convert.js', import.meta.url));
const SHARED = process.env['JUMPRELU_SHARED_DATA']
  ? path.resolve(process.env['JUMPRELU_SHARED_DATA'])
  : path.resolve(fileURLToPath(new URL('../../', import.meta.url)), '..', 'shared', 'data');
const RESNET20 = path.join(SHARED, 'pretrained', 'resnet20_cifar10_pre.onnx');

// ---- models to attack ------------------------------------------------------------------------------

const featureModel = (): ModelBuilder => sitesModel({ seed: 7 });

function convertBytes(bytes: Uint8Array, kappa: number, target: Target): Uint8Array {
  const m = decodeModel(bytes);
  retrofit(m, { kappa, target, relu6: true });
  return encodeModel(m).toBytes();
}

/** A TensorProto whose data is external, with whatever location, offset and length it is given. */
function externalTensor(name: string, dims: number[], ext: { location: string; offset?: string; length?: string }): Tensor {
  const w = new ChunkWriter();
  for (const d of dims) w.int64Field(1, d);
  w.int64Field(2, DataType.FLOAT);
  w.stringField(8, name);
  const entries: Array<[string, string]> = [['location', ext.location]];
  if (ext.offset !== undefined) entries.push(['offset', ext.offset]);
  if (ext.length !== undefined) entries.push(['length', ext.length]);
  for (const [k, v] of entries) {
    const kv = new ChunkWriter();
    kv.stringField(1, k);
    kv.stringField(2, v);
    w.messageField(13, kv);
  }
  w.int64Field(14, 1);
  return forged(name, w.toBytes());
}

/**
 * A tensor that encodes as exactly `bytes`, even bytes Tensor.decode would refuse (negative dims or
 * offsets): a valid stand-in whose source bytes are swapped (encode() returns them unchanged).
 */
function forged(name: string, bytes: Uint8Array): Tensor {
  const t = Tensor.fromFloat32(name, [1], [0]);
  Object.assign(t as unknown as { src: Uint8Array }, { src: bytes });
  return t;
}

/** A float tensor with the given dims and raw_data bytes (which need not agree with the dims). */
function rawTensor(name: string, dims: number[], raw: Uint8Array): Tensor {
  const w = new ChunkWriter();
  for (const d of dims) w.int64Field(1, d);
  w.int64Field(2, DataType.FLOAT);
  w.stringField(8, name);
  w.bytesField(9, raw);
  return forged(name, w.toBytes());
}

/** x[1,4] → Relu → Add(b) → y, where b is the tensor given (an initializer, or a Constant node's value). */
function modelWithTensor(t: Tensor, asConstant = false): Uint8Array {
  const mb = new ModelBuilder();
  const g = mb.main;
  const x = g.input('x', [1, 4]);
  const r = g.relu(x, { name: 'r' });
  let b;
  if (asConstant) {
    b = g.graph.append(new Node('Constant', [], { name: 'k', outputNames: [t.name], attributes: [new Attribute('value', { type: AttributeType.TENSOR, value: t })] })).outputs[0]!;
  } else {
    b = g.graph.addInitializer(t);
  }
  g.output({ value: g.graph.append(new Node('Add', [r.value, b], { name: 'add', outputNames: ['y'] })).outputs[0]!, shape: [1, 4] });
  return mb.bytes();
}

/**
 * A model whose main graph nests `depth` If nodes, each then-branch holding the next (written at the
 * wire level: the IR's own encoder is recursive too). The innermost branch is a Relu.
 */
function deeplyNestedModel(depth: number): Uint8Array {
  const field = (no: number, payload: Uint8Array | string): Uint8Array => {
    const w = new ChunkWriter();
    if (typeof payload === 'string') w.stringField(no, payload);
    else w.bytesField(no, payload);
    return w.toBytes();
  };
  const int = (no: number, v: number): Uint8Array => {
    const w = new ChunkWriter();
    w.int64Field(no, v);
    return w.toBytes();
  };
  const cat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
  const reluGraph = (out: string): Uint8Array => cat(field(1, cat(field(1, 'x'), field(2, out), field(4, 'Relu'))), field(12, field(1, out)));
  let g = reluGraph('inner');
  for (let k = 0; k < depth; k++) {
    const thenAttr = cat(field(1, 'then_branch'), field(6, g), int(20, AttributeType.GRAPH));
    const elseAttr = cat(field(1, 'else_branch'), field(6, reluGraph(`e${k}`)), int(20, AttributeType.GRAPH));
    g = cat(field(1, cat(field(1, 'cond'), field(2, `y${k}`), field(4, 'If'), field(5, thenAttr), field(5, elseAttr))), field(12, field(1, `y${k}`)));
  }
  const floatType = field(2, field(1, cat(int(1, DataType.FLOAT), field(2, cat(field(1, int(1, 1)), field(1, int(1, 4)))))));
  const cond = cat(int(2, DataType.BOOL), field(8, 'cond'), field(9, Uint8Array.of(1)));
  const main = cat(g, field(2, 'main'), field(5, cond), field(11, cat(field(1, 'x'), floatType)));
  return cat(int(1, 8), field(7, main), field(8, cat(field(1, ''), int(2, 17))));
}

// ---- fuzz worker -----------------------------------------------------------------------------------

interface FuzzSeed { name: string; file: string; count: number; targets: Target[] }
interface FuzzResult { done: true; ok: number; rejected: Record<string, number>; bad: string[] }

function mutate(src: Uint8Array, rng: () => number): { bytes: Uint8Array; how: string } {
  const pos = (n: number): number => Math.floor(rng() * n);
  const kind = pos(6);
  const b = Array.from(src);
  switch (kind) {
    case 0: { // flip 1-4 bits
      const n = 1 + pos(4);
      for (let i = 0; i < n; i++) { const p = pos(b.length); b[p]! ^= 1 << pos(8); }
      return { bytes: Uint8Array.from(b), how: `flip ${n}` };
    }
    case 1: { // insert 1-3 random bytes
      const p = pos(b.length + 1);
      const ins = Array.from({ length: 1 + pos(3) }, () => pos(256));
      b.splice(p, 0, ...ins);
      return { bytes: Uint8Array.from(b), how: `insert ${ins.length} at ${p}` };
    }
    case 2: { // delete 1-8 bytes
      const p = pos(b.length);
      const n = 1 + pos(8);
      b.splice(p, n);
      return { bytes: Uint8Array.from(b), how: `delete ${n} at ${p}` };
    }
    case 3: { // a run of 0xff (huge varints)
      const p = pos(b.length);
      for (let i = 0; i < 5 && p + i < b.length; i++) b[p + i] = 0xff;
      return { bytes: Uint8Array.from(b), how: `0xff run at ${p}` };
    }
    case 4: { // truncate
      const p = pos(b.length);
      return { bytes: Uint8Array.from(b.slice(0, p)), how: `truncate at ${p}` };
    }
    default: { // set a byte to a small value (field numbers, wire types, lengths)
      const p = pos(b.length);
      b[p] = pos(0x40);
      return { bytes: Uint8Array.from(b), how: `set byte ${p}` };
    }
  }
}

function fuzzWorker(): void {
  const { seeds, dir, rngSeed } = workerData as { seeds: FuzzSeed[]; dir: string; rngSeed: number };
  const rng = makeRng(rngSeed);
  const result: FuzzResult = { done: true, ok: 0, rejected: {}, bad: [] };
  for (const seed of seeds) {
    const src = new Uint8Array(fs.readFileSync(seed.file));
    for (let i = 0; i < seed.count; i++) {
      const { bytes, how } = mutate(src, rng);
      const target = seed.targets[i % seed.targets.length]!;
      parentPort!.postMessage({ started: `${seed.name} #${i} (${how}, ${target})` });
      const file = path.join(dir, 'mutant.onnx');
      fs.writeFileSync(file, bytes);
      try {
        const model = loadModel(file);
        retrofit(model, { kappa: 0.1, target, relu6: i % 2 === 0 });
        const out = encodeModel(model).toBytes();
        // What came out decodes again.
        decodeModel(out);
        result.ok++;
      } catch (e) {
        if (e instanceof JumpReluError) {
          result.rejected[e.name] = (result.rejected[e.name] ?? 0) + 1;
        } else {
          const err = e as Error;
          result.bad.push(`${seed.name} #${i} (${how}, ${target}): ${err?.name}: ${err?.message} ${err?.stack?.split('\n')[1]?.trim() ?? ''}`);
        }
      }
    }
  }
  parentPort!.postMessage(result);
}

// ---- CLI helpers -----------------------------------------------------------------------------------

function cli(args: string[], timeout = 30_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
}

/** Non-zero exit, one stderr line without a stack, nothing in the output folder, no hang. */
function expectCleanFailure(r: SpawnSyncReturns<string>, outDir: string, what: string, message?: RegExp): void {
  assert.equal(r.error, undefined, `${what}: ${r.error?.message} (hang?)`);
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}`);
  assert.notEqual(r.status, 0, `${what}: exit status 0`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: stderr has ${lines.length} lines:\n${r.stderr}`);
  assert.match(lines[0]!, /^jumprelu-convert: error: /, what);
  assert.doesNotMatch(lines[0]!, /internal error/, `${what}: not reported as a user error: ${lines[0]}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+/m, `${what}: stack trace`);
  if (message) assert.match(lines[0]!, message, what);
  assert.deepEqual(fs.readdirSync(outDir), [], `${what}: output folder not empty`);
}

// ---- tests -----------------------------------------------------------------------------------------

if (!isMainThread) {
  fuzzWorker();
} else {
  describe('hostile input', () => {
    let tmp: string;
    let inDir: string;
    let caseNo = 0;
    /** A fresh, empty output folder and an output path in it. */
    const outPath = (): { dir: string; file: string } => {
      const dir = path.join(tmp, `out${caseNo++}`);
      fs.mkdirSync(dir);
      return { dir, file: path.join(dir, 'out.onnx') };
    };
    const writeInput = (name: string, bytes: Uint8Array, dir = inDir): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, bytes);
      return f;
    };
    const realModel = (): Uint8Array => new Uint8Array(fs.readFileSync(fs.existsSync(RESNET20) ? RESNET20 : writeInput('feature.onnx', featureModel().bytes())));

    before(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-hostile-'));
      inDir = path.join(tmp, 'in');
      fs.mkdirSync(inDir);
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    test('truncated model files (the real ResNet-20 if present), at random cut points', () => {
      const bytes = realModel();
      const rng = makeRng(1234);
      const cuts = [1, 2, 10, bytes.length - 1, ...Array.from({ length: 10 }, () => 1 + Math.floor(rng() * (bytes.length - 2)))];
      for (const cut of cuts) {
        const f = writeInput(`trunc_${cut}.onnx`, bytes.subarray(0, cut));
        const out = outPath();
        expectCleanFailure(cli([f, out.file, '--kappa', '0.1']), out.dir, `truncated at ${cut}/${bytes.length}`);
      }
    });

    test('random bytes, an empty file, a directory, a missing file', () => {
      const rng = makeRng(99);
      for (const size of [1, 7, 100, 4096]) {
        const f = writeInput(`random_${size}.onnx`, Uint8Array.from({ length: size }, () => Math.floor(rng() * 256)));
        const out = outPath();
        expectCleanFailure(cli([f, out.file, '--kappa', '0.1']), out.dir, `random ${size} bytes`);
      }
      const cases: Array<[string, string]> = [
        ['empty file', writeInput('empty.onnx', new Uint8Array())],
        ['a directory', inDir],
        ['a missing file', path.join(inDir, 'nope.onnx')],
      ];
      for (const [what, f] of cases) {
        const out = outPath();
        expectCleanFailure(cli([f, out.file, '--kappa', '0.1']), out.dir, what);
      }
    });

    test('external data that escapes the model folder, lies about its size, or points past the end', () => {
      const outside = path.join(tmp, 'outside');
      fs.mkdirSync(outside, { recursive: true });
      const secret = path.join(outside, 'secret.bin');
      fs.writeFileSync(secret, new Uint8Array(16));
      let n = 0;
      const attempt = (what: string, t: Tensor, setup?: (dir: string) => void, message?: RegExp): void => {
        const dir = path.join(tmp, `ext${n++}`);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(16)); // 4 floats
        setup?.(dir);
        const f = writeInput('model.onnx', modelWithTensor(t), dir);
        const before = fs.readdirSync(dir).sort();
        const out = outPath();
        expectCleanFailure(cli([f, out.file, '--kappa', '0.1']), out.dir, what, message);
        assert.deepEqual(fs.readdirSync(dir).sort(), before, `${what}: the model folder is unchanged`);
      };
      attempt('location with ..', externalTensor('b', [4], { location: '../outside/secret.bin' }), undefined, /escapes/);
      attempt('location with .. in the middle', externalTensor('b', [4], { location: 'sub/../../outside/secret.bin' }), undefined, /escapes/);
      attempt('absolute location', externalTensor('b', [4], { location: secret }), undefined, /absolute/);
      attempt('symlink leading out of the folder', externalTensor('b', [4], { location: 'link.bin' }),
        (dir) => fs.symlinkSync(secret, path.join(dir, 'link.bin')), /symbolic link/);
      attempt('symlinked folder leading out', externalTensor('b', [4], { location: 'sub/secret.bin' }),
        (dir) => fs.symlinkSync(outside, path.join(dir, 'sub')), /symbolic link/);
      attempt('declared length disagreeing with dims', externalTensor('b', [4], { location: 'weights.bin', length: '8' }), undefined, /length/);
      attempt('offset past the end of the file', externalTensor('b', [4], { location: 'weights.bin', offset: '64' }), undefined, /past the end/);
      attempt('range running past the end', externalTensor('b', [4], { location: 'weights.bin', offset: '8', length: '16' }), undefined, /past the end/);
      attempt('absurd dims with external data', externalTensor('b', [1e12, 1e12], { location: 'weights.bin' }), undefined, /past the end/);
      attempt('negative offset', externalTensor('b', [4], { location: 'weights.bin', offset: '-4' }));
      attempt('missing data file', externalTensor('b', [4], { location: 'gone.bin' }), undefined, /not found/);
      attempt('location is a folder', externalTensor('b', [4], { location: 'dir' }), (dir) => fs.mkdirSync(path.join(dir, 'dir')), /not a regular file/);
      attempt('empty location', externalTensor('b', [4], { location: '' }));
    });

    test('absurd or inconsistent declared dims with tiny raw data', () => {
      const cases: Array<[string, Uint8Array]> = [
        ['[1e12, 1e12] initializer, 4 bytes', modelWithTensor(rawTensor('b', [1e12, 1e12], new Uint8Array(4)))],
        ['[2^62] initializer, 4 bytes', modelWithTensor(rawTensor('b', [2 ** 62], new Uint8Array(4)))],
        ['[4] initializer, 12 bytes', modelWithTensor(rawTensor('b', [4], new Uint8Array(12)))],
        ['[1e12, 1e12] Constant attribute, 4 bytes', modelWithTensor(rawTensor('b', [1e12, 1e12], new Uint8Array(4)), true)],
        ['negative dim', modelWithTensor(rawTensor('b', [-1, 4], new Uint8Array(16)))],
      ];
      for (const [what, bytes] of cases) {
        const f = writeInput('dims.onnx', bytes);
        const out = outPath();
        const t0 = Date.now();
        expectCleanFailure(cli([f, out.file, '--kappa', '0.1']), out.dir, what);
        assert.ok(Date.now() - t0 < 10_000, `${what}: took ${Date.now() - t0} ms`);
      }
    });

    test('subgraphs nested 20 deep convert; nested 1000 deep (a 100 KB file) give a clean error, not a stack overflow', () => {
      const shallow = writeInput('nested20.onnx', deeplyNestedModel(20));
      let out = outPath();
      const ok = cli([shallow, out.file, '--kappa', '0.1']);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /21 converted/);
      const deep = writeInput('nested1000.onnx', deeplyNestedModel(1000));
      out = outPath();
      expectCleanFailure(cli([deep, out.file, '--kappa', '0.1']), out.dir, '1000 nested subgraphs');
    });

    test('a Relu node without outputs (or without inputs) is a clean error, whatever the target', () => {
      for (const [what, outputs, inputs] of [['no outputs', 0, 1], ['no inputs', 1, 0]] as const) {
        const mb = new ModelBuilder();
        const g = mb.main;
        const x = g.input('x', [1, 4]);
        g.graph.append(new Node('Relu', inputs ? [x.value] : [], { name: 'odd', outputNames: outputs ? ['odd_out'] : [] }));
        g.output(g.relu(x, { name: 'fine', out: 'y' }));
        const f = writeInput('odd.onnx', mb.bytes());
        for (const target of ['thresholded-relu', 'where', 'function', 'custom']) {
          const out = outPath();
          expectCleanFailure(cli([f, out.file, '--kappa', '0.1', '--target', target]), out.dir, `Relu with ${what}, ${target}`);
        }
      }
    });

    test('κ must be a finite number ≥ 0 (negative, NaN, ±∞, not a number)', () => {
      const f = writeInput('good.onnx', featureModel().bytes());
      const bad: string[][] = [
        ['--kappa', '-1'], ['--kappa=-0.5'], ['--kappa', 'NaN'], ['--kappa', 'Infinity'], ['--kappa', '1e400'],
        ['--kappa', 'abc'], ['--kappa', '0.1', '--grad-kappa', '-1'], ['--kappa', '0.1', '--grad-kappa', 'NaN'],
      ];
      for (const args of bad) {
        const out = outPath();
        expectCleanFailure(cli([f, out.file, ...args]), out.dir, args.join(' '), /kappa/i);
      }
      const out = outPath();
      expectCleanFailure(cli([f, out.file]), out.dir, 'no κ at all');
    });

    test('an empty --kappa is refused, not read as κ = 0', () => {
      const f = writeInput('good.onnx', featureModel().bytes());
      for (const args of [['--kappa='], ['--kappa', ''], ['--kappa', ' ']]) {
        const out = outPath();
        expectCleanFailure(cli([f, out.file, ...args]), out.dir, `${JSON.stringify(args)}`, /kappa/i);
      }
    });

    test('unknown --target, unreadable kappa map, missing output folder', () => {
      const f = writeInput('good.onnx', featureModel().bytes());
      let out = outPath();
      expectCleanFailure(cli([f, out.file, '--kappa', '0.1', '--target', 'sigmoid']), out.dir, 'unknown target', /target/);
      out = outPath();
      expectCleanFailure(cli([f, out.file, '--kappa-map', path.join(inDir, 'none.json')]), out.dir, 'missing kappa map');
      const badMap = writeInput('bad.json', new TextEncoder().encode('{"r": -1}'));
      out = outPath();
      expectCleanFailure(cli([f, out.file, '--kappa-map', badMap]), out.dir, 'negative κ in the map');
      const notJson = writeInput('notjson.json', new TextEncoder().encode('{"r": 0.1'));
      out = outPath();
      expectCleanFailure(cli([f, out.file, '--kappa-map', notJson]), out.dir, 'kappa map not JSON');
      const badRegex = writeInput('regex.json', new TextEncoder().encode('{"/(/": 0.1}'));
      out = outPath();
      expectCleanFailure(cli([f, out.file, '--kappa-map', badRegex]), out.dir, 'bad regex key');
      out = outPath();
      expectCleanFailure(cli([f, path.join(out.dir, 'no', 'such', 'dir', 'o.onnx'), '--kappa', '0.1']), out.dir, 'missing output folder');
    });

    test('refuses to overwrite the input without --in-place (same path, other spelling, symlink)', () => {
      const dir = path.join(tmp, 'inplace');
      fs.mkdirSync(dir);
      const original = featureModel().bytes();
      const f = writeInput('model.onnx', original, dir);
      fs.symlinkSync(f, path.join(dir, 'alias.onnx'));
      const snapshot = (): string[] => fs.readdirSync(dir).sort();
      const files = snapshot();
      for (const outArg of [f, path.join(dir, '.', '..', 'inplace', 'model.onnx'), path.join(dir, 'alias.onnx')]) {
        const r = cli([f, outArg, '--kappa', '0.1']);
        assert.equal(r.status, 2, `OUT ${outArg}: ${r.stderr}`);
        assert.match(r.stderr, /in-place/);
        assert.equal(r.stderr.trim().split('\n').length, 1);
      }
      const r = cli([f, '--kappa', '0.1']);
      assert.notEqual(r.status, 0, 'no OUT and no --in-place');
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.deepEqual(snapshot(), files, 'no files added');
      assert.ok(Buffer.from(fs.readFileSync(f)).equals(Buffer.from(original)), 'input untouched');
      // With --in-place it converts, atomically: no temp files left.
      const ok = cli([f, f, '--kappa', '0.1', '--in-place']);
      assert.equal(ok.status, 0, ok.stderr);
      assert.deepEqual(snapshot(), files);
      assert.equal(decodeModel(new Uint8Array(fs.readFileSync(f))).graph.nodes.filter((n) => n.opType === 'Relu').length, 0);
    });

    test('a forged retrofit record in the metadata is an error or ignored, never an internal error', () => {
      const records = [
        '{"format":1,"sites":[null]}', '{"format":1,"sites":[1, "x", []]}', '{"format":1,"sites":{}}', 'not json',
        '{"format":1,"sites":[{"graph":"main","node":"relu_a","target":"where","kappa":0.1}]}',
        '{"format":1,"sites":[{"graph":7,"node":null,"target":"thresholded-relu","kappa":"x"}]}',
      ];
      for (const rec of records) {
        const mb = featureModel();
        mb.model.setMetadata(RECORD_KEY, rec);
        const f = writeInput('forged.onnx', mb.bytes());
        for (const extra of [['--kappa', '0.2'], ['--list']]) {
          const out = outPath();
          const r = cli([f, out.file, ...extra]);
          assert.equal(r.signal, null);
          assert.doesNotMatch(r.stderr, /internal error/, `record ${rec} ${extra.join(' ')}: ${r.stderr}`);
          if (r.status !== 0) expectCleanFailure(r, out.dir, `record ${rec}`);
        }
      }
    });

    test('fuzz: ~200 mutated models through loadModel + retrofit + encode throw only JumpReluErrors, and never hang', async (t) => {
      const dir = path.join(tmp, 'fuzz');
      fs.mkdirSync(dir);
      const feature = featureModel().bytes();
      const seeds: FuzzSeed[] = [
        { name: 'feature', file: writeInput('f.onnx', feature, dir), count: 60, targets: ['thresholded-relu', 'where', 'function', 'custom'] },
        { name: 'feature→where', file: writeInput('fw.onnx', convertBytes(feature, 0.3, 'where'), dir), count: 50, targets: ['where', 'thresholded-relu'] },
        { name: 'feature→function', file: writeInput('ff.onnx', convertBytes(feature, 0.3, 'function'), dir), count: 40, targets: ['function', 'custom'] },
      ];
      if (fs.existsSync(RESNET20)) seeds.push({ name: 'resnet20', file: RESNET20, count: 50, targets: ['thresholded-relu', 'where'] });
      const worker = new Worker(new URL(import.meta.url), { workerData: { seeds, dir, rngSeed: 20240607 } });
      let last = '(none)';
      const result = await new Promise<FuzzResult>((resolve, reject) => {
        const timer = setTimeout(() => {
          void worker.terminate();
          reject(new Error(`fuzz did not finish in 60 s; last mutant started: ${last}`));
        }, 60_000);
        worker.on('message', (m: { started?: string } | FuzzResult) => {
          if ('started' in m) last = m.started!;
          else { clearTimeout(timer); resolve(m as FuzzResult); }
        });
        worker.on('error', (e) => { clearTimeout(timer); reject(e); });
      });
      await worker.terminate();
      t.diagnostic(`converted ${result.ok}, rejected ${JSON.stringify(result.rejected)}, other errors ${result.bad.length}`);
      assert.deepEqual(result.bad, [], 'only JumpReluError subclasses are thrown');
      const rejected = Object.values(result.rejected).reduce((a, b) => a + b, 0);
      assert.equal(result.ok + rejected, seeds.reduce((a, s) => a + s.count, 0));
      assert.ok(result.ok > 0 && rejected > 0, `both outcomes happen (ok ${result.ok}, rejected ${JSON.stringify(result.rejected)})`);
    });
  });
}
