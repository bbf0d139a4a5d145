// Codec cases the converter must refuse or keep exactly (issue 10): a tensor whose external_data names
// a key twice is refused (ONNX Runtime and onnx.checker refuse it too), and a sparse initializer whose
// values live in an external file is checked like any external tensor on load and stays sparse, with its
// file copied, when the model is saved elsewhere.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ExternalDataError } from '../src/ir/errors.js';
import { loadModel, saveModel } from '../src/ir/io.js';
import { ChunkWriter } from '../src/ir/wire.js';

/** A TensorProto: float32 or int64 data inline, or float32 data in an external file. */
function tensorProto(o: { name: string; dims: number[]; type: number; int64s?: number[]; floats?: number[]; external?: Array<[string, string]> }): ChunkWriter {
  const w = new ChunkWriter();
  for (const d of o.dims) w.int64Field(1, d);
  w.int64Field(2, o.type);
  if (o.int64s) for (const v of o.int64s) w.int64Field(7, v);
  w.stringField(8, o.name);
  if (o.floats) w.bytesField(9, new Uint8Array(Float32Array.from(o.floats).buffer));
  if (o.external) {
    for (const [k, v] of o.external) {
      const kv = new ChunkWriter();
      kv.stringField(1, k);
      kv.stringField(2, v);
      w.messageField(13, kv);
    }
    w.int64Field(14, 1);
  }
  return w;
}

function valueInfo(name: string, dims: number[]): ChunkWriter {
  const shape = new ChunkWriter();
  for (const d of dims) {
    const dim = new ChunkWriter();
    dim.int64Field(1, d);
    shape.messageField(1, dim);
  }
  const tt = new ChunkWriter();
  tt.int64Field(1, 1);
  tt.messageField(2, shape);
  const type = new ChunkWriter();
  type.messageField(1, tt);
  const vi = new ChunkWriter();
  vi.stringField(1, name);
  vi.messageField(2, type);
  return vi;
}

/** y = x + w, with w a dense initializer or a sparse one, as model bytes. */
function addModel(w: { dense?: ChunkWriter; sparse?: ChunkWriter }): Uint8Array {
  const g = new ChunkWriter();
  const node = new ChunkWriter();
  node.stringField(1, 'x');
  node.stringField(1, 'w');
  node.stringField(2, 'y');
  node.stringField(4, 'Add');
  g.messageField(1, node);
  g.stringField(2, 'g');
  if (w.dense) g.messageField(5, w.dense);
  g.messageField(11, valueInfo('x', [4]));
  g.messageField(12, valueInfo('y', [4]));
  if (w.sparse) g.messageField(15, w.sparse);
  const m = new ChunkWriter();
  m.int64Field(1, 8);
  m.messageField(7, g);
  const opset = new ChunkWriter();
  opset.int64Field(2, 13);
  m.messageField(8, opset);
  return m.toBytes();
}

/** A SparseTensorProto of dims [4] with two values (external, in `file`) at indices 0 and 3. */
function sparseW(file: string): ChunkWriter {
  const s = new ChunkWriter();
  s.messageField(1, tensorProto({ name: 'w', dims: [2], type: 1, external: [['location', file]] }));
  s.messageField(2, tensorProto({ name: '', dims: [2], type: 7, int64s: [0, 3] }));
  s.int64Field(3, 4);
  return s;
}

