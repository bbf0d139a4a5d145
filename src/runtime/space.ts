// The space an attack works in, and the box it clamps to.
//
// - 'normalized': the attack variable is the model's own input, (x/scale-ed pixel − mean[c]) / std[c] — the
//   space the paper measures ε, clamping and ρ in.
// - 'pixel': the attack variable is the [0, 1] image; the model sees (p − mean[c]) / std[c], so gradients
//   are divided by std[c] on the way back (the chain rule through the normalisation).
// When the model normalises its input itself it takes pixels u = (p − feed.mean)/feed.std (feed: mean 0 and std 1
// for [0,1] pixels, std 1/255 for 0–255), and `mean`/`std` are the statistics its graph applies: 'normalized' then
// attacks the value the graph computes, z = (p − mean)/std, and feeds the model p = z·std + mean.
// Clamping is either to the min/max of the whole evaluated set in that space (the authors' code clamps to
// the batch's x.min()/x.max(); taking the whole set keeps results independent of the batch size), or to the
// fixed box (pixel: [0, 1]; normalized: the normalised images of 0 and 1, per channel).

import type { ClampRule, InputSpace } from './report/schema.js';

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

export function sampleSize(s: ImageShape): number {
  return s.channels * s.height * s.width;
}

export class SpaceMap {
  readonly plane: number;
  readonly size: number;
  private readonly meanC: Float32Array;
  private readonly stdC: Float32Array;
  private readonly feedMeanC: Float32Array | null;
  private readonly feedStdC: Float32Array | null;

  constructor(
    readonly space: InputSpace, readonly shape: ImageShape, mean: readonly number[], std: readonly number[],
    /** What the model itself takes, when it is not (p − mean)/std: pixels (p − feed.mean)/feed.std. */
    feed?: { mean: readonly number[]; std: readonly number[] },
  ) {
    this.plane = shape.height * shape.width;
    this.size = sampleSize(shape);
    const pick = (v: readonly number[], c: number) => v[v.length === 1 ? 0 : c]!;
    this.meanC = Float32Array.from({ length: shape.channels }, (_, c) => pick(mean, c));
    this.stdC = Float32Array.from({ length: shape.channels }, (_, c) => pick(std, c));
    this.feedMeanC = feed ? Float32Array.from({ length: shape.channels }, (_, c) => pick(feed.mean, c)) : null;
    this.feedStdC = feed ? Float32Array.from({ length: shape.channels }, (_, c) => pick(feed.std, c)) : null;
  }

  private channelOf(i: number): number {
    return Math.floor(i / this.plane) % this.shape.channels;
  }

  /** Attack-space values → model input (a new array, or the same one in normalized space). */
  toModel(x: Float32Array): Float32Array {
    if (this.feedMeanC && this.feedStdC) {
      const fm = this.feedMeanC;
      const fs = this.feedStdC;
      const out = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const c = this.channelOf(i);
        const p = this.space === 'pixel' ? x[i]! : Math.fround(x[i]! * this.stdC[c]!) + this.meanC[c]!;
        out[i] = fm[c] === 0 && fs[c] === 1 ? p : Math.fround(p - fm[c]!) / fs[c]!;
      }
      return out;
    }
    if (this.space === 'normalized') return x;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const c = this.channelOf(i);
      out[i] = Math.fround(x[i]! - this.meanC[c]!) / this.stdC[c]!;
    }
    return out;
  }

  /** A gradient w.r.t. the model input → gradient w.r.t. the attack variable (in place). */
  gradToSpace(g: Float32Array): Float32Array {
    if (this.feedMeanC && this.feedStdC) {
      // ∂u/∂x = (space pixel: 1; normalized: std) / feed.std
      for (let i = 0; i < g.length; i++) {
        const c = this.channelOf(i);
        g[i] = g[i]! * ((this.space === 'pixel' ? 1 : this.stdC[c]!) / this.feedStdC[c]!);
      }
      return g;
    }
    if (this.space === 'normalized') return g;
    for (let i = 0; i < g.length; i++) g[i] = g[i]! / this.stdC[this.channelOf(i)]!;
    return g;
  }

  /** Attack-space values → [0, 1] pixels (for pictures), clipped to [0, 1]. */
  toPixels(x: Float32Array): Float32Array {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const c = this.channelOf(i);
      const p = this.space === 'pixel' ? x[i]! : x[i]! * this.stdC[c]! + this.meanC[c]!;
      out[i] = Math.min(1, Math.max(0, p));
    }
    return out;
  }
}

/** Per-channel lower and upper bounds of the attack variable. */
export class Clamp {
  constructor(readonly rule: ClampRule, readonly lo: Float32Array, readonly hi: Float32Array, readonly plane: number) {}

  /** Clamps samples in place (x holds whole samples, NCHW). */
  apply(x: Float32Array, from = 0, to = x.length): void {
    const channels = this.lo.length;
    for (let i = from; i < to; i++) {
      const c = Math.floor(i / this.plane) % channels;
      const v = x[i]!;
      if (v < this.lo[c]!) x[i] = this.lo[c]!;
      else if (v > this.hi[c]!) x[i] = this.hi[c]!;
    }
  }

  get min(): number {
    return Math.min(...this.lo);
  }

  get max(): number {
    return Math.max(...this.hi);
  }

  /** The min/max over all of `x` (every channel), like the authors' x.min()/x.max(). */
  static batchMinMax(x: Float32Array, shape: ImageShape): Clamp {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return new Clamp('batch-minmax', new Float32Array(shape.channels).fill(lo), new Float32Array(shape.channels).fill(hi), shape.height * shape.width);
  }

  /** The fixed box: [0, 1] in pixel space, or its normalised image per channel. */
  static box(space: InputSpace, shape: ImageShape, mean: readonly number[], std: readonly number[]): Clamp {
    const pick = (v: readonly number[], c: number) => v[v.length === 1 ? 0 : c]!;
    const lo = new Float32Array(shape.channels);
    const hi = new Float32Array(shape.channels);
    for (let c = 0; c < shape.channels; c++) {
      if (space === 'pixel') {
        lo[c] = 0;
        hi[c] = 1;
      } else {
        lo[c] = Math.fround(0 - pick(mean, c)) / pick(std, c);
        hi[c] = Math.fround(1 - pick(mean, c)) / pick(std, c);
      }
    }
    return new Clamp('box', lo, hi, shape.height * shape.width);
  }
}
