// Protocol-buffer wire format, at the level of fields.
//
// The codec works on raw fields rather than on a generated message class because ONNX is proto2 and
// grows new fields every release: a field this code does not know must come out exactly as it went
// in, and a message nobody touched must come out as its original bytes. Decoding therefore keeps
// views (subarrays) of the input, never copies.

import { ModelFormatError } from './errors.js';

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

/** One field occurrence inside a message: its tag, and views of its whole encoding and of its payload. */
export interface RawField {
  readonly no: number;
  readonly wireType: WireType;
  /** The whole field: tag, length prefix (if any) and payload. */
  readonly bytes: Uint8Array;
  /** The payload: the varint bytes, the fixed bytes, or the length-delimited content. */
  readonly payload: Uint8Array;
}

function fail(what: string): never {
  throw new ModelFormatError(`malformed protobuf: ${what}`);
}

/** Reads a varint at `pos`; returns the value as bigint and the position after it. */
export function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) fail('truncated varint');
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [BigInt.asUintN(64, result), pos];
    shift += 7n;
  }
  fail('varint longer than 10 bytes');
}

/** Fast path for varints that fit in a JS number (tags, lengths). */
export function readSmallVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) fail('truncated varint');
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      if (result > Number.MAX_SAFE_INTEGER) fail('length or tag out of range');
      return [result, pos];
    }
    mul *= 128;
  }
  fail('varint longer than 10 bytes');
}

/** Splits a message into its fields, in wire order. Throws ModelFormatError on any malformation. */
export function parseFields(buf: Uint8Array): RawField[] {
  const fields: RawField[] = [];
  const c = new FieldCursor().reset(buf);
  while (c.next()) fields.push(c.raw());
  return fields;
}

/**
 * Steps through one message's fields without allocating: after `next()` returns true, the cursor's fields
 * hold the current field's number, wire type and offsets into `buf`. The hot decoding paths (graphs and
 * nodes) read fields this way; parseFields makes an object and two views per field, which on a 128k-node
 * graph was most of the decoder's garbage. parseFields is this cursor collecting RawFields.
 */
export class FieldCursor {
  buf: Uint8Array = EMPTY;
  /** Position of the next field's tag, and the end of the message. */
  pos = 0;
  end = 0;
  no = 0;
  wireType: WireType = WireType.Varint;
  /** Where the current field starts (its tag), where its payload starts and ends. */
  fieldStart = 0;
  payloadStart = 0;
  payloadEnd = 0;

