// Inline SVG charts for the report page: line charts (axes, ticks, gridlines, markers, optional reference
// lines) and a heat map with a colour bar. Values arrive already in display units (percent for accuracies).
// Series are told apart by colour (Okabe–Ito, safe for colour-vision deficiencies), marker shape and dash, so
// no chart depends on colour alone. Every mark carries a <title> for hover and screen readers.

import { esc, isNum, MISSING, num } from './html-format.js';

/** Okabe & Ito's palette, minus yellow (too light on white). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'] as const;
export const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'plus', 'cross'] as const;
export type Marker = (typeof MARKERS)[number];

export interface Series {
  name: string;
  /** [x, y]; a null/NaN y leaves a gap in the line. */
  points: Array<[number, number | null | undefined]>;
  color: string;
  marker: Marker;
  /** SVG stroke-dasharray, e.g. '6 3'. */
  dash?: string;
  hollow?: boolean;
}

export interface RefLine {
  value: number;
  label: string;
  color?: string;
}

export interface LineChartSpec {
  id: string;
  title: string;
  /** A sentence for screen readers describing what is plotted. */
  description: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Fixed y range; default: the data's range, widened to nice ticks. */
  yDomain?: [number, number];
  /** x tick positions to use when there are few (e.g. the κ grid); default: nice ticks. */
  xTicks?: number[];
  hLines?: RefLine[];
  vLines?: RefLine[];
  /** Text after tick values and in tooltips, e.g. '%'. */
  yUnit?: string;
  xName?: string;
  width?: number;
  height?: number;
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

/** Tick values covering [min, max] at a 1/2/2.5/5·10^k step; returns the widened domain too. */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; domain: [number, number] } {
  if (!(max > min)) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const step = niceStep(max - min, count);
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step * 1e-9; i++) ticks.push(Number((lo + i * step).toPrecision(12)));
  return { ticks, domain: [lo, hi] };
}

function markerPath(shape: Marker, x: number, y: number, r: number): string {
  const f = (v: number) => v.toFixed(2);
  switch (shape) {
    case 'circle':
      return `M${f(x - r)},${f(y)}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0Z`;
    case 'square':
      return `M${f(x - r * 0.85)},${f(y - r * 0.85)}h${f(1.7 * r)}v${f(1.7 * r)}h${f(-1.7 * r)}Z`;
    case 'triangle':
      return `M${f(x)},${f(y - r * 1.1)}L${f(x + r)},${f(y + r * 0.75)}L${f(x - r)},${f(y + r * 0.75)}Z`;
    case 'triangle-down':
      return `M${f(x)},${f(y + r * 1.1)}L${f(x + r)},${f(y - r * 0.75)}L${f(x - r)},${f(y - r * 0.75)}Z`;
    case 'diamond':
      return `M${f(x)},${f(y - r * 1.2)}L${f(x + r)},${f(y)}L${f(x)},${f(y + r * 1.2)}L${f(x - r)},${f(y)}Z`;
    case 'plus':
      return `M${f(x - r)},${f(y)}H${f(x + r)}M${f(x)},${f(y - r)}V${f(y + r)}`;
    case 'cross':
      return `M${f(x - r)},${f(y - r)}L${f(x + r)},${f(y + r)}M${f(x + r)},${f(y - r)}L${f(x - r)},${f(y + r)}`;
  }
}

function markerSvg(s: Series, x: number, y: number, r = 4.5): string {
  const open = s.marker === 'plus' || s.marker === 'cross';
  const fill = open || s.hollow ? 'white' : s.color;
  const fillAttr = open ? 'none' : fill;
  return `<path d="${markerPath(s.marker, x, y, r)}" fill="${fillAttr}" stroke="${s.color}" stroke-width="${open ? 2 : 1.5}"/>`;
}

/** A small swatch (line + marker) for an HTML legend entry. */
export function legendSwatch(s: Series): string {
  const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
  return (
    `<svg class="swatch" width="34" height="14" viewBox="0 0 34 14" aria-hidden="true">` +
    `<line x1="1" y1="7" x2="33" y2="7" stroke="${s.color}" stroke-width="2"${dash}/>` +
    `${markerSvg(s, 17, 7, 4)}</svg>`
  );
}

