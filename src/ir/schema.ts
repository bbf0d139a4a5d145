// How many inputs and outputs the default-domain (ai.onnx) ops take, over every opset version (the
// union of their ranges, so no version of a valid model is refused). The verifier uses it to refuse a
// node ONNX itself would refuse — a Relu with two inputs, a Where with two — instead of letting a pass
// "repair" it. Ops not listed are not checked; other domains are not checked.

/** Inputs [min, max] and outputs [min, max]; `required` leading inputs must not be empty. */
export interface Arity {
  inputs: readonly [number, number];
  outputs: readonly [number, number];
}

const ANY = Number.POSITIVE_INFINITY;

const UNARY = [
  'Relu', 'LeakyRelu', 'ThresholdedRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Softplus', 'Softsign', 'HardSigmoid',
  'HardSwish', 'Neg', 'Abs', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Identity', 'Not', 'Erf', 'Sign',
  'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Softmax', 'LogSoftmax',
  'Flatten', 'Transpose', 'GlobalAveragePool', 'GlobalMaxPool', 'Cast', 'IsNaN', 'Shape', 'Size', 'Mish', 'Gelu',
  'Round',
] as const;
const BINARY = [
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual',
  'MatMul', 'PRelu', 'Mod', 'BitShift', 'CastLike', 'Expand',
] as const;

const TABLE = new Map<string, Arity>();
const set = (ops: readonly string[], inputs: readonly [number, number], outputs: readonly [number, number] = [1, 1]): void => {
  for (const op of ops) TABLE.set(op, { inputs, outputs });
};
set(UNARY, [1, 1]);
set(BINARY, [2, 2]);
set(['Where'], [3, 3]);
set(['Clip'], [1, 3]);
set(['Gemm', 'Conv'], [2, 3]);
set(['Max', 'Min', 'Sum', 'Mean', 'Concat'], [1, ANY]);
set(['Reshape', 'Squeeze', 'Unsqueeze'], [1, 2]);
set(['BatchNormalization'], [5, 5], [1, 5]);
set(['MaxPool'], [1, 1], [1, 2]);
set(['AveragePool'], [1, 1]);
set(['Dropout'], [1, 3], [1, 2]);
set(['Gather'], [2, 2]);
set(['Constant'], [0, 0]);
set(['QuantizeLinear', 'DequantizeLinear'], [2, 3]);

/** The arity of an op of the default domain, or undefined when it is not checked. */
export function arityOf(domain: string, opType: string): Arity | undefined {
  if (domain !== '' && domain !== 'ai.onnx') return undefined;
  return TABLE.get(opType);
}
