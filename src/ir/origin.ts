// How a decoded message remembers its source bytes.
//
// A message is emitted as its original bytes when re-encoding its current state gives the same bytes
// as re-encoding its state at decode time: then nothing a pass can see has changed, and whatever the
// canonical encoder would normalise (field order, packed repeats, unknown fields, NaN payloads) is
// kept exactly. No dirty flags to forget.

import type { RawField } from './wire.js';
import { bytesEqual } from './wire.js';

export interface Origin {
  readonly src: Uint8Array;
  /** The canonical encoding at decode time, or null when it equalled `src`. */
  readonly canon: Uint8Array | null;
}

export function makeOrigin(src: Uint8Array, canonAtDecode: Uint8Array): Origin {
  return { src, canon: bytesEqual(src, canonAtDecode) ? null : canonAtDecode };
}

/** The origin of a message whose source bytes are known to be its canonical encoding at decode time. */
export function canonicalOrigin(src: Uint8Array): Origin {
  return { src, canon: null };
}

/** The bytes to emit for a message whose canonical encoding now is `current`. */
export function emitWithOrigin(origin: Origin | null | undefined, current: Uint8Array): Uint8Array {
  if (!origin) return current;
  return bytesEqual(origin.canon ?? origin.src, current) ? origin.src : current;
}

/** Fields a decoder did not understand, kept to be written back. */
export type UnknownFields = RawField[];

/**
 * The unknown fields of a message that has none, shared (frozen): assign a new array to give a message
 * some. Saves an empty array per node and attribute of a big graph.
 */
export const NO_UNKNOWN_FIELDS: UnknownFields = Object.freeze([]) as unknown as UnknownFields;
