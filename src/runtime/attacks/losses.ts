// Per-sample losses computed from logits, shared by the attacks that maximise them: cross-entropy (APGD-CE),
// the Difference of Logits Ratio (APGD-DLR, Croce & Hein 2020) and the margin z_y − max_{i≠y} z_i (Square).

/** −log softmax(z)[y] of row i. */
export function crossEntropyLoss(logits: Float32Array, classes: number, i: number, y: number): number {
  const base = i * classes;
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[base + c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[base + c]! - max);
  return Math.log(sum) + max - logits[base + y]!;
}

/** The classes of row i by decreasing logit (first three), and the best class other than y. */
export function ranked(logits: Float32Array, classes: number, i: number, y: number): { top: [number, number, number]; other: number } {
  const base = i * classes;
  const order = Array.from({ length: classes }, (_, c) => c).sort((a, b) => logits[base + b]! - logits[base + a]!);
  const other = order[0] === y ? order[1]! : order[0]!;
  return { top: [order[0]!, order[1] ?? order[0]!, order[2] ?? order[1] ?? order[0]!], other };
}

/** z_y − max_{i≠y} z_i: positive while the sample is classified correctly. */
export function margin(logits: Float32Array, classes: number, i: number, y: number): number {
  const base = i * classes;
  let best = -Infinity;
  for (let c = 0; c < classes; c++) if (c !== y) best = Math.max(best, logits[base + c]!);
  return logits[base + y]! - best;
}

/** DLR(z, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12), π sorting the logits in decreasing order. */
export function dlrLoss(logits: Float32Array, classes: number, i: number, y: number): number {
  const { top } = ranked(logits, classes, i, y);
  const base = i * classes;
  return -margin(logits, classes, i, y) / (logits[base + top[0]]! - logits[base + top[2]]! + 1e-12);
}
