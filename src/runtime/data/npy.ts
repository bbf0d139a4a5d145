// NumPy .npy (format versions 1–3, C order, little- or big-endian numeric dtypes) and .npz (a zip of .npy
// files, stored or deflated, with zip64 sizes) readers.

import { readFile } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
import type { NdArray, NdData } from './arrays.js';
import { DataFormatError } from './images.js';

const DTYPES: Record<string, { dtype: NdArray['dtype']; bytes: number }> = {
  u1: { dtype: 'uint8', bytes: 1 }, i1: { dtype: 'int8', bytes: 1 }, b1: { dtype: 'uint8', bytes: 1 },
  u2: { dtype: 'uint16', bytes: 2 }, i2: { dtype: 'int16', bytes: 2 },
  u4: { dtype: 'uint32', bytes: 4 }, i4: { dtype: 'int32', bytes: 4 },
  u8: { dtype: 'uint64', bytes: 8 }, i8: { dtype: 'int64', bytes: 8 },
  f4: { dtype: 'float32', bytes: 4 }, f8: { dtype: 'float64', bytes: 8 },
};

function field(header: string, key: string): string {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|True|False|\\([^)]*\\))`).exec(header);
  if (!m) throw new DataFormatError(`npy: header lacks '${key}': ${header.trim()}`);
  return m[1]!;
}

/** Parses the bytes of one .npy file. */
export function parseNpy(bytes: Uint8Array, what = 'npy'): NdArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new DataFormatError(`${what}: not a .npy file (bad magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let at: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    at = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataFormatError(`${what}: truncated header`);
    headerLen = view.getUint32(8, true);
    at = 12;
  } else {
    throw new DataFormatError(`${what}: unsupported .npy format version ${major}`);
  }
  if (at + headerLen > bytes.length) throw new DataFormatError(`${what}: truncated header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(at, at + headerLen));
  const descr = field(header, 'descr').slice(1, -1);
  if (field(header, 'fortran_order') !== 'False') throw new DataFormatError(`${what}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
  const shapeText = field(header, 'shape').slice(1, -1).trim();
  const shape = shapeText === '' ? [] : shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DataFormatError(`${what}: bad shape (${shapeText})`);
  const m = /^([<>|=])([a-z]\d+)$/.exec(descr);
  const spec = m ? DTYPES[m[2]!] : undefined;
  if (!m || !spec) throw new DataFormatError(`${what}: unsupported dtype '${descr}' (numeric dtypes only)`);
  const bigEndian = m[1] === '>';
  const count = shape.reduce((a, b) => a * b, 1);
  const start = at + headerLen;
  if (bytes.length - start !== count * spec.bytes) {
    throw new DataFormatError(`${what}: shape (${shape.join(', ')}) ${descr} needs ${count * spec.bytes} data bytes, file has ${bytes.length - start}`);
  }
  const raw = Uint8Array.prototype.slice.call(bytes, start, start + count * spec.bytes); // an aligned copy (Buffer.slice would be a view)
  if (bigEndian && spec.bytes > 1) {
    for (let i = 0; i < raw.length; i += spec.bytes) raw.subarray(i, i + spec.bytes).reverse();
  }
  const b = raw.buffer;
  let data: NdData;
  switch (spec.dtype) {
    case 'uint8': data = new Uint8Array(b); break;
    case 'int8': data = new Int8Array(b); break;
    case 'uint16': data = new Uint16Array(b); break;
    case 'int16': data = new Int16Array(b); break;
    case 'uint32': data = new Uint32Array(b); break;
    case 'int32': data = new Int32Array(b); break;
    case 'uint64': data = new BigUint64Array(b); break;
    case 'int64': data = new BigInt64Array(b); break;
    case 'float32': data = new Float32Array(b); break;
    case 'float64': data = new Float64Array(b); break;
  }
  return { dtype: spec.dtype, shape, data };
}

