// report.html: a self-contained page (inline CSS, inline SVG, PNG data URLs; no scripts, no network — a
// Content-Security-Policy forbids any fetch) rendering one report.json (format 1). Sections: run summary and
// warnings, summary by κ, the accuracy/ρ̃ trade-off against κ (the paper's Figure 4), result tables, the
// gray-box transfer matrix (Figure 7), accuracy against attack iterations (Figure 9), clean/adversarial/
// perturbation images (Figures 5–6) and κ tuning. Optional sections are left out when absent or empty;
// missing numbers print "—"; every string from the report is HTML-escaped.

import type { AttackResult, Report, TransferMatrix, TuningCandidate } from './schema.js';
import { verdictBody, worstCaseBody } from './html-verdict.js';
import { esc, fixed, isNum, kappaText, MISSING, num, pct, seconds, sig, slug, valueText } from './html-format.js';
import { examplesHtml } from './html-images.js';
import { REPORT_CSS } from './html-style.js';
import { heatMap, legendHtml, legendSwatch, lineChart, MARKERS, niceTicks, PALETTE, type Series } from './svg-chart.js';

const MODE_ORDER = ['white-box', 'gray-box', 'adaptive'];
const SERIES_COLORS = PALETTE.filter((c) => c !== '#000000');
const CLEAN_COLOR = '#000000';

const RHO_ALL = 'ρ̃ over all samples (paper)';
const RHO_SUCCESS = 'ρ̃ over successful attacks (ART)';

function modeRank(mode: string): number {
  const i = MODE_ORDER.indexOf(mode);
  return i < 0 ? MODE_ORDER.length : i;
}

function arr<T>(v: readonly T[] | undefined | null): readonly T[] {
  return Array.isArray(v) ? v : [];
}

function sortedKappas(values: Iterable<unknown>): number[] {
  return [...new Set([...values].filter(isNum))].sort((a, b) => a - b);
}

/** One line of the trade-off plot: an (attack, mode) pair, split by source κ when a mode has several. */
interface ResultSeries {
  key: string;
  name: string;
  attack: string;
  mode: string;
  sourceKappa: number | undefined;
  rows: AttackResult[];
  color: string;
  marker: (typeof MARKERS)[number];
}

function resultSeries(results: readonly AttackResult[]): ResultSeries[] {
  const sources = new Map<string, Set<number | undefined>>();
  for (const r of results) {
    const k = `${r.attack}\u0000${r.mode}`;
    (sources.get(k) ?? sources.set(k, new Set()).get(k)!).add(isNum(r.source_kappa) ? r.source_kappa : undefined);
  }
  const map = new Map<string, Omit<ResultSeries, 'color' | 'marker'>>();
  for (const r of results) {
    const base = `${r.attack}\u0000${r.mode}`;
    const split = (sources.get(base)?.size ?? 0) > 1;
    const src = split && isNum(r.source_kappa) ? r.source_kappa : undefined;
    const key = split ? `${base}\u0000${src ?? ''}` : base;
    let s = map.get(key);
    if (!s) {
      const name = `${r.attack} · ${r.mode}${split ? ` (source κ = ${src === undefined ? MISSING : kappaText(src)})` : ''}`;
      s = { key, name, attack: String(r.attack), mode: String(r.mode), sourceKappa: src, rows: [] };
      map.set(key, s);
    }
    s.rows.push(r);
  }
  return [...map.values()]
    .sort((a, b) => a.attack.localeCompare(b.attack) || modeRank(a.mode) - modeRank(b.mode) || a.mode.localeCompare(b.mode) || (a.sourceKappa ?? -Infinity) - (b.sourceKappa ?? -Infinity))
    .map((s, i) => ({ ...s, color: SERIES_COLORS[i % SERIES_COLORS.length]!, marker: MARKERS[(i + 1) % MARKERS.length]! }));
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">${title}</h2>${body}</section>`;
}

