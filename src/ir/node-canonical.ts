// Whether a NodeProto's bytes are already what the canonical encoder (encode.ts encodeNode) writes for the
// node decoded from them, read off the wire without encoding anything.
//
// The decoder records an origin for every node: its source bytes and, when they differ, the canonical
// encoding at decode time (origin.ts). Re-encoding each node for that comparison is most of the decoding
// time of a big graph (a 128k-node chain). This check answers the same question from the fields as the
// decoder reads them; when it says yes, encodeNode(node) at decode time would have returned exactly the
// source. It is conservative: anything it does not prove canonical (a non-ASCII string, a padded varint,
// fields out of order, a repeated or empty name, a duplicate attribute name, …) falls back to the full
// re-encode.

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

/** Fed one node's fields in wire order (reset between nodes); allocates nothing. */
export class NodeCanonicalCheck {
  private last = 0; // highest known field number seen so far
  private unknownSeen = false;
  private attributes = 0;
  private opTypes = 0;
  private ok = true;

  reset(): void {
    this.last = 0;
    this.unknownSeen = false;
    this.attributes = 0;
    this.opTypes = 0;
    this.ok = true;
  }

  /** One field: its number and wire type, and where its tag, payload and end are in `buf`. */
  field(no: number, wireType: WireType, buf: Uint8Array, fieldStart: number, payloadStart: number, payloadEnd: number): void {
    if (!this.ok) return;
    if (no < INPUT || no > LAST_KNOWN) {
      this.unknownSeen = true; // written back as its bytes, after every known field
      return;
    }
    // Canonical order: 1…8, then unknown fields.
    if (this.unknownSeen || no < this.last) return this.fail();
    // 3 (name), 4 (op_type), 6 (doc_string), 7 (domain), 8 (overload) are written at most once.
    if (no === this.last && no !== INPUT && no !== OUTPUT && no !== ATTRIBUTE) return this.fail();
    this.last = no;
    if (wireType !== WireType.LengthDelimited) return this.fail();
    // Minimal varints for the tag (one byte for fields 1…8) and the length.
    const length = payloadEnd - payloadStart;
    if (payloadStart - fieldStart !== 1 + varintLength(length)) return this.fail();
    if (no === ATTRIBUTE) {
      this.attributes++; // emitted at decode time as its own source bytes (emitAttribute with its origin)
      return;
    }
    // Strings: the decoder's UTF-8 read and the encoder's write round-trip exactly for ASCII.
    for (let i = payloadStart; i < payloadEnd; i++) if (buf[i]! >= 0x80) return this.fail();
    // An empty name or domain is not written.
    if ((no === NAME || no === DOMAIN) && length === 0) return this.fail();
    if (no === OP_TYPE) this.opTypes++;
  }

  /**
   * True when encodeNode of the node decoded from the fields fed gives back their bytes exactly.
   * `attributeCount` is the number of distinct attribute names the node ended up with (the decoder's map
   * drops duplicates).
   */
  result(attributeCount: number): boolean {
    return this.ok && this.opTypes === 1 && this.attributes === attributeCount;
  }

  private fail(): void {
    this.ok = false;
  }
}
