// Writing an encoded model (ChunkWriter's chunks) to a file, where some chunks are TensorProto bytes whose
// raw_data the loader left on disk: those unread bytes ("holes") are replaced by copies of their spans from
// the input file, so the weights go file to file and never through the JS heap.

import * as fs from 'node:fs';
import { FileSpan, SpanSource, stampOf } from './file-span.js';
import type { Tensor } from './tensor.js';

interface Hole {
  /** Offset of the unread bytes in their ArrayBuffer. */
  readonly start: number;
  readonly span: FileSpan;
  readonly tensor: Tensor;
}

/**
 * The tensors encoded with data left on disk: where in the encoded chunks the unread bytes are (the
 * ArrayBuffer they are views of, and the offset in it) and which span replaces them.
 */
export class Holes {
  private readonly byBuffer = new Map<ArrayBufferLike, Map<number, Hole>>();
  private sorted: Map<ArrayBufferLike, Hole[]> | null = null;
  private readonly sources = new Map<string, SpanSource>();
  /** The tensors with a hole (for holds). */
  private readonly tensors = new Set<Tensor>();
  /** Bytes that writeChunks must copy from spans: each encoding of a tensor counts (a tensor may be written twice). */
  total = 0;

  /** `bytes` (a tensor's encoding) holds the unread bytes of `span` from `at` on. */
  add(tensor: Tensor, bytes: Uint8Array, at: number, span: FileSpan): void {
    let holes = this.byBuffer.get(bytes.buffer);
    if (!holes) this.byBuffer.set(bytes.buffer, (holes = new Map()));
    const start = bytes.byteOffset + at;
    if (!holes.has(start)) holes.set(start, { start, span, tensor });
    this.tensors.add(tensor);
    this.total += span.length;
    this.sorted = null;
  }

  /** Whether `tensor` was encoded with its data left on disk (so writeChunks copies it and moveTo can follow it). */
  holds(tensor: Tensor): boolean {
    return this.tensors.has(tensor);
  }

  get empty(): boolean {
    return this.total === 0;
  }

  /** The holes inside `chunk`, in order: offset in the chunk, length, span, offset in the span. */
  within(chunk: Uint8Array): Array<{ at: number; length: number; span: FileSpan; from: number }> {
    if (!this.sorted) {
      this.sorted = new Map([...this.byBuffer].map(([b, m]) => [b, [...m.values()].sort((x, y) => x.start - y.start)]));
    }
    const list = this.sorted.get(chunk.buffer);
    if (!list) return [];
    const lo = chunk.byteOffset;
    const hi = lo + chunk.length;
    // Holes of one buffer do not overlap: find the first that ends after `lo`, then walk while they start before `hi`.
    let a = 0;
    let b = list.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (list[m]!.start + list[m]!.span.length <= lo) a = m + 1;
      else b = m;
    }
    const out: Array<{ at: number; length: number; span: FileSpan; from: number }> = [];
    for (let i = a; i < list.length && list[i]!.start < hi; i++) {
      const h = list[i]!;
      const s = Math.max(lo, h.start);
      const e = Math.min(hi, h.start + h.span.length);
      out.push({ at: s - lo, length: e - s, span: h.span, from: s - h.start });
    }
    return out;
  }

  /** The open, checked input file of a span (opened once per file for the whole save). */
  source(span: FileSpan): SpanSource {
    let src = this.sources.get(span.file);
    if (!src) this.sources.set(span.file, (src = SpanSource.open(span)));
    return src;
  }

  /** Checks every input file is still as loaded (nothing changed it while it was copied) and closes them. */
  finish(): void {
    try {
      for (const s of this.sources.values()) s.check();
    } finally {
      this.close();
    }
  }

  close(): void {
    for (const s of this.sources.values()) s.close();
    this.sources.clear();
  }

  /**
   * After saving over the model's own file: the tensors' data is now in the new file, at the offsets
   * writeChunks reported (`written`: span → offset in the output).
   */
  moveTo(file: string, written: Map<FileSpan, number>): void {
    if (this.empty) return;
    const stamp = stampOf(fs.statSync(file, { bigint: true }));
    const real = fs.realpathSync(file);
    for (const holes of this.byBuffer.values()) {
      for (const h of holes.values()) h.tensor.movedOnDisk(new FileSpan(real, written.get(h.span)!, h.span.length, stamp));
    }
  }
}

// No fsync: the rename already makes the output all-or-nothing for a crash of this process, and
// like `cp` we leave durability against power loss to the file system.
/** Writes the chunks to a new `file`, copying holes from their spans; returns where each span's bytes went. */
export function writeChunks(file: string, chunks: readonly Uint8Array[], holes: Holes): Map<FileSpan, number> {
  const written = new Map<FileSpan, number>();
  const fd = fs.openSync(file, 'w');
  try {
    let pos = 0;
    let batch: Uint8Array[] = [];
    const flush = (): void => {
      // writev in batches: IOV_MAX is 1024 on Linux.
      for (let i = 0; i < batch.length; i += 1024) {
        let views = batch.slice(i, i + 1024);
        let remaining = views.reduce((a, c) => a + c.length, 0);
        pos += remaining;
        while (remaining > 0) {
          const n = fs.writevSync(fd, views);
          remaining -= n;
          views = advance(views, n);
        }
      }
      batch = [];
    };
    let copied = 0;
    for (const c of chunks) {
      const inside = holes.empty ? [] : holes.within(c);
      let at = 0;
      for (const h of inside) {
        if (h.at > at) batch.push(c.subarray(at, h.at));
        flush();
        holes.source(h.span).copyTo(h.span.offset + h.from, h.length, fd, null);
        if (h.from === 0) written.set(h.span, pos);
        pos += h.length;
        copied += h.length;
        at = h.at + h.length;
      }
      if (at < c.length) batch.push(at === 0 ? c : c.subarray(at));
    }
    flush();
    // Every unread byte must have been replaced: a hole the chunks no longer show (an encoder that copied
    // a tensor's bytes instead of keeping its view) would otherwise leave junk in the output.
    if (copied !== holes.total) throw new Error(`internal error: ${holes.total} bytes left on disk to copy, ${copied} copied`);
    holes.finish();
  } finally {
    holes.close();
    fs.closeSync(fd);
  }
  return written;
}

function advance(views: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const v of views) {
    if (n >= v.length) { n -= v.length; continue; }
    out.push(n > 0 ? v.subarray(n) : v);
    n = 0;
  }
  return out;
}
