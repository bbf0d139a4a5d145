// report.json, format 1: the machine-readable record of one `jumprelu eval` or `jumprelu tune` run.
// Field names are stable; new fields are only ever added as optional. All accuracies, rates and ρ values are
// fractions in [0, 1] (not percent). Documented in docs/harness.md.

export type ReportKind = 'eval' | 'tune';
export type DataKind = 'mnist' | 'fashion-mnist' | 'cifar10' | 'npy' | 'npz' | 'pb';
/** The space in which ε, clamping and ρ are measured: the model's mean/std-normalised input (the paper), or [0,1] pixels. */
export type InputSpace = 'normalized' | 'pixel';
/** batch-minmax: clamp to the min/max of the whole batch (the authors' code); box: clamp to the fixed bounds. */
export type ClampRule = 'batch-minmax' | 'box';
export type AttackMode = 'white-box' | 'gray-box' | 'adaptive';
export type Norm = 'l2' | 'linf';

export interface ReportTool {
  name: 'jumprelu';
  version: string;
}

export interface ReportModel {
  path: string;
  /** Hex SHA-256 of the model file's bytes. */
  sha256: string;
  /** The model's interface as resolved (model-interface.ts): input, output, layout, batch. Optional. */
  interface?: {
    input: string; output: string; layout: 'NCHW' | 'NHWC'; form: 'batched' | 'batch-less' | 'flat' | 'channel-less';
    initializer_inputs: number; batch: 'free' | 'one sample per call'; summary: string;
  };
}

export interface Preprocessing {
  /** Raw pixel values are multiplied by this first (1/255 for 8-bit images). */
  scale: number;
  /** Per channel (one entry for grey images). */
  mean: number[];
  std: number[];
  layout: 'NCHW';
}

/** What the model expects at its input and what the harness fed it, resolved from the graph before the run. */
export interface InputConvention {
  /** The --preprocessing mode asked for: auto (read the graph), normalize, none. */
  preprocessing: 'auto' | 'normalize' | 'none';
  /** Where the answer came from: the model's graph, the flags, or the data kind's statistics. */
  resolved_from: 'graph' | 'flags' | 'data kind';
  model_expects: string;
  data_gives: string;
  /** The space ε, clamping and ρ are measured in. */
  epsilon_in: string;
  /** The leading preprocessing ops found in the graph (and a final Softmax/LogSoftmax). */
  graph_ops: string[];
  /** What the harness cut from the graph before running it (a leading Cast/Transpose, a final Softmax). */
  cut: string[];
  /** The per-channel mean/std the graph applies to [0,1] pixels, when it normalises. Optional. */
  model_mean?: number[];
  model_std?: number[];
}

export interface ReportData {
  kind: DataKind;
  path: string;
  /** Samples evaluated (after --limit). */
  n: number;
  preprocessing: Preprocessing;
  space: InputSpace;
  clamp: ClampRule;
  /** Bounds of the input in `space` (for normalized: the normalised images of pixel 0 and 1, over all channels). */
  bounds: { min: number; max: number };
}

export type AttackParams = Record<string, number | string | boolean>;

export interface ReportSettings {
  kappas: number[];
  /** Attack name → its parameters (eps, iterations, overshoot, candidates, radius, ...). */
  attacks: Record<string, AttackParams>;
  modes: string[];
  limit: number | null;
  batch: number;
  ort_threads: number;
  /** Why ort_threads (the thread rule of src/runtime/resources.ts, or '--threads'). Optional. */
  ort_threads_rule?: string;
  /** --max-memory in bytes, and how the batch was derived from it. Optional. */
  max_memory?: { bytes: number; batch_rule: string };
  seed: number;
  /** Per-layer κ (scale-aware) when used: site name → κ, per κ entry of `kappas` (as a quantile). Optional. */
  per_layer_kappa?: Record<string, Record<string, number>>;
  /** Gray-box: the κ the examples are crafted on (0: the ReLU model). Optional. */
  gray_box_source_kappa?: number;
  /** Adaptive: the gradient κ (0: ReLU surrogate). Optional. */
  adaptive_grad_kappa?: number;
  /** What counted as a successful attack when not a misclassification ('targeted'). Optional. */
  criterion?: string;
  /** Pictures kept per (κ, attack, mode). Optional. */
  examples_per_result?: number;
  /** The ONNX Runtime execution provider the sessions ran on ('cpu', 'cuda'). Optional (absent: cpu). */
  execution_provider?: string;
  /** The retrofit's site options and what they reach (site-check.ts). Optional. */
  retrofit?: {
    relu6: boolean; sites_changed: number; activations: string;
    /** --kappa-map's JSON as given, applied at every κ > 0 (κ = 0 stays the ReLU model), and --only-mapped. */
    kappa_map?: unknown; only_mapped?: boolean;
  };
}

