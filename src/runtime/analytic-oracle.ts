// An Oracle for a classifier given as a function: logits and their Jacobian at one sample. Attacks can then be
// tested on models whose answers are known in closed form (a linear model's minimal L2 perturbation, a step
// function whose gradient is zero everywhere), without ONNX Runtime. The cross-entropy gradient and the logit
// differences are derived from the Jacobian exactly as the gradient compiler derives them from the graph.

import type { CeResult, DiffResult, Oracle } from './oracle.js';
import { SpaceMap, type ImageShape } from './space.js';

export interface AnalyticModel {
  /** Samples are flat vectors of this shape (channels × height × width). */
  shape: ImageShape;
  classes: number;
  /** Logits at one sample (length `classes`) and, when asked, the Jacobian ∂logit_c/∂x_j (classes × size, row-major). */
  evaluate(x: Float32Array, jacobian: boolean): { logits: Float64Array; jacobian?: Float64Array };
}

export class AnalyticOracle implements Oracle {
  readonly space: SpaceMap;
  readonly classes: number;
  readonly counts = { forward: 0, ce: 0, diff: 0 };

  constructor(private readonly model: AnalyticModel) {
    this.space = new SpaceMap('normalized', model.shape, [0], [1]);
    this.classes = model.classes;
  }

  private at(x: Float32Array, i: number, jac: boolean): { logits: Float64Array; jacobian?: Float64Array } {
    const size = this.space.size;
    const r = this.model.evaluate(x.subarray(i * size, (i + 1) * size), jac);
    if (r.logits.length !== this.classes) throw new Error(`analytic model returned ${r.logits.length} logits, expected ${this.classes}`);
    if (jac && r.jacobian?.length !== this.classes * size) throw new Error('analytic model returned no Jacobian of classes × size');
    return r;
  }

  async forward(x: Float32Array, n: number): Promise<Float32Array> {
    const k = this.classes;
    const out = new Float32Array(n * k);
    for (let i = 0; i < n; i++) out.set(this.at(x, i, false).logits, i * k);
    this.counts.forward += n;
    return out;
  }

  async crossEntropy(x: Float32Array, labels: Int32Array, n: number): Promise<CeResult> {
    const k = this.classes;
    const size = this.space.size;
    const logits = new Float32Array(n * k);
    const grad = new Float32Array(n * size);
    for (let i = 0; i < n; i++) {
      const { logits: z, jacobian: J } = this.at(x, i, true);
      logits.set(z, i * k);
      // ∂CE/∂z = softmax(z) − onehot(label)
      let max = -Infinity;
      for (const v of z) max = Math.max(max, v);
      let sum = 0;
      const p = z.map((v) => {
        const e = Math.exp(v - max);
        sum += e;
        return e;
      });
      for (let c = 0; c < k; c++) {
        const d = p[c]! / sum - (c === labels[i] ? 1 : 0);
        if (d === 0) continue;
        for (let j = 0; j < size; j++) grad[i * size + j] += d * J![c * size + j]!;
      }
    }
    this.counts.ce += n;
    return { logits, grad };
  }

  async differences(x: Float32Array, labels: Int32Array, candidates: Int32Array, n: number, k: number): Promise<DiffResult> {
    const classes = this.classes;
    const size = this.space.size;
    const logits = new Float32Array(n * classes);
    const diffs = new Float32Array(n * k);
    const grads = new Float32Array(n * k * size);
    for (let i = 0; i < n; i++) {
      const { logits: z, jacobian: J } = this.at(x, i, true);
      logits.set(z, i * classes);
      const y = labels[i]!;
      for (let t = 0; t < k; t++) {
        const c = candidates[i * k + t]!;
        diffs[i * k + t] = z[c]! - z[y]!;
        const base = (i * k + t) * size;
        for (let j = 0; j < size; j++) grads[base + j] = J![c * size + j]! - J![y * size + j]!;
      }
    }
    this.counts.diff += n;
    return { logits, diffs, grads };
  }
}

/** logits = W x + b (W: classes × size, row-major): the model whose DeepFool answer is exact in one step. */
export function linearModel(shape: ImageShape, W: ArrayLike<number>, b: ArrayLike<number>): AnalyticModel {
  const size = shape.channels * shape.height * shape.width;
  const classes = b.length;
  if (W.length !== classes * size) throw new Error(`W has ${W.length} entries, expected ${classes} × ${size}`);
  const jac = Float64Array.from(W);
  return {
    shape, classes,
    evaluate(x, jacobian) {
      const logits = new Float64Array(classes);
      for (let c = 0; c < classes; c++) {
        let s = b[c]!;
        for (let j = 0; j < size; j++) s += W[c * size + j]! * x[j]!;
        logits[c] = s;
      }
      return jacobian ? { logits, jacobian: jac } : { logits };
    },
  };
}
