// One-line errors: a JumpReluError's message on stderr and exit status 1; anything else is a bug and
// says so. The stack is printed only with --verbose.

import { JumpReluError, UsageError } from '../ir/errors.js';

export function reportError(prog: string, err: unknown, verbose: boolean): number {
  const e = err instanceof Error ? err : new Error(String(err));
  const known = e instanceof JumpReluError;
  const line = (known ? e.message : `internal error: ${e.message}`).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`${prog}: error: ${line}\n`);
  if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
  return e instanceof UsageError ? 2 : 1;
}

export function isVerbose(argv: readonly string[]): boolean {
  return argv.includes('--verbose') || argv.includes('-v');
}