function kv(pairs: Array<[string, string]>): string {
  return `<dl class="kv">${pairs.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function listText(values: unknown): string {
  return Array.isArray(values) && values.length > 0 ? values.map((v) => (isNum(v) ? num(v, 6) : esc(v))).join(', ') : MISSING;
}

// --- header, warnings, run summary ------------------------------------------------------------------------

function headerHtml(r: Report, toc: Array<[string, string]>): string {
  const kind = r.kind === 'tune' ? 'κ tuning' : r.kind === 'eval' ? 'evaluation' : esc(r.kind);
  const modelName = String(r.model?.path ?? '').split(/[\\/]/).pop() || MISSING;
  return (
    `<header class="top"><div class="inner"><h1>JumpReLU robustness report: ${kind} of <span class="mono">${esc(modelName)}</span></h1>` +
    `<p class="sub">model <span class="mono">${esc(r.model?.path ?? MISSING)}</span> · data ${esc(r.data?.kind ?? MISSING)} ` +
    `<span class="mono">${esc(r.data?.path ?? MISSING)}</span> · n = ${esc(num(r.data?.n, 0))} · created ${esc(r.created ?? MISSING)} · ` +
    `${esc(r.tool?.name ?? 'jumprelu')} ${esc(r.tool?.version ?? '')}</p>` +
    conventionHtml(r) +
    `<nav class="toc" aria-label="Sections">${toc.map(([id, t]) => `<a href="#${id}">${t}</a>`).join('')}</nav></div></header>`
  );
}

/** The input convention, under the title: what the model expects, what it was fed, which space ε is in. */
function conventionHtml(r: Report): string {
  const c = r.input_convention;
  if (!c || typeof c !== 'object') return '';
  const cut = arr(c.cut).length ? ` · cut: ${arr(c.cut).map((x) => esc(x)).join('; ')}` : '';
  return `<p class="sub" id="input-convention">input: model expects <b>${esc(c.model_expects ?? MISSING)}</b> · data gives <b>${esc(c.data_gives ?? MISSING)}</b> · ` +
    `ε measured in <b>${esc(c.epsilon_in ?? MISSING)}</b> (--preprocessing ${esc(c.preprocessing ?? MISSING)}, from the ${esc(c.resolved_from ?? MISSING)})${cut}</p>` +
    interfaceHtml(r);
}

/** The model's interface as resolved (model-interface.ts), when the report records it. */
function interfaceHtml(r: Report): string {
  const i = r.model?.interface;
  if (!i || typeof i !== 'object' || typeof i.summary !== 'string') return '';
  return `<p class="sub" id="model-interface">${esc(i.summary)}</p>`;
}

function warningsHtml(r: Report): string {
  const w = arr(r.warnings).filter((x) => x !== null && x !== undefined && String(x).length > 0);
  if (w.length === 0) return `<p class="ok" id="warnings">No warnings were raised by this run.</p>`;
  return (
    `<section id="warnings" class="warnings" role="note" aria-labelledby="warnings-h"><h2 id="warnings-h">⚠ ${w.length} warning${w.length === 1 ? '' : 's'}</h2>` +
    `<ul>${w.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></section>`
  );
}

function spaceText(space: unknown): string {
  if (space === 'normalized') return 'normalized — the model’s mean/std-normalised input (like the paper)';
  if (space === 'pixel') return 'pixel — [0, 1] pixel values';
  return esc(space ?? MISSING);
}

function clampText(clamp: unknown): string {
  if (clamp === 'batch-minmax') return 'batch-minmax — to the min/max of the whole batch (the authors’ code)';
  if (clamp === 'box') return 'box — to the fixed bounds';
  return esc(clamp ?? MISSING);
}

function runHtml(r: Report): string {
  const d = r.data;
  const p = d?.preprocessing;
  const s = r.settings;
  const model = kv([
    ['path', `<span class="mono">${esc(r.model?.path ?? MISSING)}</span>`],
    ['SHA-256', `<span class="mono">${esc(r.model?.sha256 ?? MISSING)}</span>`],
    ['report', `format ${esc(r.format)}, ${esc(r.kind)}, ${esc(r.created ?? MISSING)}`],
    ['tool', `${esc(r.tool?.name ?? MISSING)} ${esc(r.tool?.version ?? '')}`],
    ...(r.per_sample_file ? [['per-sample results', `<span class="mono">${esc(r.per_sample_file)}</span>`] as [string, string]] : []),
  ]);
  const data = kv([
    ['kind', esc(d?.kind ?? MISSING)],
    ['path', `<span class="mono">${esc(d?.path ?? MISSING)}</span>`],
    ['samples (n)', esc(num(d?.n, 0))],
    ...(r.shard ? [['shard', `${esc(r.shard.index)} of ${esc(r.shard.count)}: samples ${esc(r.shard.first)}…${esc(r.shard.end - 1)} of ${esc(r.shard.total)} (host ${esc(r.shard.host)}); merge all ${esc(r.shard.count)} with <span class="mono">jumprelu merge</span>`] as [string, string]] : []),
    ...(r.merged_from ? [['merged from', `${esc(r.merged_from.shards)} ${esc(r.merged_from.scheme)} shards (hosts ${listText(r.merged_from.hosts)})`] as [string, string]] : []),
    ['preprocessing', p ? `x = (pixel × ${esc(num(p.scale, 8))} − mean) / std, layout ${esc(p.layout)}` : MISSING],
    ['mean', p ? listText(p.mean) : MISSING],
    ['std', p ? listText(p.std) : MISSING],
  ]);
  const space = kv([
    ['ε and ρ̃ measured in', spaceText(d?.space)],
    ['clamping', clampText(d?.clamp)],
    ['input bounds', `[${esc(num(d?.bounds?.min, 6))}, ${esc(num(d?.bounds?.max, 6))}]`],
  ]);
  const settings = kv([
    ['κ values', listText(s?.kappas)],
    ['modes', listText(s?.modes)],
    ['limit', s?.limit === null || s?.limit === undefined ? 'none (all samples)' : esc(num(s.limit, 0))],
    ['batch', esc(num(s?.batch, 0))],
    ['ORT threads', `${esc(num(s?.ort_threads, 0))}${typeof s?.ort_threads_rule === 'string' ? ` (${esc(s.ort_threads_rule)})` : ''}`],
    ...(typeof s?.max_memory?.batch_rule === 'string' ? [['--max-memory', esc(s.max_memory.batch_rule)] as [string, string]] : []),
    ...(isNum(r.resources?.peak_rss_bytes) ? [['peak RSS', `${esc(num(r.resources.peak_rss_bytes / 2 ** 20, 0))} MiB`] as [string, string]] : []),
    ...(s?.execution_provider ? [['execution provider', esc(s.execution_provider)] as [string, string]] : []),
    ['seed', esc(num(s?.seed, 0))],
    ...(isNum(s?.gray_box_source_kappa) ? [['gray-box source κ', esc(kappaText(s.gray_box_source_kappa))] as [string, string]] : []),
    ...(isNum(s?.adaptive_grad_kappa) ? [['adaptive gradient κ', esc(kappaText(s.adaptive_grad_kappa))] as [string, string]] : []),
    ...(isNum(s?.examples_per_result) ? [['pictures per result', esc(num(s.examples_per_result, 0))] as [string, string]] : []),
  ]);
  const attacks = Object.entries(s?.attacks ?? {});
  const attackTable =
    attacks.length === 0
      ? '<p class="note">No attacks configured.</p>'
      : `<div class="scroll"><table><caption>Attack parameters</caption><thead><tr><th scope="col">attack</th><th scope="col">parameters</th></tr></thead><tbody>` +
        attacks
          .map(([name, params]) => {
            const ps = Object.entries(params ?? {});
            const text = ps.length === 0 ? MISSING : ps.map(([k, v]) => `<span class="mono">${esc(k)}</span> = ${valueText(v)}`).join(', ');
            return `<tr><th scope="row">${esc(name)}</th><td>${text}</td></tr>`;
          })
          .join('') +
        `</tbody></table></div>`;
  let perLayer = '';
  const pl = Object.entries(s?.per_layer_kappa ?? {});
  if (pl.length > 0) {
    const sites = [...new Set(pl.flatMap(([, m]) => Object.keys(m ?? {})))];
    perLayer =
      `<h3>Per-layer κ (scale-aware)</h3><div class="scroll"><table><caption>κ per site for each entry of the κ list (used as a quantile)</caption>` +
      `<thead><tr><th scope="col">κ entry</th>${sites.map((x) => `<th scope="col" class="mono">${esc(x)}</th>`).join('')}</tr></thead><tbody>` +
      pl.map(([k, m]) => `<tr><th scope="row">${esc(k)}</th>${sites.map((x) => `<td class="num">${esc(num(m?.[x], 5))}</td>`).join('')}</tr>`).join('') +
      `</tbody></table></div>`;
  }
  return section(
    'run',
    'Run',
    `<div class="cards"><div class="card wide"><h3>Model</h3>${model}</div><div class="card"><h3>Data and preprocessing</h3>${data}</div>` +
      `<div class="card"><h3>Perturbation space</h3>${space}</div><div class="card"><h3>Settings</h3>${settings}</div></div>` +
      `<h3>Attacks</h3>${attackTable}${perLayer}`,
  );
}

// --- summary by κ and the trade-off plot (Figure 4) -------------------------------------------------------

function cleanByKappa(r: Report): Map<number, number | null> {
  const m = new Map<number, number | null>();
  for (const c of arr(r.clean)) if (isNum(c?.kappa) && !m.has(c.kappa)) m.set(c.kappa, isNum(c.accuracy) ? c.accuracy : null);
  return m;
}

function pointsOf(rows: readonly AttackResult[], field: 'accuracy' | 'rho_all' | 'rho_success'): Array<[number, number | null]> {
  const seen = new Set<number>();
  const out: Array<[number, number | null]> = [];
  for (const row of rows) {
    if (!isNum(row.kappa) || seen.has(row.kappa)) continue;
    seen.add(row.kappa);
    out.push([row.kappa, isNum(row[field]) ? row[field] * 100 : null]);
  }
  return out;
}

function summaryHtml(r: Report, series: ResultSeries[]): string {
  const clean = cleanByKappa(r);
  const kappas = sortedKappas([...clean.keys(), ...arr(r.results).map((x) => x.kappa)]);
  if (kappas.length === 0) return section('summary', 'Summary by κ', '<p class="note">No results in this report.</p>');
  const head =
    `<tr><th rowspan="2" scope="col">κ</th><th rowspan="2" scope="col">clean accuracy (%)</th>` +
    series.map((s) => `<th colspan="2" scope="colgroup">${esc(s.name)}</th>`).join('') +
    `</tr><tr>${series.map(() => `<th scope="col">accuracy (%)</th><th scope="col">${RHO_ALL} (%)</th>`).join('')}</tr>`;
  const rows = kappas.map((k) => {
    const cells = series.map((s) => {
      const row = s.rows.find((x) => x.kappa === k);
      return `<td class="num">${pct(row?.accuracy)}</td><td class="num">${pct(row?.rho_all)}</td>`;
    });
    return `<tr><th scope="row" class="num">${esc(kappaText(k))}</th><td class="num">${pct(clean.get(k))}</td>${cells.join('')}</tr>`;
  });
  return section(
    'summary',
    'Summary by κ',
    `<div class="scroll"><table><caption>Accuracy on clean data and under each attack, and the paper’s relative perturbation ρ̃, per κ</caption>` +
      `<thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`,
  );
}

function tradeoffHtml(r: Report, series: ResultSeries[]): string {
  const clean = cleanByKappa(r);
  const kappas = sortedKappas([...clean.keys(), ...arr(r.results).map((x) => x.kappa), ...arr(r.settings?.kappas)]);
  const cleanSeries: Series = {
    name: 'clean accuracy',
    points: [...clean.entries()].map(([k, a]) => [k, isNum(a) ? a * 100 : null]),
    color: CLEAN_COLOR,
    marker: 'circle',
  };
  const accSeries: Series[] = [
    ...(clean.size > 0 ? [cleanSeries] : []),
    ...series.map((s) => ({ name: `${s.name}: accuracy`, points: pointsOf(s.rows, 'accuracy'), color: s.color, marker: s.marker })),
  ];
  if (accSeries.length === 0) return '';
  // The over-successful-attacks series first, so that where both coincide the filled marker stays visible.
  const rhoSeries: Series[] = [
    ...series.map((s): Series => ({ name: `${s.name}: ${RHO_SUCCESS}`, points: pointsOf(s.rows, 'rho_success'), color: s.color, marker: s.marker, dash: '6 4', hollow: true })),
    ...series.map((s): Series => ({ name: `${s.name}: ${RHO_ALL}`, points: pointsOf(s.rows, 'rho_all'), color: s.color, marker: s.marker })),
  ];
  const rhoValues = rhoSeries.flatMap((s) => s.points.map((p) => p[1])).filter(isNum);
  const accChart = lineChart({
    id: 'fig-tradeoff-accuracy',
    title: 'Accuracy against κ: clean and under each attack',
    description: `Accuracy in percent on the y axis against the JumpReLU threshold κ on the x axis, for clean data and for ${series.length} attack/mode combination(s).`,
    xLabel: 'JumpReLU threshold κ',
    xName: 'κ',
    yLabel: 'accuracy (%)',
    yUnit: '%',
    yDomain: [0, 100],
    xTicks: kappas,
    series: accSeries,
  });
  const rhoChart =
    rhoValues.length === 0
      ? ''
      : lineChart({
          id: 'fig-tradeoff-rho',
          title: 'Relative perturbation ρ̃ = mean ‖x̃ − x‖ₚ / ‖x‖ₚ against κ',
          description: `ρ̃ in percent against κ; solid lines with filled markers average over all samples (the paper), dashed lines with hollow markers over successful attacks only (ART).`,
          xLabel: 'JumpReLU threshold κ',
          xName: 'κ',
          yLabel: 'ρ̃ (%)',
          yUnit: '%',
          yDomain: niceTicks(0, Math.max(...rhoValues), 5).domain,
          xTicks: kappas,
          series: rhoSeries,
        });
  const legendSeries: Series[] = [
    ...(clean.size > 0 ? [cleanSeries] : []),
    ...series.map((s) => ({ name: s.name, points: [], color: s.color, marker: s.marker })),
  ];
  const styleKey = rhoChart
    ? [
        `<li>${legendSwatch({ name: '', points: [], color: '#555', marker: 'circle' })}<span>${RHO_ALL}</span></li>`,
        `<li>${legendSwatch({ name: '', points: [], color: '#555', marker: 'circle', dash: '6 4', hollow: true })}<span>${RHO_SUCCESS}</span></li>`,
      ]
    : [];
  return section(
    'tradeoff',
    'Trade-off: accuracy and ρ̃ against κ (Figure 4)',
    `<p class="note">Left: accuracy on clean data and under attack (higher is more robust). Right: the relative perturbation the attacks needed, ` +
      `in the ${esc(r.data?.space ?? MISSING)} space; larger ρ̃ means the model is harder to fool.</p>` +
      `<div class="figure-row">${accChart}${rhoChart}</div>${legendHtml(legendSeries, styleKey)}`,
  );
}

// --- result tables --------------------------------------------------------------------------------------

function resultsHtml(r: Report): string {
  const clean = arr(r.clean);
  const results = arr(r.results);
  const parts: string[] = [];
  if (clean.length > 0) {
    parts.push(
      `<h3>Clean data</h3><div class="scroll"><table><caption>Clean accuracy per κ</caption><thead><tr><th scope="col">κ</th><th scope="col">n</th><th scope="col">accuracy (%)</th></tr></thead><tbody>` +
        [...clean]
          .sort((a, b) => (a?.kappa ?? 0) - (b?.kappa ?? 0))
          .map((c) => `<tr><th scope="row" class="num">${esc(kappaText(c?.kappa))}</th><td class="num">${esc(num(c?.n, 0))}</td><td class="num">${pct(c?.accuracy)}</td></tr>`)
          .join('') +
        `</tbody></table></div>`,
    );
  }
  const modes = [...new Set(results.map((x) => String(x.mode)))].sort((a, b) => modeRank(a) - modeRank(b) || a.localeCompare(b));
  const unit = r.data?.space === 'pixel' ? 'pixel units' : r.data?.space === 'normalized' ? 'normalised units' : 'input units';
  for (const mode of modes) {
    const rows = results
      .filter((x) => String(x.mode) === mode)
      .sort((a, b) => String(a.attack).localeCompare(String(b.attack)) || (a.source_kappa ?? 0) - (b.source_kappa ?? 0) || a.kappa - b.kappa);
    const hasSource = rows.some((x) => isNum(x.source_kappa));
    const hasGrad = rows.some((x) => isNum(x.grad_kappa));
    const hasZero = rows.some((x) => isNum(x.zero_gradient_rate));
    const head =
      `<tr><th scope="col">κ</th><th scope="col">attack</th><th scope="col">norm</th>` +
      (hasSource ? '<th scope="col">source κ</th>' : '') +
      (hasGrad ? '<th scope="col">gradient κ</th>' : '') +
      `<th scope="col">n</th><th scope="col">accuracy (%)</th><th scope="col">fooling rate (%)</th>` +
      `<th scope="col">${RHO_ALL} (%)</th><th scope="col">${RHO_SUCCESS} (%)</th>` +
      `<th scope="col">mean ‖x̃ − x‖ₚ (${unit})</th><th scope="col">mean iterations</th>` +
      (hasZero ? '<th scope="col">zero-gradient rate (%)</th>' : '') +
      `<th scope="col">wall time (s)</th></tr>`;
    const body = rows
      .map(
        (x) =>
          `<tr><th scope="row" class="num">${esc(kappaText(x.kappa))}</th><td>${esc(x.attack)}</td><td>${esc(x.norm === 'linf' ? 'L∞' : x.norm === 'l2' ? 'L2' : x.norm)}</td>` +
          (hasSource ? `<td class="num">${esc(kappaText(x.source_kappa))}</td>` : '') +
          (hasGrad ? `<td class="num">${esc(kappaText(x.grad_kappa))}</td>` : '') +
          `<td class="num">${esc(num(x.n, 0))}</td><td class="num">${pct(x.accuracy)}</td><td class="num">${pct(x.fooling_rate)}</td>` +
          `<td class="num">${pct(x.rho_all)}</td><td class="num">${pct(x.rho_success)}</td>` +
          `<td class="num">${esc(sig(x.abs_perturbation_mean, 4))}</td><td class="num">${esc(fixed(x.iterations_mean, 1))}</td>` +
          (hasZero ? `<td class="num">${pct(x.zero_gradient_rate)}</td>` : '') +
          `<td class="num">${esc(seconds(x.wall_s))}</td></tr>`,
      )
      .join('');
    parts.push(
      `<h3 id="results-${esc(slug(mode))}">${esc(mode)}</h3><div class="scroll"><table><caption>Results under ${esc(mode)} attacks</caption>` +
        `<thead>${head}</thead><tbody>${body}</tbody></table></div>`,
    );
  }
  if (parts.length === 0) return section('results', 'Results', '<p class="note">No results in this report.</p>');
  return section(
    'results',
    'Results',
    `<p class="note">Accuracy: fraction of all n samples classified correctly after the attack. Fooling rate: fraction of the samples correct before the attack ` +
      `that the attack misclassifies. <strong>${RHO_ALL}</strong>: mean ‖x̃ − x‖ₚ / ‖x‖ₚ over all n samples, failures included, as in the paper. ` +
      `<strong>${RHO_SUCCESS}</strong>: the same mean over successful attacks only (ART’s empirical robustness; 0 when none succeeded).</p>` +
      parts.join(''),
  );
}

// --- transfer matrix (Figure 7) -------------------------------------------------------------------------

function transferMatrixHtml(t: TransferMatrix, i: number): string {
  const src = arr(t.source_kappas);
  const tgt = arr(t.target_kappas);
  if (src.length === 0 || tgt.length === 0) return '';
  const values = src.map((_, r) => tgt.map((__, c) => {
    const v = arr(arr(t.accuracy)[r])[c];
    return isNum(v) ? v * 100 : null;
  }));
  const chart = heatMap({
    id: `fig-transfer-${i}`,
    title: `Gray-box transfer matrix for ${String(t.attack)}: accuracy (%) of the target model on examples crafted on the source model`,
    description: `Rows: source κ the adversarial examples were crafted with; columns: target κ of the evaluated model; cell: accuracy in percent. Higher is more robust.`,
    rowLabel: 'κ',
    colLabel: 'κ',
    rows: src.map((k) => kappaText(k)),
    cols: tgt.map((k) => kappaText(k)),
    values,
  });
  const table =
    `<details><summary>${esc(t.attack)}: transfer matrix as a table</summary><div class="scroll"><table><caption>Accuracy (%); row = source κ, column = target κ</caption>` +
    `<thead><tr><th scope="col">source κ \\ target κ</th>${tgt.map((k) => `<th scope="col">${esc(kappaText(k))}</th>`).join('')}</tr></thead><tbody>` +
    src.map((k, r) => `<tr><th scope="row" class="num">${esc(kappaText(k))}</th>${values[r]!.map((v) => `<td class="num">${isNum(v) ? v.toFixed(2) : MISSING}</td>`).join('')}</tr>`).join('') +
    `</tbody></table></div></details>`;
  return `<div class="transfer"><h3 id="transfer-${esc(slug(String(t.attack)))}">${esc(t.attack)}</h3>${chart}${table}</div>`;
}

function transferHtml(r: Report): string {
  // `transfers` holds one matrix per attack (`transfer` is its first); older reports have only `transfer`.
  const list = arr(r.transfers).length > 0 ? arr(r.transfers) : r.transfer ? [r.transfer] : [];
  const blocks = list.filter((t) => t && typeof t === 'object').map((t, i) => transferMatrixHtml(t, i)).filter((h) => h !== '');
  if (blocks.length === 0) return '';
  return section(
    'transfer',
    'Gray-box transfer matrix (Figure 7)',
    `<p class="note">Cell (i, j): accuracy of the model with target κ j on adversarial examples crafted on the model with source κ i. ` +
      `The diagonal is the white-box setting; higher values mean better robustness.</p><div class="figure-row">${blocks.join('')}</div>`,
  );
}

// --- accuracy against iterations (Figure 9) ---------------------------------------------------------------

function curvesHtml(r: Report): string {
  const curves = arr(r.curves).filter((c) => c && Array.isArray(c.iterations) && Array.isArray(c.accuracy));
  if (curves.length === 0) return '';
  const groups = new Map<string, typeof curves[number][]>();
  for (const c of curves) {
    const key = `${c.attack}\u0000${c.mode}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(c);
  }
  const charts: string[] = [];
  let g = 0;
  for (const group of groups.values()) {
    const { attack, mode } = group[0]!;
    const sorted = [...group].sort((a, b) => a.kappa - b.kappa);
    const series: Series[] = sorted.map((c, i) => ({
      name: `κ = ${kappaText(c.kappa)}`,
      points: c.iterations.map((it, j): [number, number | null] => [it, isNum(c.accuracy[j]) ? c.accuracy[j]! * 100 : null]),
      color: SERIES_COLORS[i % SERIES_COLORS.length]!,
      marker: MARKERS[i % MARKERS.length]!,
    }));
    charts.push(
      `<div>${lineChart({
        id: `fig-curves-${g++}`,
        title: `Accuracy against attack iterations: ${attack} (${mode})`,
        description: `Accuracy in percent under the ${attack} attack (${mode}) after each number of iterations, one line per κ.`,
        xLabel: 'attack iterations',
        xName: 'iterations',
        yLabel: 'accuracy (%)',
        yUnit: '%',
        yDomain: [0, 100],
        series,
      })}${legendHtml(series)}</div>`,
    );
  }
  return section(
    'curves',
    'Accuracy against attack iterations (Figure 9)',
    `<p class="note">A robust model keeps its accuracy for more iterations: the attack needs more computation to reach the same fooling rate.</p>` +
      `<div class="figure-row">${charts.join('')}</div>`,
  );
}

