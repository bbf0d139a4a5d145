// `jumprelu convert IN [OUT]` (also the `jumprelu-convert` bin): retrofit a model's ReLUs.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { JumpReluError, UsageError } from '../ir/errors.js';
// The model, the passes and the custom-op library are imported when a conversion runs, not for --help
// (start-up time: docs/converter.md).
import type { RetrofitOptions, SiteReport } from '../passes/jumprelu.js';
import { type Coverage, checkRequirement, coverageOf, coverageWarning } from '../passes/coverage.js';
import { parseSiteArgs, readKappaMap } from './site-options.js';
import { parseKappaMap } from '../passes/kappa-map.js';
import type { Target } from '../passes/retrofit-record.js';
import { CONVERT_OPTIONS, CONVERT_POSITIONALS, type ConvertArgs, strictNumber } from './convert-options.js';
import { withInterruptsHeld } from './interrupt.js';

export type { ConvertArgs } from './convert-options.js';

/** The yargs form of CONVERT_OPTIONS (for `jumprelu convert`; the `jumprelu-convert` bin parses them itself). */
export function convertOptions(y: Argv): Argv<ConvertArgs> {
  let b = y;
  for (const p of CONVERT_POSITIONALS) b = b.positional(p.name, { type: 'string', describe: p.describe, ...(p.name === 'input' ? { demandOption: true } : {}) });
  for (const o of CONVERT_OPTIONS) {
    b = b.option(o.name, {
      type: o.type, describe: o.describe,
      ...(o.alias ? { alias: o.alias } : {}),
      ...(o.number ? { coerce: strictNumber(`--${o.name}`) } : {}),
      ...(o.choices ? { choices: o.choices as string[] } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
    });
  }
  return b as unknown as Argv<ConvertArgs>;
}

function retrofitOptions(a: ConvertArgs): RetrofitOptions {
  const o: RetrofitOptions = { target: a.target as Target };
  if (a.kappa !== undefined) o.kappa = a.kappa;
  if (a.gradKappa !== undefined) o.gradKappa = a.gradKappa;
  if (a.kappaMap !== undefined) o.kappaMap = parseKappaMap(readKappaMap(a.kappaMap));
  if (a.onlyMapped) o.onlyMapped = true;
  return { ...o, ...parseSiteArgs(a) };
}

function formatKappa(k: SiteReport['kappa']): string {
  if (k === undefined) return '-';
  return Array.isArray(k) ? `[${k.length} channels]` : String(k);
}

const TABLE_HEADER = ['#', 'kind', 'op', 'graph', 'node', 'κ', 'grad κ', 'target', 'action'] as const;

/** The cells of one site's row, in TABLE_HEADER's order. */
function siteCells(s: SiteReport, cells: string[]): void {
  cells[0] = s.index >= 0 ? String(s.index) : '-';
  cells[1] = s.kind;
  cells[2] = s.op;
  cells[3] = s.graph;
  cells[4] = s.node || '(unnamed)';
  cells[5] = formatKappa(s.kappa);
  cells[6] = formatKappa(s.gradKappa);
  cells[7] = s.target ?? '-';
  cells[8] = s.note ? `${s.action}: ${s.note}` : s.action;
}

/**
 * The site table: columns padded to their widest cell, two spaces apart, the last one unpadded. Two passes
 * over the sites with reused cell arrays (widths, then lines), no array per row: a 128k-site table
 * otherwise builds over a million small arrays. Loops, never Math.max(...column): spreading 128k
 * arguments overflows the stack.
 */
export function formatSiteTable(sites: readonly SiteReport[]): string {
  const columns = TABLE_HEADER.length;
  const widths = TABLE_HEADER.map((h) => h.length);
  const cells = new Array<string>(columns).fill('');
  for (const s of sites) {
    siteCells(s, cells);
    for (let c = 0; c < columns - 1; c++) if (cells[c]!.length > widths[c]!) widths[c] = cells[c]!.length;
  }
  const padded = new Array<string>(columns);
  const line = (row: readonly string[]): string => {
    for (let c = 0; c < columns - 1; c++) padded[c] = row[c]!.padEnd(widths[c]!);
    padded[columns - 1] = row[columns - 1]!;
    return padded.join('  ');
  };
  const lines = new Array<string>(sites.length + 1);
  lines[0] = line(TABLE_HEADER);
  for (let i = 0; i < sites.length; i++) {
    siteCells(sites[i]!, cells);
    lines[i + 1] = line(cells);
  }
  return lines.join('\n');
}

/** Identifies the shape of `--json` output (documented in docs/converter.md); bumped on any incompatible change. */
export const CONVERT_JSON_SCHEMA = 'jumprelu.convert/1';

function jsonSummary(c: Coverage): { sites: number; done: number; left: number; complete: boolean } {
  return { sites: c.sites, done: c.done, left: c.left.length, complete: c.sites > 0 && c.left.length === 0 };
}

function countsOf(sites: readonly SiteReport[]): Record<SiteReport['action'], number> {
  const counts = { converted: 0, updated: 0, unchanged: 0, 'kept-relu': 0, skipped: 0, reported: 0 };
  for (const s of sites) counts[s.action]++;
  return counts;
}

/** "Nothing converted" / "only part converted" go to stderr on every run, whatever the output format. */
function warnCoverage(c: Coverage): void {
  const w = coverageWarning(c);
  if (w) process.stderr.write(`jumprelu convert: warning: ${w}\n`);
}

export async function runConvert(a: ConvertArgs): Promise<void> {
  const inspectOnly = a.list || a.dryRun;
  const hasKappa = a.kappa !== undefined || a.kappaMap !== undefined;
  const options = hasKappa || !a.list ? retrofitOptions(a) : null;
  if (!inspectOnly && !hasKappa) throw new UsageError('give a κ (--kappa) or a kappa map (--kappa-map)');
  if (a.list && !hasKappa && a.require !== undefined) throw new UsageError('--require with --list needs a κ (--kappa or --kappa-map) to know what would be converted');
  const [{ loadModel, saveModel }, { planRetrofit }, { retrofit }, { emitCustomOps }] = await Promise.all([
    import('../ir/io.js'), import('../passes/jumprelu.js'), import('../passes/retrofit.js'), import('./emit-customops.js'),
  ]);
  const model = loadModel(a.input);

  if (inspectOnly) {
    const sites = planRetrofit(model, options);
    const coverage = coverageOf(sites);
    if (options) checkRequirement(coverage, options.require);
    if (a.json) {
      const mode = a.dryRun ? 'dry-run' : 'list';
      const summary = options ? { counts: countsOf(sites), summary: jsonSummary(coverage) } : {};
      process.stdout.write(`${JSON.stringify({ schema: CONVERT_JSON_SCHEMA, mode, input: a.input, ...summary, sites }, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatSiteTable(sites)}\n${sites.length} site(s)\n`);
    }
    if (options) warnCoverage(coverage);
    return;
  }

  let output = a.output;
  if (output === undefined) {
    if (!a.inPlace) throw new UsageError('give an output file (or --in-place to overwrite the input)');
    output = a.input;
  }
  if (!a.inPlace && sameFile(a.input, output)) {
    throw new UsageError(`output '${output}' is the input; pass --in-place to overwrite it`);
  }
  const report = retrofit(model, options!);
  const saveOptions = a.externalData !== undefined
    ? { externalData: { threshold: checkThreshold(a.externalData), ...(a.externalDataLocation ? { location: a.externalDataLocation } : {}) } }
    : {};
  // Ctrl-C while writing: the writes finish first (interrupt.ts), so no temporary file is left behind.
  const { customOps, saved } = withInterruptsHeld(output, () => ({
    // Built first: a library that fails to build must not leave a model behind that nothing can run.
    customOps: a.emitCustomops ? emitCustomOps(a.emitCustomops) : undefined,
    saved: saveModel(model, output, saveOptions),
  }));
  if (report.sites.some((site) => site.target === 'custom' && (site.action === 'converted' || site.action === 'updated' || site.action === 'unchanged'))) {
    process.stderr.write(`note: ${output} needs the JumpReLU custom-op library (libjumprelu_customops.so; --emit-customops DIR copies it), ` +
      'which ONNX Runtime for Python, C and C++ can load but onnxruntime-node and onnxruntime-web cannot: for Node or the browser use ' +
      "--target thresholded-relu (jumprelu eval/grad rewrite custom sites into it themselves); see docs/customops.md\n");
  }
  if (a.json) {
    process.stdout.write(`${JSON.stringify({
      schema: CONVERT_JSON_SCHEMA, mode: 'convert', input: a.input, output, target: report.target, counts: report.counts,
      summary: jsonSummary(report.coverage), sites: report.sites, bytes: saved.modelBytes, externalFiles: saved.externalFiles,
      ...(customOps ? { customOps } : {}),
    }, null, 2)}\n`);
  } else {
    const c = report.counts;
    process.stdout.write(`${formatSiteTable(report.sites)}\n`);
    process.stdout.write(`wrote ${output} (${report.target}): ${c.converted} converted, ${c.updated} updated, ${c.unchanged} unchanged, ` +
      `${c['kept-relu']} kept as ReLU (κ = 0), ${c.skipped} skipped, ${c.reported} reported\n`);
    if (customOps) process.stdout.write(`custom-op library: ${customOps.library}${customOps.cudaLibrary ? ` (CPU); ${customOps.cudaLibrary} (CPU + CUDA)` : ''}; usage: ${customOps.note}\n`);
  }
  warnCoverage(report.coverage);
}

function checkThreshold(n: number): number {
  if (!Number.isFinite(n) || n < 0) throw new UsageError('--external-data needs a byte threshold ≥ 0');
  return n;
}

function sameFile(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <input> [output]',
  describe: 'replace ReLU with JumpReLU',
  builder: (y) => convertOptions(y),
  handler: async (argv: ArgumentsCamelCase<ConvertArgs>) => runConvert(argv),
};

export { JumpReluError };
