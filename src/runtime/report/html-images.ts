// Figures 5–6 of the paper: clean images, adversarial images and their perturbations, as PNG data URLs.
// One table per (attack, mode): a row per sample, the clean image first, then for each κ the adversarial
// image and the perturbation δ = x̃ − x on a diverging colour map. Within a row all perturbations share one
// colour scale (full colour at ±max|δ| over the row), so the larger perturbations that larger κ needs show
// as stronger colour — the comparison the paper's figures make.

import type { ExampleImage } from './schema.js';
import { esc, isNum, kappaText, MISSING, num, slug } from './html-format.js';
import { pngDataUrl } from './png.js';
import { diverging, rgbCss } from './svg-chart.js';

function clamp01(v: number): number {
  return isNum(v) ? Math.min(1, Math.max(0, v)) : 0;
}

function valid(e: ExampleImage): boolean {
  const size = e.channels * e.height * e.width;
  return (
    Number.isInteger(e.channels) && Number.isInteger(e.height) && Number.isInteger(e.width) &&
    e.channels >= 1 && e.height >= 1 && e.width >= 1 && size <= 4096 * 4096 &&
    Array.isArray(e.clean) && Array.isArray(e.adversarial) &&
    e.clean.length === size && e.adversarial.length === size
  );
}

/** CHW floats in [0,1] → interleaved bytes (grey for 1 channel, RGB from the first 3 otherwise). */
function toBytes(chw: readonly number[], c: number, h: number, w: number): { channels: 1 | 3; bytes: Uint8Array } {
  const plane = h * w;
  if (c < 3) {
    const bytes = new Uint8Array(plane);
    for (let i = 0; i < plane; i++) bytes[i] = Math.round(clamp01(chw[i]!) * 255);
    return { channels: 1, bytes };
  }
  const bytes = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) bytes[i * 3 + k] = Math.round(clamp01(chw[k * plane + i]!) * 255);
  }
  return { channels: 3, bytes };
}

/** Signed per-pixel perturbation: for several channels, the channel value with the largest magnitude. */
function perturbation(e: ExampleImage): Float64Array {
  const plane = e.height * e.width;
  const out = new Float64Array(plane);
  for (let k = 0; k < e.channels; k++) {
    for (let i = 0; i < plane; i++) {
      const a = e.adversarial[k * plane + i]!;
      const b = e.clean[k * plane + i]!;
      const d = isNum(a) && isNum(b) ? a - b : 0;
      if (Math.abs(d) > Math.abs(out[i]!)) out[i] = d;
    }
  }
  return out;
}

function norms(e: ExampleImage): { l2: number; linf: number } {
  let s = 0;
  let m = 0;
  for (let i = 0; i < e.clean.length; i++) {
    const a = e.adversarial[i]!;
    const b = e.clean[i]!;
    const d = isNum(a) && isNum(b) ? a - b : 0;
    s += d * d;
    m = Math.max(m, Math.abs(d));
  }
  return { l2: Math.sqrt(s), linf: m };
}

function displayWidth(w: number): number {
  return w * Math.max(1, Math.round(96 / w));
}

function img(url: string, w: number, h: number, alt: string, cls: string): string {
  const dw = displayWidth(w);
  const dh = Math.round((dw / w) * h);
  return `<img class="${cls}" src="${url}" width="${dw}" height="${dh}" alt="${esc(alt)}">`;
}

function imageOf(e: ExampleImage, which: 'clean' | 'adversarial'): string {
  const { channels, bytes } = toBytes(e[which], e.channels, e.height, e.width);
  return pngDataUrl(e.width, e.height, channels, bytes);
}

function perturbationImage(e: ExampleImage, scale: number): string {
  const d = perturbation(e);
  const bytes = new Uint8Array(d.length * 3);
  for (let i = 0; i < d.length; i++) {
    const rgb = diverging(0.5 + (scale > 0 ? d[i]! / scale : 0) / 2);
    bytes.set(rgb, i * 3);
  }
  return pngDataUrl(e.width, e.height, 3, bytes);
}

/** The legend of the perturbation colour map, as an HTML gradient bar. */
function divergingLegend(): string {
  const stops = Array.from({ length: 9 }, (_, i) => rgbCss(diverging(i / 8))).join(', ');
  return (
    `<div class="cbar" role="img" aria-label="Perturbation colour map: blue for a decrease, white for no change, red for an increase of the pixel value">` +
    `<span>−max|δ| (value lowered)</span><span class="cbar-ramp" style="background: linear-gradient(to right, ${stops})"></span>` +
    `<span>+max|δ| (value raised)</span></div>`
  );
}

