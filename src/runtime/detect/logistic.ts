// L2-regularised logistic regression fitted by Newton's method (iteratively reweighted least squares):
//
//   minimise  Σ_i [ log(1 + e^{z_i}) − y_i z_i ] + (λ/2)‖w‖²,   z_i = w·x_i + b,   the intercept b unpenalised
//
// which is scikit-learn's LogisticRegression(penalty='l2', C=1/λ) objective with its default solvers (lbfgs,
// newton-cg: the intercept is not penalised), so its coefficients can be checked against scikit-learn's. The
// problem is convex and small (one column per layer): each step solves the (p+1)×(p+1) Newton system by
// Cholesky, with step halving if a full step does not lower the objective.

export interface LogisticOptions {
  /** λ, the L2 penalty on the weights (default 1, scikit-learn's C = 1). */
  l2?: number;
  maxIterations?: number;
  /** Stop when the largest |gradient| entry falls below this (default 1e-10 · n). */
  tolerance?: number;
}

export interface LogisticModel {
  weights: Float64Array;
  intercept: number;
  iterations: number;
  converged: boolean;
}

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Solves A v = g in place of g for a symmetric positive definite A (m×m, row-major); false if A is not SPD. */
export function choleskySolve(a: Float64Array, g: Float64Array, m: number): boolean {
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j]!;
      for (let t = 0; t < j; t++) s -= l[i * m + t]! * l[j * m + t]!;
      if (i === j) {
        if (!(s > 0)) return false;
        l[i * m + i] = Math.sqrt(s);
      } else l[i * m + j] = s / l[j * m + j]!;
    }
  }
  for (let i = 0; i < m; i++) {
    let s = g[i]!;
    for (let t = 0; t < i; t++) s -= l[i * m + t]! * g[t]!;
    g[i] = s / l[i * m + i]!;
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = g[i]!;
    for (let t = i + 1; t < m; t++) s -= l[t * m + i]! * g[t]!;
    g[i] = s / l[i * m + i]!;
  }
  return true;
}

/** Fits the model to x ([n, p], row-major) and labels y (0/1). */
export function fitLogistic(x: Float64Array, y: ArrayLike<number>, n: number, p: number, o: LogisticOptions = {}): LogisticModel {
  const lambda = o.l2 ?? 1;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`fitLogistic: l2 must be a finite number ≥ 0, got ${lambda}`);
  if (n === 0) throw new RangeError('fitLogistic: no samples');
  const maxIter = o.maxIterations ?? 100;
  const tol = o.tolerance ?? 1e-10 * n;
  const m = p + 1; // weights, then the intercept
  const beta = new Float64Array(m);
  const z = new Float64Array(n);
  const margins = (b: Float64Array) => {
    for (let i = 0; i < n; i++) {
      let s = b[p]!;
      for (let j = 0; j < p; j++) s += b[j]! * x[i * p + j]!;
      z[i] = s;
    }
  };
  const objective = (b: Float64Array) => {
    margins(b);
    let f = 0;
    for (let i = 0; i < n; i++) f += softplus(z[i]!) - y[i]! * z[i]!;
    for (let j = 0; j < p; j++) f += 0.5 * lambda * b[j]! * b[j]!;
    return f;
  };
  let f = objective(beta);
  const grad = new Float64Array(m);
  const hess = new Float64Array(m * m);
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIter; iterations++) {
    grad.fill(0);
    hess.fill(0);
    for (let i = 0; i < n; i++) {
      const pi = sigmoid(z[i]!);
      const r = pi - y[i]!;
      const w = Math.max(pi * (1 - pi), 1e-300);
      for (let a = 0; a < m; a++) {
        const xa = a === p ? 1 : x[i * p + a]!;
        grad[a]! += r * xa;
        for (let b = 0; b <= a; b++) {
          const xb = b === p ? 1 : x[i * p + b]!;
          hess[a * m + b]! += w * xa * xb;
        }
      }
    }
    for (let j = 0; j < p; j++) {
      grad[j]! += lambda * beta[j]!;
      hess[j * m + j]! += lambda;
    }
    for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) hess[b * m + a] = hess[a * m + b]!;
    let gmax = 0;
    for (let a = 0; a < m; a++) gmax = Math.max(gmax, Math.abs(grad[a]!));
    if (gmax <= tol) {
      converged = true;
      break;
    }
    const step = Float64Array.from(grad);
    if (!choleskySolve(hess, step, m)) {
      // singular Hessian (λ = 0 and a degenerate design): a small ridge keeps the step defined
      for (let a = 0; a < m; a++) hess[a * m + a]! += 1e-8 * n;
      step.set(grad);
      if (!choleskySolve(hess, step, m)) break;
    }
    let t = 1;
    const trial = new Float64Array(m);
    let fTrial = Infinity;
    for (let halvings = 0; halvings < 40; halvings++, t /= 2) {
      for (let a = 0; a < m; a++) trial[a] = beta[a]! - t * step[a]!;
      fTrial = objective(trial);
      if (fTrial <= f) break;
    }
    if (!(fTrial <= f)) {
      margins(beta);
      break;
    }
    beta.set(trial);
    f = fTrial;
  }
  margins(beta);
  return { weights: beta.slice(0, p), intercept: beta[p]!, iterations, converged };
}

/** Decision values w·x + b for rows of x ([n, p]); larger means more likely positive. */
export function decisionValues(model: LogisticModel, x: Float64Array, n: number, p: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = model.intercept;
    for (let j = 0; j < p; j++) s += model.weights[j]! * x[i * p + j]!;
    out[i] = s;
  }
  return out;
}
