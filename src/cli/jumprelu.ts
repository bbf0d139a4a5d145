#!/usr/bin/env node
// `jumprelu <command>`: convert, grad, eval, tune, demo, detect, merge. Only the command named on the line is
// loaded, so `jumprelu convert` starts without onnxruntime-node and the harness; without one (or for
// `jumprelu --help`) all are.
import type { CommandModule } from 'yargs';
import { runCli } from './main.js';

type AnyCommand = CommandModule<object, never>;
const COMMANDS: Record<string, () => Promise<AnyCommand>> = {
  convert: async () => (await import('./convert-command.js')).convertCommand as AnyCommand,
  grad: async () => (await import('./grad-command.js')).gradCommand as AnyCommand,
  eval: async () => (await import('./eval-command.js')).evalCommand as AnyCommand,
  tune: async () => (await import('./tune-command.js')).tuneCommand as AnyCommand,
  demo: async () => (await import('./demo-command.js')).demoCommand as AnyCommand,
  detect: async () => (await import('./detect-command.js')).detectCommand as AnyCommand,
  merge: async () => (await import('./merge-command.js')).mergeCommand as AnyCommand,
};
const named = process.argv.slice(2).find((a) => !a.startsWith('-'));
const load = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
const commands = await Promise.all(load.map((f) => f()));

await runCli('jumprelu', (y) => commands.reduce((acc, c) => acc.command(c), y).demandCommand(1, 'give a command (see --help)'));
