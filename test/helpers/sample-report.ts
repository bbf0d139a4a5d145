// A realistic report.json (format 1) for the report page's tests: the authors' LeNetLike on MNIST, κ ∈
// {0, 0.5, 1, 1.5}, white-box and gray-box IFGSM/DeepFool, with a transfer matrix, iteration curves, example
// images and a tuning block. The numbers follow the shape of the paper's MNIST results (clean 99.55 → 98.9 %,
// DeepFool ρ̃ rising with κ); they are made up for testing the page, not measured.

import type { ExampleImage, Report } from '../../src/runtime/report/schema.js';

/** A deterministic pseudo-random generator (LCG) so that the images are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function segDist(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

/** A 28×28 handwritten-looking digit drawn from strokes (7, 0 or 3), values in [0, 1]. */
export function digitImage(digit: 7 | 0 | 3): number[] {
  const out: number[] = [];
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      let d: number;
      if (digit === 7) d = Math.min(segDist(x, y, 7, 6, 20, 6), segDist(x, y, 20, 6, 11, 22));
      else if (digit === 0) d = Math.abs(Math.hypot((x - 14) / 5.5, (y - 14) / 8) - 1) * 6;
      else {
        const top = Math.abs(Math.hypot((x - 13) / 5, (y - 9.5) / 4) - 1) * 4.5 + (x < 11 && y > 9 ? 9 : 0);
        const bottom = Math.abs(Math.hypot((x - 13) / 5.5, (y - 18) / 4.5) - 1) * 5 + (x < 11 && y < 18 ? 9 : 0);
        d = Math.min(top, bottom);
      }
      out.push(Math.max(0, Math.min(1, 1.6 - d * 0.75)));
    }
  }
  return out;
}

function perturb(clean: readonly number[], channels: number, h: number, w: number, strength: number, seed: number): number[] {
  const rand = lcg(seed);
  const plane = h * w;
  const out = clean.slice();
  // Smooth blobs plus sign noise, stronger near strokes: the look of DeepFool perturbations.
  const blobs = Array.from({ length: 5 }, () => [rand() * w, rand() * h, rand() < 0.5 ? -1 : 1, 2 + rand() * 4] as const);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < plane; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      let v = 0;
      for (const [bx, by, s, r] of blobs) v += s * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * r * r));
      v += (rand() - 0.5) * 0.6;
      const k = c * plane + i;
      out[k] = Math.max(0, Math.min(1, clean[k]! + strength * v));
    }
  }
  return out;
}

function mnistExamples(): ExampleImage[] {
  const samples: Array<{ index: number; label: 7 | 0 | 3; adv: [number, number] }> = [
    { index: 0, label: 7, adv: [3, 9] },
    { index: 10, label: 0, adv: [6, 6] },
    { index: 18, label: 3, adv: [5, 8] },
  ];
  const out: ExampleImage[] = [];
  for (const s of samples) {
    const clean = digitImage(s.label);
    [0, 1].forEach((kappa, j) => {
      out.push({
        kappa,
        attack: 'deepfoolinf',
        mode: 'white-box',
        index: s.index,
        label: s.label,
        clean_pred: s.label,
        adv_pred: s.adv[j]!,
        channels: 1,
        height: 28,
        width: 28,
        clean,
        adversarial: perturb(clean, 1, 28, 28, kappa === 0 ? 0.12 : 0.3, 100 + s.index * 7 + j),
      });
    });
  }
  return out;
}

/** Colour (CIFAR-10-like, 3×32×32) examples, for the RGB path of the image encoder. */
export function cifarLikeExamples(): ExampleImage[] {
  const h = 32;
  const w = 32;
  const clean: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sky = y < 14 ? 0.55 + 0.3 * (c === 2 ? 1 : c === 1 ? 0.6 : 0.2) : 0;
        const body = Math.hypot((x - 16) / 9, (y - 20) / 6) < 1 ? [0.75, 0.2, 0.15][c]! : 0;
        const ground = y >= 14 ? [0.25, 0.45, 0.2][c]! : 0;
        clean.push(Math.min(1, body || sky + ground));
      }
    }
  }
  return [0, 0.4].map((kappa, j) => ({
    kappa,
    attack: 'deepfool2',
    mode: 'white-box' as const,
    index: 4,
    label: 1,
    clean_pred: 1,
    adv_pred: 9,
    channels: 3,
    height: h,
    width: w,
    clean,
    adversarial: perturb(clean, 3, h, w, kappa === 0 ? 0.02 : 0.08, 7 + j),
  }));
}

const KAPPAS = [0, 0.5, 1, 1.5];

