// The jumprelu commands run in-process, parsed the way the bin parses them (a yargs failure is a UsageError),
// and what they print captured: one runner for the CLI tests instead of a copy per file.

import yargs, { type CommandModule } from 'yargs';
import { UsageError } from '../../src/ir/errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

/** Parses and runs `args` (e.g. ['eval', model, '--data', …]) against the given commands. */
export async function runCommands(commands: readonly AnyCommand[], args: readonly string[]): Promise<void> {
  let y = yargs([...args]);
  for (const c of commands) y = y.command(c);
  await y.strict().fail((msg, err) => {
    throw err ?? new UsageError(msg);
  }).parseAsync();
}

/**
 * Runs `fn` with process.stdout's string writes captured, and returns them (restored even when `fn` throws).
 * Binary writes pass through: under `node --test` the test runner reports to its parent as binary chunks on this
 * same stdout, and one of those, written while `fn` awaits, would otherwise land in the captured text (and be lost
 * to the runner). The commands print text only.
 */
export async function captureStdout(fn: () => Promise<unknown>): Promise<string> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    if (typeof chunk !== 'string') return (write as any)(chunk, ...rest);
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  return out;
}
