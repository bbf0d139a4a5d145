#!/usr/bin/env node
// `jumprelu <command>`: convert, grad, demo (and, as they land, eval, tune).
import { convertCommand } from './convert-command.js';
import { demoCommand } from './demo-command.js';
import { gradCommand } from './grad-command.js';
import { runCli } from './main.js';

await runCli('jumprelu', (y) => y.command(convertCommand).command(gradCommand).command(demoCommand).demandCommand(1, 'give a command (see --help)'));
