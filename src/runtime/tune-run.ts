// `tune` as a library call: sweep κ (or, scale-aware, per-layer quantile candidates), evaluate every candidate
// with the adaptive mode always included, select by the worst case over all attacks and modes within the
// clean-accuracy budget (tune.ts's chooseByWorstCase), then refine the grid halfway to the best candidate's
// neighbours and select again. The chosen κ leads the report's verdict; a choice at the grid's upper edge is
// said. The CLI's `tune` only parses into this.

import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../ir/errors.js';
import type { KappaMap } from '../passes/kappa-map.js';
import { makeAttack, isAttackName, resolveAttackParams } from './attacks/registry.js';
import { toAttackSpace } from './dataset.js';
import { type EvalOptions, type EvalRun, datasetFamily, evaluate, resolveEvalInput } from './evaluate.js';
import { PER_SAMPLE_FILE, perSampleLine, writeReportFiles } from './report/write.js';
import type { AttackMode } from './report/schema.js';
import { SpaceMap } from './space.js';
import { chooseThreads, peakRss } from './resources.js';
import { type Objective, chooseByWorstCase, quantileMaps, refineAround, siteQuantiles } from './tune.js';
import { verdict } from './verdict.js';

export const TUNE_SWEEPS = { mnist: [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5], cifar10: [0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.09], other: [0, 0.25, 0.5, 1] };
export const DEFAULT_QUANTILES = [0, 0.05, 0.1, 0.2, 0.3];

