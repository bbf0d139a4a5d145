// The retrofit pass: every ReLU site becomes JumpReLU J(z) = z·1[z > κ], lowered per --target.
//
// Rules a user can rely on:
// - κ = 0 keeps the Relu node: J₀ is ReLU, and keeping it keeps the outputs bit for bit (and ORT's
//   Conv+Relu fusion).
// - Sites a previous run made are found through the model's metadata: the same κ changes nothing,
//   a new κ updates them in place, a new target re-lowers them.
// - Look-alikes that are not converted (Clip without --relu6, fused Conv+Relu) are reported.

import { InvalidModelError, UsageError } from '../ir/errors.js';
import type { IrFunction } from '../ir/function.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { NameAuthority } from '../ir/names.js';
import { NO_UNKNOWN_FIELDS } from '../ir/origin.js';
import { Node } from '../ir/node.js';
import { Value } from '../ir/value.js';
import { removeIfUnused, topologicalSort } from './cleanup.js';
import { type Coverage, type Requirement, checkRequirement, coverageOf, parseRequirement } from './coverage.js';
import { type KappaMap, type KappaSpec, checkKappa, lookupKappaByNames } from './kappa-map.js';
import type { Pass } from './pass-manager.js';
import {
  RECORD_KEY, type Kappa, type SiteRecord, type Target, TARGETS, isZeroKappa, readRecord, sameKappa, writeRecord,
} from '../retrofit/record.js';
import { ActivationTypes, type JumpSpec, type LoweringContext, activationInput, formFor } from '../retrofit/forms/index.js';
import { SiteRecords } from './site-records.js';
import { CUSTOM_DOMAIN, FUNCTION_DOMAIN, type Site, findSites } from './sites.js';

export interface RetrofitOptions {
  /** κ for every site the map does not cover. */
  kappa?: number;
  kappaMap?: KappaMap;
  /** Sites the map does not cover stay as they are. */
  onlyMapped?: boolean;
  /** κ for gradients, recorded for the gradient compiler (and on custom-op nodes). */
  gradKappa?: number;
  target?: Target;
  /** Also convert Clip(min=0[, max]) sites: JumpReLU in front of the Clip. */
  relu6?: boolean;
  /**
   * Refuse (before changing anything) unless every ReLU-like site, or at least this many, ends at the
   * requested κ: an UnsupportedModelError with code 'require-unmet' naming the sites left.
   */
  require?: Requirement;
}

export type SiteAction = 'converted' | 'updated' | 'unchanged' | 'kept-relu' | 'skipped' | 'reported';

export interface SiteReport {
  index: number;
  kind: Site['kind'];
  op: string;
  graph: string;
  node: string;
  kappa?: Kappa;
  gradKappa?: Kappa;
  target?: Target | 'relu';
  action: SiteAction;
  note?: string;
}

export interface RetrofitReport {
  target: Target;
  sites: SiteReport[];
  counts: Record<SiteAction, number>;
  /** What was converted and what was left (see coverageWarning for the sentence to show). */
  coverage: Coverage;
}

export function normaliseOptions(options: RetrofitOptions): Required<Pick<RetrofitOptions, 'target'>> & RetrofitOptions {
  const target = options.target ?? 'thresholded-relu';
  if (!TARGETS.includes(target)) throw new UsageError(`unknown target '${String(target)}' (one of ${TARGETS.join(', ')})`);
  if (options.kappa !== undefined) checkKappa(options.kappa, 'kappa');
  if (options.gradKappa !== undefined) checkKappa(options.gradKappa, 'grad-kappa');
  if (options.require !== undefined) parseRequirement(options.require);
  if (options.kappa === undefined && !options.kappaMap) throw new UsageError('give a κ (--kappa) or a kappa map (--kappa-map)');
  if (options.kappa === undefined && !options.onlyMapped) {
    // Without a global κ, unmapped sites have nothing to become: behave as --only-mapped.
    return { ...options, target, onlyMapped: true };
  }
  return { ...options, target };
}