export interface CleanResult {
  kappa: number;
  n: number;
  accuracy: number;
}

export interface AttackResult {
  kappa: number;
  attack: string;
  mode: AttackMode;
  norm: Norm;
  n: number;
  /** Fraction of all n samples still classified correctly after the attack. */
  accuracy: number;
  /** Fraction of the samples correct before the attack that the attack misclassifies. */
  fooling_rate: number;
  /** The paper's ρ̃: mean ‖x̃−x‖p/‖x‖p over all n samples (failures and misclassified-clean samples included). */
  rho_all: number;
  /** ART's empirical robustness: the same mean over successful attacks only (0 when there were none). */
  rho_success: number;
  /** Mean ‖x̃−x‖p over all samples, in `data.space` units. */
  abs_perturbation_mean: number;
  iterations_mean: number;
  wall_s: number;
  /** Gray-box: the κ of the model the examples were crafted on. */
  source_kappa?: number;
  /** Adaptive: the gradient κ used. Optional. */
  grad_kappa?: number;
  /** Fraction of attacked samples whose first input gradient was exactly zero. Optional. */
  zero_gradient_rate?: number;
  /** Where the attack's gradients came from when not the model's own (adaptive: κ_grad, BPDA's surrogate). Optional. */
  gradient?: string;
  /** The ε-ball of a bounded attack (pgd, apgd-*, square*, bpda, fgsm). Optional. */
  eps?: number;
}

/**
 * Robust accuracy under the worst case over every attack run at one κ, for one threat model (the ε-ball of
 * the bounded attacks of that norm): a sample counts as robust only when it is classified correctly and no
 * attack (any mode) found a misclassified example within ε of it — minimal-perturbation attacks such as
 * DeepFool count where their example lies within ε. An upper bound on true robust accuracy: a stronger
 * attack could lower it. */
export interface WorstCase {
  kappa: number;
  norm: Norm;
  eps: number;
  n: number;
  accuracy: number;
  /** Each counted (attack, mode) with its own accuracy within this ε. */
  attacks: Array<{ attack: string; mode: AttackMode; accuracy: number }>;
  /** Samples that only this (attack, mode) broke, per counted entry (same order). */
  unique_breaks: number[];
  bound: 'upper bound on robust accuracy';
}

/** Figure 7: accuracy[i][j] = accuracy of the model with target_kappas[j] on examples crafted on source_kappas[i]. */
export interface TransferMatrix {
  attack: string;
  source_kappas: number[];
  target_kappas: number[];
  accuracy: number[][];
}

/** Figure 9: accuracy under attack after each iteration count. */
export interface IterationCurve {
  kappa: number;
  attack: string;
  mode: AttackMode;
  iterations: number[];
  accuracy: number[];
}

/** Figures 5–6: one clean/adversarial pair, pixel values in [0,1], CHW order, length channels·height·width. */
export interface ExampleImage {
  kappa: number;
  attack: string;
  mode: AttackMode;
  index: number;
  label: number;
  clean_pred: number;
  adv_pred: number;
  channels: number;
  height: number;
  width: number;
  clean: number[];
  adversarial: number[];
}

export interface TuningCandidate {
  kappa: number;
  clean_accuracy: number;
  robust_accuracy: number;
  rho_all: number;
}

