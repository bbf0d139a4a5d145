// Escaping and number formatting shared by the report page's pieces. Every string that comes from a report
// goes through esc() before it reaches the page; every number goes through one of the formatters, which
// print "—" for null, undefined, NaN and ±Infinity.

export const MISSING = '—';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and for quoted attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A fraction as a percentage with `digits` decimals ("99.55"), without the % sign. */
export function pct(v: unknown, digits = 2): string {
  return isNum(v) ? (v * 100).toFixed(digits) : MISSING;
}

/** A plain number with at most `digits` significant decimals, trailing zeros trimmed. */
export function num(v: unknown, digits = 4): string {
  if (!isNum(v)) return MISSING;
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-4)) return v.toExponential(2);
  const s = v.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** A number with exactly `digits` decimals. */
export function fixed(v: unknown, digits: number): string {
  return isNum(v) ? v.toFixed(digits) : MISSING;
}

/** A number with `digits` significant digits (no exponent for the usual magnitudes). */
export function sig(v: unknown, digits: number): string {
  if (!isNum(v)) return MISSING;
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-4)) return v.toExponential(digits - 1);
  if (v === 0) return '0';
  return Math.abs(v) >= 10 ** digits ? v.toFixed(0) : v.toPrecision(digits);
}

/** κ values: short, exact for the usual grids (0, 0.25, 1.5). */
export function kappaText(v: unknown): string {
  return num(v, 4);
}

/** Number of seconds with a sensible precision. */
export function seconds(v: unknown): string {
  if (!isNum(v)) return MISSING;
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** An id fragment usable in HTML id attributes, from arbitrary text. */
export function slug(text: string): string {
  const s = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return s || 'x';
}

/** Any value for a settings table: numbers formatted, strings escaped, booleans as yes/no. */
export function valueText(v: unknown): string {
  if (typeof v === 'number') return num(v, 6);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v === null || v === undefined) return MISSING;
  if (Array.isArray(v)) return v.length === 0 ? MISSING : v.map((x) => valueText(x)).join(', ');
  return esc(v);
}
