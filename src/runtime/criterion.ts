// What counts as a successful attack on a sample (Foolbox's Criterion): a misclassification (the default, the
// paper's), or a prediction of a chosen target class. Metrics (per-sample `success`, fooling rate, ρ over
// successes, the worst case over attacks) are taken under the run's criterion; accuracy under attack is always
// the fraction still classified correctly.

export interface Criterion {
  /** Recorded in the report's settings. */
  readonly name: string;
  /** True when `pred`, the model's class for sample `index` (true label `label`) after the attack, is a success. */
  adversarial(pred: number, label: number, index: number): boolean;
}

export const misclassification: Criterion = Object.freeze({
  name: 'misclassification',
  adversarial: (pred: number, label: number) => pred !== label,
});

/** Success only when the model predicts targets[index] (a sample whose label is its target never succeeds). */
export function targeted(targets: Int32Array): Criterion {
  return {
    name: 'targeted',
    adversarial: (pred, label, index) => {
      const t = targets[index];
      if (t === undefined) throw new RangeError(`no target class for sample ${index}`);
      return t !== label && pred === t;
    },
  };
}
