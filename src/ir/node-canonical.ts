// Whether a NodeProto's bytes are already what the canonical encoder (encode.ts encodeNode) writes for the
// node decoded from them, read off the wire without encoding anything.
//
// The decoder records an origin for every node: its source bytes and, when they differ, the canonical
// encoding at decode time (origin.ts). Re-encoding each node for that comparison is most of the decoding
// time of a big graph (a 128k-node chain). This check answers the same question from the fields already
// parsed; when it says yes, encodeNode(node) at decode time would have returned exactly `src`. It is
// conservative: anything it does not prove canonical (a non-ASCII string, a padded varint, fields out of
// order, a repeated or empty name, a duplicate attribute name, …) falls back to the full re-encode.

import type { RawField } from './wire.js';
import { WireType } from './wire.js';

// Field numbers as decode.ts NodeField has them; 1…8 are the fields encodeNode writes in this order.
const INPUT = 1, OUTPUT = 2, NAME = 3, OP_TYPE = 4, ATTRIBUTE = 5, DOMAIN = 7, LAST_KNOWN = 8;

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

function isAsciiBytes(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/**
 * True when encodeNode of the node decoded from `fields` gives back these bytes exactly. `attributeCount` is
 * the number of distinct attribute names the node ended up with (the decoder's map drops duplicates).
 */
export function nodeSourceIsCanonical(fields: readonly RawField[], attributeCount: number): boolean {
  let last = 0; // highest known field number seen so far
  let unknownSeen = false;
  let attributes = 0;
  let opTypes = 0;
  for (const f of fields) {
    const no = f.no;
    if (no < INPUT || no > LAST_KNOWN) {
      unknownSeen = true; // written back as its bytes, after every known field
      continue;
    }
    if (unknownSeen || no < last) return false; // canonical order: 1…8, then unknown fields
    // 3 (name), 4 (op_type), 6 (doc_string), 7 (domain), 8 (overload) are written at most once.
    if (no === last && no !== INPUT && no !== OUTPUT && no !== ATTRIBUTE) return false;
    last = no;
    if (f.wireType !== WireType.LengthDelimited) return false;
    const p = f.payload;
    // Minimal varints for the tag (one byte for fields 1…8) and the length.
    if (f.bytes.length !== 1 + varintLength(p.length) + p.length) return false;
    if (no === ATTRIBUTE) {
      attributes++; // emitted at decode time as its own source bytes (emitAttribute with its origin)
      continue;
    }
    // Strings: the decoder's UTF-8 read and the encoder's write round-trip exactly for ASCII.
    if (!isAsciiBytes(p)) return false;
    // An empty name or domain is not written.
    if ((no === NAME || no === DOMAIN) && p.length === 0) return false;
    if (no === OP_TYPE) opTypes++;
  }
  return opTypes === 1 && attributes === attributeCount;
}