/** The κ a site gets, or undefined when it stays as it is. */
function specFor(site: Site, options: RetrofitOptions): KappaSpec | undefined {
  // A ReLU6 site is named after its Clip (the name the user saw in --list before the first run), so a
  // kappa map keyed by the Clip's name keeps applying on later runs: conversion stays idempotent.
  const names = [site.record?.clip_node, site.record?.node ?? site.node.name].filter((n): n is string => n !== undefined);
  const mapped = options.kappaMap ? lookupKappaByNames(options.kappaMap, names, site.index) : undefined;
  if (mapped) return { kappa: mapped.kappa, gradKappa: mapped.gradKappa ?? options.gradKappa };
  if (options.onlyMapped || options.kappa === undefined) return undefined;
  return { kappa: options.kappa, gradKappa: options.gradKappa };
}

/** The ai.onnx opset governing a graph: its function's import, else the model's. */
function graphOpset(model: Model, fn: IrFunction | null): bigint {
  const v = fn?.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
  return v ?? model.opsetVersion('') ?? 0n;
}

/** What retrofit would do, without changing the model (for --list and --dry-run). */
export function planRetrofit(model: Model, options: RetrofitOptions | null): SiteReport[] {
  return planSites(findSites(model), options ? normaliseOptions(options) : null);
}

/** One report per site, in site order (retrofit relies on the two lists lining up). */
function planSites(sites: Site[], opts: (RetrofitOptions & { target: Target }) | null): SiteReport[] {
  return sites.map((site) => {
    // Rows are built field by field in one fixed order (JSON output keeps it): object spreads here
    // cost more than the whole lowering on a 128k-site graph.
    if (site.kind === 'fused' || site.kind === 'folded' || (site.kind === 'clip' && !opts?.relu6)) {
      return siteRow(site, undefined, undefined, undefined, 'reported', site.note ?? '');
    }
    const spec = opts ? specFor(site, opts) : undefined;
    if (!spec) return siteRow(site, site.record?.kappa, site.record?.grad_kappa, site.record?.target, 'skipped', undefined);
    const target = isZeroKappa(spec.kappa) ? 'relu' as const : opts!.target;
    const unchanged = site.record && site.record.target === target && sameKappa(site.record.kappa, spec.kappa)
      && sameKappa(site.record.grad_kappa, spec.gradKappa);
    const action: SiteAction = unchanged ? 'unchanged'
      : target === 'relu' && site.kind === 'relu' ? 'kept-relu'
        : site.kind === 'jumprelu' ? 'updated' : 'converted';
    return siteRow(site, spec.kappa, spec.gradKappa, target, action, site.note || undefined);
  });
}

function siteRow(site: Site, kappa: Kappa | undefined, gradKappa: Kappa | undefined, target: SiteReport['target'],
  action: SiteAction, note: string | undefined): SiteReport {
  const index = site.index;
  const kind = site.kind;
  const op = site.node.opType;
  const graph = site.graphPath;
  const node = site.record?.node ?? site.node.name;
  const row: SiteReport = action === 'reported' ? { index, kind, op, graph, node, action }
    : { index, kind, op, graph, node, kappa, gradKappa, target, action };
  if (note !== undefined) row.note = note;
  return row;
}

