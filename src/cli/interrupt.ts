// Ctrl-C (SIGINT) or SIGTERM while a command writes its output. Node's default for these signals kills the
// process at once, which during an atomic write (temporary file, then rename) leaves the temporary file
// behind. A handler installed for the write holds the signal back until the write has finished (renamed
// into place, complete) or failed (its temporary files removed), and then exits 128 + the signal's number
// saying so. Before the writing starts nothing is on disk, so the default (immediate) exit stays: a long
// load of a big model stops at once.
//
// A synchronous write cannot be interrupted by a JS handler anyway (handlers run on the event loop, never
// inside sync code); an asynchronous one (a promise) can, since the loop turns while it is pending, so
// there the handler only notes the signal and the exit waits until the promise has settled.

import { constants } from 'node:os';

/**
 * Runs `write` with SIGINT and SIGTERM held back until it has returned or thrown, or, when it returns a
 * promise, until that has settled. The handler then stays for two turns of the event loop, which is when a
 * signal that came during a synchronous write is delivered. Nothing here waits, so a caller's next output
 * is not delayed.
 */
export function withInterruptsHeld<T>(what: string, write: () => T): T {
  let writing = true;
  let failure: unknown = null; // what the write threw, once it has
  let held: NodeJS.Signals | null = null;
  const exit = (signal: NodeJS.Signals): void => {
    // A failed write has removed its temporary files; its error is said here, since the exit comes before
    // the caller could report it.
    const how = failure === null ? 'the write was finished first'
      : `the write failed first (${failure instanceof Error ? failure.message : String(failure)}) and its temporary files were removed`;
    process.stderr.write(`\ninterrupted (${signal}) while writing ${what}: ${how}, so nothing partial is left\n`);
    process.exit(128 + (constants.signals[signal] ?? 2));
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (writing) held ??= signal; // only while an asynchronous write is pending
    else exit(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const done = (): void => {
    writing = false;
    if (held) exit(held);
    setImmediate(() => setImmediate(() => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }));
  };
  const failed = (e: unknown): never => {
    failure = e ?? new Error('unknown error');
    done();
    throw e;
  };
  let result: T;
  try {
    result = write();
  } catch (e) {
    return failed(e);
  }
  if (isPromise(result)) {
    // The caller gets the same settlement; the exit for a held signal comes after it has been decided.
    return result.then((v) => { done(); return v; }, failed) as T;
  }
  done();
  return result;
}

function isPromise(x: unknown): x is Promise<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}
