// Analyses over the IR that every layer above may use: attribute readers with ONNX defaults, reading
// small constants (initializers and Constant nodes), declared types, and type/shape inference.

export { attrFloat, attrFloats, attrInt, attrInts, attrString, attrTensor } from './attrs.js';
export { type ConstantData, FLOAT_TYPES, constantNodeTensor, constantOf, fromBfloat16, fromHalf, makeTensor, tensorValues } from './constants.js';
export {
  type TypeInfo, type WindowGeometry, ShapeInfo, axesOf, broadcastDim, broadcastShapes, isIntType,
  reduceAxesInputOpset, sliceParams, sliceRange, splitSizes, windowGeometry,
} from './shapes.js';
export { type Dim, declaredShape } from './typeproto.js';
