// LeCun's idx format (MNIST, Fashion-MNIST, EMNIST ...): a big-endian header
// [0, 0, type code, number of dimensions], one uint32 per dimension, then the values in row-major order.
// Files may be gzip-compressed (.gz) or raw.

import { readMaybeGzip } from './bytes.js';
import { checkImageSet, DataFormatError, type ImageSet } from './images.js';

export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  readonly type: IdxType;
  readonly dims: readonly number[];
  readonly data: IdxData;
}

const TYPES: Record<number, { type: IdxType; bytes: number }> = {
  0x08: { type: 'uint8', bytes: 1 },
  0x09: { type: 'int8', bytes: 1 },
  0x0b: { type: 'int16', bytes: 2 },
  0x0c: { type: 'int32', bytes: 4 },
  0x0d: { type: 'float32', bytes: 4 },
  0x0e: { type: 'float64', bytes: 8 },
};

/** Parses an (uncompressed) idx file. Values are converted from big-endian to native typed arrays. */
export function parseIdx(bytes: Uint8Array): IdxArray {
  if (bytes.length < 4) throw new DataFormatError(`idx: ${bytes.length} bytes is too short for a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const spec = TYPES[bytes[2]!];
  if (view.getUint16(0) !== 0 || spec === undefined) {
    throw new DataFormatError(`idx: bad magic number 0x${view.getUint32(0).toString(16).padStart(8, '0')}`);
  }
  const ndim = bytes[3]!;
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) throw new DataFormatError(`idx: truncated header (${ndim} dimensions)`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + n * spec.bytes;
  if (bytes.length !== expected) {
    throw new DataFormatError(`idx: ${dims.join(' x ')} ${spec.type} needs ${expected} bytes, file has ${bytes.length}`);
  }
  let data: IdxData;
  switch (spec.type) {
    case 'uint8':
      data = bytes.slice(headerBytes);
      break;
    case 'int8':
      data = new Int8Array(bytes.slice(headerBytes).buffer);
      break;
    case 'int16':
      data = Int16Array.from({ length: n }, (_, i) => view.getInt16(headerBytes + 2 * i));
      break;
    case 'int32':
      data = Int32Array.from({ length: n }, (_, i) => view.getInt32(headerBytes + 4 * i));
      break;
    case 'float32':
      data = Float32Array.from({ length: n }, (_, i) => view.getFloat32(headerBytes + 4 * i));
      break;
    case 'float64':
      data = Float64Array.from({ length: n }, (_, i) => view.getFloat64(headerBytes + 8 * i));
      break;
  }
  return { type: spec.type, dims, data };
}

/** Reads an idx file (.gz or raw). */
export async function readIdx(path: string): Promise<IdxArray> {
  const bytes = await readMaybeGzip(path);
  try {
    return parseIdx(bytes);
  } catch (e) {
    if (e instanceof DataFormatError) throw new DataFormatError(`${path}: ${e.message}`);
    throw e;
  }
}

/** Serialises a uint8 idx array (uncompressed). Used to write small fixtures. */
export function encodeIdxUint8(dims: readonly number[], data: Uint8Array): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new DataFormatError(`idx: ${data.length} values for dims ${dims.join(' x ')}`);
  const out = new Uint8Array(4 + 4 * dims.length + n);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

export interface IdxImageOptions {
  /** Layout of a 4-dimensional images file (N x H x W x C or N x C x H x W). Required for 4-D files. */
  readonly layout?: 'NHWC' | 'NCHW';
}

/**
 * Combines an idx images array (uint8, N x H x W, or 4-D with an explicit layout) and an idx labels
 * array (uint8, N) into an ImageSet in NCHW order.
 */
export function idxToImageSet(images: IdxArray, labels: IdxArray, options: IdxImageOptions = {}): ImageSet {
  if (images.type !== 'uint8') throw new DataFormatError(`idx images must be uint8, got ${images.type}`);
  if (labels.type !== 'uint8' || labels.dims.length !== 1) {
    throw new DataFormatError(`idx labels must be a 1-D uint8 array, got ${labels.type} ${labels.dims.join(' x ')}`);
  }
  const pixels = images.data as Uint8Array;
  let count: number, channels: number, height: number, width: number;
  let nchw = pixels;
  if (images.dims.length === 3) {
    [count, height, width] = images.dims as [number, number, number];
    channels = 1;
  } else if (images.dims.length === 4) {
    if (options.layout === 'NCHW') {
      [count, channels, height, width] = images.dims as [number, number, number, number];
    } else if (options.layout === 'NHWC') {
      [count, height, width, channels] = images.dims as [number, number, number, number];
      nchw = new Uint8Array(pixels.length);
      const hw = height * width;
      for (let n = 0; n < count; n++) {
        const base = n * hw * channels;
        for (let p = 0; p < hw; p++) {
          for (let c = 0; c < channels; c++) nchw[base + c * hw + p] = pixels[base + p * channels + c]!;
        }
      }
    } else {
      throw new DataFormatError('idx images with 4 dimensions need options.layout (NHWC or NCHW)');
    }
  } else {
    throw new DataFormatError(`idx images must have 3 or 4 dimensions, got ${images.dims.join(' x ')}`);
  }
  if (labels.dims[0] !== count) {
    throw new DataFormatError(`idx: ${count} images but ${labels.dims[0]} labels`);
  }
  return checkImageSet({ count, channels, height, width, pixels: nchw, labels: labels.data as Uint8Array });
}

/** Reads a pair of idx files (.gz or raw), e.g. t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz. */
export async function readIdxImageSet(imagesPath: string, labelsPath: string, options: IdxImageOptions = {}): Promise<ImageSet> {
  const [images, labels] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
  try {
    return idxToImageSet(images, labels, options);
  } catch (e) {
    if (e instanceof DataFormatError) throw new DataFormatError(`${imagesPath}, ${labelsPath}: ${e.message}`);
    throw e;
  }
}
