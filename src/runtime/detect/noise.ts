// The noisy counterparts of Ma et al. (2018): each clean sample plus Gaussian noise scaled to the L2 size of
// its adversarial perturbation, ‖η‖₂ = ‖x̃ − x‖₂ (in the attack space), then clamped like the attack's
// examples (so the noise can end up slightly smaller where it hits the box). A detector that flags these as
// adversarial is detecting "perturbed", not "adversarial"; they are negatives.

import { mulberry32 } from '../random.js';
import type { Clamp } from '../space.js';

/** Standard normal draws (Box–Muller) from a uniform source. */
export function gaussian(rand: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * rand();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

/** Noisy copies of the n samples of x (size values each), matching the L2 norms of adv − x per sample. */
export function noisyCounterparts(x: Float32Array, adv: Float32Array, n: number, size: number, clamp: Clamp, seed: number): Float32Array {
  const out = new Float32Array(n * size);
  const normal = gaussian(mulberry32(seed));
  const eta = new Float64Array(size);
  for (let i = 0; i < n; i++) {
    const base = i * size;
    let target = 0;
    for (let p = 0; p < size; p++) {
      const d = adv[base + p]! - x[base + p]!;
      target += d * d;
    }
    target = Math.sqrt(target);
    let norm = 0;
    for (let p = 0; p < size; p++) {
      eta[p] = normal();
      norm += eta[p]! * eta[p]!;
    }
    const scale = target / Math.sqrt(norm);
    for (let p = 0; p < size; p++) out[base + p] = x[base + p]! + eta[p]! * scale;
    clamp.apply(out, base, base + size);
  }
  return out;
}
