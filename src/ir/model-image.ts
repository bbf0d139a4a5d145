// Reading a model file into memory, leaving the big initializers' raw_data on disk.
//
// The bytes land in one buffer at their own file offsets, so the decoder's views (wire.ts) work on it
// unchanged; the payloads left out are never read, and their pages of the buffer never touched (a buffer
// this large is fresh mmap'ed memory, so they cost no RSS either). The loader then tells each such tensor
// where its data is (Tensor.leaveDataOnDisk), and the saver copies those spans from the input file to
// the output instead of writing them from memory (io.ts). For a model that is mostly weights, as most
// are, that avoids reading 99 % of the file into memory and writing it back from there.
//
// Only ModelProto.graph → GraphProto.initializer → TensorProto.raw_data payloads of at least
// SPAN_MIN bytes are left out. The scan reads just the field headers it needs; anything it does not
// expect (a second graph, a second raw_data, a group, a length past its message) makes it give up and
// read the whole file, so the decoder sees the same bytes and reports the same errors as before.

import * as fs from 'node:fs';
import { FileSpan, type FileStamp } from './file-span.js';
import { JumpReluError } from './errors.js';

/** Payloads at least this big stay on disk. */
export const SPAN_MIN = 1 << 20;
/** Files smaller than this are read whole: there is little to save. */
const IMAGE_MIN = 8 << 20;

export interface ModelImage {
  /** The file's bytes at their offsets; the spans' bytes are not loaded. */
  readonly bytes: Uint8Array;
  /** The payloads left on disk, in file order. */
  readonly spans: FileSpan[];
}

/** `leaveOnDisk: false` reads every byte (the spans list is then empty). */
export function readModelImage(fd: number, file: string, stamp: FileStamp, leaveOnDisk = true): ModelImage {
  const size = Number(stamp.size);
  const buf = Buffer.allocUnsafe(size);
  // The decoder's views are plain Uint8Arrays, as they were when the loader used readFileSync.
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, size);
  const reader = new ImageReader(fd, file, bytes);
  const found = leaveOnDisk && size >= IMAGE_MIN ? findSpans(reader) : null;
  if (!found) {
    reader.readAll();
    return { bytes, spans: [] };
  }
  reader.readRest(); // nothing skipped when no span was found: then this completes a plain read
  return { bytes, spans: found.map(([offset, length]) => new FileSpan(file, offset, length, stamp)) };
}

/** Reads the file forward into the buffer, skipping the spans. */
class ImageReader {
  /** Bytes [0, readTo) are in the buffer, apart from the spans skipped. */
  private readTo = 0;
  /** How far past what is needed to read: small after a span, since another may follow soon. */
  private ahead = MIN_AHEAD;
  readonly size: number;

  constructor(private readonly fd: number, private readonly file: string, readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }

  /** Makes bytes up to `end` available. */
  need(end: number): void {
    if (end <= this.readTo) return;
    const to = Math.min(this.size, Math.max(end, this.readTo + this.ahead));
    this.read(this.readTo, to);
    this.readTo = to;
    this.ahead = Math.min(MAX_AHEAD, this.ahead * 2);
  }

  /** Leaves [start, end) unread. */
  skip(start: number, end: number): void {
    this.need(start);
    if (this.readTo < end) this.readTo = end;
    this.ahead = MIN_AHEAD;
  }

  readRest(): void {
    this.read(this.readTo, this.size);
    this.readTo = this.size;
  }

  readAll(): void {
    this.readTo = 0;
    this.readRest();
  }

  private read(from: number, to: number): void {
    readFully(this.fd, this.file, this.bytes, from, to);
  }
}

/** Reads bytes [from, to) of the open file into `image` at the same offsets. */
export function readFully(fd: number, file: string, image: Uint8Array, from: number, to: number): void {
  for (let pos = from; pos < to;) {
    const n = fs.readSync(fd, image, pos, to - pos, pos);
    if (n === 0) throw new JumpReluError(`'${file}' became shorter while it was being read`, { code: 'input-changed' });
    pos += n;
  }
}

const MIN_AHEAD = 4 << 10;
const MAX_AHEAD = 256 << 10;

interface Header {
  no: number;
  wireType: number;
  payloadStart: number;
  end: number;
}

/** The field starting at `pos`, which must end by `limit`; null for anything unusual. */
function header(r: ImageReader, pos: number, limit: number): Header | null {
  r.need(Math.min(limit, pos + 20));
  const b = r.bytes;
  let p = pos;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= limit) return -1;
      const x = b[p++]!;
      v += (x & 0x7f) * mul;
      if ((x & 0x80) === 0) return v;
      mul *= 128;
    }
    return -1;
  };
  const tag = varint();
  if (tag < 8) return null;
  const no = Math.floor(tag / 8);
  const wireType = tag % 8;
  let payloadStart = p;
  let end: number;
  switch (wireType) {
    case 0: if (varint() < 0) return null; end = p; break;
    case 1: end = p + 8; break;
    case 5: end = p + 4; break;
    case 2: {
      const len = varint();
      if (len < 0) return null;
      payloadStart = p;
      end = p + len;
      break;
    }
    default: return null; // groups and invalid wire types: leave them to the decoder
  }
  return end > limit ? null : { no, wireType, payloadStart, end };
}

const LENGTH_DELIMITED = 2;
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;

/** [offset, length] of each payload to leave on disk, or null to read the whole file. */
function findSpans(r: ImageReader): Array<[number, number]> | null {
  const spans: Array<[number, number]> = [];
  let sawGraph = false;
  for (let pos = 0; pos < r.size;) {
    const h = header(r, pos, r.size);
    if (!h) return null;
    if (h.no === MODEL_GRAPH && h.wireType === LENGTH_DELIMITED) {
      if (sawGraph) return null;
      sawGraph = true;
      if (!scanGraph(r, h.payloadStart, h.end, spans)) return null;
    } else {
      r.need(h.end);
    }
    pos = h.end;
  }
  return spans;
}

function scanGraph(r: ImageReader, start: number, end: number, spans: Array<[number, number]>): boolean {
  for (let pos = start; pos < end;) {
    const h = header(r, pos, end);
    if (!h) return false;
    if (h.no === GRAPH_INITIALIZER && h.wireType === LENGTH_DELIMITED && h.end - h.payloadStart >= SPAN_MIN) {
      if (!scanTensor(r, h.payloadStart, h.end, spans)) return false;
    } else {
      r.need(h.end);
    }
    pos = h.end;
  }
  return true;
}

function scanTensor(r: ImageReader, start: number, end: number, spans: Array<[number, number]>): boolean {
  let sawRaw = false;
  for (let pos = start; pos < end;) {
    const h = header(r, pos, end);
    if (!h) return false;
    if (h.no === TENSOR_RAW_DATA) {
      if (sawRaw) return false;
      sawRaw = true;
    }
    if (h.no === TENSOR_RAW_DATA && h.wireType === LENGTH_DELIMITED && h.end - h.payloadStart >= SPAN_MIN) {
      r.skip(h.payloadStart, h.end);
      spans.push([h.payloadStart, h.end - h.payloadStart]);
    } else {
      r.need(h.end);
    }
    pos = h.end;
  }
  return true;
}
