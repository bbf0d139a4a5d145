// Which threshold a JumpReLU's derivative uses. The retrofit pass records, per rewritten activation,
// the inference κ and an optional gradient κ in metadata_props['jumprelu.retrofit']:
//   {"format":1,"sites":[{"graph":"main","node":"…","target":"thresholded-relu|where|function|custom",
//                         "kappa":0.5,"grad_kappa":0.2}, …]}
// (src/passes writes it, src/retrofit/record.ts defines and reads it; κ may also be a list, one per channel along axis 1, and the
// target 'relu' marks a κ = 0 site kept as a Relu node.)
// The derivative of J(z) = z·1[z > κ] is taken as 1[z > κ_grad] (the jump's Dirac term is ignored, as
// in the paper's PyTorch code); κ_grad defaults to κ. An explicit `gradKappa` option overrides every
// JumpReLU site (the adaptive attack's ReLU surrogate uses 0).
// `surrogateTau` (BPDA, Athalye et al. 2018) replaces the derivative at every JumpReLU site with κ > 0 by that
// of the smooth relaxation z·σ((z − κ)/τ): σ(u) + z·σ(u)(1 − σ(u))/τ, u = (z − κ)/τ (κ = 0 sites keep ReLU's).

import type { IrFunction } from '../ir/function.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { type Kappa, RECORD_KEY, type SiteRecord, readRecord } from '../retrofit/record.js';

/** The retrofit pass's record, read through the one reader both sides share (strict: κ must be numbers). */
export const RETROFIT_METADATA_KEY = RECORD_KEY;
export type KappaValue = Kappa;
export type RetrofitSite = SiteRecord;

export class KappaResolver {
  private readonly sites = new Map<string, RetrofitSite>();

  private readonly functions: IrFunction[];

  constructor(model: Model, readonly override: number | null, readonly surrogateTau: number | null = null) {
    this.functions = model.functions;
    for (const s of readRecord(model, { strict: true })?.sites ?? []) {
      if ((s.graph ?? 'main') === 'main') this.sites.set(s.node, s);
    }
  }

  /** The recorded site for a node of the main graph, if any. */
  site(node: Node): RetrofitSite | undefined {
    return node.name ? this.sites.get(node.name) : undefined;
  }

  /**
   * The gradient threshold for a JumpReLU node whose own inference threshold is `fallback` (null when
   * the caller keeps using the node's own threshold tensor or mask as is).
   */
  gradKappa(node: Node, fallback: KappaValue | null): KappaValue | null {
    if (this.override !== null) return this.override;
    const s = this.site(node);
    if (s) return s.grad_kappa ?? s.kappa;
    return fallback;
  }

  /** Like gradKappa, but null when the recorded gradient κ is the inference κ (the node's own mask can be reused). */
  distinctGradKappa(node: Node): KappaValue | null {
    if (this.override !== null) return this.override;
    return this.site(node)?.grad_kappa ?? null;
  }

  /** A float attribute's default in the model-local function a node calls. */
  functionDefault(node: Node, name: string): number | undefined {
    const fn = this.functions.find((f) => f.name === node.opType && f.domain === node.domain && f.overload === node.overload);
    return fn?.attributeDefaults.find((a) => a.name === name)?.asFloat();
  }
}
