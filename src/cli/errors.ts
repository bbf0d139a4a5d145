// One-line errors: a JumpReluError's message and stable code on stderr, and the exit status of its kind
// (2 for usage errors, 1 for what the model, data or file system is); anything else is a bug and says
// so. The stack is printed only with --verbose.

import { JumpReluError, exitStatusOf } from '../ir/errors.js';

export function reportError(prog: string, err: unknown, verbose: boolean): number {
  const e = err instanceof Error ? err : new Error(String(err));
  const known = e instanceof JumpReluError;
  const text = (known ? e.message : `internal error: ${e.message}`).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`${prog}: error: ${text} [${known ? e.code : 'internal'}]\n`);
  if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
  return known ? exitStatusOf(e.kind) : 1;
}

export function isVerbose(argv: readonly string[]): boolean {
  return argv.includes('--verbose') || argv.includes('-v');
}