export async function readNpy(path: string): Promise<NdArray> {
  const b = await readFile(path);
  return parseNpy(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), path);
}

/** The entries of a zip archive (name → uncompressed bytes); stored and deflated entries, zip64 sizes. */
export function readZipEntries(bytes: Uint8Array, what = 'zip'): Map<string, Uint8Array> {
  try {
    return zipEntries(bytes, what);
  } catch (e) {
    // offsets that point past the end of the file (a cut archive) surface as RangeError from DataView
    if (e instanceof RangeError) throw new DataFormatError(`${what}: truncated or corrupt zip archive (an offset points past the end of the file)`, { code: 'data-truncated' });
    throw e;
  }
}

function zipEntries(bytes: Uint8Array, what: string): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new DataFormatError(`${what}: not a zip archive (no end of central directory)`);
  let entries = view.getUint16(eocd + 10, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || entries === 0xffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== 0x07064b50) throw new DataFormatError(`${what}: zip64 locator missing`);
    const z = Number(view.getBigUint64(loc + 8, true));
    if (view.getUint32(z, true) !== 0x06064b50) throw new DataFormatError(`${what}: bad zip64 end record`);
    entries = Number(view.getBigUint64(z + 32, true));
    cdOffset = Number(view.getBigUint64(z + 48, true));
  }
  const out = new Map<string, Uint8Array>();
  let p = cdOffset;
  const dec = new TextDecoder();
  for (let e = 0; e < entries; e++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50) throw new DataFormatError(`${what}: bad central directory entry ${e}`);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let csize = view.getUint32(p + 20, true);
    let usize = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let local = view.getUint32(p + 42, true);
    const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 0xffffffff fields, in order usize, csize, local offset
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = view.getUint16(x, true);
      const len = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        if (usize === 0xffffffff) { usize = Number(view.getBigUint64(q, true)); q += 8; }
        if (csize === 0xffffffff) { csize = Number(view.getBigUint64(q, true)); q += 8; }
        if (local === 0xffffffff) { local = Number(view.getBigUint64(q, true)); q += 8; }
      }
      x += 4 + len;
    }
    if (view.getUint32(local, true) !== 0x04034b50) throw new DataFormatError(`${what}: bad local header for '${name}'`);
    const dataAt = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (dataAt + csize > bytes.length) throw new DataFormatError(`${what}: entry '${name}' is cut short (truncated archive)`, { code: 'data-truncated' });
    const comp = bytes.subarray(dataAt, dataAt + csize);
    let data: Uint8Array;
    if (method === 0) data = comp;
    else if (method === 8) {
      let b: Buffer;
      try {
        b = inflateRawSync(comp);
      } catch (e) {
        throw new DataFormatError(`${what}: entry '${name}' does not inflate (${(e as Error).message}): the archive is corrupt`);
      }
      data = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } else throw new DataFormatError(`${what}: entry '${name}' uses unsupported compression method ${method}`);
    if (data.length !== usize) throw new DataFormatError(`${what}: entry '${name}' has ${data.length} bytes, expected ${usize}`);
    if ((crc32(data) >>> 0) !== crc) throw new DataFormatError(`${what}: entry '${name}' fails its CRC-32 check (stored ${hex(crc)}, computed ${hex(crc32(data) >>> 0)}): the archive is corrupt`, { code: 'data-crc' });
    out.set(name, data);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Parses an .npz archive: array name (without .npy) → array. */
export function parseNpz(bytes: Uint8Array, what = 'npz'): Map<string, NdArray> {
  const out = new Map<string, NdArray>();
  for (const [name, data] of readZipEntries(bytes, what)) {
    if (!name.endsWith('.npy')) continue;
    out.set(name.slice(0, -4), parseNpy(data, `${what}:${name}`));
  }
  return out;
}

export async function readNpz(path: string): Promise<Map<string, NdArray>> {
  const b = await readFile(path);
  return parseNpz(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), path);
}
