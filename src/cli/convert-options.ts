// The convert command's options, in one table that both command lines read: `jumprelu convert` builds
// its yargs command from it, and the `jumprelu-convert` bin parses its argv with the small parser below
// instead of loading yargs, whose import is most of a bare --help's start-up time (issue 10: ≤ 60 ms
// over `node -e ''`; docs/converter.md). The parser takes what yargs takes for these options
// (--opt value, --opt=value, -k value, -k0.5, --no-flag, --flag=false, camelCase spellings, `--`) and
// refuses what yargs refuses, with the same one-line messages (usage errors, exit 2).

import { UsageError } from '../ir/errors.js';
import { TARGETS } from '../retrofit/record.js';
import { KAPPA_MAP_OPTIONS, SITE_OPTIONS } from './site-options.js';

export interface ConvertArgs {
  input: string;
  output?: string;
  kappa?: number;
  kappaMap?: string;
  onlyMapped?: boolean;
  gradKappa?: number;
  target: string;
  relu6?: boolean;
  require?: string;
  list?: boolean;
  dryRun?: boolean;
  json?: boolean;
  inPlace?: boolean;
  externalData?: number;
  externalDataLocation?: string;
  emitCustomops?: string;
  verbose?: boolean;
}

export interface ConvertOption {
  /** The option's name on the command line (kebab case). */
  name: string;
  alias?: string;
  type: 'string' | 'boolean';
  describe: string;
  /** A number given as a string, checked strictly (see strictNumber). */
  number?: boolean;
  choices?: readonly string[];
  default?: string;
}

export const CONVERT_COMMAND = { usage: '<input> [output]', describe: 'replace ReLU with JumpReLU' };

export const CONVERT_POSITIONALS = [
  { name: 'input', describe: 'ONNX model to convert' },
  { name: 'output', describe: 'where to write the converted model' },
] as const;

export const CONVERT_OPTIONS: readonly ConvertOption[] = [
  { name: 'kappa', alias: 'k', type: 'string', number: true, describe: 'κ for every ReLU site (finite, ≥ 0)' },
  ...KAPPA_MAP_OPTIONS,
  { name: 'grad-kappa', type: 'string', number: true, describe: 'κ used for gradients (recorded for the gradient compiler)' },
  { name: 'target', type: 'string', choices: TARGETS, default: 'thresholded-relu', describe: 'how JumpReLU is written in ONNX' },
  ...SITE_OPTIONS,
  { name: 'list', type: 'boolean', describe: 'print the ReLU sites and exit' },
  { name: 'dry-run', type: 'boolean', describe: 'print what would change and exit' },
  { name: 'json', type: 'boolean', describe: 'machine-readable summary on stdout' },
  { name: 'in-place', type: 'boolean', describe: 'allow OUT to be IN (or omit OUT)' },
  { name: 'external-data', type: 'string', number: true, describe: 'store initializers of at least this many bytes in OUT.data' },
  { name: 'external-data-location', type: 'string', describe: 'file name for --external-data (relative to OUT)' },
  { name: 'emit-customops', type: 'string', describe: 'copy the prebuilt custom-op libraries and a usage note to this folder' },
  { name: 'verbose', alias: 'v', type: 'boolean', describe: 'stack traces on errors' },
];

/**
 * yargs reads `--kappa=` and `--kappa ' '` as 0; a κ the user did not give must not silently become 0.
 * Range checks (finite, ≥ 0) happen in the library, which names the option too.
 */
export function strictNumber(option: string): (raw: unknown) => number | undefined {
  return (raw: unknown) => {
    if (raw === undefined) return undefined;
    if (Array.isArray(raw)) throw new UsageError(`${option} given more than once`);
    const text = String(raw).trim();
    if (text === '') throw new UsageError(`${option} needs a value`);
    const n = Number(text);
    if (Number.isNaN(n) && !/^[+-]?nan$/i.test(text)) throw new UsageError(`${option} must be a number, got '${text}'`);
    return n;
  };
}

const camel = (s: string): string => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export type ParsedConvertArgv = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; args: ConvertArgs };

