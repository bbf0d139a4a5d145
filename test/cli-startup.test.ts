// Start-up: `jumprelu convert` and `jumprelu-convert` load the converter only — not onnxruntime-node,
// not the harness, not the gradient compiler — for --help and for a conversion (issue 10: start-up time;
// the figures are in docs/converter.md, measured by bench/startup.bench.ts, never timed here).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ModelBuilder } from './helpers/build-model.js';

const DIST = fileURLToPath(new URL('..', import.meta.url));
const HOOKS = `import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  writeSync(2, '[import] ' + r.url + '\\n');
  return r;
}
`;

describe('CLI start-up loads only what the command needs', () => {
  let tmp: string;
  let register: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-startup-'));
    fs.writeFileSync(path.join(tmp, 'hooks.mjs'), HOOKS);
    register = path.join(tmp, 'register.mjs');
    fs.writeFileSync(register, "import { register } from 'node:module';\nregister(new URL('./hooks.mjs', import.meta.url));\n");
    const mb = new ModelBuilder({ seed: 3 });
    const x = mb.main.input('x', [1, 4]);
    mb.main.output(mb.main.relu(mb.main.gemm(x, 3)));
    fs.writeFileSync(path.join(tmp, 'm.onnx'), mb.bytes());
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The modules a run imported (file URLs), after checking it succeeded. */
  function imports(bin: string, args: string[]): string[] {
    const r = spawnSync(process.execPath, ['--import', register, path.join(DIST, 'src/cli', bin), ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stderr.split('\n').filter((l) => l.startsWith('[import] ')).map((l) => l.slice(9));
  }

  for (const [bin, pre] of [['jumprelu.js', ['convert']], ['jumprelu-convert.js', []]] as const) {
    test(`${bin} ${pre.join(' ')}: --help and a conversion load no onnxruntime, harness or gradient compiler`, () => {
      const help = imports(bin, [...pre, '--help']);
      const run = imports(bin, [...pre, path.join(tmp, 'm.onnx'), path.join(tmp, `out-${bin}`), '--kappa', '0.5']);
      assert.ok(run.some((u) => u.endsWith('/src/passes/jumprelu.js')), 'the conversion ran the pass');
      assert.ok(!help.some((u) => u.includes('/src/ir/io.js') || u.includes('/src/passes/jumprelu.js')), 'help loads no model code');
      for (const list of [help, run]) {
        const heavy = list.filter((u) => u.includes('onnxruntime') || u.includes('/src/autodiff/')
          || (u.includes('/src/runtime/') && !u.endsWith('/src/runtime/version.js')));
        assert.deepEqual(heavy, []);
      }
    });
  }
});
