// κ must act: before anything runs, the retrofit the harness will apply (with the same site options as the
// converter: --relu6, --require) is planned on the model, and a plan that changes no site is refused, naming
// the activations the model does use (a ReLU6 network without --relu6, a SiLU or GELU network), since every κ
// row would otherwise be the κ = 0 model's figures.

import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { constantOf } from '../ir/analysis/constants.js';
import { type Coverage, type Requirement, checkRequirement, coverageOf, coverageWarning } from '../passes/coverage.js';
import { planRetrofit } from '../passes/jumprelu.js';
import { CUSTOM_DOMAIN, clipBounds, findSites } from '../passes/sites.js';
import type { Target } from '../retrofit/record.js';
import type { KappaMap } from '../passes/kappa-map.js';
import { UnsupportedModelError } from '../ir/errors.js';
import { ModelMismatchError } from './data-checks.js';

/** The converter's site options that the harness takes too (src/cli/site-options.ts defines the flags). */
export interface SiteOptions {
  /** Also retrofit Clip(min=0[, max]) sites (ReLU6). */
  relu6?: boolean;
  /** Refuse unless every ReLU-like site ('all') or this many are retrofitted. */
  require?: Requirement;
  /** Per-site κ (the converter's --kappa-map), applied at every κ > 0 of the sweep; κ = 0 stays the ReLU model. */
  kappaMap?: KappaMap;
  /** The map file's JSON as given (recorded in the report). */
  kappaMapJson?: unknown;
  /** With kappaMap: the sites it does not cover stay ReLU. */
  onlyMapped?: boolean;
}

export interface ActivationCount {
  /** e.g. 'Relu', 'Clip(0,6)', 'Sigmoid·Mul (SiLU)'. */
  label: string;
  count: number;
  /** What would make JumpReLU act on them, when something can. */
  hint?: string;
}

function isDefault(n: Node): boolean {
  return n.domain === '' || n.domain === 'ai.onnx';
}

/** Mul(x, Sigmoid(x)) (SiLU/Swish) or Mul(x, HardSigmoid(x)) (HardSwish): the gate's op, or null. */
function gatedBy(n: Node): string | null {
  if (n.opType !== 'Mul' || !isDefault(n) || n.inputs.length !== 2) return null;
  const [a, b] = n.inputs;
  for (const [x, g] of [[a, b], [b, a]] as const) {
    const p = g?.producer;
    if (p && isDefault(p) && (p.opType === 'Sigmoid' || p.opType === 'HardSigmoid') && p.inputs[0] === x) return p.opType;
  }
  return null;
}

const fmtBound = (v: number | null): string => (v === null ? '∞' : String(Math.round(v * 1e4) / 1e4));

/** The activation-like ops of the model's graphs, most frequent first. */
export function activationCensus(model: Model): ActivationCount[] {
  const counts = new Map<string, ActivationCount>();
  const add = (label: string, hint?: string) => {
    const c = counts.get(label);
    if (c) c.count++;
    else counts.set(label, { label, count: 1, ...(hint ? { hint } : {}) });
  };
  for (const g of model.graphs()) {
    const gates = new Set<Node>();
    for (const n of g.nodes) {
      const gate = gatedBy(n);
      if (gate) {
        add(gate === 'Sigmoid' ? 'Sigmoid·Mul (SiLU)' : 'HardSigmoid·Mul (HardSwish)');
        for (const v of n.inputs) if (v?.producer && v.producer.opType === gate) gates.add(v.producer);
      }
    }
    for (const n of g.nodes) {
      if (!isDefault(n) || gates.has(n)) continue;
      switch (n.opType) {
        case 'Relu': add('Relu'); break;
        case 'Clip': {
          const b = clipBounds(n);
          if (b && b.min === 0) add(`Clip(0,${fmtBound(b.max)})`, b.max === 6 ? 'ReLU6: pass --relu6' : 'ReLU-like: pass --relu6');
          else add(b ? `Clip(${fmtBound(b.min)},${fmtBound(b.max)})` : 'Clip');
          break;
        }
        case 'Max': {
          const zero = n.inputs.length === 2 && n.inputs.some((v) => { const c = constantOf(v); return !!c && c.values.length === 1 && c.values[0] === 0; });
          if (zero) add('Max(x,0) (a ReLU written as Max)');
          break;
        }
        case 'Erf': add('Erf (GELU)'); break;
        case 'Gelu': case 'HardSwish': case 'HardSigmoid': case 'Sigmoid': case 'Tanh': case 'LeakyRelu': case 'PRelu':
        case 'Elu': case 'Selu': case 'Celu': case 'Softplus': case 'Softsign': case 'Mish': case 'ThresholdedRelu':
          add(n.opType);
          break;
        default:
          break;
      }
    }
  }
  return [...counts.values()].sort((a, b) => b.count - a.count);
}

