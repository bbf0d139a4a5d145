// Cross-validation folds by sample. Each evaluated sample contributes a group of rows — its clean, noisy and
// adversarial versions — and a group stays in one fold: otherwise a detector could be tested on the
// adversarial twin of a clean image it was trained on. Groups are shuffled with a seed and dealt round-robin,
// so fold sizes differ by at most one group (and every group has the same 2:1 class mix, so folds are
// stratified too).

import { mulberry32 } from '../random.js';

/** Fold index (0 … k−1) of each of `groups` groups. */
export function groupFolds(groups: number, k: number, seed = 0): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`groupFolds: need at least 2 folds, got ${k}`);
  if (groups < k) throw new RangeError(`groupFolds: ${groups} samples cannot fill ${k} folds`);
  const order = Array.from({ length: groups }, (_, i) => i);
  const rand = mulberry32(seed);
  for (let i = groups - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const fold = new Int32Array(groups);
  order.forEach((g, t) => (fold[g] = t % k));
  return fold;
}