/** The sample report, fresh on each call (tests may mutate it). */
export function sampleReport(): Report {
  const clean = [0.9955, 0.9952, 0.9941, 0.9893];
  const wb = {
    ifgsm: { norm: 'linf' as const, acc: [0.0, 0.214, 0.547, 0.71], rho: [0.262, 0.279, 0.301, 0.318], it: [6.4, 12.9, 24.2, 31.7] },
    deepfool2: { norm: 'l2' as const, acc: [0.0, 0.002, 0.011, 0.024], rho: [0.218, 0.301, 0.449, 0.571], it: [2.4, 3.1, 4.6, 6.0] },
    deepfoolinf: { norm: 'linf' as const, acc: [0.0, 0.003, 0.019, 0.041], rho: [0.179, 0.244, 0.341, 0.42], it: [2.9, 3.8, 5.2, 6.9] },
  };
  const results: Report['results'] = [];
  for (const [attack, r] of Object.entries(wb)) {
    KAPPAS.forEach((kappa, i) => {
      const acc = r.acc[i]!;
      const fooling = (clean[i]! - acc) / clean[i]!;
      results.push({
        kappa,
        attack,
        mode: 'white-box',
        norm: r.norm,
        n: 10000,
        accuracy: acc,
        fooling_rate: fooling,
        rho_all: r.rho[i]!,
        rho_success: r.rho[i]! * (1 + 0.04 * i),
        abs_perturbation_mean: r.rho[i]! * (r.norm === 'l2' ? 9.3 : 2.8),
        iterations_mean: r.it[i]!,
        wall_s: 38.2 + 21 * i + (attack === 'ifgsm' ? 60 : 0),
        zero_gradient_rate: i === 0 ? 0 : 0.0008 * i,
      });
    });
  }
  const gray = { ifgsm: [0.0, 0.411, 0.783, 0.902], deepfool2: [0.024, 0.635, 0.921, 0.957] };
  for (const [attack, acc] of Object.entries(gray)) {
    KAPPAS.forEach((kappa, i) => {
      results.push({
        kappa,
        attack,
        mode: 'gray-box',
        norm: attack === 'ifgsm' ? 'linf' : 'l2',
        n: 10000,
        accuracy: acc[i]!,
        fooling_rate: (clean[i]! - acc[i]!) / clean[i]!,
        rho_all: attack === 'ifgsm' ? 0.262 : 0.218,
        rho_success: attack === 'ifgsm' ? 0.262 : 0.219,
        abs_perturbation_mean: attack === 'ifgsm' ? 0.734 : 2.03,
        iterations_mean: attack === 'ifgsm' ? 6.4 : 2.4,
        wall_s: 4.1,
        source_kappa: 0,
      });
    });
  }
  const transfers: NonNullable<Report['transfers']> = [
    {
      attack: 'ifgsm',
      source_kappas: KAPPAS,
      target_kappas: KAPPAS,
      accuracy: [
        [0.0, 0.411, 0.783, 0.902],
        [0.122, 0.214, 0.655, 0.861],
        [0.408, 0.366, 0.547, 0.789],
        [0.611, 0.553, 0.602, 0.71],
      ],
    },
    {
      attack: 'deepfool2',
      source_kappas: KAPPAS,
      target_kappas: KAPPAS,
      accuracy: [
        [0.024, 0.635, 0.921, 0.957],
        [0.203, 0.002, 0.702, 0.894],
        [0.512, 0.388, 0.011, 0.655],
        [0.694, 0.571, 0.402, 0.024],
      ],
    },
  ];
  const iterations = [0, 5, 10, 15, 20, 25, 30, 35, 40];
  const curves: Report['curves'] = KAPPAS.map((kappa, i) => ({
    kappa,
    attack: 'ifgsm',
    mode: 'white-box' as const,
    iterations,
    accuracy: iterations.map((it) => {
      const floor = wb.ifgsm.acc[i]!;
      return floor + (clean[i]! - floor) * Math.exp(-it / (3 + 6 * i));
    }),
  }));
  return {
    format: 1,
    kind: 'eval',
    created: '2025-03-14T09:26:53.000Z',
    tool: { name: 'jumprelu', version: '0.1.0' },
    model: { path: '../shared/data/pretrained/mnist_lenetlike_baseline.onnx', sha256: '9f2c4e1a7b3d5c6e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcd' },
    data: {
      kind: 'mnist',
      path: '../shared/data/mnist',
      n: 10000,
      preprocessing: { scale: 1 / 255, mean: [0.1307], std: [0.3081], layout: 'NCHW' },
      space: 'normalized',
      clamp: 'batch-minmax',
      bounds: { min: -0.4242129, max: 2.8215435 },
    },
    settings: {
      kappas: KAPPAS,
      attacks: {
        ifgsm: { eps: 0.01, iterations: 40, projection: false },
        deepfool2: { overshoot: 0.02, candidates: 10, max_iterations: 50 },
        deepfoolinf: { overshoot: 0.02, candidates: 10, max_iterations: 50 },
      },
      modes: ['white-box', 'gray-box'],
      limit: null,
      batch: 500,
      ort_threads: 2,
      seed: 0,
      gray_box_source_kappa: 0,
      examples_per_result: 3,
    },
    clean: KAPPAS.map((kappa, i) => ({ kappa, n: 10000, accuracy: clean[i]! })),
    results,
    transfer: transfers[0]!,
    transfers,
    curves,
    examples: mnistExamples(),
    tuning: {
      max_accuracy_drop: 0.5,
      objective: 'maximise accuracy under ifgsm (white-box)',
      chosen_kappa: 1,
      candidates: KAPPAS.map((kappa, i) => ({
        kappa,
        clean_accuracy: clean[i]!,
        robust_accuracy: wb.ifgsm.acc[i]!,
        rho_all: wb.ifgsm.rho[i]!,
      })),
    },
    warnings: [
      'gradient masking check: ifgsm at κ = 1.5 met an all-zero first input gradient on 0.24% of the samples',
      'deepfool2 at κ = 1.5: 0.9% of the samples reached max_iterations (50) without changing the prediction',
    ],
    per_sample_file: 'per-sample.jsonl',
  };
}
