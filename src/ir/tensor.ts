// A TensorProto kept as the bytes it was read from. Its header (name, type, dims, where the data
// lives) is parsed eagerly; its values only when a pass asks (`float32Data()`), so a 2 GiB model's
// weights are never turned into JS numbers. A big raw_data payload may even stay on disk (model-image.ts):
// then the tensor reads it when asked for it, and the saver copies it file to file.

import { ExternalDataError, ModelFormatError } from './errors.js';
import { type FileSpan, readSpan } from './file-span.js';
import {
  type RawField, ChunkWriter, WireType, appendFloats, appendInt64s, asInt, asString, parseFields,
} from './wire.js';

export const DataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
  FLOAT8E4M3FN: 17, FLOAT8E4M3FNUZ: 18, FLOAT8E5M2: 19, FLOAT8E5M2FNUZ: 20, UINT4: 21, INT4: 22,
  FLOAT4E2M1: 23, FLOAT8E8M0: 24, UINT2: 25, INT2: 26,
} as const;

const BITS_PER_ELEMENT: Record<number, number> = {
  1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128,
  16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2,
};

/** Bytes that `count` elements of `dataType` occupy in raw_data, or null for variable-size types. */
export function rawByteSize(dataType: number, count: bigint): bigint | null {
  const bits = BITS_PER_ELEMENT[dataType];
  if (bits === undefined) return null;
  return (count * BigInt(bits) + 7n) / 8n;
}

/** TensorProto field numbers. */
export const TensorField = {
  dims: 1, dataType: 2, segment: 3, floatData: 4, int32Data: 5, stringData: 6, int64Data: 7, name: 8,
  rawData: 9, doubleData: 10, uint64Data: 11, docString: 12, externalData: 13, dataLocation: 14,
  metadataProps: 16,
} as const;

export interface ExternalDataRef {
  location: string;
  offset: bigint;
  /** Declared length, or null when the proto leaves it out (then it is implied by dims and type). */
  length: bigint | null;
}

/** Where a tensor's bytes are when they are outside the proto: a resolved file and byte range. */
export interface ExternalBytes {
  readonly file: string;
  readonly offset: number;
  readonly length: number;
}

export class Tensor {
  name: string;
  readonly dataType: number;
  readonly dims: readonly bigint[];
  readonly external: ExternalDataRef | null;
  /** Set by the loader once `external` has been validated against the file system. */
  externalBytes: ExternalBytes | null = null;
  private readonly fields: readonly RawField[];
  private readonly src: Uint8Array;
  private readonly srcName: string;
  /**
   * Set when the loader left the raw_data payload on disk at `span`: then `src` holds unread bytes where
   * the payload would be, from `at` on, and those are never handed out (only to writeChunks in io.ts,
   * with the span, through encodeLeavingData).
   */
  private onDisk: { span: FileSpan; at: number } | null = null;

  private constructor(src: Uint8Array, fields: RawField[]) {
    this.src = src;
    this.fields = fields;
    let name = '';
    let dataType = 0;
    const dims: bigint[] = [];
    let location: string | null = null;
    let external: ExternalDataRef | null = null;
    let offset = 0n;
    let length: bigint | null = null;
    const seenKeys = new Set<string>();
    for (const f of fields) {
      switch (f.no) {
        case TensorField.name: name = asString(f); break;
        case TensorField.dataType: dataType = asInt(f); break;
        case TensorField.dims: appendInt64s(f, dims); break;
        case TensorField.dataLocation: if (asInt(f) === 1) external = { location: '', offset: 0n, length: null }; break;
        case TensorField.externalData: {
          let key = '';
          let value = '';
          for (const kv of parseFields(f.payload)) {
            if (kv.no === 1) key = asString(kv);
            else if (kv.no === 2) value = asString(kv);
          }
          // ONNX Runtime and onnx.checker refuse a key given twice; taking either one would be a guess.
          if (seenKeys.has(key) && (key === 'location' || key === 'offset' || key === 'length' || key === 'checksum')) {
            throw new ExternalDataError(`tensor '${name}': external data key '${key}' is given twice`, { code: 'external-data-duplicate-key' });
          }
          seenKeys.add(key);
          if (key === 'location') location = value;
          else if (key === 'offset') offset = parseDecimal(value, name, 'offset');
          else if (key === 'length') length = parseDecimal(value, name, 'length');
          break;
        }
      }
    }
    for (const d of dims) {
      if (d < 0n) throw new ModelFormatError(`tensor '${name}' has a negative dimension ${d}`);
    }
    if (external) {
      if (location === null) throw new ModelFormatError(`tensor '${name}' is external but has no location`);
      external = { location, offset, length };
    }
    this.name = name;
    this.srcName = name;
    this.dataType = dataType;
    this.dims = dims;
    this.external = external;
  }