export function legendHtml(series: Series[], extra: string[] = []): string {
  if (series.length === 0 && extra.length === 0) return '';
  const items = series.map((s) => `<li>${legendSwatch(s)}<span>${esc(s.name)}</span></li>`);
  return `<ul class="legend">${items.join('')}${extra.join('')}</ul>`;
}

/** A line chart as <figure> with the SVG, an HTML legend and the title as caption. */
export function lineChart(spec: LineChartSpec): string {
  const W = spec.width ?? 520;
  const H = spec.height ?? 340;
  const m = { top: 14, right: 18, bottom: 52, left: 62 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;

  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of spec.series) {
    for (const [x, y] of s.points) {
      if (isNum(x)) xs.push(x);
      if (isNum(x) && isNum(y)) ys.push(y);
    }
  }
  for (const l of spec.hLines ?? []) if (isNum(l.value)) ys.push(l.value);
  for (const l of spec.vLines ?? []) if (isNum(l.value)) xs.push(l.value);

  const titleId = `${spec.id}-title`;
  const descId = `${spec.id}-desc`;
  const head =
    `<svg class="chart" id="${esc(spec.id)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" ` +
    `aria-labelledby="${esc(titleId)} ${esc(descId)}"><title id="${esc(titleId)}">${esc(spec.title)}</title>` +
    `<desc id="${esc(descId)}">${esc(spec.description)}</desc>`;

  if (xs.length === 0 || ys.length === 0) {
    return (
      `<figure class="chart-figure">${head}<rect x="0.5" y="0.5" width="${W - 1}" height="${H - 1}" fill="none" stroke="#ccc"/>` +
      `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="empty">No data to plot</text></svg>` +
      `<figcaption>${esc(spec.title)}</figcaption></figure>`
    );
  }

  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  let xTicks: number[];
  let xDomain: [number, number];
  const grid = [...new Set((spec.xTicks ?? []).filter(isNum))].sort((a, b) => a - b);
  if (grid.length >= 2 && grid.length <= 12) {
    xTicks = grid;
    const span = Math.max(xMax, grid[grid.length - 1]!) - Math.min(xMin, grid[0]!);
    xDomain = [Math.min(xMin, grid[0]!) - span * 0.05, Math.max(xMax, grid[grid.length - 1]!) + span * 0.05];
  } else if (xMin === xMax) {
    xTicks = [xMin];
    const pad = Math.abs(xMin) > 0 ? Math.abs(xMin) * 0.5 : 0.5;
    xDomain = [xMin - pad, xMax + pad];
  } else {
    const n = niceTicks(xMin, xMax, 6);
    xTicks = n.ticks;
    xDomain = n.domain;
  }
  let yTicks: number[];
  let yDomain: [number, number];
  if (spec.yDomain) {
    yDomain = spec.yDomain;
    yTicks = niceTicks(yDomain[0], yDomain[1], 5).ticks.filter((t) => t >= yDomain[0] - 1e-9 && t <= yDomain[1] + 1e-9);
  } else {
    const n = niceTicks(Math.min(...ys), Math.max(...ys), 5);
    yTicks = n.ticks;
    yDomain = n.domain;
  }
  const sx = (x: number) => m.left + ((x - xDomain[0]) / (xDomain[1] - xDomain[0])) * pw;
  const sy = (y: number) => m.top + ph - ((y - yDomain[0]) / (yDomain[1] - yDomain[0])) * ph;
  const unit = spec.yUnit ?? '';
  const xName = spec.xName ?? spec.xLabel;
  const parts: string[] = [head];

  // Plot area, gridlines, ticks.
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="#fff" stroke="#999"/>`);
  for (const t of yTicks) {
    const y = sy(t).toFixed(2);
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" dy="0.32em" text-anchor="end" class="tick">${esc(num(t, 3))}${esc(unit)}</text>`);
  }
  for (const t of xTicks) {
    const x = sx(t).toFixed(2);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" class="grid"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle" class="tick">${esc(num(t, 4))}</text>`);
  }
  parts.push(
    `<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle" class="axis-label">${esc(spec.xLabel)}</text>` +
      `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${esc(spec.yLabel)}</text>`,
  );

  // Reference lines.
  for (const l of spec.hLines ?? []) {
    if (!isNum(l.value) || l.value < yDomain[0] || l.value > yDomain[1]) continue;
    const y = sy(l.value).toFixed(2);
    const c = l.color ?? '#555';
    parts.push(
      `<g class="ref"><line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="${c}" stroke-width="1.5" stroke-dasharray="2 3"/>` +
        `<text x="${m.left + pw - 4}" y="${y}" dy="-0.4em" text-anchor="end" fill="${c}" class="ref-label">${esc(l.label)}</text>` +
        `<title>${esc(l.label)}: ${esc(num(l.value, 3))}${esc(unit)}</title></g>`,
    );
  }
  for (const l of spec.vLines ?? []) {
    if (!isNum(l.value)) continue;
    const x = sx(l.value).toFixed(2);
    const c = l.color ?? '#555';
    parts.push(
      `<g class="ref"><line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="${c}" stroke-width="1.5" stroke-dasharray="5 3"/>` +
        `<text x="${x}" y="${m.top + 12}" dx="4" fill="${c}" class="ref-label">${esc(l.label)}</text>` +
        `<title>${esc(l.label)}</title></g>`,
    );
  }

  // Series: lines (broken at missing values), then markers on top.
  spec.series.forEach((s) => {
    const pts = s.points.filter(([x]) => isNum(x)).sort((a, b) => a[0] - b[0]);
    let d = '';
    let pen = false;
    for (const [x, y] of pts) {
      if (!isNum(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(x).toFixed(2)},${sy(y).toFixed(2)}`;
      pen = true;
    }
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    const marks = pts
      .filter(([, y]) => isNum(y))
      .map(
        ([x, y]) =>
          `<g>${markerSvg(s, sx(x), sy(y as number))}<title>${esc(s.name)}: ${esc(xName)} = ${esc(num(x))}, ` +
          `${esc(num(y as number, 2))}${esc(unit)}</title></g>`,
      )
      .join('');
    parts.push(
      `<g class="series" data-series="${esc(s.name)}">` +
        (d ? `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>` : '') +
        `${marks}</g>`,
    );
  });
  parts.push('</svg>');
  return `<figure class="chart-figure">${parts.join('')}<figcaption>${esc(spec.title)}</figcaption></figure>`;
}

// --- colour maps ------------------------------------------------------------------------------------------

type RGB = [number, number, number];

function hex(c: string): RGB {
  return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
}

function ramp(stops: readonly string[]): (t: number) => RGB {
  const cs = stops.map(hex);
  return (t: number) => {
    const u = Math.min(1, Math.max(0, isNum(t) ? t : 0)) * (cs.length - 1);
    const i = Math.min(cs.length - 2, Math.floor(u));
    const f = u - i;
    const a = cs[i]!;
    const b = cs[i + 1]!;
    return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as RGB;
  };
}

/** Viridis (sampled): sequential, perceptually uniform, readable with colour-vision deficiencies. */
export const viridis = ramp(['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725']);
/** ColorBrewer RdBu (reversed): blue for negative, white for zero, red for positive; colour-blind safe. */
export const diverging = ramp(['#2166ac', '#4393c3', '#92c5de', '#d1e5f0', '#f7f7f7', '#fddbc7', '#f4a582', '#d6604d', '#b2182b']);

export function rgbCss(c: RGB): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function textOn(c: RGB): string {
  const lum = (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;
  return lum > 0.5 ? '#000' : '#fff';
}

export interface HeatMapSpec {
  id: string;
  title: string;
  description: string;
  rowLabel: string;
  colLabel: string;
  rows: string[];
  cols: string[];
  /** values[i][j] in percent (0–100); null/NaN cells are drawn hatched grey with "—". */
  values: Array<Array<number | null | undefined>>;
  unit?: string;
  domain?: [number, number];
}

/** A heat map with a numeric label in each cell and a colour bar. */
export function heatMap(spec: HeatMapSpec): string {
  const cell = spec.cols.length > 8 ? 44 : 58;
  const m = { top: 36, left: 92, right: 96, bottom: 16 };
  const W = m.left + cell * spec.cols.length + m.right;
  const H = m.top + Math.max(cell * spec.rows.length, 80) + m.bottom + 24;
  const [lo, hi] = spec.domain ?? [0, 100];
  const unit = spec.unit ?? '%';
  const titleId = `${spec.id}-title`;
  const descId = `${spec.id}-desc`;
  const parts: string[] = [
    `<svg class="chart heatmap" id="${esc(spec.id)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" ` +
      `aria-labelledby="${esc(titleId)} ${esc(descId)}"><title id="${esc(titleId)}">${esc(spec.title)}</title>` +
      `<desc id="${esc(descId)}">${esc(spec.description)}</desc>`,
    `<defs><pattern id="${esc(spec.id)}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      `<rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#bbb" stroke-width="2"/></pattern></defs>`,
  ];
  spec.cols.forEach((c, j) => {
    parts.push(`<text x="${m.left + cell * (j + 0.5)}" y="${m.top - 8}" text-anchor="middle" class="tick">${esc(c)}</text>`);
  });
  spec.rows.forEach((r, i) => {
    parts.push(`<text x="${m.left - 8}" y="${m.top + cell * (i + 0.5)}" dy="0.32em" text-anchor="end" class="tick">${esc(r)}</text>`);
    spec.cols.forEach((c, j) => {
      const v = spec.values[i]?.[j];
      const x = m.left + cell * j;
      const y = m.top + cell * i;
      const tip = `source ${spec.rowLabel} ${r} → target ${spec.colLabel} ${c}: ${isNum(v) ? `${v.toFixed(2)}${unit}` : 'no value'}`;
      if (isNum(v)) {
        const rgb = viridis((v - lo) / (hi - lo || 1));
        parts.push(
          `<g class="cell"><rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${rgbCss(rgb)}" stroke="#fff"/>` +
            `<text x="${x + cell / 2}" y="${y + cell / 2}" dy="0.32em" text-anchor="middle" class="cell-label" fill="${textOn(rgb)}">${v.toFixed(1)}</text>` +
            `<title>${esc(tip)}</title></g>`,
        );
      } else {
        parts.push(
          `<g class="cell"><rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="url(#${esc(spec.id)}-hatch)" stroke="#fff"/>` +
            `<text x="${x + cell / 2}" y="${y + cell / 2}" dy="0.32em" text-anchor="middle" class="cell-label">${MISSING}</text>` +
            `<title>${esc(tip)}</title></g>`,
        );
      }
    });
  });
  const gridBottom = m.top + cell * spec.rows.length;
  parts.push(
    `<text x="${m.left + (cell * spec.cols.length) / 2}" y="${gridBottom + 28}" text-anchor="middle" class="axis-label">${esc(spec.colLabel)} (target)</text>`,
    `<text transform="translate(18 ${m.top + (cell * spec.rows.length) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${esc(spec.rowLabel)} (source)</text>`,
  );
  // Colour bar.
  const bx = m.left + cell * spec.cols.length + 24;
  const bh = Math.max(cell * spec.rows.length, 80);
  const steps = 20;
  for (let k = 0; k < steps; k++) {
    const t0 = 1 - (k + 1) / steps;
    parts.push(
      `<rect x="${bx}" y="${(m.top + (bh * k) / steps).toFixed(2)}" width="14" height="${(bh / steps + 0.5).toFixed(2)}" fill="${rgbCss(viridis(t0 + 0.5 / steps))}"/>`,
    );
  }
  parts.push(`<rect x="${bx}" y="${m.top}" width="14" height="${bh}" fill="none" stroke="#999"/>`);
  for (const f of [0, 0.5, 1]) {
    const y = m.top + bh * (1 - f);
    parts.push(`<text x="${bx + 19}" y="${y}" dy="0.32em" class="tick">${esc(num(lo + (hi - lo) * f, 1))}${esc(unit)}</text>`);
  }
  parts.push('</svg>');
  return `<figure class="chart-figure">${parts.join('')}<figcaption>${esc(spec.title)}</figcaption></figure>`;
}
