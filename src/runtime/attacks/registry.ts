// Attack names, their defaults (the paper's where it has them), and parameter overrides.
//
//   fgsm         one sign step of size eps on the cross-entropy
//   ifgsm        the paper's "IFGSM/PGD": sign steps of size `step`, no projection, early stopping
//   pgd          the same steps projected onto the L∞ ball of radius eps (optionally from a random start)
//   deepfool2    DeepFool L2;  deepfoolinf: DeepFool L∞ (L1 dual norm, sign step)
//   tr2 (tr)     trust region L2, fixed radius;  trinf: L∞;  tr2-adaptive / trinf-adaptive: adaptive radius
//   apgd-ce, apgd-dlr            APGD (AutoAttack's schedule) on cross-entropy / DLR, L∞;  -l2: the L2 versions
//   square, square-l2            Square attack (score-based, no gradients), L∞ / L2
//   bpda                         PGD (or APGD-CE, base=apgd-ce) with the smooth-surrogate gradient, τ swept
// pgd, apgd-*, square* and bpda take `restarts` (random restarts on the samples still robust).

import { UsageError } from '../../ir/errors.js';
import type { Attack } from './common.js';
import { deepFool, trustRegion } from './deepfool.js';
import { signAttack } from './gradient-sign.js';
import { apgd } from './apgd.js';
import { bpda } from './bpda.js';
import { withRestarts } from './restarts.js';
import { square } from './square.js';

export type DatasetFamily = 'mnist' | 'cifar10' | 'other';

export const ATTACK_NAMES = [
  'fgsm', 'ifgsm', 'pgd', 'deepfool2', 'deepfoolinf', 'tr', 'tr2', 'trinf', 'tr2-adaptive', 'trinf-adaptive',
  'apgd-ce', 'apgd-dlr', 'apgd-ce-l2', 'apgd-dlr-l2', 'square', 'square-l2', 'bpda',
] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

export type ParamValue = number | string | boolean;

/** The defaults of an attack for a dataset family (MNIST: 40 iterations; CIFAR-10: 7; TR: 1000 like the paper). */
export function attackDefaults(name: AttackName, family: DatasetFamily): Record<string, ParamValue> {
  const iters = family === 'cifar10' ? 7 : 40;
  const fgsmEps = family === 'cifar10' ? 0.031 : 0.3;
  const l2Eps = family === 'cifar10' ? 0.5 : 2;
  switch (name) {
    case 'fgsm': return { eps: fgsmEps };
    case 'ifgsm': return { step: 0.01, iterations: iters };
    case 'pgd': return { eps: fgsmEps, step: 0.01, iterations: iters, random_start: false, restarts: 1 };
    case 'apgd-ce':
    case 'apgd-dlr': return { eps: fgsmEps, iterations: 100, rho: 0.75, restarts: 1 };
    case 'apgd-ce-l2':
    case 'apgd-dlr-l2': return { eps: l2Eps, iterations: 100, rho: 0.75, restarts: 1 };
    case 'square': return { eps: fgsmEps, queries: 5000, p_init: 0.8, restarts: 1 };
    case 'square-l2': return { eps: l2Eps, queries: 5000, p_init: 0.8, restarts: 1 };
    case 'bpda': return { eps: fgsmEps, step: 0.01, iterations: iters, random_start: false, restarts: 1, taus: '0.05,0.1,0.25,1', base: 'pgd' };
    case 'deepfool2':
    case 'deepfoolinf': return { iterations: iters, candidates: 9, overshoot: 1.02, epsilon: 1e-4 };
    case 'tr':
    case 'tr2':
    case 'trinf':
    case 'tr2-adaptive':
    case 'trinf-adaptive': {
      const linf = name.startsWith('trinf');
      return {
        iterations: 1000, candidates: 9, overshoot: 1.02, epsilon: 1e-4, radius: 0.01,
        adaptive: name.endsWith('adaptive'), radius_min: linf ? 1e-4 : 5e-4, radius_max: linf ? 0.01 : 0.05,
      };
    }
  }
}

function num(p: Record<string, ParamValue>, key: string, name: string, integer = false): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new UsageError(`attack ${name}: ${key} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, got ${String(v)}`);
  }
  return v;
}

export function isAttackName(s: string): s is AttackName {
  return (ATTACK_NAMES as readonly string[]).includes(s);
}

