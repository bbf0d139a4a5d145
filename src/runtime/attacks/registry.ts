// Attack names, their defaults (the paper's where it has them), and parameter overrides.
//
//   fgsm         one sign step of size eps on the cross-entropy
//   ifgsm        the paper's "IFGSM/PGD": sign steps of size `step`, no projection, early stopping
//   pgd          the same steps projected onto the L∞ ball of radius eps (optionally from a random start)
//   deepfool2    DeepFool L2;  deepfoolinf: DeepFool L∞ (L1 dual norm, sign step)
//   tr2 (tr)     trust region L2, fixed radius;  trinf: L∞;  tr2-adaptive / trinf-adaptive: adaptive radius

import { UsageError } from '../../ir/errors.js';
import type { Attack } from './common.js';
import { deepFool, trustRegion } from './deepfool.js';
import { signAttack } from './gradient-sign.js';

export type DatasetFamily = 'mnist' | 'cifar10' | 'other';

export const ATTACK_NAMES = ['fgsm', 'ifgsm', 'pgd', 'deepfool2', 'deepfoolinf', 'tr', 'tr2', 'trinf', 'tr2-adaptive', 'trinf-adaptive'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

export type ParamValue = number | string | boolean;

/** The defaults of an attack for a dataset family (MNIST: 40 iterations; CIFAR-10: 7; TR: 1000 like the paper). */
export function attackDefaults(name: AttackName, family: DatasetFamily): Record<string, ParamValue> {
  const iters = family === 'cifar10' ? 7 : 40;
  const fgsmEps = family === 'cifar10' ? 0.031 : 0.3;
  switch (name) {
    case 'fgsm': return { eps: fgsmEps };
    case 'ifgsm': return { step: 0.01, iterations: iters };
    case 'pgd': return { eps: fgsmEps, step: 0.01, iterations: iters, random_start: false };
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
      return a;
    }
    case 'ifgsm':
      return signAttack({ name, step: num(p, 'step', name), iterations: num(p, 'iterations', name, true), projectEps: null });
    case 'pgd':
      return signAttack({
        name, step: num(p, 'step', name), iterations: num(p, 'iterations', name, true), projectEps: num(p, 'eps', name),
        randomStart: p['random_start'] === true, seed,
      });
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
