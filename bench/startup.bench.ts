// Start-up time of the converter's command lines against `node -e ''` in the same run (issue 10: at
// most 60 ms more). Alternated order, median of RUNS wall-clock times per command; the load average is
// printed with the figures (the machine is shared: compare against the baseline of the same run).
//   npm run bench  (or: node dist/bench/startup.bench.js [RUNS])

import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(dist, 'src', 'cli');
// the bundled default LeNetLike (package root = dist/..): --list reads and decodes a real model
const lenet = path.join(dist, '..', 'fixtures', 'default', 'lenet_mnist_baseline.onnx');
const RUNS = Number(process.argv[2] ?? 21);

const commands: Array<[string, string[]]> = [
  ["node -e ''", ['-e', '']],
  ['jumprelu-convert --help', [path.join(cli, 'jumprelu-convert.js'), '--help']],
  ['jumprelu convert --help', [path.join(cli, 'jumprelu.js'), 'convert', '--help']],
  ['jumprelu --version', [path.join(cli, 'jumprelu.js'), '--version']],
  ['jumprelu-convert lenet --list', [path.join(cli, 'jumprelu-convert.js'), lenet, '--list']],
  ['jumprelu convert lenet --list', [path.join(cli, 'jumprelu.js'), 'convert', lenet, '--list']],
  ['jumprelu eval --help (yargs)', [path.join(cli, 'jumprelu.js'), 'eval', '--help']],
  ["node -e \"import('yargs')\"", ['--input-type=module', '-e', "await import('yargs'); await import('yargs/helpers')"]],
  ['jumprelu --help (all commands)', [path.join(cli, 'jumprelu.js'), '--help']],
];

function once(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(', ');
const loadBefore = load();
const times = commands.map(() => [] as number[]);
for (let i = 0; i < RUNS; i++) {
  // Alternate the order each round so drift on a shared machine hits every command alike.
  const order = i % 2 === 0 ? commands.map((_, k) => k) : commands.map((_, k) => commands.length - 1 - k);
  for (const k of order) times[k]!.push(once(commands[k]![1]));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(times[0]!);
console.log(`\nstart-up, median of ${RUNS} alternated runs (wall clock, ms); load average (1, 5, 15 min) ${loadBefore} before, ${load()} after, on ${os.availableParallelism()} cores`);
for (const [k, [name]] of commands.entries()) {
  const m = median(times[k]!);
  console.log(`  ${name.padEnd(34)} ${m.toFixed(1).padStart(7)} ms  ${k === 0 ? '' : `+${(m - base).toFixed(1)} ms over node -e ''`}`);
}
