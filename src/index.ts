// Library entry point: load a model, retrofit it, save it. The CLI is a thin layer over these.

export { loadModel, saveModel, readExternalBytes, sessionBytes, type LoadOptions, type SaveOptions, type SaveResult } from './ir/io.js';
export { decodeModel } from './ir/decode.js';
export { encodeModel } from './ir/encode.js';
export { verifyModel, assertValid } from './ir/verify.js';
export { Model } from './ir/model.js';
export { Graph } from './ir/graph.js';
export { Node } from './ir/node.js';
export { Value } from './ir/value.js';
export { Tensor, DataType } from './ir/tensor.js';
export { Attribute, AttributeType } from './ir/attribute.js';
export { IrFunction } from './ir/function.js';
export { NameAuthority } from './ir/names.js';
export * from './ir/errors.js';
export { PassManager, type Pass } from './passes/pass-manager.js';
export { topologicalSort, eliminateDeadCode } from './passes/cleanup.js';
export { findSites, type Site } from './passes/sites.js';
export { parseKappaMap, type KappaMap } from './passes/kappa-map.js';
export { RECORD_KEY, readRecord, TARGETS, type Target, type SiteRecord, type RetrofitRecord } from './passes/retrofit-record.js';
export {
  retrofit as retrofitInPlace, planRetrofit, jumpReluPass, type RetrofitOptions, type RetrofitReport, type SiteReport,
} from './passes/jumprelu.js';

export {
  buildGradientModel, gradientSignature, freeBatchDimension, GRADIENT_MODES,
  type GradientMode, type GradientOptions, type GradientSignature,
} from './autodiff/index.js';

/** Replaces the model's ReLUs with JumpReLU (in place) through the pass manager, which verifies the graph before and after. */
export { retrofit } from './passes/retrofit.js';

// The robustness harness as a library (docs/harness.md).
export { type Oracle, type OracleOptions, type CeResult, type DiffResult, type ModelSource, ModelOracle, retrofittedModel } from './runtime/oracle.js';
export {
  resolveInterface, adaptInterface, checkBatch, interfaceRecord, MODEL_LAYOUTS, type InterfaceRequest, type ResolvedInterface, type ModelLayout,
} from './runtime/model-interface.js';
export { checkRetrofitSites, activationCensus, formatCensus, harnessTarget, type SiteOptions, type SitePlan, type ActivationCount } from './runtime/site-check.js';
export { AnalyticOracle, linearModel, type AnalyticModel } from './runtime/analytic-oracle.js';
export {
  analyseInput, prepareClassifier, resolveInput, PREPROCESS_MODES,
  type InputAnalysis, type InputRequest, type ResolvedInput, type PreprocessMode,
} from './runtime/input-convention.js';
export { checkValues, checkShape, checkLabels, checkSites, ModelMismatchError } from './runtime/data-checks.js';
export { Checkpoint, CHECKPOINT_DIR } from './runtime/report/checkpoint.js';
export { writeReportDir, writeReportFiles, writeFileAtomic, prepareReportDir, ReportWriteError, PER_SAMPLE_FILE } from './runtime/report/write.js';
export { renderReportHtml } from './runtime/report/html.js';
export type * from './runtime/report/schema.js';
export { evaluate, resolveEvalInput, datasetFamily, maskingWarnings, MODES, type EvalOptions, type EvalRun, type PerSampleRow } from './runtime/evaluate.js';
export { mergeShards, mergeReports, ShardDataError } from './runtime/merge.js';
export { parseShard, shardRange, SHARD_SCHEME, type ShardSpec } from './runtime/shard.js';
export { EXECUTION_PROVIDERS, checkExecutionProvider, type ExecutionProvider } from './runtime/execution-provider.js';
export { tune, TUNE_SWEEPS, DEFAULT_QUANTILES, type TuneOptions } from './runtime/tune-run.js';
export { chooseKappa, siteQuantiles, quantileMaps, type Objective } from './runtime/tune.js';
export {
  loadDataset, fromArrays, parseDataSpec, toAttackSpace, checkPreprocessing, DATA_KINDS, FASHION_MNIST_NORMALISATION, type Dataset,
} from './runtime/dataset.js';
export * from './runtime/data/index.js';
export {
  ATTACK_NAMES, makeAttack, resolveAttackParams, attackDefaults, parseAttackParams, isAttackName,
  type AttackName, type DatasetFamily, type ParamValue,
} from './runtime/attacks/registry.js';
export type { Attack, AttackInput, AttackOutput } from './runtime/attacks/common.js';
export { predictions, outcomes, summarise, perturbation, type SampleOutcome, type Summary } from './runtime/metrics.js';
export { SpaceMap, Clamp, type ImageShape } from './runtime/space.js';
export { silentProgress, stderrProgress, type Progress } from './runtime/progress.js';
export { type Criterion, misclassification, targeted } from './runtime/criterion.js';
export { detect, writeDetectReport, renderDetectHtml, type DetectOptions, type DetectReport, type DetectResult } from './runtime/detect/index.js';
