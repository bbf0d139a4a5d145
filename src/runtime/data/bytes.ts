// Reading files that may or may not be gzip-compressed.

import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { DataFormatError } from './images.js';

/** True when the bytes start with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses gzip data, and returns anything else unchanged. */
export function maybeGunzip(bytes: Uint8Array, what = 'gzip data'): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  let out: Buffer;
  try {
    out = gunzipSync(bytes);
  } catch (e) {
    // zlib: 'unexpected end of file' (truncated), 'incorrect header check', 'invalid ... distance' (corrupt)
    const why = (e as Error).message === 'unexpected end of file' ? 'truncated gzip data' : `corrupt gzip data (${(e as Error).message})`;
    throw new DataFormatError(`${what}: ${why}`, { code: why.startsWith('truncated') ? 'data-truncated' : 'data-corrupt' });
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Reads a file, decompressing it when it is gzip (whatever its name). */
export async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const raw = await readFile(path);
  return maybeGunzip(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), path);
}
