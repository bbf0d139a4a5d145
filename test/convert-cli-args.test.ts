// The `jumprelu-convert` bin parses its argv without yargs (start-up time); `jumprelu convert` parses the
// same options with yargs. Both must read every command line alike: the same arguments, or the same
// one-line usage error. Each case here runs through both parsers in-process.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import yargs from 'yargs';
import { UsageError } from '../src/ir/errors.js';
import { convertOptions } from '../src/cli/convert-command.js';
import { CONVERT_OPTIONS, type ConvertArgs, convertHelp, parseConvertArgv } from '../src/cli/convert-options.js';

type Outcome = { args: Record<string, unknown> } | { error: string } | { help: true } | { version: true };

/** The fields of ConvertArgs (yargs adds aliases, kebab spellings and `_`/`$0`, which the command ignores). */
const FIELDS = ['input', 'output', ...CONVERT_OPTIONS.map((o) => o.name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()))];

function pick(a: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FIELDS) if (a[k] !== undefined) out[k] = a[k];
  return out;
}

async function viaYargs(argv: string[]): Promise<Outcome> {
  if (argv.includes('--help')) return { help: true };
  if (argv.includes('--version')) return { version: true };
  let got: ConvertArgs | null = null;
  try {
    await yargs(argv).scriptName('jumprelu-convert')
      .command('$0 <input> [output]', 'replace ReLU with JumpReLU', (b) => convertOptions(b), (a) => { got = a as unknown as ConvertArgs; })
      .strict().help(false).version(false)
      .fail((msg, err) => { throw new UsageError(err?.message ?? msg); })
      .exitProcess(false)
      .parseAsync();
  } catch (e) {
    return { error: (e as Error).message.replace(/\s*\n\s*/g, ' ') };
  }
  return { args: pick(got! as unknown as Record<string, unknown>) };
}

function viaBin(argv: string[]): Outcome {
  try {
    const r = parseConvertArgv(argv);
    if (r.kind === 'help') return { help: true };
    if (r.kind === 'version') return { version: true };
    return { args: pick(r.args as unknown as Record<string, unknown>) };
  } catch (e) {
    assert.ok(e instanceof UsageError, `a usage error (exit 2), got ${String(e)}`);
    return { error: e.message };
  }
}

const CASES: string[][] = [
  ['m.onnx', 'o.onnx', '--kappa', '0.5'],
  ['m.onnx', 'o.onnx', '-k', '0.5', '--target', 'where'],
  ['m.onnx', 'o.onnx', '-k0.25'],
  ['m.onnx', 'o.onnx', '--kappa=1e-3', '--grad-kappa=0'],
  ['m.onnx', '--list'],
  ['m.onnx', '--list', '--json', '--kappa', '0.3', '--relu6', '--require', 'all'],
  ['m.onnx', 'o.onnx', '--kappa-map', 'map.json', '--only-mapped'],
  ['m.onnx', 'o.onnx', '--kappaMap', 'map.json', '--onlyMapped'],
  ['m.onnx', 'o.onnx', '--kappa', '0.5', '--external-data', '1024', '--external-data-location', 'w.bin'],
  ['m.onnx', '--in-place', '--kappa', '0.5', '--dry-run', '--no-json', '-v'],
  ['m.onnx', 'o.onnx', '--kappa', '0.5', '--emit-customops', 'ops', '--target=custom'],
  ['m.onnx', 'o.onnx', '--kappa', '0.5', '--relu6=false', '--json', 'true'],
  ['m.onnx', 'o.onnx', '--kappa', '-1'],
  ['m.onnx', 'o.onnx', '--', '--kappa'],
  ['m.onnx', '--', 'o.onnx'],
  ['m.onnx', '--list', 'yes', '--json=0', '--kappa', '1', '--kappa-map'],
  ['m.onnx', '--bogus', 'val'],
  ['m.onnx', '--bogus', '--list', '--other'],
  ['m.onnx', '-h'],
  ['m.onnx', '--no-kappa'],
  ['--', 'm.onnx'],
  // Refused alike:
  [],
  ['--kappa', '0.5'],
  ['a', 'b', 'c', '--kappa', '1'],
  ['m.onnx', '--bogus'],
  ['m.onnx', '--target', 'foo'],
  ['m.onnx', 'o.onnx', '--kappa'],
  ['m.onnx', 'o.onnx', '--kappa', ''],
  ['m.onnx', 'o.onnx', '--kappa', 'abc'],
  ['m.onnx', 'o.onnx', '--kappa', '1', '--kappa', '2'],
  ['m.onnx', 'o.onnx', '--kappa', '1', '--grad-kappa', ' '],
  ['m.onnx', '--help'],
  ['--version'],
];

test('jumprelu-convert parses every command line as `jumprelu convert` (yargs) does', async () => {
  for (const argv of CASES) {
    assert.deepEqual(viaBin(argv), await viaYargs(argv), argv.join(' '));
  }
});

test('jumprelu-convert --help lists every option with its type, choices and default', () => {
  const help = convertHelp('jumprelu-convert');
  assert.match(help, /^jumprelu-convert <input> \[output\]\n\nreplace ReLU with JumpReLU\n/);
  for (const o of CONVERT_OPTIONS) {
    const line = help.split('\n').find((l) => l.includes(`--${o.name} `))!;
    assert.ok(line, o.name);
    assert.ok(line.includes(o.describe) && line.includes(`[${o.type}]`), line);
    if (o.alias) assert.ok(line.includes(`-${o.alias}, --${o.name}`), line);
  }
  assert.match(help, /--target .*\[choices: "thresholded-relu", "where", "function", "custom"\] \[default: "thresholded-relu"\]/);
});
