// report.html (issue 6, "Reports"): the renderer's sections, robustness to missing/empty/NaN data, escaping,
// self-containment, the PNG encoder; and the page in headless Chromium (Debian `chromium`), driven over the
// DevTools protocol on a pipe (--remote-debugging-pipe: NUL-separated JSON on fds 3 and 4, no WebSocket
// needed): it renders, raises no console errors or exceptions, loads nothing from outside, its plots and
// images are there and decode. Set JUMPRELU_REPORT_SCREENSHOTS=DIR to keep full-page screenshots, and
// JUMPRELU_REPORT_JSON=FILE to check a real report.json's page as well.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32, inflateSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { renderReportHtml } from '../src/runtime/report/html.js';
import { encodePng } from '../src/runtime/report/png.js';
import type { Report } from '../src/runtime/report/schema.js';
import { cifarLikeExamples, sampleReport } from './helpers/sample-report.js';
import { CHROMIUM, inChromium, type PageCheck } from './helpers/chromium.js';

const SECTIONS = ['run', 'summary', 'tradeoff', 'results', 'transfer', 'curves', 'examples', 'tuning'];

function sectionIds(html: string): string[] {
  return [...html.matchAll(/<section id="([^"]+)"/g)].map((m) => m[1]!);
}

/** Self-containment: nothing that a browser could fetch from a network or another file. */
function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /https?:/i, 'no http(s) URL');
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\/\//i, 'no protocol-relative URL');
  assert.doesNotMatch(html, /<script/i, 'no scripts');
  assert.doesNotMatch(html, /url\((?!#)/i, 'no CSS url() other than fragment references');
  assert.doesNotMatch(html, /@import|@font-face/i);
  for (const m of html.matchAll(/\ssrc="([^"]*)"/g)) assert.match(m[1]!, /^data:image\/png;base64,/);
  for (const m of html.matchAll(/\shref="([^"]*)"/g)) assert.match(m[1]!, /^(#|data:)/);
}

describe('renderReportHtml', () => {
  test('the full sample report has every section, both ρ̃ labels, a title and no stray NaN', () => {
    const html = renderReportHtml(sampleReport());
    assert.ok(html.startsWith('<!DOCTYPE html>'));
    assert.match(html, /<title>JumpReLU evaluation report — mnist_lenetlike_baseline\.onnx on mnist<\/title>/);
    assert.deepEqual(sectionIds(html).filter((id) => id !== 'warnings'), SECTIONS);
    assert.match(html, /<section id="warnings" class="warnings"/);
    assert.match(html, /2 warnings/);
    assert.match(html, /ρ̃ over all samples \(paper\)/);
    assert.match(html, /ρ̃ over successful attacks \(ART\)/);
    assert.match(html, /Figure 4/);
    assert.match(html, /Figure 7/);
    assert.match(html, /Figure 9/);
    assert.match(html, /Figures 5–6/);
    // Charts: trade-off (2), transfer heat maps (2), one curve chart, tuning (2).
    assert.equal((html.match(/<svg class="chart/g) ?? []).length, 7);
    for (const id of ['fig-tradeoff-accuracy', 'fig-tradeoff-rho', 'fig-transfer-0', 'fig-transfer-1', 'fig-curves-0', 'fig-tuning-clean', 'fig-tuning-robust']) {
      assert.match(html, new RegExp(`id="${id}"`));
    }
    // 3 samples × (clean + 2 κ × (adversarial + perturbation)) images.
    assert.equal((html.match(/<img /g) ?? []).length, 15);
    assert.match(html, /99\.55/); // clean accuracy at κ = 0, in percent
    assert.match(html, /34\.10/); // DF∞ ρ̃ at κ = 1
    assert.match(html, /normalized — the model’s mean\/std-normalised input/);
    assert.match(html, /batch-minmax/);
    assert.match(html, /per-sample\.jsonl/);
    assert.match(html, /<dt>gray-box source κ<\/dt><dd>0<\/dd>/);
    assert.match(html, /<dt>pictures per result<\/dt><dd>3<\/dd>/);
    assert.match(html, /chosen κ/);
    assert.match(html, /budget: 99\.05 %/); // 99.55 % − 0.5 pp
    assert.doesNotMatch(html, /NaN|Infinity|undefined|\[object/);
    assertSelfContained(html);
  });

  test('charts and tables are labelled: axis labels with units, titles, legends, table headers', () => {
    const html = renderReportHtml(sampleReport());
    assert.match(html, /class="axis-label">accuracy \(%\)</);
    assert.match(html, /class="axis-label">JumpReLU threshold κ</);
    assert.match(html, /class="axis-label">ρ̃ \(%\)</);
    assert.match(html, /class="axis-label">attack iterations</);
    for (const m of html.matchAll(/<svg class="chart[^>]*>/g)) assert.match(m[0], /role="img" aria-labelledby="/);
    assert.ok((html.match(/<ul class="legend">/g) ?? []).length >= 3);
    const tables = html.match(/<table/g)?.length ?? 0;
    assert.ok(tables >= 8);
    assert.equal((html.match(/<thead>/g) ?? []).length, tables, 'every table has a header row');
    for (const m of html.matchAll(/<img [^>]*>/g)) assert.match(m[0], /alt="[^"]+"/);
  });

  test('optional sections are left out when absent or empty', () => {
    const r = sampleReport();
    delete r.transfer;
    delete r.transfers;
    delete r.curves;
    delete r.examples;
    delete r.tuning;
    delete r.per_sample_file;
    r.warnings = [];
    const html = renderReportHtml(r);
    assert.deepEqual(sectionIds(html), ['run', 'summary', 'tradeoff', 'results']);
    assert.match(html, /No warnings were raised/);
    assert.doesNotMatch(html, /<img /);
    assert.doesNotMatch(html, /href="#(transfer|curves|examples|tuning)"/);

    const empty = sampleReport();
    empty.transfer = { attack: 'ifgsm', source_kappas: [], target_kappas: [], accuracy: [] };
    empty.transfers = [empty.transfer];
    empty.curves = [];
    empty.examples = [];
    const html2 = renderReportHtml(empty);
    assert.deepEqual(sectionIds(html2).filter((id) => id !== 'warnings'), ['run', 'summary', 'tradeoff', 'results', 'tuning']);
  });

  test('a report with no results at all still renders', () => {
    const r = sampleReport();
    r.clean = [];
    r.results = [];
    r.settings.attacks = {};
    r.settings.kappas = [];
    delete r.transfer;
    delete r.transfers;
    delete r.curves;
    delete r.examples;
    delete r.tuning;
    const html = renderReportHtml(r);
    assert.deepEqual(sectionIds(html).filter((id) => id !== 'warnings'), ['run', 'summary', 'results']);
    assert.match(html, /No results in this report/);
    assert.match(html, /No attacks configured/);
    assert.doesNotMatch(html, /NaN|Infinity|undefined/);
    assertSelfContained(html);
  });

  test('a single κ gives charts with one x tick and markers but no crash or NaN', () => {
    const r = sampleReport();
    r.settings.kappas = [0.5];
    r.clean = r.clean.filter((c) => c.kappa === 0.5);
    r.results = r.results.filter((x) => x.kappa === 0.5);
    r.transfer = { attack: 'ifgsm', source_kappas: [0.5], target_kappas: [0.5], accuracy: [[0.214]] };
    r.transfers = [r.transfer];
    r.curves = r.curves!.filter((c) => c.kappa === 0.5);
    r.tuning!.candidates = r.tuning!.candidates.filter((c) => c.kappa === 0.5);
    r.tuning!.chosen_kappa = 0.5;
    const html = renderReportHtml(r);
    assert.deepEqual(sectionIds(html).filter((id) => id !== 'warnings'), SECTIONS);
    assert.doesNotMatch(html, /NaN|Infinity|undefined/);
    // No κ = 0 candidate: the budget cannot be placed and the page says so.
    assert.match(html, /budget line not drawn/);
    assertSelfContained(html);
  });

  test('NaN, null and missing numbers render as "—"', () => {
    const r = sampleReport();
    const x = r.results[0]!;
    x.accuracy = Number.NaN;
    (x as { rho_all: number | null }).rho_all = null;
    x.wall_s = Number.POSITIVE_INFINITY;
    (x as { iterations_mean?: number }).iterations_mean = undefined;
    r.clean[1]!.accuracy = Number.NaN;
    r.transfers![0]!.accuracy[1] = [Number.NaN, 0.2];
    r.transfers![1]!.accuracy.pop(); // a ragged matrix: the last row is missing
    r.curves![0]!.accuracy[3] = Number.NaN;
    r.tuning!.candidates[2]!.robust_accuracy = Number.NaN;
    (r.data.bounds as { min: number | null }).min = null;
    const html = renderReportHtml(r);
    assert.doesNotMatch(html, /NaN|Infinity|undefined|null/);
    assert.ok((html.match(/—/g) ?? []).length >= 8);
    assert.match(html, /<td class="num">—<\/td>/);
    assert.match(html, /\[—, 2\.821544\]/);
    assertSelfContained(html);
  });

  test('every string from the report is HTML-escaped', () => {
    const evil = '<script>alert("x")</script>&\'';
    const r = sampleReport();
    r.model.path = `/models/${evil}.onnx`;
    r.model.sha256 = evil;
    r.data.path = evil;
    r.created = evil;
    r.tool.version = evil;
    r.warnings = [evil, '<b>bold</b>'];
    r.settings.attacks = { [evil]: { [evil]: evil, eps: 0.1 } };
    r.settings.modes = [evil];
    for (const x of r.results) x.attack = `<img src=x onerror=alert(1)>${x.attack}`;
    for (const t of r.transfers!) t.attack = evil;
    for (const c of r.curves!) c.attack = evil;
    for (const e of r.examples!) e.attack = evil;
    r.tuning!.objective = evil;
    r.per_sample_file = evil;
    r.settings.per_layer_kappa = { [evil]: { [evil]: 0.5 } };
    const html = renderReportHtml(r);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img src=x/);
    assert.doesNotMatch(html, /<b>bold/);
    assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;&amp;&#39;/);
    assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;deepfool2 · white-box/);
    // Nothing escaped breaks out of an attribute either: every attribute value is free of raw quotes/brackets.
    for (const m of html.matchAll(/="([^"]*)"/g)) assert.doesNotMatch(m[1]!, /[<>]/, m[0]);
  });

  test('colour (3-channel) examples, and malformed examples are skipped with a note', () => {
    const r = sampleReport();
    r.examples = cifarLikeExamples();
    const html = renderReportHtml(r);
    assert.equal((html.match(/<img /g) ?? []).length, 5);
    assert.match(html, /κ = 0\.4/);
    r.examples.push({ ...r.examples[0]!, kappa: 2, adversarial: [0.5] });
    const html2 = renderReportHtml(r);
    assert.match(html2, /1 example\(s\) skipped/);
  });

  test('tuning with no chosen κ says so', () => {
    const r = sampleReport();
    r.tuning!.chosen_kappa = null;
    const html = renderReportHtml(r);
    assert.match(html, /none<\/span> — no candidate met the budget/);
    assert.doesNotMatch(html, /class="chosen"/);
  });
});

describe('encodePng', () => {
  function chunks(png: Uint8Array): Array<{ type: string; data: Buffer }> {
    const b = Buffer.from(png);
    assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const out: Array<{ type: string; data: Buffer }> = [];
    for (let o = 8; o < b.length; ) {
      const len = b.readUInt32BE(o);
      const type = b.toString('latin1', o + 4, o + 8);
      const data = b.subarray(o + 8, o + 8 + len);
      assert.equal(b.readUInt32BE(o + 8 + len), crc32(b.subarray(o + 4, o + 8 + len)), `CRC of ${type}`);
      out.push({ type, data });
      o += 12 + len;
    }
    return out;
  }

  for (const channels of [1, 3] as const) {
    test(`${channels}-channel image: valid chunks and CRCs, pixels round-trip through inflate`, () => {
      const w = 5;
      const h = 3;
      const pixels = Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 37) % 256);
      const cs = chunks(encodePng(w, h, channels, pixels));
      assert.deepEqual(cs.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
      const ihdr = cs[0]!.data;
      assert.equal(ihdr.readUInt32BE(0), w);
      assert.equal(ihdr.readUInt32BE(4), h);
      assert.equal(ihdr[8], 8);
      assert.equal(ihdr[9], channels === 1 ? 0 : 2);
      const raw = inflateSync(cs[1]!.data);
      const stride = w * channels;
      assert.equal(raw.length, h * (stride + 1));
      for (let y = 0; y < h; y++) {
        assert.equal(raw[y * (stride + 1)], 0);
        assert.deepEqual([...raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))], [...pixels.subarray(y * stride, (y + 1) * stride)]);
      }
    });
  }

  test('rejects a pixel buffer of the wrong size', () => {
    assert.throws(() => encodePng(2, 2, 3, new Uint8Array(11)), RangeError);
    assert.throws(() => encodePng(0, 2, 1, new Uint8Array(0)), RangeError);
  });
});

// --- headless Chromium (test/helpers/chromium.ts) ---------------------------------------------------------

describe('report.html in headless Chromium', () => {
  test('renders the sample report and a sparse one without console errors, fetches nothing, plots and images present', async (t) => {
    if (!fs.existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this check`);
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-report-'));
    try {
      const full = path.join(dir, 'report.html');
      fs.writeFileSync(full, renderReportHtml(sampleReport()));
      // A sparse report: one κ, colour examples, NaNs, no transfer/curves/tuning, no warnings.
      const sparse = sampleReport();
      sparse.settings.kappas = [0, 0.4];
      sparse.clean = [{ kappa: 0, n: 1000, accuracy: 0.912 }, { kappa: 0.4, n: 1000, accuracy: Number.NaN }];
      sparse.results = sparse.results.filter((x) => x.kappa === 0 && x.mode === 'white-box');
      sparse.examples = cifarLikeExamples();
      sparse.warnings = [];
      delete sparse.transfer;
      delete sparse.transfers;
      delete sparse.curves;
      delete sparse.tuning;
      const sparseFile = path.join(dir, 'sparse.html');
      fs.writeFileSync(sparseFile, renderReportHtml(sparse));

      const shots = process.env.JUMPRELU_REPORT_SCREENSHOTS;
      if (shots) fs.mkdirSync(shots, { recursive: true });
      // JUMPRELU_REPORT_JSON=FILE: also render and check a real report.json (e.g. from `jumprelu eval --report`).
      const files = [full, sparseFile];
      const extra = process.env.JUMPRELU_REPORT_JSON;
      if (extra) {
        files.push(path.join(dir, 'extra.html'));
        fs.writeFileSync(files[2]!, renderReportHtml(JSON.parse(fs.readFileSync(extra, 'utf8')) as Report));
      }
      const run = await inChromium(files, shots, path.join(dir, 'profile'));
      assert.deepEqual(run.problems, [], 'no console errors, exceptions or failed loads');
      const fetched = run.requests.filter((u) => !u.startsWith('data:'));
      assert.deepEqual(fetched, files.map((f) => pathToFileURL(f).href), 'only the pages themselves are loaded');
      if (extra) {
        const c = run.checks[2]!;
        assert.ok(c.sections.includes('tradeoff') && c.sections.includes('results'), JSON.stringify(c.sections));
        assert.equal(c.zeroSizeCharts, 0);
        assert.equal(c.chartsWithMarks, c.charts);
        assert.deepEqual(c.brokenImages, []);
        assert.equal(c.textHasNaN, false);
      }

      const [a, b] = run.checks as [PageCheck, PageCheck];
      assert.match(a.title, /^JumpReLU evaluation report/);
      assert.deepEqual(a.sections, ['warnings', ...SECTIONS]);
      assert.equal(a.charts, 7);
      assert.equal(a.chartsWithMarks, 7);
      assert.equal(a.zeroSizeCharts, 0);
      assert.equal(a.heatCells, 32);
      assert.equal(a.images, 15);
      assert.deepEqual(a.brokenImages, [], 'every PNG decodes');
      assert.ok(a.scrollWidth <= 1280, `no horizontal page overflow (scrollWidth ${a.scrollWidth})`);
      assert.equal(a.textHasNaN, false);

      assert.deepEqual(b.sections, ['run', 'summary', 'tradeoff', 'results', 'examples']);
      assert.equal(b.charts, 2);
      assert.equal(b.zeroSizeCharts, 0);
      assert.equal(b.images, 5);
      assert.deepEqual(b.brokenImages, []);
      assert.equal(b.textHasNaN, false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the check itself sees console errors, exceptions and failed loads (negative control)', async (t) => {
    if (!fs.existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this check`);
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-report-bad-'));
    try {
      const bad = path.join(dir, 'bad.html');
      fs.writeFileSync(
        bad,
        '<!DOCTYPE html><html><head><title>bad</title><link rel="icon" href="data:,"></head><body>' +
          '<img src="missing.png" alt="missing"><script>console.error("boom"); notDefined();</script></body></html>',
      );
      const run = await inChromium([bad], undefined, path.join(dir, 'profile'));
      const text = run.problems.join('\n');
      assert.match(text, /console\.error: .*boom/);
      assert.match(text, /exception: .*notDefined/);
      assert.match(text, /loading failed/);
      assert.ok(run.requests.some((u) => u.endsWith('/missing.png')));
      assert.deepEqual(run.checks[0]!.brokenImages, ['missing']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