  /** Starts reading the message `buf[start, end)`. */
  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  next(): boolean {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    if (pos >= end) return false;
    this.fieldStart = pos;
    // Tag (a varint that must fit a safe integer).
    let tag = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i === 10) fail('varint longer than 10 bytes');
      if (pos >= end) fail('truncated varint');
      const b = buf[pos++]!;
      tag += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      mul *= 128;
    }
    if (tag > Number.MAX_SAFE_INTEGER) fail('length or tag out of range');
    const no = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (no === 0) fail('field number 0');
    let payloadStart = pos;
    let payloadEnd: number;
    switch (wireType) {
      case WireType.Varint:
        for (let i = 0; ; i++) {
          if (i === 10) fail('varint longer than 10 bytes');
          if (pos >= end) fail('truncated varint');
          if ((buf[pos++]! & 0x80) === 0) break;
        }
        payloadEnd = pos;
        break;
      case WireType.Fixed64:
        payloadEnd = pos + 8;
        break;
      case WireType.Fixed32:
        payloadEnd = pos + 4;
        break;
      case WireType.LengthDelimited: {
        let len = 0;
        let m = 1;
        for (let i = 0; ; i++) {
          if (i === 10) fail('varint longer than 10 bytes');
          if (pos >= end) fail('truncated varint');
          const b = buf[pos++]!;
          len += (b & 0x7f) * m;
          if ((b & 0x80) === 0) break;
          m *= 128;
        }
        if (len > Number.MAX_SAFE_INTEGER) fail('length or tag out of range');
        payloadStart = pos;
        payloadEnd = pos + len;
        break;
      }
      case WireType.StartGroup:
        // Rare (ONNX never writes groups): the view bounds the group's scan at the message end.
        payloadEnd = skipGroup(buf.subarray(0, end), pos, no);
        break;
      default:
        fail(`unknown wire type ${wireType}`);
    }
    if (payloadEnd > end) fail(`field ${no} runs past the end of its message`);
    this.no = no;
    this.wireType = wireType as WireType;
    this.payloadStart = payloadStart;
    this.payloadEnd = payloadEnd;
    this.pos = payloadEnd;
    return true;
  }

  /** The current field as a RawField (views of the input), for fields kept as they are. */
  raw(): RawField {
    return {
      no: this.no,
      wireType: this.wireType,
      bytes: this.buf.subarray(this.fieldStart, this.payloadEnd),
      payload: this.buf.subarray(this.payloadStart, this.payloadEnd),
    };
  }

  /** The current field's payload as a view. */
  payload(): Uint8Array {
    return this.buf.subarray(this.payloadStart, this.payloadEnd);
  }

  /** The current field as a string (UTF-8, like asString). */
  string(): string {
    if (this.wireType !== WireType.LengthDelimited) fail(`field ${this.no} has wire type ${this.wireType}, expected ${WireType.LengthDelimited}`);
    return decodeUtf8(this.buf, this.payloadStart, this.payloadEnd);
  }

  /** The current field as a message: its payload, or a ModelFormatError when it is not length-delimited. */
  expectMessage(): void {
    if (this.wireType !== WireType.LengthDelimited) throw new ModelFormatError(`field ${this.no} should be a message`);
  }
}

/**
 * UTF-8 text of buf[start, end), as TextDecoder (non-fatal) reads it. Short ASCII strings, which is what
 * names and op types almost always are, are made with String.fromCharCode instead: no view, no decoder
 * call, several times faster for the 128k-node graph's 400k names.
 */
export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 16) {
    let ascii = true;
    for (let i = start; i < end; i++) if (buf[i]! >= 0x80) { ascii = false; break; }
    if (ascii) {
      switch (n) {
        case 0: return '';
        case 1: return String.fromCharCode(buf[start]!);
        case 2: return String.fromCharCode(buf[start]!, buf[start + 1]!);
        case 3: return String.fromCharCode(buf[start]!, buf[start + 1]!, buf[start + 2]!);
        case 4: return String.fromCharCode(buf[start]!, buf[start + 1]!, buf[start + 2]!, buf[start + 3]!);
        default: {
          const codes = ASCII_CODES[n]!;
          for (let i = 0; i < n; i++) codes[i] = buf[start + i]!;
          return String.fromCharCode.apply(null, codes);
        }
      }
    }
  }
  return utf8.decode(buf.subarray(start, end));
}

/** One reusable code array per short length, for decodeUtf8. */
const ASCII_CODES: number[][] = Array.from({ length: 17 }, (_, n) => new Array<number>(n).fill(0));

function skipGroup(buf: Uint8Array, pos: number, groupNo: number): number {
  // Groups are deprecated and unused by ONNX, but a message containing one is still valid protobuf.
  while (pos < buf.length) {
    const [tag, after] = readSmallVarint(buf, pos);
    const no = Math.floor(tag / 8);
    const wt = tag % 8;
    pos = after;
    if (wt === WireType.EndGroup) {
      if (no !== groupNo) fail('mismatched end-group');
      return pos;
    }
    switch (wt) {
      case WireType.Varint: pos = readVarint(buf, pos)[1]; break;
      case WireType.Fixed64: pos += 8; break;
      case WireType.Fixed32: pos += 4; break;
      case WireType.LengthDelimited: { const [len, a] = readSmallVarint(buf, pos); pos = a + len; break; }
      case WireType.StartGroup: pos = skipGroup(buf, pos, no); break;
      default: fail(`unknown wire type ${wt}`);
    }
  }
  fail('unterminated group');
}