/** Builds an attack from its name and parameters (defaults merged with overrides). */
export function makeAttack(name: string, params: Record<string, ParamValue>, seed = 0): Attack {
  if (!isAttackName(name)) throw new UsageError(`unknown attack '${name}' (one of ${ATTACK_NAMES.join(', ')})`);
  const p = params;
  switch (name) {
    case 'fgsm': {
      const a = signAttack({ name, step: num(p, 'eps', name), iterations: 1, projectEps: null });
      a.params = { eps: num(p, 'eps', name), loss: 'cross-entropy' };
      a.budget = { norm: 'linf', eps: num(p, 'eps', name) };
      return a;
    }
    case 'ifgsm':
      return signAttack({ name, step: num(p, 'step', name), iterations: num(p, 'iterations', name, true), projectEps: null });
    case 'pgd':
      return pgd(name, p, seed);
    case 'apgd-ce':
    case 'apgd-dlr':
    case 'apgd-ce-l2':
    case 'apgd-dlr-l2':
      return apgdFrom(name, p, seed);
    case 'square':
    case 'square-l2':
      return withRestarts(num(p, 'restarts', name, true), (r) => square({
        name, norm: name === 'square' ? 'linf' : 'l2', eps: num(p, 'eps', name), queries: num(p, 'queries', name, true),
        pInit: num(p, 'p_init', name), seed: seed + 1000 * r,
      }));
    case 'bpda': {
      const taus = String(p['taus']).split(',').map((t) => Number(t.trim()));
      if (taus.length === 0 || taus.some((t) => !(Number.isFinite(t) && t > 0))) {
        throw new UsageError(`attack bpda: taus must be a comma-separated list of positive numbers, got '${String(p['taus'])}'`);
      }
      const base = p['base'];
      if (base !== 'pgd' && base !== 'apgd-ce') throw new UsageError(`attack bpda: base must be pgd or apgd-ce, got '${String(base)}'`);
      const baseAttack = base === 'pgd'
        ? pgd(name, p, seed)
        : apgdFrom('apgd-ce', { eps: p['eps']!, iterations: p['iterations']!, rho: 0.75, restarts: p['restarts']! }, seed);
      const a = bpda({ name, taus, base: baseAttack });
      a.params = { ...a.params, base };
      return a;
    }
    case 'deepfool2':
    case 'deepfoolinf':
      return deepFool({
        name, norm: name === 'deepfool2' ? 'l2' : 'linf', iterations: num(p, 'iterations', name, true),
        candidates: num(p, 'candidates', name, true), overshoot: num(p, 'overshoot', name), epsilon: num(p, 'epsilon', name),
      });
    default:
      return trustRegion({
        name, norm: name.startsWith('trinf') ? 'linf' : 'l2', iterations: num(p, 'iterations', name, true),
        candidates: num(p, 'candidates', name, true), overshoot: num(p, 'overshoot', name), epsilon: num(p, 'epsilon', name),
        radius: num(p, 'radius', name), adaptive: p['adaptive'] === true,
        radiusMin: num(p, 'radius_min', name), radiusMax: num(p, 'radius_max', name),
      });
  }
}

function pgd(name: string, p: Record<string, ParamValue>, seed: number): Attack {
  const restarts = num(p, 'restarts', name, true);
  const a = withRestarts(restarts, (r) => signAttack({
    name, step: num(p, 'step', name), iterations: num(p, 'iterations', name, true), projectEps: num(p, 'eps', name),
    // later restarts always start at a random point of the ball
    randomStart: p['random_start'] === true || r > 0, seed: seed + 1000 * r,
  }));
  a.budget = { norm: 'linf', eps: num(p, 'eps', name) };
  return a;
}

function apgdFrom(name: string, p: Record<string, ParamValue>, seed: number): Attack {
  return withRestarts(num(p, 'restarts', name, true), (r) => apgd({
    name, norm: name.endsWith('-l2') ? 'l2' : 'linf', loss: name.startsWith('apgd-dlr') ? 'dlr' : 'ce',
    eps: num(p, 'eps', name), iterations: num(p, 'iterations', name, true), rho: num(p, 'rho', name), seed: seed + 1000 * r,
  }));
}

/** Parses `name.key=value` overrides (numbers, true/false, or strings). */
export function parseAttackParams(specs: readonly string[]): Record<string, Record<string, ParamValue>> {
  const out: Record<string, Record<string, ParamValue>> = {};
  for (const s of specs) {
    const m = /^([a-z0-9-]+)\.([a-z_]+)=(.*)$/.exec(s.trim());
    if (!m) throw new UsageError(`--attack-param '${s}': expected ATTACK.KEY=VALUE (e.g. ifgsm.step=0.02)`);
    const [, attack, key, raw] = m as unknown as [string, string, string, string];
    let value: ParamValue = raw;
    if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (raw !== '' && Number.isFinite(Number(raw))) value = Number(raw);
    (out[attack] ??= {})[key] = value;
  }
  return out;
}

/** Defaults merged with overrides; unknown keys are an error. */
export function resolveAttackParams(name: AttackName, family: DatasetFamily, overrides: Record<string, ParamValue> = {}): Record<string, ParamValue> {
  const d = attackDefaults(name, family);
  for (const key of Object.keys(overrides)) {
    if (!(key in d)) throw new UsageError(`attack ${name} has no parameter '${key}' (it has ${Object.keys(d).join(', ')})`);
  }
  return { ...d, ...overrides };
}