export function retrofit(model: Model, options: RetrofitOptions): RetrofitReport {
  const opts = normaliseOptions(options);
  checkOpsetImports(model);
  const sites = findSites(model);
  const plan = planSites(sites, opts);
  const coverage = coverageOf(plan);
  checkRequirement(coverage, opts.require);
  const names = NameAuthority.lazy(model);
  const types = new ActivationTypes(model);
  const oldRecord = readRecord(model);
  const records = new SiteRecords();
  // Records of nodes that no longer exist (edited away by another tool) are dropped.
  for (const site of sites) {
    if (!site.record) continue;
    site.record = currentRecord(site);
    records.set(site.record);
  }

  // Everything that can make a site fail is checked before anything changes: a library caller never
  // gets a half-converted model back with the error.
  for (const [i, p] of plan.entries()) {
    if (p.action !== 'converted' && p.action !== 'updated') continue;
    if (p.target === 'relu' || p.target === undefined) continue;
    const site = sites[i]!;
    const opset = graphOpset(model, site.fn);
    const x = site.kind === 'jumprelu' && site.record!.target !== 'relu' ? unlowerInput(site, site.record!) : requireInput(site);
    const failure = formFor(p.target).check({ graph: site.graph, graphPath: site.graphPath, opset, types }, x, { kappa: p.kappa!, name: p.node || site.node.label });
    if (failure) throw failure;
  }
  // Node names used more than once in each graph holding a site, as the graphs are before any edit.
  const repeatedNames = new Map<Graph, Set<string>>();
  for (const site of sites) {
    if (repeatedNames.has(site.graph)) continue;
    const repeated = new Set<string>();
    const seen = new Set<string>();
    for (const n of site.graph.nodes) {
      const before = seen.size;
      seen.add(n.name);
      if (seen.size === before) repeated.add(n.name);
    }
    repeatedNames.set(site.graph, repeated);
  }
  const siteName = (site: Site): string => {
    const own = site.node.name;
    if (own !== '' && !repeatedNames.get(site.graph)!.has(own)) return own;
    return names.fresh(own !== '' ? own : `jumprelu_${site.index}`);
  };

  for (const [i, site] of sites.entries()) {
    const p = plan[i]!;
    if (p.action !== 'converted' && p.action !== 'updated' && p.action !== 'kept-relu') continue;
    const spec = { kappa: p.kappa!, gradKappa: p.gradKappa };
    const ctx: LoweringContext = { model, names, graph: site.graph, graphPath: site.graphPath, fn: site.fn, opset: graphOpset(model, site.fn), types };
    if (site.kind === 'relu') {
      if (p.target === 'relu') {
        // J₀ = ReLU: keep the node; record it only when a gradient κ must be remembered.
        if (spec.gradKappa !== undefined && !isZeroKappa(spec.gradKappa)) {
          const name = siteName(site);
          site.node.name = name;
          records.set({ graph: site.graphPath, node: name, target: 'relu', kappa: 0, grad_kappa: spec.gradKappa });
        }
        continue;
      }
      const x = requireInput(site);
      const name = siteName(site);
      const { nodes, record } = formFor(p.target!).lower(ctx, x, requireOutput(site), site.node, jumpSpec(spec, name));
      carryNodeMetadata(site.node, nodes[nodes.length - 1]!);
      site.graph.remove(site.node, true);
      records.set(record);
    } else if (site.kind === 'clip') {
      if (p.target === 'relu') continue; // κ = 0: J₀ before Clip(min=0) changes nothing
      const x = requireInput(site);
      const y = new Value(names.fresh(`${x.name}_jumprelu`));
      const name = names.fresh(`${site.node.name || 'clip'}_jumprelu`);
      const { record } = formFor(p.target!).lower(ctx, x, y, site.node, jumpSpec(spec, name));
      site.node.setInput(0, y);
      if (site.node.name) record.clip_node = site.node.name;
      records.set(record);
    } else if (site.kind === 'jumprelu') {
      const old = site.record!;
      const target = p.target!;
      records.delete(old);
      const updated = old.target === target && target !== 'relu' ? formFor(target).update(ctx, site.node, old, spec) : null;
      if (updated) {
        records.set(updated);
        continue;
      }
      const x = old.target === 'relu' ? requireInput(site) : unlowerInput(site, old);
      const y = requireOutput(site);
      if (target === 'relu' && old.clip_node) {
        // A ReLU6 site back at κ = 0: J₀ in front of Clip(min=0) is the identity, so drop it.
        y.replaceAllUsesWith(x);
        unlower(site, old);
        continue;
      }
      let record: SiteRecord;
      if (target === 'relu') {
        const relu = site.graph.insertBefore(site.node, new Node('Relu', [x], { name: old.node, outputs: [y] }));
        carryNodeMetadata(site.node, relu);
        record = { graph: site.graphPath, node: old.node, target: 'relu', kappa: 0 };
        if (spec.gradKappa !== undefined) record.grad_kappa = spec.gradKappa;
      } else {
        const lowered = formFor(target).lower(ctx, x, y, site.node, jumpSpec(spec, old.node));
        record = lowered.record;
        carryNodeMetadata(site.node, lowered.nodes[lowered.nodes.length - 1]!);
      }
      if (old.clip_node) record.clip_node = old.clip_node;
      unlower(site, old);
      // A κ = 0 site without gradient κ is an ordinary Relu again: nothing to remember.
      if (!(record.target === 'relu' && record.grad_kappa === undefined)) records.set(record);
    }
  }

  pruneUnusedDefinitions(model);
  topologicalSort(model);
  const newSites = records.values();
  if (oldRecord && newSites.length === 0) {
    model.deleteMetadata(RECORD_KEY); // every site is a plain ReLU again
  } else if (newSites.length > 0) {
    // Rewritten only when its content changes (a record another tool formatted differently is kept as it is).
    const text = JSON.stringify({ format: 1 as const, sites: newSites });
    if (text !== JSON.stringify(oldRecord)) model.setMetadata(RECORD_KEY, text);
  }
  const counts = { converted: 0, updated: 0, unchanged: 0, 'kept-relu': 0, skipped: 0, reported: 0 };
  for (const s of plan) counts[s.action]++;
  return { target: opts.target, sites: plan, counts, coverage };
}