// ---- payload readers -------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8Encoder = new TextEncoder();

export function asString(f: RawField): string {
  expectWire(f, WireType.LengthDelimited);
  return utf8.decode(f.payload);
}

export function asInt64(f: RawField): bigint {
  expectWire(f, WireType.Varint);
  return BigInt.asIntN(64, readVarint(f.payload, 0)[0]);
}

export function asInt(f: RawField): number {
  const v = asInt64(f);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    fail(`field ${f.no} value ${v} out of range`);
  }
  return Number(v);
}

export function asFloat(f: RawField): number {
  expectWire(f, WireType.Fixed32);
  return new DataView(f.payload.buffer, f.payload.byteOffset, 4).getFloat32(0, true);
}

/** Repeated int64 that may be packed (one length-delimited run) or unpacked (one varint per field). */
export function appendInt64s(f: RawField, out: bigint[]): void {
  if (f.wireType === WireType.Varint) {
    out.push(asInt64(f));
    return;
  }
  expectWire(f, WireType.LengthDelimited);
  let pos = 0;
  while (pos < f.payload.length) {
    const [v, next] = readVarint(f.payload, pos);
    out.push(BigInt.asIntN(64, v));
    pos = next;
  }
}

export function appendFloats(f: RawField, out: number[]): void {
  if (f.wireType === WireType.Fixed32) {
    out.push(asFloat(f));
    return;
  }
  expectWire(f, WireType.LengthDelimited);
  if (f.payload.length % 4 !== 0) fail(`packed float field ${f.no} has a length not divisible by 4`);
  const dv = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.length);
  for (let i = 0; i < f.payload.length; i += 4) out.push(dv.getFloat32(i, true));
}

function expectWire(f: RawField, wt: WireType): void {
  if (f.wireType !== wt) fail(`field ${f.no} has wire type ${f.wireType}, expected ${wt}`);
}

// ---- writers ---------------------------------------------------------------------------------

/**
 * Accumulates encoded chunks without concatenating them (big initializers stay views). Small writes
 * (tags, varints, names) go into a shared scratch buffer instead of a Uint8Array each: encoding a
 * 128k-node graph otherwise allocates millions of tiny arrays.
 */
export class ChunkWriter {
  private readonly _chunks: Uint8Array[] = [];
  length = 0;
  private buf: Uint8Array = EMPTY;
  private start = 0;
  private pos = 0;

  /** The chunks written so far (pending small writes included). */
  get chunks(): readonly Uint8Array[] {
    this.flush();
    return this._chunks;
  }