/** "Clip(0,6) ×17 (ReLU6: pass --relu6), Sigmoid·Mul (SiLU) ×49". */
export function formatCensus(c: readonly ActivationCount[]): string {
  return c.map((a) => `${a.label} ×${a.count}${a.hint ? ` (${a.hint})` : ''}`).join(', ');
}

/**
 * How the harness writes JumpReLU in this model: ThresholdedRelu (opset ≥ 10), else Where (opset 9). Below opset 9
 * neither the forms nor the gradient compiler apply: refused with what to do (the converter's --target advice
 * would not help an eval user).
 */
export function harnessTarget(model: Model): Target {
  const opset = Number(model.opsetVersion('') ?? 0n);
  if (opset >= 10) return 'thresholded-relu';
  if (opset === 9) return 'where';
  throw new UnsupportedModelError(`the model imports ai.onnx opset ${opset}; the harness needs opset 9 or later (JumpReLU's forms and the gradients): convert it first, e.g. onnx.version_converter.convert_version(model, 13)`, { code: 'gradient-opset' });
}

export interface SitePlan {
  coverage: Coverage;
  /** Sites the retrofit changes at κ > 0. */
  changed: number;
  /** "only part converted…" when some ReLU-like sites stay as they are. */
  warning: string | null;
  census: ActivationCount[];
  /**
   * Set when the model already holds JumpReLU sites recorded by the converter: the harness re-lowers them (a
   * custom-op site as the standard form, since onnxruntime-node cannot load the library) and each κ of the sweep
   * replaces the κ they carry, so the figures are not those of the model file as it is.
   */
  existing: string | null;
}

/**
 * Plans the harness's retrofit (at κ = 1, any κ > 0 gives the same sites) with the site options. Throws
 * ModelMismatchError (code 'no-relu-sites') when it changes no site and `--require`'s error when unmet.
 */
export function checkRetrofitSites(model: Model, sites: SiteOptions = {}): SitePlan {
  const plan = planRetrofit(model, {
    kappa: 1, target: harnessTarget(model), ...(sites.relu6 ? { relu6: true } : {}),
    ...(sites.kappaMap ? { kappaMap: sites.kappaMap } : {}), ...(sites.onlyMapped ? { onlyMapped: true } : {}),
  });
  const coverage = coverageOf(plan);
  const changed = plan.filter((s) => s.action === 'converted' || s.action === 'updated' || s.action === 'unchanged').length;
  const census = activationCensus(model);
  if (changed === 0) {
    const uses = census.length ? `the model uses ${formatCensus(census)}` : 'the model has no activation ops the harness knows';
    if (sites.onlyMapped && coverage.sites > 0) throw new ModelMismatchError(`the retrofit changes no site: --only-mapped and the kappa map covers none of the model's ${coverage.sites} ReLU-like site(s) with κ > 0 (see jumprelu convert --list for their names and #indices)`, { code: 'no-relu-sites' });
    throw new ModelMismatchError(`the retrofit changes no site (no ReLU${sites.relu6 ? ' and no Clip(min=0)' : ''} for JumpReLU to replace): ${uses}: every κ would give the same model, so there is nothing to evaluate`, { code: 'no-relu-sites' });
  }
  checkRequirement(coverage, sites.require);
  return { coverage, changed, warning: coverageWarning(coverage), census, existing: describeExisting(model) };
}

/** The note for a model that was converted already (null when it holds no recorded JumpReLU site). */
function describeExisting(model: Model): string | null {
  const recorded = findSites(model).filter((s) => s.kind === 'jumprelu' && s.record && s.record.target !== 'relu');
  if (recorded.length === 0) return null;
  const kappas = [...new Set(recorded.map((s) => (typeof s.record!.kappa === 'number' ? String(s.record!.kappa) : 'per-channel')))];
  const custom = recorded.filter((s) => s.record!.target === 'custom').length;
  return `the model already holds ${recorded.length} JumpReLU site(s) (κ = ${kappas.slice(0, 4).join(', ')}${kappas.length > 4 ? ', …' : ''}): ` +
    'each κ of the sweep replaces the κ they carry' +
    (custom ? `; its ${custom} ${CUSTOM_DOMAIN}::JumpRelu site(s) run as ${harnessTarget(model) === 'where' ? 'Greater+Where' : 'ThresholdedRelu'} (the same function; onnxruntime-node cannot load the custom-op library)` : '');
}