  static decode(bytes: Uint8Array): Tensor {
    return new Tensor(bytes, parseFields(bytes));
  }

  /** A new float32 tensor stored as raw_data (little-endian, as ONNX requires). */
  static fromFloat32(name: string, dims: readonly number[], values: Float32Array | readonly number[]): Tensor {
    const w = new ChunkWriter();
    for (const d of dims) w.int64Field(TensorField.dims, d);
    w.int64Field(TensorField.dataType, DataType.FLOAT);
    w.stringField(TensorField.name, name);
    const data = Float32Array.from(values);
    w.bytesField(TensorField.rawData, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return Tensor.decode(w.toBytes());
  }

  get elementCount(): bigint {
    return this.dims.reduce((a, b) => a * b, 1n);
  }

  /** Bytes of the data in raw form, or null when the type has no fixed size (strings). */
  get expectedByteLength(): bigint | null {
    return rawByteSize(this.dataType, this.elementCount);
  }

  /**
   * The raw_data field as protobuf reads it: the last one given (a singular field's last value wins), of the
   * length-delimited wire type (one of another type is an unknown field to protobuf, not the data).
   */
  private get rawField(): RawField | null {
    for (let i = this.fields.length - 1; i >= 0; i--) {
      const f = this.fields[i]!;
      if (f.no === TensorField.rawData && f.wireType === WireType.LengthDelimited) return f;
    }
    return null;
  }

  /**
   * The raw_data payload, or null when the data is elsewhere: a view of the source bytes, or read from the
   * model file now when the loader left it there (`dataOnDisk`; reading checks the file is unchanged).
   */
  get inlineRawData(): Uint8Array | null {
    const raw = this.rawField;
    if (!raw) return null;
    return this.onDisk ? readSpan(this.onDisk.span) : raw.payload;
  }

  /** Length of the raw_data payload (without reading it), or null when there is none. */
  get inlineRawLength(): number | null {
    return this.rawField?.payload.length ?? null;
  }

  /** Where the raw_data payload is when the loader left it in the model file; null when it is in memory. */
  get dataOnDisk(): FileSpan | null {
    return this.onDisk?.span ?? null;
  }

  /**
   * Called by the loader for each tensor decoded from `image` (a buffer holding the file's bytes at their
   * offsets, model-image.ts): when the raw_data payload is one of `spans` (keyed by file offset), the
   * tensor takes it as left on disk and removes it from `spans`. Returns whether it did.
   */
  leaveDataOnDisk(image: Uint8Array, spans: Map<number, FileSpan>): boolean {
    const raw = this.rawField;
    if (this.onDisk || this.external || !raw || raw.payload.buffer !== image.buffer) return false;
    const offset = raw.payload.byteOffset - image.byteOffset;
    const span = spans.get(offset);
    if (!span || span.length !== raw.payload.length) return false;
    spans.delete(offset);
    this.onDisk = { span, at: raw.payload.byteOffset - this.src.byteOffset };
    return true;
  }

  /**
   * Reads the payload left on disk into the source bytes (the image's unread bytes at `at`), so the tensor no
   * longer depends on the model file: for a save about to replace that file with one where this tensor's
   * data is not where a span could follow it (renamed, or moved to external data).
   */
  loadDataIntoMemory(): void {
    if (!this.onDisk) return;
    readSpan(this.onDisk.span, this.src, this.onDisk.at);
    this.onDisk = null;
  }

  /** After the model was saved over its own file: the same bytes, now at `span` of the new file. */
  movedOnDisk(span: FileSpan): void {
    if (!this.onDisk || span.length !== this.onDisk.span.length) throw new Error(`tensor '${this.name}': no data on disk to move`);
    this.onDisk = { span, at: this.onDisk.at };
  }

  /** Checks the declared shape against the stored data; throws on any disagreement. */
  validateInlineData(): void {
    const expected = this.expectedByteLength;
    const rawLength = this.inlineRawLength;
    if (this.external || expected === null) return;
    let stored: bigint;
    if (rawLength !== null) {
      stored = BigInt(rawLength);
    } else {
      const count = this.typedFieldCount();
      if (count === null) return;
      // Typed fields hold one element per entry (complex: two; float16 etc. packed in int32_data).
      const perElement = this.dataType === DataType.COMPLEX64 || this.dataType === DataType.COMPLEX128 ? 2n : 1n;
      const elements = this.elementCount * perElement;
      const packedSubByte = this.dataType >= DataType.UINT4 && this.dataType !== DataType.FLOAT8E8M0;
      if (packedSubByte) return;
      if (count === 0n && elements !== 0n && !this.hasAnyDataField()) {
        throw new ModelFormatError(`tensor '${this.name}' declares ${elements} elements but holds no data`);
      }
      if (count !== elements) {
        throw new ModelFormatError(
          `tensor '${this.name}' declares dims [${this.dims.join(', ')}] (${elements} values) but holds ${count}`);
      }
      return;
    }
    if (stored !== expected) {
      throw new ModelFormatError(
        `tensor '${this.name}' declares dims [${this.dims.join(', ')}] (${expected} bytes) but raw_data holds ${stored} bytes`);
    }
  }

  private hasAnyDataField(): boolean {
    return this.fields.some((f) => f.no === TensorField.rawData || f.no === TensorField.stringData
      || f.no === TensorField.floatData || f.no === TensorField.int32Data || f.no === TensorField.int64Data
      || f.no === TensorField.doubleData || f.no === TensorField.uint64Data);
  }

  private typedFieldCount(): bigint | null {
    let count = 0n;
    for (const f of this.fields) {
      switch (f.no) {
        case TensorField.floatData:
          count += f.wireType === WireType.Fixed32 ? 1n : BigInt(f.payload.length / 4);
          break;
        case TensorField.doubleData:
          count += f.wireType === WireType.Fixed64 ? 1n : BigInt(f.payload.length / 8);
          break;
        case TensorField.int32Data: case TensorField.int64Data: case TensorField.uint64Data: {
          if (f.wireType === WireType.Varint) count += 1n;
          else {
            let n = 0n;
            for (const b of f.payload) if ((b & 0x80) === 0) n++;
            count += n;
          }
          break;
        }
        case TensorField.stringData: return null;
      }
    }
    return count;
  }

  /**
   * The values as float32, for passes that need them. Reads external data from disk if needed.
   * Only FLOAT tensors are supported: a pass asking for another type has a bug.
   */
  float32Data(readExternal: (ref: ExternalBytes) => Uint8Array): Float32Array {
    if (this.dataType !== DataType.FLOAT) throw new ModelFormatError(`tensor '${this.name}' is not float32`);
    let raw = this.inlineRawData;
    if (this.externalBytes) raw = readExternal(this.externalBytes);
    if (raw) {
      const copy = new Uint8Array(raw); // aligned copy; the source view may be unaligned
      return new Float32Array(copy.buffer, 0, copy.length / 4);
    }
    const out: number[] = [];
    for (const f of this.fields) if (f.no === TensorField.floatData) appendFloats(f, out);
    return Float32Array.from(out);
  }

  /** The TensorProto bytes: the original ones unless the tensor was renamed (data left on disk read now). */
  encode(): Uint8Array {
    const src = this.onDisk ? this.loadedSource(this.onDisk) : this.src;
    if (this.name === this.srcName) return src;
    const w = new ChunkWriter();
    for (const f of this.onDisk ? parseFields(src) : this.fields) {
      if (f.no === TensorField.name) w.stringField(TensorField.name, this.name);
      else w.push(f.bytes);
    }
    if (!this.fields.some((f) => f.no === TensorField.name)) w.stringField(TensorField.name, this.name);
    return w.toBytes();
  }

  /**
   * The TensorProto bytes for a writer that copies data left on disk itself: when `hole` is set, `bytes`
   * holds `hole.span.length` unread bytes at `hole.at`, to be replaced by the span's bytes.
   */
  encodeLeavingData(): { bytes: Uint8Array; hole: { at: number; span: FileSpan } | null } {
    if (this.onDisk && this.name === this.srcName) return { bytes: this.src, hole: this.onDisk };
    return { bytes: this.encode(), hole: null };
  }

  /** The source bytes with the payload left on disk read into a copy. */
  private loadedSource(onDisk: { span: FileSpan; at: number }): Uint8Array {
    const out = new Uint8Array(this.src.length);
    out.set(this.src.subarray(0, onDisk.at));
    const after = onDisk.at + onDisk.span.length;
    out.set(this.src.subarray(after), after);
    return readSpan(onDisk.span, out, onDisk.at);
  }

  /** This tensor's fields (its current name included) without its data and external-data fields, to add new ones to. */
  private withoutData(): ChunkWriter {
    const w = new ChunkWriter();
    for (const f of this.fields) {
      if (f.no === TensorField.name) { w.stringField(TensorField.name, this.name); continue; }
      if (isDataField(f.no) || f.no === TensorField.externalData || f.no === TensorField.dataLocation) continue;
      w.push(f.bytes);
    }
    if (!this.fields.some((f) => f.no === TensorField.name)) w.stringField(TensorField.name, this.name);
    return w;
  }

  /**
   * A copy with `raw` as its raw_data and no external-data fields: for handing a model to a runtime from memory,
   * which would resolve external locations against its own working directory, not the model's folder.
   */
  withInlineData(raw: Uint8Array): Tensor {
    const w = this.withoutData();
    w.bytesField(TensorField.rawData, raw);
    return Tensor.decode(w.toBytes());
  }

  /**
   * A copy whose data lives in an external file (the data fields dropped, the location fields
   * added). Used when saving with --external-data.
   */
  withExternalData(location: string, offset: number, length: number): Tensor {
    const w = this.withoutData();
    for (const [k, v] of [['location', location], ['offset', String(offset)], ['length', String(length)]] as const) {
      const kv = new ChunkWriter();
      kv.stringField(1, k);
      kv.stringField(2, v);
      w.messageField(TensorField.externalData, kv);
    }
    w.int64Field(TensorField.dataLocation, 1);
    return Tensor.decode(w.toBytes());
  }
}

function isDataField(no: number): boolean {
  return no === TensorField.floatData || no === TensorField.int32Data || no === TensorField.stringData
    || no === TensorField.int64Data || no === TensorField.rawData || no === TensorField.doubleData
    || no === TensorField.uint64Data;
}

function parseDecimal(s: string, tensor: string, what: string): bigint {
  if (!/^[0-9]+$/.test(s)) throw new ModelFormatError(`tensor '${tensor}' has a bad external-data ${what} '${s}'`);
  return BigInt(s);
}