  push(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) return;
    if (n <= SMALL) {
      this.reserve(n);
      this.buf.set(bytes, this.pos);
      this.pos += n;
    } else {
      this.flush();
      this._chunks.push(bytes);
    }
    this.length += n;
  }

  varint(v: bigint | number): void {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
      this.reserve(10);
      let x = v;
      const start = this.pos;
      while (x >= 0x80) {
        this.buf[this.pos++] = (x % 0x80) | 0x80;
        x = Math.floor(x / 0x80);
      }
      this.buf[this.pos++] = x;
      this.length += this.pos - start;
      return;
    }
    this.push(encodeVarint(v));
  }

  tag(no: number, wt: WireType): void {
    this.varint(no * 8 + wt);
  }

  int64Field(no: number, v: bigint | number): void {
    this.tag(no, WireType.Varint);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) this.varint(v);
    else this.varint(BigInt.asUintN(64, BigInt(v)));
  }

  floatField(no: number, v: number): void {
    this.tag(no, WireType.Fixed32);
    FLOAT_BITS[0] = v; // little-endian bytes of the float32, without an array per value
    this.reserve(4);
    this.buf.set(FLOAT_BYTES, this.pos);
    this.pos += 4;
    this.length += 4;
  }

  bytesField(no: number, payload: Uint8Array): void {
    this.tag(no, WireType.LengthDelimited);
    this.varint(payload.length);
    this.push(payload);
  }

  stringField(no: number, s: string): void {
    this.tag(no, WireType.LengthDelimited);
    if (s.length <= SMALL && isAscii(s)) {
      this.varint(s.length);
      this.reserve(s.length);
      for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
      this.length += s.length;
      return;
    }
    const bytes = utf8Encoder.encode(s);
    this.varint(bytes.length);
    this.push(bytes);
  }

  /** A nested message given as another writer's chunks (no concatenation). */
  messageField(no: number, inner: ChunkWriter): void {
    this.tag(no, WireType.LengthDelimited);
    this.varint(inner.length);
    for (const c of inner.chunks) this.push(c);
  }

  packedInt64s(no: number, values: readonly bigint[]): void {
    const inner = new ChunkWriter();
    for (const v of values) inner.varint(BigInt.asUintN(64, v));
    this.messageField(no, inner);
  }

  packedFloats(no: number, values: readonly number[]): void {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    this.bytesField(no, b);
  }

  toBytes(): Uint8Array {
    const chunks = this.chunks;
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  /**
   * Empties the writer to encode another message with it, reusing its scratch buffer: one writer serves
   * every node of a graph instead of one writer, buffer and copy per node. What was written before must
   * have been consumed (appendTo copies it).
   */
  reset(): void {
    this._chunks.length = 0;
    this.length = 0;
    this.start = 0;
    this.pos = 0;
  }

  /** Whether the bytes written so far are exactly `bytes` (compared in place, nothing flushed). */
  equals(bytes: Uint8Array): boolean {
    if (bytes.length !== this.length) return false;
    let off = 0;
    for (const c of this._chunks) {
      for (let i = 0; i < c.length; i++) if (c[i] !== bytes[off++]) return false;
    }
    const buf = this.buf;
    for (let i = this.start; i < this.pos; i++) if (buf[i] !== bytes[off++]) return false;
    return true;
  }

  /**
   * Appends what this writer holds to `w`. Bytes in this writer's current scratch buffer are copied (reset
   * reuses it); longer chunks pushed as views of other memory stay views.
   */
  appendTo(w: ChunkWriter): void {
    const scratch = this.buf.buffer;
    for (const c of this._chunks) w.pushCopy(c, c.buffer === scratch);
    if (this.pos > this.start) w.pushCopy(this.buf.subarray(this.start, this.pos), true);
  }

  /** push(), copying `bytes` when `mustCopy` even if they are long (a view of a buffer that will be reused). */
  private pushCopy(bytes: Uint8Array, mustCopy: boolean): void {
    this.push(mustCopy && bytes.length > SMALL ? bytes.slice() : bytes);
  }

  /** Ends the pending small-write run as a chunk (a view of the scratch buffer). */
  private flush(): void {
    if (this.pos > this.start) {
      this._chunks.push(this.buf.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    // The old buffer's written part stays referenced by its chunk; continue in a fresh one.
    this.buf = new Uint8Array(Math.max(n, Math.min(SCRATCH, Math.max(64, 2 * this.buf.length))));
    this.start = 0;
    this.pos = 0;
  }
}

/** Writes of at most this many bytes are copied into the scratch buffer; longer ones stay views. */
const SMALL = 256;
const SCRATCH = 4096;
const EMPTY = new Uint8Array(0);
const FLOAT_BITS = new Float32Array(1);
const FLOAT_BYTES = new Uint8Array(FLOAT_BITS.buffer);
if (new Uint16Array(Uint8Array.of(1, 0).buffer)[0] !== 1) throw new Error('the codec assumes a little-endian machine');

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

export function encodeVarint(v: bigint | number): Uint8Array {
  if (typeof v === 'number' && v >= 0 && v < 0x80) return Uint8Array.of(v);
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Uint8Array.from(out);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

export function encodeUtf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}
