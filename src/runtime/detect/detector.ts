// The detector and its evaluation: logistic regression on standardised LID features, scored by k-fold
// cross-validation over samples (folds.ts: a sample's clean, noisy and adversarial rows share a fold). Each
// fold's standardiser and model are fitted on the other folds only; the out-of-fold scores of all rows are
// pooled into one ROC curve and AUC, with a bootstrap interval (bootstrap.ts). A last model fitted on all rows
// gives the coefficients reported (which layers the detector leans on); it is not used for any figure.

import { bootstrapAuc, type Interval } from './bootstrap.js';
import { groupFolds } from './folds.js';
import { decisionValues, fitLogistic, type LogisticModel } from './logistic.js';
import { type RocCurve, rocAuc, rocCurve } from './roc.js';
import { fitStandardiser, standardise, type Standardiser } from './standardise.js';

export interface DetectorData {
  /** [rows, p] features. */
  x: Float64Array;
  rows: number;
  p: number;
  /** 1 = adversarial. */
  y: Uint8Array;
  /** The sample each row belongs to (0 … groups − 1). */
  group: Int32Array;
  groups: number;
}

export interface DetectorOptions {
  folds: number;
  /** L2 penalty λ of the logistic regression. */
  l2: number;
  seed: number;
  bootstrap: number;
}

export interface DetectorEvaluation {
  auc: number;
  interval: Interval;
  /** AUC of each fold's held-out rows. */
  foldAucs: number[];
  roc: RocCurve;
  /** Out-of-fold decision values per row. */
  scores: Float64Array;
  /** The model fitted on all rows (standardised features) and its standardiser. */
  model: LogisticModel;
  standardiser: Standardiser;
}

export function evaluateDetector(d: DetectorData, o: DetectorOptions): DetectorEvaluation {
  const fold = groupFolds(d.groups, o.folds, o.seed);
  const scores = new Float64Array(d.rows);
  const foldAucs: number[] = [];
  for (let f = 0; f < o.folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let r = 0; r < d.rows; r++) (fold[d.group[r]!] === f ? test : train).push(r);
    const st = fitStandardiser(d.x, d.p, train);
    const model = fitLogistic(standardise(st, d.x, d.p, train), train.map((r) => d.y[r]!), train.length, d.p, { l2: o.l2 });
    const s = decisionValues(model, standardise(st, d.x, d.p, test), test.length, d.p);
    test.forEach((r, t) => (scores[r] = s[t]!));
    const ty = test.map((r) => d.y[r]!);
    if (ty.includes(1) && ty.includes(0)) foldAucs.push(rocAuc(s, ty));
  }
  const all = Array.from({ length: d.rows }, (_, r) => r);
  const standardiser = fitStandardiser(d.x, d.p, all);
  const model = fitLogistic(standardise(standardiser, d.x, d.p, all), d.y, d.rows, d.p, { l2: o.l2 });
  return {
    auc: rocAuc(scores, d.y), interval: bootstrapAuc(scores, d.y, { resamples: o.bootstrap, seed: o.seed }),
    foldAucs, roc: rocCurve(scores, d.y), scores, model, standardiser,
  };
}
