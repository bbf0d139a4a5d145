// Which derivative piece a piecewise activation's backward pass uses, in the project's gradient rules
// (src/autodiff/rules) and in PyTorch's autograd, and where the two disagree (test/autodiff-zoo.test.ts).
//
// Two float32 programs put a pre-activation near a kink on different sides of it by rounding, or, exactly at
// a kink, apply different conventions (PyTorch's hardtanh passes the gradient on the open interval, the
// project's Clip rule on the closed one, as clamp does): the gradients then legitimately differ by a whole
// path. Each side's piece is computed with that side's own convention, so a tie counts as a flip exactly when
// the two conventions disagree. A piece is a small integer: 0 below the first kink, 1 between, 2 above.

/** An activation node of the ONNX model, as its gradient rule sees it. */
export type OnnxActivation =
  /** Relu (κ = 0) and ThresholdedRelu (κ = alpha ≥ 0): the rule's mask is y > 0 on the node's output y. */
  | { op: 'Relu' | 'ThresholdedRelu'; kappa: number }
  /** Clip: gradient on lo ≤ x ≤ hi (a missing bound is ±∞). */
  | { op: 'Clip'; lo: number; hi: number }
  /** HardSigmoid: gradient where 0 < t < 1, t = α·x + β rounded to float32 as the rule computes it. */
  | { op: 'HardSigmoid'; alpha: number; beta: number }
  /** HardSwish: 0 below −3, x/3 + ½ on [−3, 3], 1 above. */
  | { op: 'HardSwish' };

/** The family an ONNX activation corresponds to among PyTorch's recorded calls (test/py/zoo_reference.py). */
export function familyOf(a: OnnxActivation): 'relu' | 'clip' | 'hard' {
  return a.op === 'Relu' || a.op === 'ThresholdedRelu' ? 'relu' : a.op === 'Clip' ? 'clip' : 'hard';
}

/**
 * The piece the project's rule uses for the value it reads: for Relu/ThresholdedRelu the output y (the rule
 * reads y, so that ORT may fuse the producer with the activation), otherwise the input x.
 */
export function onnxPiece(a: OnnxActivation, v: number): number {
  switch (a.op) {
    case 'Relu':
    case 'ThresholdedRelu':
      return v > 0 ? 1 : 0;
    case 'Clip':
      return v < a.lo ? 0 : v <= a.hi ? 1 : 2;
    case 'HardSigmoid': {
      const t = Math.fround(Math.fround(v * Math.fround(a.alpha)) + Math.fround(a.beta));
      return t <= 0 ? 0 : t < 1 ? 1 : 2;
    }
    case 'HardSwish':
      return v < -3 ? 0 : v <= 3 ? 1 : 2;
  }
}

/**
 * The piece PyTorch's backward uses for the recorded input x of a call of kind `kind`: 'relu' (threshold
 * backward: x > 0; with κ the test's JumpReLU x > κ), 'clip:lo:hi' (hardtanh_backward: lo < x < hi),
 * 'hardsigmoid' (hardsigmoid_backward: −3 < x < 3), 'hardswish' (hardswish_backward: x < −3, x ≤ 3, above).
 */
export function torchPiece(kind: string, x: number, kappa: number | null): number {
  if (kind === 'relu') return x > Math.fround(kappa ?? 0) ? 1 : 0; // z > κ in float32, as torch compares a float32 tensor with a Python float
  if (kind === 'hardsigmoid') return x <= -3 ? 0 : x < 3 ? 1 : 2;
  if (kind === 'hardswish') return x < -3 ? 0 : x <= 3 ? 1 : 2;
  const clip = /^clip:(.+):(.+)$/.exec(kind);
  if (clip) {
    const [lo, hi] = [Number(clip[1]), Number(clip[2])];
    return x <= lo ? 0 : x < hi ? 1 : 2;
  }
  throw new Error(`unknown activation kind '${kind}'`);
}

/**
 * The rows (batch entries) of one activation site where the two sides use different pieces: `mine` as the
 * project's gradient model read it, `theirs` PyTorch's recorded input of the same forward pass (the same
 * batch of rows). Returns per row the number of elements that differ.
 */
export function flippedRows(a: OnnxActivation, kind: string, kappa: number | null, mine: Float32Array, theirs: Float32Array, rows: number): number[] {
  if (mine.length !== theirs.length) throw new Error(`${mine.length} values in the ONNX model's pass, ${theirs.length} in PyTorch's`);
  if (mine.length % rows !== 0) throw new Error(`${mine.length} values do not split into ${rows} rows`);
  const per = mine.length / rows;
  const out = new Array<number>(rows).fill(0);
  for (let j = 0; j < mine.length; j++) if (onnxPiece(a, mine[j]!) !== torchPiece(kind, theirs[j]!, kappa)) out[Math.floor(j / per)]!++;
  return out;
}

/** Per row, the number of MaxPool windows whose arg-max (flattened offsets) differs between the two sides. */
export function argmaxRows(mine: BigInt64Array, theirs: BigInt64Array, rows: number): number[] {
  if (mine.length !== theirs.length || mine.length % rows !== 0) throw new Error(`arg-max of ${mine.length} and ${theirs.length} windows in ${rows} rows`);
  const per = mine.length / rows;
  const out = new Array<number>(rows).fill(0);
  for (let j = 0; j < mine.length; j++) if (mine[j] !== theirs[j]) out[Math.floor(j / per)]!++;
  return out;
}

/** The family of a PyTorch call kind recorded by test/py/zoo_reference.py ('relu', 'clip:lo:hi', 'hardswish', 'hardsigmoid'). */
export function familyOfKind(kind: string): 'relu' | 'clip' | 'hard' {
  if (kind === 'relu') return 'relu';
  if (kind.startsWith('clip:')) return 'clip';
  if (kind === 'hardswish' || kind === 'hardsigmoid') return 'hard';
  throw new Error(`unknown activation kind '${kind}'`);
}
