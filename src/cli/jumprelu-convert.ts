#!/usr/bin/env node
// `jumprelu-convert IN OUT --kappa K` — the same as `jumprelu convert`.
import { convertOptions, runConvert, type ConvertArgs } from './convert-command.js';
import { runCli } from './main.js';

await runCli('jumprelu-convert', (y) =>
  y.command('$0 <input> [output]', 'replace ReLU with JumpReLU', (b) => convertOptions(b), (argv) => runConvert(argv as unknown as ConvertArgs)));