/** Parses the `jumprelu-convert` argv (without node and the script) as yargs would with CONVERT_OPTIONS. */
export function parseConvertArgv(argv: readonly string[]): ParsedConvertArgv {
  const byName = new Map<string, ConvertOption>();
  for (const o of CONVERT_OPTIONS) {
    byName.set(o.name, o);
    byName.set(camel(o.name), o);
    if (o.alias) byName.set(o.alias, o);
  }
  const values = new Map<ConvertOption, unknown[]>();
  const positionals: string[] = [];
  const unknown: string[] = [];
  let help = false;
  let version = false;
  const looksLikeOption = (a: string | undefined): boolean => a !== undefined && /^-(-|[^\d.-])/.test(a);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break; // yargs sets what follows aside: it fills no positional and no option
    if (!a.startsWith('-') || a === '-' || /^-\d|^-\.\d/.test(a)) {
      positionals.push(a);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    } else {
      name = a.slice(1, 2); // -k0.5, -k=0.5, -k 0.5
      const rest = a.slice(2);
      inline = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
    }
    if (a.startsWith('--') && name === 'help') { help = true; continue; }
    if (a.startsWith('--') && name === 'version') { version = true; continue; }
    let negated = false;
    let opt = byName.get(name);
    if (!opt && name.startsWith('no-') && byName.has(name.slice(3))) {
      opt = byName.get(name.slice(3));
      negated = true;
    }
    if (!opt) {
      unknown.push(name);
      if (inline === undefined && argv[i + 1] !== undefined && !looksLikeOption(argv[i + 1])) {
        // yargs takes the next word as the unknown option's value, not as a positional.
        i++;
      }
      continue;
    }
    let value: unknown;
    if (negated) {
      value = opt.type === 'boolean' && inline !== undefined ? (inline === 'false' || inline === '0') : false;
    } else if (opt.type === 'boolean') {
      if (inline !== undefined) value = inline !== 'false' && inline !== '0';
      else if (argv[i + 1] === 'true' || argv[i + 1] === 'false') value = argv[++i] === 'true';
      else value = true;
    } else if (inline !== undefined) {
      value = inline;
    } else if (argv[i + 1] !== undefined && !looksLikeOption(argv[i + 1])) {
      value = argv[++i];
    } else {
      value = '';
    }
    let list = values.get(opt);
    if (!list) values.set(opt, (list = []));
    list.push(value);
  }
  if (help) return { kind: 'help' };
  if (version) return { kind: 'version' };
  if (positionals.length === 0) throw new UsageError('Not enough non-option arguments: got 0, need at least 1');
  unknown.push(...positionals.slice(2));
  if (unknown.length > 0) throw new UsageError(`Unknown argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  const args: Record<string, unknown> = { input: positionals[0] };
  if (positionals[1] !== undefined) args['output'] = positionals[1];
  for (const opt of CONVERT_OPTIONS) {
    const given = values.get(opt);
    let v: unknown = given === undefined ? opt.default : given.length === 1 ? given[0] : given;
    if (v === undefined) continue;
    if (opt.choices && given !== undefined) {
      const bad = given.filter((g) => !opt.choices!.includes(String(g)));
      if (bad.length > 0) {
        throw new UsageError(`Invalid values: Argument: ${opt.name}, Given: ${bad.map((b) => JSON.stringify(b)).join(', ')}, Choices: ${opt.choices.map((c) => JSON.stringify(c)).join(', ')}`);
      }
    }
    if (opt.number) v = strictNumber(`--${opt.name}`)(v);
    else if (Array.isArray(v) && opt.type === 'string') throw new UsageError(`--${opt.name} given more than once`);
    else if (Array.isArray(v)) v = v[v.length - 1];
    args[camel(opt.name)] = v;
  }
  return { kind: 'run', args: args as unknown as ConvertArgs };
}

/** The bin's --help: the usage line, the positionals and the options with their types, choices and defaults. */
export function convertHelp(prog: string): string {
  const rows: Array<[string, string, string]> = [];
  const pos = CONVERT_POSITIONALS.map((p) => [`  ${p.name}`, p.describe, '[string]'] as [string, string, string]);
  rows.push(['      --help', 'Show help', '[boolean]'], ['      --version', 'print the version and exit', '[boolean]']);
  for (const o of CONVERT_OPTIONS) {
    const tags = [`[${o.type}]`];
    if (o.choices) tags.push(`[choices: ${o.choices.map((c) => JSON.stringify(c)).join(', ')}]`);
    if (o.default !== undefined) tags.push(`[default: ${JSON.stringify(o.default)}]`);
    rows.push([`  ${o.alias ? `-${o.alias}, ` : '    '}--${o.name}`, o.describe, tags.join(' ')]);
  }
  const width = Math.max(...[...pos, ...rows].map((r) => r[0].length)) + 2;
  const line = (r: [string, string, string]): string => `${r[0].padEnd(width)}${r[1]}  ${r[2]}`;
  return [
    `${prog} ${CONVERT_COMMAND.usage}`, '', CONVERT_COMMAND.describe, '',
    'Positionals:', ...pos.map(line), '', 'Options:', ...rows.map(line), '',
  ].join('\n');
}
