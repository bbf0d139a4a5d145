// Ctrl-C (SIGINT) or SIGTERM while a command writes its output. Node's default for these signals kills the
// process at once, which during an atomic write (temporary file, then rename) leaves the temporary file
// behind. The writes are synchronous, so a JS handler cannot run in the middle of one: a handler installed
// for the write holds the signal back until the write has finished (renamed into place, complete) or failed
// (its temporary files removed), and then exits 128 + the signal's number saying so. Before the writing
// starts nothing is on disk, so the default (immediate) exit stays: a long load of a big model stops at once.

import { constants } from 'node:os';

/**
 * Runs `write` (synchronous) with SIGINT and SIGTERM held back until it has returned or thrown. The handler
 * stays for two turns of the event loop, which is when a signal that came during the write is delivered.
 * Nothing here waits, so a caller's next output is not delayed.
 */
export function withInterruptsHeld<T>(what: string, write: () => T): T {
  const stop = (signal: NodeJS.Signals): void => {
    // only ever runs after `write` has returned: JS handlers run on the event loop, never inside sync code
    process.stderr.write(`\ninterrupted (${signal}) while writing ${what}: the write was finished first, so nothing partial is left\n`);
    process.exit(128 + (constants.signals[signal] ?? 2));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return write();
  } finally {
    setImmediate(() => setImmediate(() => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }));
  }
}
