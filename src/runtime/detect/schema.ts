// report.json of `jumprelu detect` (kind 'detect', format 1): the LID detector's ROC AUC per (κ, attack, mode),
// with everything needed to read it. Fractions are in [0, 1]; field names are stable, new fields only ever
// optional. Documented field by field in docs/detection.md.

import type { ParamValue } from '../attacks/registry.js';
import type { CleanResult, InputConvention, Norm, ReportData, ReportModel, ReportTool } from '../report/schema.js';

/** white-box: each κ model attacked with its own gradients; adaptive: gradients at κ_grad (default 0) or BPDA's smooth surrogate, inference at κ. */
export type DetectMode = 'white-box' | 'adaptive';
export const DETECT_MODES: readonly DetectMode[] = ['white-box', 'adaptive'];

export interface DetectSettings {
  kappas: number[];
  /** Every attack's parameters, defaults merged with overrides. */
  attacks: Record<string, Record<string, ParamValue>>;
  modes: DetectMode[];
  /** Gradient κ of the adaptive mode. */
  adaptive_grad_kappa: number;
  limit: number | null;
  /** B: clean samples per LID minibatch (the neighbour pool). */
  minibatch: number;
  /** k: neighbours asked for (capped at minibatch − 1; each result says the k used). */
  k: number;
  /** Cross-validation folds (by sample: a sample's three rows share a fold). */
  folds: number;
  /** λ of the logistic regression's L2 penalty (Σ log-loss + λ/2‖w‖², intercept free; scikit-learn C = 1/λ). */
  l2: number;
  /** Bootstrap resamples of the AUC interval, and its coverage. */
  bootstrap: number;
  level: number;
  seed: number;
  /** Samples per ONNX Runtime call, and its threads. */
  ort_batch: number;
  ort_threads: number;
  /** One sentence each: what the negatives are, the noise, the split. */
  negatives: string;
  noise: string;
  split: string;
  /** What the AUCs bound: the attacks do not know about the detector, so they are upper bounds against one that does. */
  bound: string;
}

export interface DetectLayer {
  name: string;
  kind: 'site' | 'logits';
  /** Activation values per sample. */
  dim: number;
}

export interface DetectResult {
  kappa: number;
  attack: string;
  mode: DetectMode;
  /** adaptive mode with the model's gradients: the gradient κ. */
  grad_kappa?: number;
  /** Where the attack's gradients came from: 'own', 'κ_grad=0', 'bpda: …' (smooth surrogate), 'none (score-based)'. */
  gradient: string;
  norm: Norm;
  /** Samples evaluated; clean_correct of them classified correctly at this κ. */
  n: number;
  clean_correct: number;
  /** Accuracy under the attack (all n samples). */
  attack_accuracy: number;
  /** Samples correct on clean input whose attack succeeded: the ones the detector sees (3 rows each). */
  successful: number;
  positives: number;
  negatives: number;
  /** Mean relative perturbation ‖x̃ − x‖/‖x‖ (attack's norm) and absolute L2 size, over the successful samples. */
  rho_success: number;
  l2_mean: number;
  /** Fraction of the noisy counterparts still classified correctly. */
  noisy_correct: number;
  /** LID settings as applied: k after capping, number of minibatches, +∞ estimates replaced per layer. */
  k_used: number;
  minibatches: number;
  non_finite_lid: number[];
  /** Mean LID per layer (same order as report.layers) of the clean, noisy and adversarial rows. */
  lid_mean: { clean: number[]; noisy: number[]; adversarial: number[] };
  /** Out-of-fold ROC AUC of the detector, its bootstrap interval, and each fold's AUC; null when skipped. */
  auc: number | null;
  auc_interval: [number, number] | null;
  fold_auc: number[];
  /** The pooled out-of-fold ROC curve (one point per distinct score). */
  roc: { fpr: number[]; tpr: number[] } | null;
  /** The detector fitted on all rows (standardised features): intercept and one weight per layer. */
  coefficients: { intercept: number; weights: number[] } | null;
  /** Why there is no AUC (too few successful attacks), when auc is null. */
  skipped?: string;
  wall_s: number;
}

export interface DetectReport {
  format: 1;
  kind: 'detect';
  created: string;
  tool: ReportTool;
  input_convention: InputConvention;
  model: ReportModel;
  data: ReportData;
  settings: DetectSettings;
  /** The feature columns: one LID per layer (ReLU/JumpReLU sites in graph order, then the logits). */
  layers: DetectLayer[];
  /** Sites whose activations could not be read (inside subgraphs), with the reason. */
  layers_skipped: string[];
  clean: CleanResult[];
  results: DetectResult[];
  warnings: string[];
}