export interface TuneOptions extends Omit<EvalOptions, 'kappas' | 'kind' | 'kappaMaps'> {
  /** Candidate κ values (0 is always added); default: the sweep of the data's family (TUNE_SWEEPS). */
  kappas?: number[];
  /** Largest clean-accuracy loss from κ = 0, in percentage points. */
  maxAccuracyDrop: number;
  /** Default: accuracy (worst case over attacks) when a bounded attack runs, else rho_all (smallest ρ̃ over modes). */
  objective?: Objective;
  /** Per-layer κ_l from quantiles of each layer's positive pre-activations (quantile 0 is always added). */
  scaleAware?: { quantiles?: number[] };
  /** Refine the grid around the first pass's best (default true). */
  refine?: boolean;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)} %`;
}

export async function tune(o: TuneOptions): Promise<EvalRun> {
  if (!Number.isFinite(o.maxAccuracyDrop) || o.maxAccuracyDrop < 0) throw new UsageError('--max-accuracy-drop must be a number ≥ 0 (percentage points)');
  if (o.attacks.length === 0) throw new UsageError('tune needs at least one attack (--attacks)');
  if (o.shard) {
    // the refinement pass's κ grid depends on the first pass's choice over the whole set: no shard can know it
    throw new UsageError('tune cannot run as shards: its second pass depends on the first pass\'s choice over all samples; run `jumprelu eval --shard i/n` over the κ grid, merge, and read the worst case per κ (or tune on one machine)', { code: 'shard-tune' });
  }
  const family = datasetFamily(o.dataset);
  const bounded = o.attacks.some((a) => isAttackName(a) && makeAttack(a, resolveAttackParams(a, family, o.attackParams?.[a])).budget);
  const objective = o.objective ?? (bounded ? 'accuracy' : 'rho_all');
  if (objective !== 'rho_all' && objective !== 'accuracy') throw new UsageError("--objective must be 'rho_all' or 'accuracy'");
  // what survives adaptive attack is what counts: the adaptive mode always runs
  const modes: AttackMode[] = [...new Set<AttackMode>([...o.modes, 'adaptive'])];
  const ds = o.dataset;

  let grid: number[];
  let mapsFor: (candidates: number[]) => Promise<Map<number, KappaMap> | undefined> = async () => undefined;
  const perLayer: Record<string, Record<string, number>> = {};
  if (o.scaleAware && o.sites?.kappaMap) throw new UsageError('--scale-aware chooses a κ per layer itself: drop --kappa-map');
  if (o.scaleAware) {
    grid = [...(o.scaleAware.quantiles ?? DEFAULT_QUANTILES)];
    if (grid.some((q) => !(q >= 0 && q < 1))) throw new UsageError('--quantiles must lie in [0, 1)');
    if (!grid.includes(0)) grid.unshift(0);
    const n = Math.min(o.limit ?? ds.count, ds.count, 1000);
    const input = resolveEvalInput(o);
    const space = new SpaceMap(input.space, ds, input.preprocessing.mean, input.preprocessing.std, input.resolved.feed);
    const x = toAttackSpace(ds, input.preprocessing, input.space, n);
    mapsFor = async (quantiles) => {
      const q = await siteQuantiles({ path: o.modelPath, interface: input.interface, ...(o.sites ? { sites: o.sites } : {}) }, x, n, space, quantiles, chooseThreads(o.threads, Math.min(o.batch, n)).threads, o.batch);
      quantiles.forEach((quant, j) => {
        perLayer[String(quant)] = Object.fromEntries(q.sites.map((s, i) => [`${s.key} ${s.node}`, q.kappas[i]![j]!]));
      });
      return quantileMaps(q, quantiles);
    };
  } else {
    grid = o.kappas ?? TUNE_SWEEPS[family];
    if (!grid.includes(0)) grid = [0, ...grid];
  }

  const pass = async (kappas: number[], withReport: boolean): Promise<EvalRun> => {
    const maps = await mapsFor(kappas);
    const opts: EvalOptions = { ...o, modes, kappas, kind: 'tune', ...(maps ? { kappaMaps: maps } : {}) };
    if (!withReport) delete opts.report;
    return evaluate(opts);
  };
  const run = await pass(grid, true);
  const choose = () => chooseByWorstCase(run.report.clean, run.report.results, run.report.worst_case ?? [], objective, o.maxAccuracyDrop);
  let tuning = choose();
  const refined = o.refine === false || tuning.chosen_kappa === null ? [] : refineAround(grid, tuning.chosen_kappa);
  if (refined.length) {
    const more = await pass(refined, false);
    merge(run, more);
    if (o.report) {
      appendFileSync(join(o.report.dir, PER_SAMPLE_FILE), `${more.perSample.map((r) => perSampleLine(r)).join('\n')}\n`);
    }
    tuning = choose();
    tuning.refined = refined;
  }
  if (o.scaleAware) {
    run.report.settings.per_layer_kappa = perLayer;
    tuning.objective += '; candidates are quantiles q: κ_l = q-quantile of layer l\'s positive pre-activations';
    tuning.per_layer = tuning.chosen_kappa === null ? null : { quantile: tuning.chosen_kappa, kappas: perLayer[String(tuning.chosen_kappa)]! };
  }
  run.report.tuning = tuning;
  // the chosen κ leads the report
  const chosen = tuning.candidates.find((c) => c.kappa === tuning.chosen_kappa);
  const relu = tuning.candidates.find((c) => c.kappa === 0);
  const what = o.scaleAware ? 'quantile q' : 'κ';
  const lead = chosen && relu
    ? `tune chose ${what} = ${chosen.kappa}${chosen.kappa === 0 ? ' (the ReLU model: no κ beats it under the worst case)' : ''}: clean accuracy ${pct(chosen.clean_accuracy)} (ReLU ${pct(relu.clean_accuracy)}), ` +
      (objective === 'accuracy' ? `worst-case robust accuracy ${pct(chosen.robust_accuracy)} (ReLU ${pct(relu.robust_accuracy)})` : `smallest ρ̃ over modes ${pct(chosen.rho_all)} (ReLU ${pct(relu.rho_all)})`) +
      `${tuning.edge ? `; ${tuning.edge}` : ''}.`
    : `tune chose nothing: no candidate is within the clean-accuracy budget of ${o.maxAccuracyDrop} points.`;
  run.report.verdict ??= { lines: [], kappas: [], masking: [] };
  run.report.verdict.lines.unshift(lead);
  run.report.resources = { peak_rss_bytes: peakRss() }; // both passes' peak
  if (o.report) writeReportFiles(o.report.dir, run.report);
  return run;
}

/** Adds a refinement pass's candidates to the first pass's run (report and per-sample rows). */
function merge(run: EvalRun, more: EvalRun): void {
  const r = run.report;
  const m = more.report;
  const byKappa = <T extends { kappa: number }>(a: T[]) => a.sort((x, y) => x.kappa - y.kappa);
  r.clean = byKappa([...r.clean, ...m.clean]);
  r.results = [...r.results, ...m.results];
  r.settings.kappas = [...r.settings.kappas, ...m.settings.kappas].sort((a, b) => a - b);
  if (m.worst_case) r.worst_case = [...(r.worst_case ?? []), ...m.worst_case];
  if (m.curves) r.curves = [...(r.curves ?? []), ...m.curves];
  if (m.examples) r.examples = [...(r.examples ?? []), ...m.examples];
  r.warnings = [...new Set([...r.warnings, ...m.warnings])];
  run.perSample.push(...more.perSample);
  const findings = [...(r.verdict?.masking ?? []), ...(m.verdict?.masking ?? [])];
  r.verdict = verdict(r.clean, r.results, r.worst_case ?? [], findings);
}
