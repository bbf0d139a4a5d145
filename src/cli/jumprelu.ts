#!/usr/bin/env node
// `jumprelu <command>`: convert, grad, eval, tune, demo.
import { convertCommand } from './convert-command.js';
import { demoCommand } from './demo-command.js';
import { detectCommand } from './detect-command.js';
import { evalCommand } from './eval-command.js';
import { gradCommand } from './grad-command.js';
import { tuneCommand } from './tune-command.js';
import { runCli } from './main.js';

await runCli('jumprelu', (y) => y.command(convertCommand).command(gradCommand).command(evalCommand).command(tuneCommand).command(demoCommand).command(detectCommand).demandCommand(1, 'give a command (see --help)'));
