// BPDA's smooth surrogate derivative (GradientOptions.surrogateTau): at JumpReLU sites with κ > 0 the backward
// pass uses d/dz of z·σ((z − κ)/τ) = σ(u) + z·σ(u)(1 − σ(u))/τ, u = (z − κ)/τ, on every runnable lowering;
// κ = 0 sites keep the ReLU derivative; the forward pass is unchanged.

import assert from 'node:assert/strict';
import test from 'node:test';

import { buildGradientModel } from '../src/autodiff/index.js';
import { UsageError } from '../src/ir/errors.js';
import type { Model } from '../src/ir/model.js';
import { retrofit } from '../src/passes/jumprelu.js';
import { TinyModel, f32, run } from './autodiff-helpers.js';

const XS = [-1, -0.2, 0.1, 0.45, 0.5, 0.55, 0.9, 2];

function oneActivation(): { model: Model; y: string } {
  const m = new TinyModel();
  const x = m.input('x', ['N', XS.length]);
  const y = m.one('Relu', [x]);
  return { model: m.output(y), y: y.name };
}

function expected(z: number, kappa: number, tau: number): number {
  const s = 1 / (1 + Math.exp(-(z - kappa) / tau));
  return s + (z * s * (1 - s)) / tau;
}

async function gradient(model: Model, y: string, options: { surrogateTau?: number; gradKappa?: number }) {
  const g = buildGradientModel(model, { wrt: ['x'], of: [y], ...options });
  const out = await run(g, { x: f32(XS, [1, XS.length]), [`${y}_cotangent`]: f32(XS.map(() => 1), [1, XS.length]) });
  return { grad: Array.from(out['x_grad']!.data as Float32Array), forward: Array.from(out[y]!.data as Float32Array) };
}

for (const target of ['thresholded-relu', 'where', 'function'] as const) {
  test(`surrogate derivative at a JumpReLU site (${target}) is that of z·σ((z−κ)/τ); the forward is J(z)`, async () => {
    for (const tau of [0.05, 0.25, 1]) {
      const { model, y } = oneActivation();
      retrofit(model, { kappa: 0.5, target });
      const { grad, forward } = await gradient(model, y, { surrogateTau: tau });
      XS.forEach((z, i) => {
        assert.ok(Math.abs(grad[i]! - expected(z, 0.5, tau)) < 1e-5, `τ=${tau} z=${z}: ${grad[i]} vs ${expected(z, 0.5, tau)}`);
        assert.equal(forward[i], z > 0.5 ? Math.fround(z) : 0);
      });
      // the white-box derivative 1[z > κ] differs from it
      const own = await gradient(model, y, {});
      assert.deepEqual(own.grad, XS.map((z) => (z > 0.5 ? 1 : 0)));
    }
  });
}

test('surrogate: κ = 0 sites keep the ReLU derivative; gradKappa and surrogateTau exclude each other', async () => {
  const { model, y } = oneActivation();
  retrofit(model, { kappa: 0 });
  const { grad } = await gradient(model, y, { surrogateTau: 0.1 });
  assert.deepEqual(grad, XS.map((z) => (z > 0 ? 1 : 0)));
  assert.throws(() => buildGradientModel(model, { wrt: ['x'], of: [y], surrogateTau: 0.1, gradKappa: 0 }), UsageError);
  assert.throws(() => buildGradientModel(model, { wrt: ['x'], of: [y], surrogateTau: 0 }), /positive/);
});