/** The examples section's body; '' when there are no examples. */
export function examplesHtml(examples: readonly ExampleImage[] | undefined): string {
  if (!examples || examples.length === 0) return '';
  const groups = new Map<string, ExampleImage[]>();
  for (const e of examples) {
    const key = `${e.attack}\u0000${e.mode}`;
    const g = groups.get(key);
    if (g) g.push(e);
    else groups.set(key, [e]);
  }
  const out: string[] = [divergingLegend()];
  let skipped = 0;
  const modeRank = (m: string) => (m === 'white-box' ? 0 : m === 'gray-box' ? 1 : m === 'adaptive' ? 2 : 3);
  const ordered = [...groups.values()].sort(
    (a, b) => String(a[0]!.attack).localeCompare(String(b[0]!.attack)) || modeRank(a[0]!.mode) - modeRank(b[0]!.mode),
  );
  for (const group of ordered) {
    const { attack, mode } = group[0]!;
    const kappas = [...new Set(group.map((e) => e.kappa))].sort((a, b) => a - b);
    const indices = [...new Set(group.map((e) => e.index))].sort((a, b) => a - b);
    const rows: string[] = [];
    for (const index of indices) {
      const byKappa = new Map<number, ExampleImage>();
      for (const e of group) if (e.index === index && valid(e) && !byKappa.has(e.kappa)) byKappa.set(e.kappa, e);
      skipped += group.filter((e) => e.index === index && !valid(e)).length;
      const first = [...byKappa.values()][0];
      if (!first) continue;
      const scale = Math.max(0, ...[...byKappa.values()].map((e) => norms(e).linf));
      const cells: string[] = [
        `<th scope="row">#${esc(num(index, 0))}<br><span class="muted">label ${esc(num(first.label, 0))}</span></th>`,
        `<td>${img(imageOf(first, 'clean'), first.width, first.height, `Sample ${index}, clean image, label ${first.label}`, 'pix')}` +
          `<div class="cap">clean pred ${esc(num(first.clean_pred, 0))}</div></td>`,
      ];
      for (const k of kappas) {
        const e = byKappa.get(k);
        if (!e) {
          cells.push(`<td class="na">${MISSING}</td><td class="na">${MISSING}</td>`);
          continue;
        }
        const n = norms(e);
        const fooled = e.adv_pred !== e.label;
        cells.push(
          `<td>${img(imageOf(e, 'adversarial'), e.width, e.height, `Sample ${index}, κ = ${kappaText(k)}, adversarial image, predicted ${e.adv_pred}`, 'pix')}` +
            `<div class="cap ${fooled ? 'fooled' : 'held'}">pred ${esc(num(e.adv_pred, 0))} ${fooled ? '✗ fooled' : '✓ held'}</div></td>` +
            `<td>${img(perturbationImage(e, scale), e.width, e.height, `Sample ${index}, κ = ${kappaText(k)}, perturbation, L2 ${num(n.l2, 3)}, L∞ ${num(n.linf, 3)}`, 'pix')}` +
            `<div class="cap">‖δ‖₂ ${esc(num(n.l2, 3))} · ‖δ‖∞ ${esc(num(n.linf, 3))}</div></td>`,
        );
      }
      rows.push(`<tr>${cells.join('')}<td class="num">±${esc(num(scale, 3))}</td></tr>`);
    }
    if (rows.length === 0) continue;
    const head1 = kappas.map((k) => `<th colspan="2" scope="colgroup">κ = ${esc(kappaText(k))}</th>`).join('');
    const head2 = kappas.map(() => '<th scope="col">adversarial</th><th scope="col">perturbation δ</th>').join('');
    out.push(
      `<h3 id="examples-${esc(slug(`${attack}-${mode}`))}">${esc(attack)} · ${esc(mode)}</h3>` +
        `<div class="scroll"><table class="examples"><caption>Clean and adversarial images for ${esc(attack)} (${esc(mode)}); ` +
        `perturbations in pixel units, colour scale shared across each row</caption><thead>` +
        `<tr><th rowspan="2" scope="col">sample</th><th rowspan="2" scope="col">clean</th>${head1}<th rowspan="2" scope="col">colour scale<br>(full colour at)</th></tr>` +
        `<tr>${head2}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`,
    );
  }
  if (skipped > 0) {
    out.push(`<p class="note">${skipped} example(s) skipped: pixel arrays do not match channels × height × width.</p>`);
  }
  return out.join('');
}