// --- tuning -----------------------------------------------------------------------------------------------

function tuningHtml(r: Report): string {
  const t = r.tuning;
  if (!t) return '';
  const cands = [...arr(t.candidates)].filter((c) => c && isNum(c.kappa)).sort((a, b) => a.kappa - b.kappa);
  const base0 = cands.find((c) => c.kappa === 0)?.clean_accuracy ?? cleanByKappa(r).get(0);
  const baseline = isNum(base0) ? base0 : null;
  const drop = isNum(t.max_accuracy_drop) ? t.max_accuracy_drop : null;
  const floor = baseline !== null && drop !== null ? baseline - drop / 100 : null;
  const within = (c: TuningCandidate) => (floor === null || !isNum(c.clean_accuracy) ? null : c.clean_accuracy >= floor - 1e-12);
  const chosen = isNum(t.chosen_kappa) ? t.chosen_kappa : null;
  const facts = kv([
    ['chosen κ', chosen === null ? `<span class="big">none</span> — no candidate met the budget` : `<span class="big">${esc(kappaText(chosen))}</span>`],
    ['objective', esc(t.objective ?? MISSING)],
    ['accuracy budget', drop === null ? MISSING : `at most ${esc(num(drop, 4))} percentage points below clean accuracy at κ = 0`],
    ['clean accuracy at κ = 0', baseline === null ? `${MISSING} (not in the report: budget line not drawn)` : `${pct(baseline)} %`],
    ['lowest allowed clean accuracy', floor === null ? MISSING : `${pct(floor)} %`],
    ...(t.per_layer
      ? [['per-layer κ', `quantile q = ${esc(num(t.per_layer.quantile, 4))}; ` + Object.entries(t.per_layer.kappas ?? {}).map(([k, v]) => `<span class="mono">${esc(k)}</span> = ${esc(num(v, 5))}`).join(', ')] as [string, string]]
      : []),
  ]);
  if (cands.length === 0) return section('tuning', 'κ tuning', `<div class="card">${facts}</div><p class="note">No candidates were evaluated.</p>`);
  const kappas = cands.map((c) => c.kappa);
  const vLines = chosen === null ? [] : [{ value: chosen, label: `chosen κ = ${kappaText(chosen)}`, color: '#D55E00' }];
  const cleanChart = lineChart({
    id: 'fig-tuning-clean',
    title: 'Clean accuracy of the candidates and the accuracy budget',
    description: `Clean accuracy in percent against κ; the dotted line is the lowest clean accuracy the budget allows${chosen === null ? '' : '; the dashed vertical line marks the chosen κ'}.`,
    xLabel: 'JumpReLU threshold κ',
    xName: 'κ',
    yLabel: 'clean accuracy (%)',
    yUnit: '%',
    xTicks: kappas,
    series: [{ name: 'clean accuracy', points: cands.map((c) => [c.kappa, isNum(c.clean_accuracy) ? c.clean_accuracy * 100 : null]), color: CLEAN_COLOR, marker: 'circle' }],
    hLines: floor === null ? [] : [{ value: floor * 100, label: `budget: ${pct(floor)} %`, color: '#0072B2' }],
    vLines,
  });
  const robustSeries: Series[] = [
    { name: 'robust accuracy', points: cands.map((c) => [c.kappa, isNum(c.robust_accuracy) ? c.robust_accuracy * 100 : null]), color: SERIES_COLORS[0]!, marker: 'square' },
    { name: RHO_ALL, points: cands.map((c) => [c.kappa, isNum(c.rho_all) ? c.rho_all * 100 : null]), color: SERIES_COLORS[1]!, marker: 'triangle' },
  ];
  const robustChart = lineChart({
    id: 'fig-tuning-robust',
    title: 'Robustness of the candidates',
    description: 'Robust accuracy and ρ̃ over all samples, in percent, against κ.',
    xLabel: 'JumpReLU threshold κ',
    xName: 'κ',
    yLabel: 'percent (%)',
    yUnit: '%',
    yDomain: [0, 100],
    xTicks: kappas,
    series: robustSeries,
    vLines,
  });
  const legend = legendHtml([
    { name: 'clean accuracy', points: [], color: CLEAN_COLOR, marker: 'circle' },
    ...robustSeries,
  ]);
  const table =
    `<div class="scroll"><table><caption>Candidates (the chosen κ is highlighted)</caption><thead><tr><th scope="col">κ</th><th scope="col">clean accuracy (%)</th>` +
    `<th scope="col">robust accuracy (%)</th><th scope="col">${RHO_ALL} (%)</th><th scope="col">within budget</th></tr></thead><tbody>` +
    cands
      .map((c) => {
        const w = within(c);
        return (
          `<tr${chosen !== null && c.kappa === chosen ? ' class="chosen"' : ''}><th scope="row" class="num">${esc(kappaText(c.kappa))}${chosen !== null && c.kappa === chosen ? ' (chosen)' : ''}</th>` +
          `<td class="num">${pct(c.clean_accuracy)}</td><td class="num">${pct(c.robust_accuracy)}</td><td class="num">${pct(c.rho_all)}</td>` +
          `<td>${w === null ? MISSING : w ? 'yes' : 'no'}</td></tr>`
        );
      })
      .join('') +
    `</tbody></table></div>`;
  return section('tuning', 'κ tuning', `<div class="card">${facts}</div><div class="figure-row" style="margin-top:12px">${cleanChart}${robustChart}</div>${legend}${table}`);
}

