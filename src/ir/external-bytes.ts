// Reading one tensor's bytes from its (already resolved and range-checked) external data file: only that
// range, so a small constant next to gigabytes of weights costs one small read, not the whole file.

import * as fs from 'node:fs';
import { ExternalDataError } from './errors.js';
import type { ExternalBytes } from './tensor.js';

/** Reads a tensor's external bytes (only passes that need values call this). */
export function readExternalBytes(ref: ExternalBytes): Uint8Array {
  const out = Buffer.allocUnsafe(ref.length);
  const fd = fs.openSync(ref.file, 'r');
  try {
    let done = 0;
    while (done < ref.length) {
      const n = fs.readSync(fd, out, done, ref.length - done, ref.offset + done);
      if (n === 0) throw new ExternalDataError(`'${ref.file}' is shorter than declared`, { code: 'external-data-range' });
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
