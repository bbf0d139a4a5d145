// Start-up: `jumprelu convert`, `jumprelu --version` and `jumprelu-convert` load the converter only — not
// yargs, not onnxruntime-node, not the harness, not the gradient compiler — for --help, --version, --list
// and a conversion (issue 10: start-up time; the figures are in docs/converter.md, measured by
// bench/startup.bench.ts, never timed here). A module hook records every module URL a run resolves.

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

/** What a fast command line must not load: a package, or a layer of the project it does not need. */
function heavy(urls: readonly string[]): string[] {
  return urls.filter((u) => u.includes('/node_modules/onnxruntime') || u.includes('/node_modules/yargs')
    || u.includes('/src/autodiff/') || (u.includes('/src/runtime/') && !u.endsWith('/src/runtime/version.js')));
}

describe('CLI start-up loads only what the command needs', () => {
  let tmp: string;
  let register: string;
  let model: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-startup-'));
    fs.writeFileSync(path.join(tmp, 'hooks.mjs'), HOOKS);
    register = path.join(tmp, 'register.mjs');
    fs.writeFileSync(register, "import { register } from 'node:module';\nregister(new URL('./hooks.mjs', import.meta.url));\n");
    const mb = new ModelBuilder({ seed: 3 });
    const x = mb.main.input('x', [1, 4]);
    mb.main.output(mb.main.relu(mb.main.gemm(x, 3)));
    model = path.join(tmp, 'm.onnx');
    fs.writeFileSync(model, mb.bytes());
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The modules a run resolved (URLs), after checking it succeeded; its stdout too. */
  function imports(bin: string, args: string[]): { urls: string[]; stdout: string } {
    const r = spawnSync(process.execPath, ['--import', register, path.join(DIST, 'src/cli', bin), ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { urls: r.stderr.split('\n').filter((l) => l.startsWith('[import] ')).map((l) => l.slice(9)), stdout: r.stdout };
  }

  test('the hook sees what a command loads: `jumprelu --help` loads yargs and onnxruntime-node', () => {
    // the control: without it, an empty list (a hook that recorded nothing) would pass every test below
    const { urls } = imports('jumprelu.js', ['--help']);
    assert.ok(urls.some((u) => u.includes('/node_modules/yargs/')), 'yargs');
    assert.ok(urls.some((u) => u.includes('/node_modules/onnxruntime-node/')), 'onnxruntime-node');
    assert.ok(urls.some((u) => u.includes('/src/runtime/evaluate.js')), 'the harness');
  });

  for (const [bin, pre] of [['jumprelu.js', ['convert']], ['jumprelu-convert.js', []]] as const) {
    const line = `${bin.replace('.js', '')}${pre.length ? ` ${pre.join(' ')}` : ''}`;
    test(`${line}: --help, --version, --list and a conversion load no yargs, onnxruntime, harness or gradient compiler`, () => {
      const help = imports(bin, [...pre, '--help']);
      assert.match(help.stdout, new RegExp(`^${line} <input> \\[output\\]\\n`));
      const version = imports(bin, [...pre, '--version']);
      assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
      const list = imports(bin, [...pre, model, '--list']);
      assert.match(list.stdout, /1 site\(s\)\n$/);
      const out = path.join(tmp, `out-${bin}`);
      const run = imports(bin, [...pre, model, out, '--kappa', '0.5']);
      assert.ok(fs.statSync(out).size > 0, 'the conversion wrote its output');
      for (const r of [list, run]) assert.ok(r.urls.some((u) => u.endsWith('/src/passes/jumprelu.js')), 'the command ran the pass');
      for (const r of [help, version]) {
        const model = r.urls.filter((u) => u.includes('/src/ir/') && !/\/src\/ir\/(file-)?errors\.js$/.test(u));
        assert.deepEqual(model, [], 'help and version load no model code (the error classes only)');
      }
      for (const r of [help, version, list, run]) assert.deepEqual(heavy(r.urls), []);
    });
  }

  test('jumprelu --version loads no yargs, onnxruntime, harness or command', () => {
    const { urls, stdout } = imports('jumprelu.js', ['--version']);
    assert.equal(stdout, imports('jumprelu-convert.js', ['--version']).stdout);
    assert.deepEqual(heavy(urls), []);
    assert.deepEqual(urls.filter((u) => /\/src\/cli\/[a-z-]+-command\.js$/.test(u)), []);
  });
});