export interface Tuning {
  /** Largest allowed clean-accuracy drop from κ = 0, in percentage points as given on the command line (0.5 = 0.5 pp). */
  max_accuracy_drop: number;
  objective: string;
  chosen_kappa: number | null;
  candidates: TuningCandidate[];
  /** Scale-aware mode: the quantile q and the per-site κ of the chosen candidate. Optional. */
  per_layer?: { quantile: number; kappas: Record<string, number> } | null;
  /** Candidates added by refining the grid around the first pass's best. Optional. */
  refined?: number[];
  /** Set when the chosen κ is the largest candidate tried (a larger one might do better). Optional. */
  edge?: string;
  /** The threat model whose worst case is the objective (accuracy objective). Optional. */
  threat_model?: { norm: Norm; eps: number };
}

/** One piece of evidence of gradient masking (verdict.ts): another attack beats the white-box one, beyond chance. */
export interface MaskingFinding {
  kappa: number;
  metric: 'accuracy' | 'rho';
  attack: string;
  mode: AttackMode;
  /** The white-box attack it is compared with. */
  against: string;
  /** Accuracy (or ρ̃) under the white-box attack and under the other one. */
  white: number;
  other: number;
  /** accuracy: McNemar's one-sided exact p; rho: the paired difference in standard errors. */
  statistic: number;
  message: string;
}

export interface VerdictKappa {
  kappa: number;
  clean_accuracy: number;
  /** Clean accuracy of κ = 0 minus this κ's (fraction; positive = a cost). */
  clean_cost?: number;
  /** The headline threat model's worst case, and its gain over κ = 0. */
  worst_case?: { norm: Norm; eps: number; accuracy: number; attacks: number; gain?: number };
  /** ρ̃ of a minimal-perturbation attack: gain over κ = 0 white-box, under the strongest adaptive version, and the fraction that survives. */
  rho?: { attack: string; white_box_gain: number; adaptive_gain: number; survives?: number };
  masking: boolean;
}

/** What the report opens with (verdict.ts). */
export interface Verdict {
  /** The five-second summary, headline first. */
  lines: string[];
  kappas: VerdictKappa[];
  masking: MaskingFinding[];
}

/**
 * What a shard report (`jumprelu eval --shard i/n`) covers: samples [first, end) of the `total` the unsharded run
 * evaluates (data.n and every n in it are the shard's own). What `jumprelu merge` checks and needs.
 */
export interface ShardInfo {
  /** 1-based. */
  index: number;
  count: number;
  scheme: 'contiguous';
  first: number;
  end: number;
  total: number;
  /** SHA-256 of the whole evaluated set as attacked (float32 samples in `data.space`, then int32 labels). */
  data_sha256: string;
  /** The warnings that come from the data and the input convention (the rest are recomputed by merge). */
  base_warnings: string[];
  host: string;
}

/** A merged report's provenance (`jumprelu merge`): where its shards ran. Not part of what an unsharded run has. */
export interface MergedFrom {
  shards: number;
  scheme: 'contiguous';
  hosts: string[];
  /** Each shard report's `created`, in shard order. */
  created: string[];
}

export interface Report {
  format: 1;
  kind: ReportKind;
  created: string;
  tool: ReportTool;
  /** The input convention (model expects / data gives / ε measured in); first after `tool` in the file. Optional. */
  input_convention?: InputConvention;
  model: ReportModel;
  data: ReportData;
  settings: ReportSettings;
  clean: CleanResult[];
  results: AttackResult[];
  transfer?: TransferMatrix;
  /** One transfer matrix per attack (`transfer` is the first of them). Optional. */
  transfers?: TransferMatrix[];
  /** The masking-aware verdict the report opens with. Optional. */
  verdict?: Verdict;
  /** Worst case over all attacks, per κ and threat model. Optional. */
  worst_case?: WorstCase[];
  curves?: IterationCurve[];
  examples?: ExampleImage[];
  tuning?: Tuning;
  warnings: string[];
  /** Present only while a run is unfinished (the report written after each cell); absent in a complete report. */
  partial?: { results_done: number; note: string };
  /** File name (relative to the report) of the per-sample JSONL results. */
  per_sample_file?: string;
  /** Set in a shard report (eval --shard): which samples it covers. */
  shard?: ShardInfo;
  /** Set in a merged report (jumprelu merge): the shards it was merged from. */
  merged_from?: MergedFrom;
  /** The process's peak resident memory when the report was written (process.resourceUsage().maxRSS). Optional. */
  resources?: { peak_rss_bytes: number };
}