/**
 * One domain imported twice is harmless with one version (the lowering reads either) but ambiguous
 * with two: which one governs the new nodes is not defined, so such a model is refused.
 */
function checkOpsetImports(model: Model): void {
  const check = (imports: readonly { domain: string; version: bigint }[], where: string): void => {
    const seen = new Map<string, bigint>();
    for (const o of imports) {
      const d = o.domain === 'ai.onnx' ? '' : o.domain;
      const prev = seen.get(d);
      if (prev !== undefined && prev !== o.version) {
        throw new InvalidModelError(`${where} imports domain '${d || 'ai.onnx'}' twice, at versions ${prev} and ${o.version}`, { code: 'opset-import-conflict' });
      }
      seen.set(d, o.version);
    }
  };
  check(model.opsetImports, 'the model');
  for (const f of model.functions) check(f.opsetImports, `function ${f.domain}::${f.name}`);
}

/**
 * A `where` site's record names the κ value its mask reads; another tool may have renamed or merged it
 * (ORT deduplicates equal initializers), so the record is brought back in line with the graph.
 */
function currentRecord(site: Site): SiteRecord {
  const r = site.record!;
  return r.target === 'relu' ? r : formFor(r.target).sync(site.node, r);
}

/** Takes a recorded site's form out (y is left without a producer), removing what only it used. */
function unlower(site: Site, record: SiteRecord): void {
  if (record.target === 'relu') {
    site.graph.remove(site.node, true); // a kept Relu: nothing else to remove
    return;
  }
  removeIfUnused(formFor(record.target).unlower(site.graph, site.node, record).orphans);
}

function jumpSpec(spec: KappaSpec, name: string): JumpSpec {
  const s: JumpSpec = { kappa: spec.kappa, name };
  if (spec.gradKappa !== undefined) s.gradKappa = spec.gradKappa;
  return s;
}

/** After a re-targeting, the JumpRelu function and the project's opset imports may be left unused. */
function pruneUnusedDefinitions(model: Model): void {
  const used = new Set<string>();
  for (const graph of model.graphs()) for (const node of graph.nodes) used.add(node.domain);
  if (!used.has(FUNCTION_DOMAIN)) {
    model.functions = model.functions.filter((f) => f.domain !== FUNCTION_DOMAIN);
  }
  for (const domain of [FUNCTION_DOMAIN, CUSTOM_DOMAIN]) {
    if (used.has(domain)) continue;
    if (model.opsetVersion(domain) !== undefined) model.opsetImports = model.opsetImports.filter((o) => o.domain !== domain);
    for (const f of model.functions) f.opsetImports = f.opsetImports.filter((o) => o.domain !== domain);
  }
}

/**
 * The node that takes a site over inherits what the old one carried beyond its op: doc string and the
 * fields this code does not model (metadata_props, device configurations of newer ONNX).
 */
function carryNodeMetadata(from: Node, to: Node): void {
  to.docString = from.docString;
  to.unknownFields = from.unknownFields.length > 0 ? [...from.unknownFields] : NO_UNKNOWN_FIELDS;
}

function requireInput(site: Site): Value {
  const x = site.node.inputs[0];
  if (!x) throw new InvalidModelError(`${site.node.opType} node '${site.node.label}' has no input`, { code: 'invalid-node' });
  return x;
}

function requireOutput(site: Site): Value {
  const y = site.node.outputs[0];
  if (!y) throw new InvalidModelError(`${site.node.opType} node '${site.node.label}' has no output`, { code: 'invalid-node' });
  return y;
}

function unlowerInput(site: Site, record: SiteRecord): Value {
  const x = site.node.inputs[activationInput(record)];
  if (!x) throw new InvalidModelError(`recorded JumpReLU site '${record.node}' has no input`, { code: 'invalid-node' });
  return x;
}

export function jumpReluPass(options: RetrofitOptions): Pass<RetrofitReport> {
  return { name: 'jumprelu', run: (model) => retrofit(model, options) };
}

