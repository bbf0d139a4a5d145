#!/usr/bin/env node
// `jumprelu <command>`: convert (and, as they land, grad, eval, tune).
import { convertCommand } from './convert-command.js';
import { demoCommand } from './demo-command.js';
import { runCli } from './main.js';

await runCli('jumprelu', (y) => y.command(convertCommand).command(demoCommand).demandCommand(1, 'give a command (see --help)'));
