// What a retrofit converted and what it left, so "nothing converted" and "only part converted" are
// always said, and can be made an error (`--require all|N`) before anything is changed or written.

import { UnsupportedModelError, UsageError } from '../ir/errors.js';
import type { SiteAction, SiteReport } from './jumprelu.js';

/** Every ReLU-like site, or at least this many, must end as JumpReLU at the requested κ. */
export type Requirement = 'all' | number;

/** Actions after which a site is at the κ the user asked for (κ = 0 keeps a Relu: J₀ is ReLU). */
const DONE: ReadonlySet<SiteAction> = new Set(['converted', 'updated', 'unchanged', 'kept-relu']);

export interface Coverage {
  /** ReLU-like sites found: Relu, earlier JumpReLU sites, Clip(min=0), fused and folded activations. */
  sites: number;
  /** Sites at the requested κ after the run. */
  done: number;
  /** Sites left as they were (skipped by the kappa map, or reported: not convertible as they stand). */
  left: SiteReport[];
}

export function coverageOf(sites: readonly SiteReport[]): Coverage {
  const left: SiteReport[] = [];
  let done = 0;
  for (const s of sites) {
    if (DONE.has(s.action)) done++;
    else left.push(s);
  }
  return { sites: sites.length, done, left };
}

export function parseRequirement(raw: unknown): Requirement {
  if (raw === 'all') return 'all';
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--require takes 'all' or a whole number of sites ≥ 1, got '${String(raw)}'`);
  return n;
}

function why(s: SiteReport): string {
  if (s.action === 'skipped') return 'not in the kappa map';
  if (s.kind === 'clip') return 'Clip, needs --relu6';
  return s.kind === 'folded' ? 'Relu folded into QuantizeLinear' : s.kind === 'fused' ? `fused into ${s.op}` : s.action;
}

function names(left: readonly SiteReport[]): string {
  const shown = left.slice(0, 5).map((s) => `${s.graph === 'main' ? '' : `${s.graph}:`}${s.node || '(unnamed)'} (${why(s)})`);
  return shown.join(', ') + (left.length > 5 ? `, … and ${left.length - 5} more` : '');
}

/** The one-line warning for a run that converted nothing or only part; null when every site is done. */
export function coverageWarning(c: Coverage): string | null {
  if (c.sites === 0) return 'nothing converted: the model has no ReLU-like sites';
  if (c.left.length === 0) return null;
  if (c.done === 0) return `nothing converted: ${c.left.length} ReLU-like site(s) left as they were: ${names(c.left)}`;
  return `only part converted: ${c.left.length} of ${c.sites} ReLU-like sites left as they were: ${names(c.left)}`;
}

/** Throws (code 'require-unmet') unless the requirement holds; the message names what was left. */
export function checkRequirement(c: Coverage, requirement: Requirement | undefined): void {
  if (requirement === undefined) return;
  const need = requirement === 'all' ? c.sites : requirement;
  const met = requirement === 'all' ? c.left.length === 0 && c.sites > 0 : c.done >= need;
  if (met) return;
  const what = requirement === 'all' ? 'every ReLU-like site' : `${need} site(s)`;
  const detail = c.sites === 0 ? 'the model has no ReLU-like sites'
    : `${c.done} of ${c.sites} would be converted` + (c.left.length > 0 ? `; left: ${names(c.left)}` : '');
  throw new UnsupportedModelError(`--require ${requirement}: ${what} must be converted, but ${detail}`, { code: 'require-unmet' });
}
