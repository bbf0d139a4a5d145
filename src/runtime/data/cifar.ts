// The CIFAR-10 binary record format: each record is one label byte followed by the image's pixels as
// channel planes (1024 red, 1024 green, 1024 blue bytes for 32 x 32, rows in order), i.e. already NCHW.
// CIFAR-100's format has two label bytes (coarse, fine): pass labelBytes = 2 and choose which one.

import { readMaybeGzip } from './bytes.js';
import { checkImageSet, DataFormatError, type ImageSet } from './images.js';

export interface CifarOptions {
  readonly channels?: number; // default 3
  readonly height?: number; // default 32
  readonly width?: number; // default 32
  readonly labelBytes?: number; // default 1 (CIFAR-10); 2 for CIFAR-100
  /** Which label byte to keep when labelBytes > 1 (default: the last one, CIFAR-100's fine label). */
  readonly labelIndex?: number;
}

/** Parses the concatenated records of one or more CIFAR binary batches (uncompressed). */
export function parseCifarRecords(bytes: Uint8Array, options: CifarOptions = {}): ImageSet {
  const channels = options.channels ?? 3;
  const height = options.height ?? 32;
  const width = options.width ?? 32;
  const labelBytes = options.labelBytes ?? 1;
  const labelIndex = options.labelIndex ?? labelBytes - 1;
  if (labelIndex < 0 || labelIndex >= labelBytes) throw new RangeError(`labelIndex ${labelIndex} outside 0..${labelBytes - 1}`);
  const size = channels * height * width;
  const record = labelBytes + size;
  if (bytes.length % record !== 0) {
    throw new DataFormatError(`CIFAR: ${bytes.length} bytes is not a whole number of ${record}-byte records`);
  }
  const count = bytes.length / record;
  const pixels = new Uint8Array(count * size);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * record;
    labels[i] = bytes[at + labelIndex]!;
    pixels.set(bytes.subarray(at + labelBytes, at + record), i * size);
  }
  return checkImageSet({ count, channels, height, width, pixels, labels });
}

/** Reads a CIFAR binary file (.bin or .bin.gz). */
export async function readCifarBinary(path: string, options: CifarOptions = {}): Promise<ImageSet> {
  const bytes = await readMaybeGzip(path);
  try {
    return parseCifarRecords(bytes, options);
  } catch (e) {
    if (e instanceof DataFormatError) throw new DataFormatError(`${path}: ${e.message}`);
    throw e;
  }
}
