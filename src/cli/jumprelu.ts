#!/usr/bin/env node
// `jumprelu <command>`: convert, grad, eval, tune, demo, detect, merge. `jumprelu convert …` and a bare
// `jumprelu --version` take a fast path that loads neither yargs nor onnxruntime-node (convert-main.ts;
// start-up time, docs/converter.md). Every other command line goes through yargs with only the command
// named on the line loaded (all of them for `jumprelu --help` or no command).
import type { CommandModule } from 'yargs';

const argv = process.argv.slice(2);

// Only `convert` as the very first word: anything before it (an option, and so maybe its value) is left
// to yargs, which reads such lines as it always has.
if (argv[0] === 'convert') {
  const { convertMain } = await import('./convert-main.js');
  await convertMain(argv.slice(1), { usage: 'jumprelu convert', prog: 'jumprelu' });
} else if (argv.length === 1 && argv[0] === '--version') {
  // version.js alone, not convert-main.js: the option table it would bring is not needed to print a version
  const { toolVersion } = await import('../runtime/version.js');
  process.stdout.write(`${toolVersion()}\n`);
} else {
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
  const named = argv.find((a) => !a.startsWith('-'));
  const load = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
  const [{ runCli }, commands] = await Promise.all([import('./main.js'), Promise.all(load.map((f) => f()))]);
  await runCli('jumprelu', (y) => commands.reduce((acc, c) => acc.command(c), y).demandCommand(1, 'give a command (see --help)'));
}
