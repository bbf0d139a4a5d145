// Big inline initializers left on disk by the loader (model-image.ts, file-span.ts): the saved bytes are
// exactly those of the eager path (the whole file decoded from memory), values read back are the file's,
// and a model file changed, truncated or replaced between load and save is refused with `input-changed`
// and leaves no output behind.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { decodeModel } from '../src/ir/decode.js';
import { encodeModel } from '../src/ir/encode.js';
import { JumpReluError } from '../src/ir/errors.js';
import { SpanSource, readSpan } from '../src/ir/file-span.js';
import { allTensors, loadModel, saveModel } from '../src/ir/io.js';
import type { Model } from '../src/ir/model.js';
import { SPAN_MIN } from '../src/ir/model-image.js';
import { Tensor } from '../src/ir/tensor.js';
import { Value } from '../src/ir/value.js';
import { retrofit } from '../src/index.js';
import { ChunkWriter } from '../src/ir/wire.js';
import { ModelBuilder, makeRng } from './helpers/build-model.js';

const CLI = fileURLToPath(new URL('../src/cli/jumprelu-convert.js', import.meta.url));

/** Four Conv 256×256×3×3 (2.36 MB of weights each: left on disk) + Relu blocks; biases of 1 KB stay in memory. */
function bigConvNet(): Uint8Array {
  const mb = new ModelBuilder({ seed: 3 });
  const g = mb.main;
  let x = g.input('x', [1, 256, 4, 4]);
  for (let i = 0; i < 4; i++) x = g.relu(g.conv(x, 256, 3, 1, { name: `conv${i}` }), { name: `relu${i}` });
  g.output(x);
  return mb.bytes();
}

/** The eager path: the whole file decoded from memory, as the loader did before spans. */
function eager(file: string): Model {
  return decodeModel(new Uint8Array(fs.readFileSync(file)), path.dirname(file));
}

function onDisk(m: Model): Tensor[] {
  return [...allTensors(m)].filter((t) => t.dataOnDisk !== null);
}

function expectInputChanged(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof JumpReluError, `not a JumpReluError: ${String(e)}`);
    assert.equal(e.code, 'input-changed');
    assert.equal(e.kind, 'io');
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

