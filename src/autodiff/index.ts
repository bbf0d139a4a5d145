// Gradient compiler: reverse-mode differentiation of ONNX models into ONNX models that ONNX Runtime runs.

export {
  type GradientMode, type GradientOptions, type GradientSignature, GRADIENT_METADATA_KEY, GRADIENT_MODES,
  type MissingRule, buildGradientModel, gradientSignature, gradientSupport,
} from './build.js';
export { type FreeBatchOptions, type FreeBatchReport, freeBatchDimension } from './free-batch.js';
export { RETROFIT_METADATA_KEY, type RetrofitSite } from './kappa.js';
export { JUMPRELU_CUSTOM_DOMAIN, JUMPRELU_FUNCTION_DOMAIN, SUPPORTED_OPS } from './rules/index.js';
