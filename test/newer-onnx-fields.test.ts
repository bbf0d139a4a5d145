// Fields newer than onnx-proto's ONNX 1.10 schema survive conversion: model configuration, node/graph/
// value_info metadata_props, function overloads, float8 and int4 initializers. The model is written and
// checked by Python's onnx (1.23 here), which knows those fields; the converter does not.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { decodeModel } from '../src/ir/decode.js';
import { encodeModel } from '../src/ir/encode.js';
import { repoRoot } from './fixtures.js';

const py = (script: string, ...args: string[]) =>
  spawnSync('python3', [path.join(repoRoot(), 'test', 'py', script), ...args], { encoding: 'utf8' });

const hasOnnx = spawnSync('python3', ['-c', 'import onnx; assert tuple(map(int, onnx.__version__.split(".")[:2])) >= (1, 18)'], { stdio: 'ignore' }).status === 0;

test('newer-ONNX fields survive decode→encode and conversion', { skip: hasOnnx ? false : 'python3 with onnx ≥ 1.18 not installed' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-newer-'));
  const src = path.join(dir, 'newer.onnx');
  const made = py('make_newer_onnx_model.py', src);
  assert.equal(made.status, 0, made.stderr);
  const bytes = fs.readFileSync(src);
  assert.ok(Buffer.from(encodeModel(decodeModel(new Uint8Array(bytes))).toBytes()).equals(bytes), 'round trip changed bytes');
  const out = path.join(dir, 'converted.onnx');
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'dist', 'src', 'cli', 'jumprelu-convert.js'), src, out, '--kappa', '0.5'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const checked = py('check_newer_onnx_model.py', src, out);
  assert.equal(checked.status, 0, checked.stderr);
  assert.equal(checked.stdout.trim(), 'ok');
  fs.rmSync(dir, { recursive: true, force: true });
});
