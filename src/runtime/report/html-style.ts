// The report page's stylesheet (inline; no fonts or files are fetched).

export const REPORT_CSS = `
:root { --fg: #1b1b1b; --muted: #5a5a5a; --line: #d8d8d8; --accent: #0072B2; --warn: #D55E00; --warn-bg: #fff3e8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fafafa; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 0 24px 48px; }
header.top { background: #fff; border-bottom: 1px solid var(--line); padding: 18px 24px 12px; }
header.top .inner { max-width: 1240px; margin: 0 auto; }
h1 { font-size: 1.55rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 22px 0 8px; }
.muted, .sub { color: var(--muted); }
.sub { margin: 0; overflow-wrap: anywhere; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
nav.toc { margin: 10px 0 0; font-size: 0.92rem; }
nav.toc a { margin-right: 14px; color: var(--accent); text-decoration: none; }
nav.toc a:hover, nav.toc a:focus { text-decoration: underline; }
.warnings { margin: 18px 0 0; padding: 12px 16px; border: 2px solid var(--warn); border-left-width: 8px; background: var(--warn-bg); border-radius: 4px; }
.warnings h2 { margin: 0 0 6px; border: 0; padding: 0; color: #8a3300; font-size: 1.1rem; }
.warnings ul { margin: 0; padding-left: 20px; }
.ok { margin: 18px 0 0; color: #1f6e43; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 14px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.card.wide { grid-column: 1 / -1; }
.card h3 { margin: 0 0 6px; font-size: 0.98rem; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; font-size: 0.9rem; }
caption { text-align: left; color: var(--muted); padding: 4px 0; caption-side: top; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: middle; }
thead th { background: #f0f3f6; text-align: center; }
tbody th { text-align: left; background: #fbfbfb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fcfcfc; }
tr.chosen td, tr.chosen th { background: #e6f2fa !important; font-weight: 600; }
td.na { color: var(--muted); text-align: center; }
.figure-row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure.chart-figure { width: fit-content; max-width: 100%; margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
figure.chart-figure figcaption { font-size: 0.88rem; color: var(--muted); text-align: center; max-width: 520px; }
svg.chart { display: block; max-width: 100%; height: auto; font-family: inherit; }
svg .grid { stroke: #ececec; }
svg .tick { font-size: 11px; fill: #333; }
svg .axis-label { font-size: 12.5px; fill: #111; font-weight: 600; }
svg .ref-label { font-size: 11px; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
svg .cell-label { font-size: 12px; font-variant-numeric: tabular-nums; }
svg .empty { font-size: 13px; fill: #777; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0; margin: 8px 0 4px; font-size: 0.88rem; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
.note { color: var(--muted); font-size: 0.9rem; margin: 4px 0 10px; max-width: 900px; }
.big { font-size: 1.5rem; font-weight: 700; }
img.pix { image-rendering: pixelated; image-rendering: crisp-edges; display: block; border: 1px solid #ccc; background: #fff; }
table.examples td { text-align: center; vertical-align: top; }
table.examples .cap { font-size: 0.8rem; color: var(--muted); margin-top: 2px; white-space: nowrap; }
table.examples .cap.fooled { color: #8a3300; font-weight: 600; }
table.examples .cap.held { color: #1f6e43; font-weight: 600; }
.cbar { display: flex; align-items: center; gap: 8px; font-size: 0.85rem; color: var(--muted); margin: 6px 0 10px; }
.cbar-ramp { display: inline-block; width: 220px; height: 14px; border: 1px solid #999; }
details { margin: 6px 0 12px; }
summary { cursor: pointer; color: var(--accent); }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 40px; border-top: 1px solid var(--line); padding-top: 10px; }
@media print { body { background: #fff; } .scroll { overflow: visible; } nav.toc { display: none; } }
`;
