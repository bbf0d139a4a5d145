// The detection part of the harness (docs/detection.md): LID features, the detector and its evaluation.
export { detect, DETECT_DEFAULTS, type DetectOptions } from './detect.js';
export { DETECT_MODES, type DetectMode, type DetectReport, type DetectResult, type DetectSettings, type DetectLayer } from './schema.js';
export { writeDetectReport } from './write.js';
export { renderDetectHtml } from './html.js';
export { ActivationProbe, type Layer, type ProbeOptions } from './activations.js';
export { squaredDistances, nearestDistances } from './knn.js';
export { lidMle, lidRows } from './lid.js';
export { lidFeatures, minibatchLid, minibatches, replaceNonFinite, type LidFeatures, type LidFeatureOptions, type SquaredDistances } from './features.js';
export { GramDistances } from './gram-distances.js';
export { fitStandardiser, standardise, type Standardiser } from './standardise.js';
export { fitLogistic, decisionValues, choleskySolve, type LogisticModel, type LogisticOptions } from './logistic.js';
export { rocCurve, rocAuc, areaUnder, rocOnGrid, type RocCurve } from './roc.js';
export { bootstrapAuc, quantile, type Interval, type BootstrapOptions } from './bootstrap.js';
export { groupFolds } from './folds.js';
export { evaluateDetector, type DetectorData, type DetectorOptions, type DetectorEvaluation } from './detector.js';
export { noisyCounterparts, gaussian } from './noise.js';