describe('codec: external data keys and sparse external data', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ir-codec-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('an external_data key given twice is refused with a stable code', () => {
    const dir = path.join(tmp, 'dup');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.bin'), new Uint8Array(16));
    fs.writeFileSync(path.join(dir, 'b.bin'), new Uint8Array(16));
    for (const [key, entries] of [
      ['location', [['location', 'a.bin'], ['location', 'b.bin']]],
      ['offset', [['location', 'a.bin'], ['offset', '0'], ['offset', '8']]],
      ['length', [['location', 'a.bin'], ['length', '16'], ['length', '16']]],
    ] as Array<[string, Array<[string, string]>]>) {
      const file = path.join(dir, `${key}.onnx`);
      fs.writeFileSync(file, addModel({ dense: tensorProto({ name: 'w', dims: [4], type: 1, external: entries }) }));
      assert.throws(() => loadModel(file), (e: unknown) =>
        e instanceof ExternalDataError && e.code === 'external-data-duplicate-key' && e.kind === 'invalid-model'
        && e.message === `tensor 'w': external data key '${key}' is given twice`, key);
    }
    // The same model with each key once loads.
    const ok = path.join(dir, 'ok.onnx');
    fs.writeFileSync(ok, addModel({ dense: tensorProto({ name: 'w', dims: [4], type: 1, external: [['location', 'a.bin'], ['offset', '0'], ['length', '16']] }) }));
    assert.equal(loadModel(ok).graph.initializers.get('w')!.initializer!.externalBytes!.length, 16);
  });

  test('sparse external data: its location is checked on load, and saving elsewhere keeps it sparse and copies its file', () => {
    const dir = path.join(tmp, 'sparse');
    const out = path.join(tmp, 'sparse-out');
    fs.mkdirSync(dir);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(Float32Array.from([1.5, -2]).buffer));
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, addModel({ sparse: sparseW('w.bin') }));
    const m = loadModel(file);
    assert.equal(m.graph.sparseInitializers.length, 1);
    assert.equal(m.graph.initializers.size, 0);

    // Saved in another folder, with --external-data for the rest: still one sparse initializer, no dense
    // copy, and its data file beside the output with the same bytes.
    const saved = path.join(out, 'model.onnx');
    const r = saveModel(m, saved, { externalData: { threshold: 0 } });
    assert.ok(r.externalFiles.includes(path.join(out, 'w.bin')), `copied: ${r.externalFiles.join(', ')}`);
    assert.deepEqual([...fs.readFileSync(path.join(out, 'w.bin'))], [...fs.readFileSync(path.join(dir, 'w.bin'))]);
    const back = loadModel(saved);
    assert.equal(back.graph.sparseInitializers.length, 1);
    assert.equal(back.graph.initializers.size, 0, 'the sparse initializer was not written dense');
    assert.ok(Buffer.from(back.graph.sparseInitializers[0]!.bytes).equals(Buffer.from(m.graph.sparseInitializers[0]!.bytes)));

    // A sparse tensor whose external location leaves the folder is refused like a dense one.
    const evil = path.join(dir, 'evil.onnx');
    fs.writeFileSync(evil, addModel({ sparse: sparseW('../sparse-out/w.bin') }));
    assert.throws(() => loadModel(evil), (e: unknown) => e instanceof ExternalDataError && e.code === 'external-data-escape');
    const missing = path.join(dir, 'missing.onnx');
    fs.writeFileSync(missing, addModel({ sparse: sparseW('nowhere.bin') }));
    assert.throws(() => loadModel(missing), (e: unknown) => e instanceof ExternalDataError && e.code === 'external-data-missing');
  });

  test('a tensor with raw_data given twice has the last one, as protobuf (onnx.load, ONNX Runtime) reads it', () => {
    // Two length-delimited raw_data fields, then one of the wrong wire type (protobuf keeps that as an
    // unknown field, so it is not the data). Taking the first, as the codec did, gave passes other weights
    // than the runtime runs with.
    const w = tensorProto({ name: 'w', dims: [4], type: 1, floats: [1, 2, 3, 4] });
    w.bytesField(9, new Uint8Array(Float32Array.from([5, 6, 7, 8]).buffer));
    w.int64Field(9, 3);
    const file = path.join(tmp, 'two-raw.onnx');
    fs.writeFileSync(file, addModel({ dense: w }));
    const t = loadModel(file).graph.initializers.get('w')!.initializer!;
    assert.deepEqual([...t.float32Data(() => assert.fail('not external'))], [5, 6, 7, 8]);
    assert.equal(t.inlineRawLength, 16);
  });
});
