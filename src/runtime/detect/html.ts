// report.html of `jumprelu detect`: one self-contained page (inline CSS and SVG, no scripts, nothing fetched)
// for a DetectReport — the AUC table (the paper's Table 3 layout: attacks across, κ down), the ROC curves as
// SVG plots (one per attack; one line per κ and mode), the per-result details and the feature layers.
// Strings from the report are escaped; missing numbers print "—".

import { esc, isNum, kappaText, MISSING, num, pct } from '../report/html-format.js';
import { REPORT_CSS } from '../report/html-style.js';
import { legendHtml, lineChart, MARKERS, PALETTE, type Series } from '../report/svg-chart.js';
import { rocOnGrid } from './roc.js';
import type { DetectReport, DetectResult } from './schema.js';

const GRID = Array.from({ length: 41 }, (_, i) => i / 40);

function section(id: string, title: string, body: string): string {
  return `<section id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">${title}</h2>${body}</section>`;
}

function kv(pairs: Array<[string, string]>): string {
  return `<dl class="kv">${pairs.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function arr<T>(v: readonly T[] | undefined | null): readonly T[] {
  return Array.isArray(v) ? v : [];
}

function modeLabel(r: DetectResult): string {
  if (r.mode !== 'adaptive') return 'white-box';
  if (isNum(r.grad_kappa)) return `adaptive (κ_grad = ${kappaText(r.grad_kappa)})`;
  return String(r.gradient ?? '').startsWith('bpda') ? 'adaptive (BPDA)' : 'adaptive';
}

function aucText(r: DetectResult | undefined): string {
  if (!r) return MISSING;
  if (!isNum(r.auc)) return `<span class="muted" title="${esc(r.skipped ?? '')}">${MISSING}</span>`;
  const ci = r.auc_interval && isNum(r.auc_interval[0]) && isNum(r.auc_interval[1]) ? ` <span class="muted">[${pct(r.auc_interval[0], 1)}, ${pct(r.auc_interval[1], 1)}]</span>` : '';
  return `${pct(r.auc)}${ci}`;
}

/** ROC points on a fixed FPR grid (the largest TPR at FPR ≤ each grid value), in percent. */
function rocPoints(roc: DetectResult['roc']): Array<[number, number]> {
  if (!roc || !Array.isArray(roc.fpr) || !Array.isArray(roc.tpr) || roc.fpr.length !== roc.tpr.length) return [];
  if (!roc.fpr.every(isNum) || !roc.tpr.every(isNum)) return [];
  return rocOnGrid({ fpr: roc.fpr, tpr: roc.tpr, thresholds: [] }, GRID).map(([f, t]) => [100 * f, 100 * t]);
}

function summaryHtml(r: DetectReport): string {
  const results = arr(r.results);
  if (results.length === 0) return section('summary', 'Detector AUC', '<p class="note">No results in this report.</p>');
  const attacks = [...new Set(results.map((x) => x.attack))];
  const rows = [...new Map(results.map((x) => [`${x.kappa}\u0000${x.mode}`, x])).values()]
    .sort((a, b) => a.kappa - b.kappa || a.mode.localeCompare(b.mode) * -1);
  const find = (kappa: number, mode: string, attack: string) => results.find((x) => x.kappa === kappa && x.mode === mode && x.attack === attack);
  const cleanAcc = (kappa: number) => arr(r.clean).find((c) => c.kappa === kappa)?.accuracy;
  const body =
    `<p class="note">ROC AUC (%) of the LID detector telling successful adversarial examples from clean and noisy inputs, ` +
    `out-of-fold (${esc(r.settings?.split ?? '')}), with the ${esc(num((r.settings?.level ?? 0.95) * 100, 0))} % bootstrap interval. ` +
    `κ = 0 is the ReLU model. The attacks do not know about the detector: against one that does, these AUCs are an upper bound.</p>` +
    `<div class="scroll"><table><caption>LID + JumpReLU: AUC % by κ and attack (the layout of the paper’s Table 3)</caption><thead><tr><th>κ</th><th>attack mode</th><th class="num">clean acc %</th>` +
    attacks.map((a) => `<th>${esc(a)}</th>`).join('') + `</tr></thead><tbody>` +
    rows.map((x) => `<tr><th scope="row" class="num">${esc(kappaText(x.kappa))}</th><td>${esc(modeLabel(x))}</td><td class="num">${pct(cleanAcc(x.kappa))}</td>` +
      attacks.map((a) => `<td class="num">${aucText(find(x.kappa, x.mode, a))}</td>`).join('') + `</tr>`).join('') +
    `</tbody></table></div>`;
  return section('summary', 'Detector AUC', body);
}

function rocHtml(r: DetectReport): string {
  const results = arr(r.results).filter((x) => x && x.roc);
  if (results.length === 0) return '';
  const attacks = [...new Set(results.map((x) => x.attack))];
  const keys = [...new Set(results.map((x) => `${x.kappa}\u0000${x.mode}`))].sort();
  const style = new Map(keys.map((key, i) => [key, { color: PALETTE[i % PALETTE.length]!, marker: MARKERS[i % MARKERS.length]! }]));
  const chance: Series = { name: 'chance (AUC 50 %)', points: [[0, 0], [100, 100]], color: '#999999', marker: 'plus', dash: '3 3' };
  const charts = attacks.map((attack, i) => {
    const series: Series[] = results.filter((x) => x.attack === attack).map((x) => {
      const st = style.get(`${x.kappa}\u0000${x.mode}`)!;
      return {
        name: `κ = ${kappaText(x.kappa)} · ${modeLabel(x)}`, points: rocPoints(x.roc), color: st.color, marker: st.marker,
        ...(x.mode === 'adaptive' ? { dash: '6 3', hollow: true } : {}),
      };
    });
    return lineChart({
      id: `fig-roc-${i}`, title: `ROC of the LID detector — ${attack}`,
      description: `True positive rate against false positive rate of the LID detector for ${attack}, one line per κ and attack mode.`,
      xLabel: 'false positive rate (%)', yLabel: 'true positive rate (%)', xName: 'FPR', yUnit: '%',
      series: [...series, chance], yDomain: [0, 100], xTicks: [0, 20, 40, 60, 80, 100], width: 420, height: 360,
    });
  });
  const legend = legendHtml([...new Map(results.map((x) => [`${x.kappa}\u0000${x.mode}`, x])).values()].map((x): Series => {
    const st = style.get(`${x.kappa}\u0000${x.mode}`)!;
    return { name: `κ = ${kappaText(x.kappa)} · ${modeLabel(x)}`, points: [], color: st.color, marker: st.marker, ...(x.mode === 'adaptive' ? { dash: '6 3', hollow: true } : {}) };
  }).concat([chance]));
  return section('roc', 'ROC curves',
    `<p class="note">Pooled out-of-fold ROC curves, drawn at ${GRID.length} false positive rates (the full curves are in report.json).</p>` +
    `<div class="figure-row">${charts.join('')}</div>${legend}`);
}

function detailsHtml(r: DetectReport): string {
  const results = arr(r.results);
  if (results.length === 0) return '';
  const head = ['κ', 'attack', 'mode', 'acc. under attack %', 'detected samples', 'ρ̃ successful %', 'mean L2', 'noisy still correct %', 'k used', 'minibatches', 'fold AUCs %', 'note'];
  const body = results.map((x) =>
    `<tr><th scope="row" class="num">${esc(kappaText(x.kappa))}</th><td>${esc(x.attack)}</td><td>${esc(modeLabel(x))}</td>` +
    `<td class="num">${pct(x.attack_accuracy)}</td><td class="num">${esc(num(x.successful, 0))}</td><td class="num">${pct(x.rho_success)}</td>` +
    `<td class="num">${esc(num(x.l2_mean, 4))}</td><td class="num">${pct(x.noisy_correct)}</td><td class="num">${esc(num(x.k_used, 0))}</td>` +
    `<td class="num">${esc(num(x.minibatches, 0))}</td><td class="num">${arr(x.fold_auc).map((a) => pct(a, 1)).join(', ') || MISSING}</td>` +
    `<td>${esc(x.skipped ?? '')}</td></tr>`).join('');
  const layers = arr(r.layers);
  const lidTable = results.filter((x) => isNum(x.auc)).map((x) =>
    `<tr><th scope="row">${esc(`κ = ${kappaText(x.kappa)} · ${x.attack} · ${modeLabel(x)}`)}</th>` +
    layers.map((_, l) => `<td class="num">${esc(num(x.lid_mean?.clean?.[l], 2))} / ${esc(num(x.lid_mean?.noisy?.[l], 2))} / ${esc(num(x.lid_mean?.adversarial?.[l], 2))}` +
      ` <span class="muted">(w ${esc(num(x.coefficients?.weights?.[l], 2))})</span></td>`).join('') + `</tr>`).join('');
  return section('details', 'Details',
    `<div class="scroll"><table><caption>Each (κ, attack, mode): the samples the detector sees are those classified correctly and then fooled; each gives a clean, a noisy and an adversarial row</caption>` +
    `<thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table></div>` +
    (lidTable ? `<div class="scroll"><table><caption>Mean LID per layer, clean / noisy / adversarial, and the detector’s weight on the standardised feature</caption>` +
      `<thead><tr><th>result</th>${layers.map((l) => `<th>${esc(l.name)} <span class="muted">(${esc(num(l.dim, 0))})</span></th>`).join('')}</tr></thead><tbody>${lidTable}</tbody></table></div>` : ''));
}

function runHtml(r: DetectReport): string {
  const s = r.settings;
  const d = r.data;
  const attacks = Object.entries(s?.attacks ?? {}).map(([a, p]) => `${esc(a)} (${Object.entries(p).map(([k, v]) => `${esc(k)} ${esc(v)}`).join(', ')})`).join('; ');
  return section('run', 'Run', `<div class="cards"><div class="card"><h3>Model and data</h3>${kv([
    ['model', `<span class="mono">${esc(r.model?.path ?? MISSING)}</span>`],
    ['SHA-256', `<span class="mono">${esc(r.model?.sha256 ?? MISSING)}</span>`],
    ['data', `${esc(d?.kind ?? MISSING)} <span class="mono">${esc(d?.path ?? MISSING)}</span>, n = ${esc(num(d?.n, 0))}`],
    ['input', esc(r.input_convention ? `model expects ${r.input_convention.model_expects}; data gives ${r.input_convention.data_gives}; ε in ${r.input_convention.epsilon_in}` : MISSING)],
    ['space, clamp', `${esc(d?.space ?? MISSING)}, ${esc(d?.clamp ?? MISSING)}`],
    ['layers', `${esc(num(arr(r.layers).length, 0))} LID features: ${arr(r.layers).map((l) => esc(l.name)).join(', ') || MISSING}`],
  ])}</div><div class="card"><h3>Detector</h3>${kv([
    ['κ', arr(s?.kappas).map((k) => esc(kappaText(k))).join(', ') || MISSING],
    ['attacks', attacks || MISSING],
    ['modes', arr(s?.modes).map((m) => esc(m)).join(', ') || MISSING],
    ['LID', `minibatch B = ${esc(num(s?.minibatch, 0))}, k = ${esc(num(s?.k, 0))} nearest clean neighbours (own clean version excluded)`],
    ['negatives', esc(s?.negatives ?? MISSING)],
    ['noise', esc(s?.noise ?? MISSING)],
    ['classifier', `logistic regression on standardised features, L2 λ = ${esc(num(s?.l2, 6))}`],
    ['split', esc(s?.split ?? MISSING)],
    ['interval', `percentile bootstrap, ${esc(num(s?.bootstrap, 0))} stratified resamples of the out-of-fold scores`],
    ['seed', esc(num(s?.seed, 0))],
  ])}</div></div>`);
}

function warningsHtml(r: DetectReport): string {
  const w = arr(r.warnings).filter((x) => typeof x === 'string' && x.length > 0);
  if (w.length === 0) return `<p class="ok" id="warnings">No warnings were raised by this run.</p>`;
  return `<section id="warnings" class="warnings" role="note" aria-labelledby="warnings-h"><h2 id="warnings-h">⚠ ${w.length} warning${w.length === 1 ? '' : 's'}</h2>` +
    `<ul>${w.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></section>`;
}

/** The detection report as one self-contained HTML document. */
export function renderDetectHtml(r: DetectReport): string {
  const parts: Array<[string, string, string]> = [
    ['summary', 'AUC', summaryHtml(r)], ['roc', 'ROC curves', rocHtml(r)], ['details', 'Details', detailsHtml(r)], ['run', 'Run', runHtml(r)],
  ];
  const present = parts.filter(([, , h]) => h !== '');
  const modelName = String(r.model?.path ?? '').split(/[\\/]/).pop() || 'model';
  const title = `JumpReLU detection report — ${modelName} on ${String(r.data?.kind ?? 'data')}`;
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">` +
    `<title>${esc(title)}</title><style>${REPORT_CSS}</style></head><body>` +
    `<header class="top"><div class="inner"><h1>LID detection of adversarial examples: <span class="mono">${esc(modelName)}</span></h1>` +
    `<p class="sub">the paper’s §4.1.5 / Table 3 experiment (Ma et al. 2018’s LID detector, ReLU vs JumpReLU) · created ${esc(r.created ?? MISSING)} · ` +
    `${esc(r.tool?.name ?? 'jumprelu')} ${esc(r.tool?.version ?? '')}</p>` +
    `<nav class="toc" aria-label="Sections">${present.map(([id, label]) => `<a href="#${id}">${label}</a>`).join('')}</nav></div></header>` +
    `<main>${warningsHtml(r)}${present.map(([, , h]) => h).join('\n')}` +
    `<footer>report.json format ${esc(r.format)}, kind ${esc(r.kind)} · fields in docs/detection.md · “—” marks a missing value.</footer></main></body></html>\n`
  );
}