describe('initializers left on disk', () => {
  let tmp: string;
  let bytes: Uint8Array;
  let input: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-spans-'));
    bytes = bigConvNet();
    input = path.join(tmp, 'big.onnx');
    fs.writeFileSync(input, bytes);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const fresh = (name: string): string => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, bytes);
    return f;
  };
  /** Files in the folder other than the ones given: temp files left behind would show here. */
  const others = (...keep: string[]): string[] => fs.readdirSync(tmp).filter((f) => !keep.includes(f)).sort();

  test('the big weights stay on disk, the rest is in memory; values read back are the file\'s', () => {
    const m = loadModel(input);
    const e = eager(input);
    const lazy = onDisk(m);
    assert.equal(lazy.length, 4);
    for (const t of lazy) assert.ok(t.dataOnDisk!.length >= SPAN_MIN && t.name.startsWith('conv_w'));
    const eagerByName = new Map([...allTensors(e)].map((t) => [t.name, t]));
    for (const t of allTensors(m)) {
      const ref = eagerByName.get(t.name)!;
      assert.deepEqual(t.inlineRawData, ref.inlineRawData, t.name);
      assert.deepEqual(t.encode(), ref.encode(), t.name);
      assert.deepEqual(t.float32Data(() => new Uint8Array()), ref.float32Data(() => new Uint8Array()), t.name);
    }
  });

  test('load, retrofit, save: byte-identical to the eager path, through the library and the CLI', () => {
    const m = loadModel(input);
    retrofit(m, { kappa: 0.07 });
    const out = path.join(tmp, 'lib.onnx');
    saveModel(m, out);
    const e = eager(input);
    retrofit(e, { kappa: 0.07 });
    const want = encodeModel(e).toBytes();
    assert.ok(Buffer.from(want).equals(fs.readFileSync(out)), 'library output differs from the eager path');
    assert.ok(onDisk(m).length === 4, 'the data is still read from the input');

    const cliOut = path.join(tmp, 'cli.onnx');
    const r = spawnSync(process.execPath, [CLI, input, cliOut, '--kappa', '0.07'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Buffer.from(want).equals(fs.readFileSync(cliOut)), 'CLI output differs from the eager path');
    assert.deepEqual(others('big.onnx', 'lib.onnx', 'cli.onnx'), []);
    fs.rmSync(out);
    fs.rmSync(cliOut);
  });

  test('a renamed tensor whose data is on disk is saved like the eager one', () => {
    const m = loadModel(input);
    const e = eager(input);
    for (const model of [m, e]) {
      const t = [...allTensors(model)].find((x) => x.name === 'conv_w__1')!;
      t.name = 'renamed';
    }
    const out = path.join(tmp, 'renamed.onnx');
    saveModel(m, out);
    assert.ok(Buffer.from(encodeModel(e).toBytes()).equals(fs.readFileSync(out)));
    fs.rmSync(out);
  });

  test('one tensor written twice (two initializers sharing it) is copied twice', () => {
    const m = loadModel(input);
    const e = eager(input);
    for (const model of [m, e]) {
      const t = [...allTensors(model)].find((x) => x.name === 'conv_w__1')!;
      const v = new Value('twice');
      v.initializer = t;
      v.scope = model.graph;
      model.graph.initializers.set('twice', v);
    }
    const out = path.join(tmp, 'twice.onnx');
    saveModel(m, out);
    assert.ok(Buffer.from(encodeModel(e).toBytes()).equals(fs.readFileSync(out)));
    fs.rmSync(out);
  });

  test('saving with --external-data copies the data from the input into the data file', () => {
    const m = loadModel(input);
    const e = eager(input);
    const dirs = ['ext-lazy', 'ext-eager'].map((d) => path.join(tmp, d));
    for (const [i, model] of [m, e].entries()) {
      fs.mkdirSync(dirs[i]!);
      saveModel(model, path.join(dirs[i]!, 'm.onnx'), { externalData: { threshold: 1024 } });
    }
    for (const f of ['m.onnx', 'm.onnx.data']) {
      assert.ok(fs.readFileSync(path.join(dirs[0]!, f)).equals(fs.readFileSync(path.join(dirs[1]!, f))), f);
    }
    assert.ok(fs.statSync(path.join(dirs[0]!, 'm.onnx.data')).size > 4 * SPAN_MIN);
    // And that model (external data now) loads and saves back inline like the original.
    const back = loadModel(path.join(dirs[0]!, 'm.onnx'));
    assert.equal(onDisk(back).length, 0);
    for (const d of dirs) fs.rmSync(d, { recursive: true });
  });

  test('saving over the input file, then saving again: the data follows to the new file', () => {
    const f = fresh('inplace.onnx');
    const m = loadModel(f);
    retrofit(m, { kappa: 0.5 });
    saveModel(m, f);
    for (const t of onDisk(m)) assert.equal(t.dataOnDisk!.file, fs.realpathSync(f));
    const again = path.join(tmp, 'again.onnx');
    saveModel(m, again);
    assert.ok(fs.readFileSync(again).equals(fs.readFileSync(f)));
    const e = eager(input);
    retrofit(e, { kappa: 0.5 });
    assert.ok(Buffer.from(encodeModel(e).toBytes()).equals(fs.readFileSync(f)));
    fs.rmSync(f);
    fs.rmSync(again);
  });

  test('saving over the input a model with a renamed tensor, or with external data, leaves it usable: read and save again like the eager one', () => {
    for (const kind of ['renamed', 'external'] as const) {
      const f = fresh(`over-${kind}.onnx`);
      const again = path.join(tmp, `over-${kind}-again.onnx`);
      try {
        const m = loadModel(f);
        const e = eager(f);
        for (const model of [m, e]) {
          const t = [...allTensors(model)].find((x) => x.name === 'conv_w__1')!;
          if (kind === 'renamed') t.name = 'renamed';
        }
        saveModel(m, f, kind === 'external' ? { externalData: { threshold: 1024, location: `over-${kind}.data` } } : {});
        // The tensors whose data could not follow to the new file have it in memory; the others follow.
        for (const t of onDisk(m)) assert.equal(t.dataOnDisk!.file, fs.realpathSync(f));
        saveModel(m, again);
        assert.ok(Buffer.from(encodeModel(e).toBytes()).equals(fs.readFileSync(again)), `${kind}: second save differs from the eager path`);
        const name = kind === 'renamed' ? 'renamed' : 'conv_w__1';
        const values = (model: Model): Float32Array => [...allTensors(model)].find((x) => x.name === name)!.float32Data(() => assert.fail('no external data'));
        assert.deepEqual(values(m), values(e));
      } finally {
        for (const x of [f, again, path.join(tmp, `over-${kind}.data`)]) fs.rmSync(x, { force: true });
      }
    }
  });

  test('an input rewritten after loading is refused on save and on reading values; no output is left', () => {
    const f = fresh('changed.onnx');
    const m = loadModel(f);
    const t = onDisk(m)[0]!;
    // Same size, one weight byte different, mtime moved on.
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Uint8Array.of(bytes[t.dataOnDisk!.offset + 100]! ^ 0xff), 0, 1, t.dataOnDisk!.offset + 100);
    fs.closeSync(fd);
    fs.utimesSync(f, new Date(), new Date(Date.now() + 5000));
    const out = path.join(tmp, 'changed-out.onnx');
    expectInputChanged(() => saveModel(m, out));
    expectInputChanged(() => t.inlineRawData);
    expectInputChanged(() => t.encode());
    assert.deepEqual(others('big.onnx', 'changed.onnx'), []);
    fs.rmSync(f);
  });

  test('an input truncated after loading, or replaced by another file, is refused', () => {
    const f = fresh('truncated.onnx');
    const m = loadModel(f);
    fs.truncateSync(f, bytes.length - 10);
    expectInputChanged(() => saveModel(m, path.join(tmp, 'truncated-out.onnx')));

    const g = fresh('replaced.onnx');
    const m2 = loadModel(g);
    const other = fresh('other.onnx'); // same bytes, but another file
    fs.renameSync(other, g);
    expectInputChanged(() => saveModel(m2, path.join(tmp, 'replaced-out.onnx')));
    assert.deepEqual(others('big.onnx', 'truncated.onnx', 'replaced.onnx'), []);
    fs.rmSync(f);
    fs.rmSync(g);
  });

  test('a file truncated before loading gives the one-line format error it always gave', () => {
    for (const cut of [10, 3 * SPAN_MIN, bytes.length - 5]) {
      const f = path.join(tmp, 'cut.onnx');
      fs.writeFileSync(f, bytes.subarray(0, bytes.length - cut));
      let lazyError: unknown;
      let eagerError: unknown;
      try { loadModel(f); } catch (e) { lazyError = e; }
      try { decodeModel(new Uint8Array(fs.readFileSync(f))); } catch (e) { eagerError = e; }
      assert.ok(lazyError instanceof JumpReluError && lazyError.kind === 'invalid-model', String(lazyError));
      assert.equal((lazyError as Error).message, (eagerError as Error).message);
      const r = spawnSync(process.execPath, [CLI, f, path.join(tmp, 'cut-out.onnx'), '--kappa', '0.5'], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      fs.rmSync(f);
    }
    assert.deepEqual(others('big.onnx'), []);
  });

  test('a big raw_data the loader may not leave on disk (the tensor also says external) is read after all', () => {
    // ONNX forbids raw_data with data_location EXTERNAL, but a file can hold both: the tensor stays as it was.
    const dir = path.join(tmp, 'both');
    fs.mkdirSync(dir);
    const m = eager(input);
    const v = [...m.graph.initializers.values()].find((x) => x.name === 'conv_w')!;
    const t = v.initializer!;
    const w = new ChunkWriter();
    w.push(t.encode());
    for (const [k, val] of [['location', 'w.bin'], ['offset', '0']]) {
      const kv = new ChunkWriter();
      kv.stringField(1, k);
      kv.stringField(2, val);
      w.messageField(13, kv);
    }
    w.int64Field(14, 1);
    v.initializer = Tensor.decode(w.toBytes());
    fs.writeFileSync(path.join(dir, 'w.bin'), t.inlineRawData!);
    const f = path.join(dir, 'both.onnx');
    const want = encodeModel(m).toBytes();
    fs.writeFileSync(f, want);
    const loaded = loadModel(f);
    assert.equal(onDisk(loaded).length, 3);
    const both = [...allTensors(loaded)].find((x) => x.name === 'conv_w')!;
    assert.equal(both.dataOnDisk, null);
    assert.deepEqual(both.inlineRawData, t.inlineRawData);
    const out = path.join(dir, 'out.onnx');
    saveModel(loaded, out);
    assert.ok(Buffer.from(want).equals(fs.readFileSync(out)));
    fs.rmSync(dir, { recursive: true });
  });

  test('mutated headers: leaving data on disk gives the same model or the same error as reading it all', () => {
    // The header scan must frame every field exactly as the decoder does, or give up; a mutant the two read
    // differently would show here as a different error or different saved bytes.
    const spans = onDisk(loadModel(input)).map((t) => t.dataOnDisk!);
    const rng = makeRng(11);
    const headerPositions: number[] = [];
    let from = 0;
    for (const s of spans) {
      for (let p = from; p < s.offset; p++) headerPositions.push(p);
      from = s.offset + s.length;
    }
    for (let p = from; p < bytes.length; p++) headerPositions.push(p);
    const f = path.join(tmp, 'mutant.onnx');
    const out = path.join(tmp, 'mutant-out.onnx');
    const outcome = (leaveDataOnDisk: boolean): string | Buffer => {
      try {
        saveModel(loadModel(f, { leaveDataOnDisk }), out);
        const b = fs.readFileSync(out);
        fs.rmSync(out);
        return b;
      } catch (e) {
        return `${(e as Error).name} ${(e as JumpReluError).code} ${(e as Error).message}`;
      }
    };
    let errors = 0;
    for (let i = 0; i < 40; i++) {
      const mutant = Buffer.from(bytes);
      const edits = 1 + Math.floor(rng() * 3);
      for (let k = 0; k < edits; k++) {
        // Mostly the few bytes before a span (raw_data's tag and length, the tensor's fields), else anywhere outside.
        const near = spans[Math.floor(rng() * spans.length)]!.offset - 1 - Math.floor(rng() * 40);
        const pos = rng() < 0.6 ? near : headerPositions[Math.floor(rng() * headerPositions.length)]!;
        mutant[pos] = Math.floor(rng() * 256);
      }
      fs.writeFileSync(f, mutant);
      const lazy = outcome(true);
      const eagerOutcome = outcome(false);
      if (typeof lazy === 'string') errors++;
      if (typeof lazy === 'string' || typeof eagerOutcome === 'string') assert.equal(lazy, eagerOutcome, `mutant ${i}`);
      else assert.ok(lazy.equals(eagerOutcome), `mutant ${i}: saved bytes differ`);
    }
    assert.ok(errors > 0 && errors < 40, `${errors} of 40 mutants failed to load: the mix should have both`);
    fs.rmSync(f);
  });

  test('odd layouts of big files: each loads, reads and saves as when the whole file is read, or fails the same', () => {
    // Hand-made wire bytes, each file over the 8 MiB the loader needs before it leaves anything on disk.
    const varint = (v: number, width = 0): number[] => {
      const out: number[] = [];
      do { out.push((v % 128) | 0x80); v = Math.floor(v / 128); } while (v > 0 || out.length < width);
      out[out.length - 1]! &= 0x7f;
      return out;
    };
    const field = (no: number, payload: Uint8Array, o: { lenWidth?: number; tagWidth?: number } = {}): Uint8Array =>
      Buffer.concat([Uint8Array.from([...varint(no * 8 + 2, o.tagWidth), ...varint(payload.length, o.lenWidth)]), payload]);
    const int = (no: number, v: number): Uint8Array => Uint8Array.from([...varint(no * 8), ...varint(v)]);
    const cat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
    const str = (t: string): Uint8Array => new TextEncoder().encode(t);
    // Payloads are slices of one random pool, at varying offsets so no two are alike.
    const rng = makeRng(5);
    const pool = new Uint8Array(12 << 20);
    for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(rng() * 256);
    let at = 0;
    const data = (bytes: number): Uint8Array => {
      at = (at + 4099) % (pool.length - bytes);
      return pool.subarray(at, at + bytes);
    };
    const N = 600_000; // float32 elements: 2.4 MB a tensor
    const tensor = (name: string, o: { type?: number; count?: number; raw?: Uint8Array[]; rawFirst?: boolean; lenWidth?: number; tagWidth?: number; tail?: Uint8Array } = {}): Uint8Array => {
      const type = o.type ?? 1;
      const count = o.count ?? N;
      const head = cat(int(1, count), int(2, type), field(8, str(name)));
      const raws = (o.raw ?? [data(count * ({ 1: 4, 3: 1, 10: 2 } as Record<number, number>)[type]!)]).map((r) => field(9, r, o));
      return o.rawFirst ? cat(...raws, head, o.tail ?? new Uint8Array()) : cat(head, ...raws, o.tail ?? new Uint8Array());
    };
    const node = (op: string, inputs: string[], outputs: string[], attrs: Uint8Array[] = []): Uint8Array =>
      cat(...inputs.map((i) => field(1, str(i))), ...outputs.map((o) => field(2, str(o))), field(4, str(op)), ...attrs.map((a) => field(5, a)));
    const tensorAttr = (name: string, t: Uint8Array): Uint8Array => cat(field(1, str(name)), field(5, t), int(20, 4));
    const graphAttr = (name: string, g: Uint8Array): Uint8Array => cat(field(1, str(name)), field(6, g), int(20, 5));
    const info = (name: string): Uint8Array => field(1, str(name));
    const graph = (inits: Uint8Array[], o: { nodes?: Uint8Array[]; tail?: Uint8Array } = {}): Uint8Array =>
      cat(...(o.nodes ?? [node('Identity', ['x'], ['y'])]).map((n) => field(1, n)), field(2, str('g')), ...inits.map((t) => field(5, t)),
        field(11, info('x')), field(12, info('y')), o.tail ?? new Uint8Array());
    const model = (g: Uint8Array, o: { graphLenWidth?: number; tail?: Uint8Array } = {}): Uint8Array =>
      cat(int(1, 8), field(7, g, { lenWidth: o.graphLenWidth }), field(8, int(2, 17)), o.tail ?? new Uint8Array());
    const four = (): Uint8Array[] => [0, 1, 2, 3].map((i) => tensor(`w${i}`));
    const sub = graph([tensor('sub_w')], { nodes: [node('Identity', ['sub_w'], ['y'])] });
    const layouts: Record<string, Uint8Array> = {
      'raw_data before dims': model(graph([0, 1, 2, 3].map((i) => tensor(`w${i}`, { rawFirst: true })))),
      'two raw_data (both big)': model(graph([...four(), tensor('two', { raw: [data(4 * N), data(4 * N)] })])),
      'two raw_data (small, then big)': model(graph([...four(), tensor('two', { raw: [data(8), data(4 * N)] })])),
      'raw_data length as a 10-byte varint': model(graph([...four(), tensor('long', { lenWidth: 10 })])),
      'raw_data tag as a padded varint': model(graph([...four(), tensor('padded', { tagWidth: 3 })])),
      'graph length as a padded varint': model(graph(four()), { graphLenWidth: 9 }),
      'a big unknown field after raw_data': model(graph([...four(), tensor('tail', { tail: field(99, data(3 << 20)) })])),
      'a big unknown model field': model(graph(four()), { tail: field(99, data(3 << 20)) }),
      'float16, int8 and a wrong-size tensor': model(graph([...four(), tensor('h', { type: 10, count: 2 * N }), tensor('i8', { type: 3, count: 4 * N })])),
      'raw_data shorter than its dims': model(graph([...four(), tensor('short', { raw: [data(4 * N - 4)] })])),
      'big tensors in a node attribute and a subgraph': model(graph(four(), {
        nodes: [node('Constant', [], ['c'], [tensorAttr('value', tensor('attr_t'))]), node('If', ['x'], ['y'], [graphAttr('then_branch', sub), graphAttr('else_branch', sub)])],
      })),
      'two graph fields': cat(model(graph(four())), field(7, graph([tensor('second')]))),
      'truncated inside a big raw_data': model(graph([...four(), ...four()])).subarray(0, 12_000_000),
      'one byte short': model(graph(four())).subarray(0, model(graph(four())).length - 1),
    };
    const f = path.join(tmp, 'layout.onnx');
    const out = path.join(tmp, 'layout-out.onnx');
    const outcome = (leaveDataOnDisk: boolean): { left: number; result: string | Buffer; values: string[] } => {
      let left = 0;
      try {
        const m = loadModel(f, { leaveDataOnDisk });
        left = onDisk(m).length;
        const values = [...allTensors(m)].filter((t) => t.dataType === 1 && !t.external)
          .map((t) => Buffer.from(t.float32Data(() => assert.fail('no external data')).buffer).toString('base64'));
        saveModel(m, out);
        const result = fs.readFileSync(out);
        fs.rmSync(out);
        return { left, result, values };
      } catch (e) {
        assert.ok(e instanceof JumpReluError && !e.message.includes('\n'), `not a one-line JumpReluError: ${String(e)}`);
        return { left, result: `${e.kind} ${e.code} ${e.message}`, values: [] };
      }
    };
    let leftSomewhere = 0;
    for (const [name, bytes] of Object.entries(layouts)) {
      assert.ok(bytes.length >= 8 << 20, `${name}: under 8 MiB`);
      fs.writeFileSync(f, bytes);
      const lazy = outcome(true);
      const whole = outcome(false);
      assert.equal(whole.left, 0);
      if (lazy.left > 0) leftSomewhere++;
      if (typeof lazy.result === 'string' || typeof whole.result === 'string') assert.equal(lazy.result, whole.result, name);
      else assert.ok(lazy.result.equals(whole.result), `${name}: saved bytes differ`);
      assert.deepEqual(lazy.values, whole.values, `${name}: values differ`);
    }
    assert.ok(leftSomewhere >= 5, `data was left on disk in only ${leftSomewhere} layouts`);
    fs.rmSync(f);
  });

  test('a span source refuses a file that changed under it', () => {
    const f = fresh('source.onnx');
    const t = onDisk(loadModel(f))[0]!;
    const span = t.dataOnDisk!;
    assert.deepEqual(readSpan(span), bytes.subarray(span.offset, span.offset + span.length));
    const src = SpanSource.open(span);
    try {
      src.check();
      fs.appendFileSync(f, Uint8Array.of(0));
      expectInputChanged(() => src.check());
    } finally {
      src.close();
    }
    expectInputChanged(() => SpanSource.open(span));
    fs.rmSync(f);
    expectInputChanged(() => readSpan(span));
  });
});
