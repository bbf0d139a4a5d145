// Data loaders for evaluation: idx (MNIST-style) and CIFAR binary image sets, and the float32 NCHW
// preprocessing that models take.

export { isGzip, maybeGunzip, readMaybeGzip } from './bytes.js';
export { type ImageSet, DataFormatError, imageSize, checkImageSet, sliceImages } from './images.js';
export {
  type IdxType, type IdxData, type IdxArray, type IdxImageOptions,
  parseIdx, readIdx, encodeIdxUint8, idxToImageSet, readIdxImageSet,
} from './idx.js';
export { type CifarOptions, parseCifarRecords, readCifarBinary } from './cifar.js';
export {
  type Normalisation, type Range,
  MNIST_NORMALISATION, CIFAR10_NORMALISATION, IDENTITY_NORMALISATION,
  scaleTo01, normalise, normalisedBounds, nchwShape,
} from './preprocess.js';
export { type NdArray, type NdData, toNumbers } from './arrays.js';
export { parseNpy, readNpy, parseNpz, readNpz, readZipEntries } from './npy.js';
export { parseTensorProto, readTensorProto } from './tensor-pb.js';