// --- page -------------------------------------------------------------------------------------------------

/** Renders a report as one self-contained HTML document. */
export function renderReportHtml(report: Report): string {
  const series = resultSeries(arr(report.results).filter((x) => x && typeof x === 'object'));
  const wrap = (id: string, title: string, body: string) => (body ? section(id, title, body) : '');
  const sections: Array<[string, string, string]> = [
    ['verdict', 'Verdict', wrap('verdict', 'Verdict', verdictBody(report))],
    ['run', 'Run', runHtml(report)],
    ['summary', 'Summary', summaryHtml(report, series)],
    ['worst-case', 'Worst case', wrap('worst-case', 'Robust accuracy under the worst case over attacks', worstCaseBody(report))],
    ['tradeoff', 'Trade-off', tradeoffHtml(report, series)],
    ['results', 'Results', resultsHtml(report)],
    ['transfer', 'Transfer matrix', transferHtml(report)],
    ['curves', 'Iterations', curvesHtml(report)],
    ['examples', 'Examples', ''],
    ['tuning', 'Tuning', tuningHtml(report)],
  ];
  const ex = examplesHtml(report.examples);
  if (ex) {
    sections[8]![2] = section(
      'examples',
      'Clean, adversarial and perturbation images (Figures 5–6)',
      `<p class="note">Perturbation δ = x̃ − x per pixel in [0, 1] pixel units (for colour images, the channel with the largest |δ|), on a diverging map, ` +
        `amplified so that the largest |δ| in each row is full colour: white is unchanged. Larger κ should need visibly stronger perturbations.</p>${ex}`,
    );
  }
  const present = sections.filter(([, , html]) => html !== '');
  const toc: Array<[string, string]> = present.map(([id, label]) => [id, label]);
  if (arr(report.warnings).length > 0) toc.unshift(['warnings', `⚠ Warnings (${arr(report.warnings).length})`]);
  const modelName = String(report.model?.path ?? '').split(/[\\/]/).pop() || 'model';
  const title = `JumpReLU ${report.kind === 'tune' ? 'tuning' : 'evaluation'} report — ${modelName} on ${String(report.data?.kind ?? 'data')}`;
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">` +
    `<meta name="generator" content="jumprelu ${esc(report.tool?.version ?? '')}">` +
    `<title>${esc(title)}</title><style>${REPORT_CSS}</style></head><body>` +
    headerHtml(report, toc) +
    `<main>${warningsHtml(report)}${present.map(([, , html]) => html).join('\n')}` +
    `<footer>report.json format ${esc(report.format)} · written by ${esc(report.tool?.name ?? 'jumprelu')} ${esc(report.tool?.version ?? '')} · ` +
    `all percentages are of the n samples evaluated; “—” marks a missing value.</footer></main></body></html>\n`
  );
}
