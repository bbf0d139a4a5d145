// `jumprelu merge DIR… --report OUT`: combine the shard reports of one `jumprelu eval --shard i/n` run into the
// report the unsharded run gives (src/runtime/merge.ts; docs/scale-out.md "Shards and merge").

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { mergeReports } from '../runtime/merge.js';
import { formatTable } from './eval-command.js';
import { withInterruptsHeld } from './interrupt.js';

export interface MergeArgs {
  dirs: string[];
  report: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

export async function runMerge(a: MergeArgs): Promise<void> {
  // Ctrl-C while the merged report is written: held until the atomic writes finish (interrupt.ts). mergeReports
  // reads, merges and writes synchronously (its writes have no await), so the hold covers all of it.
  const run = await withInterruptsHeld(a.report, () => mergeReports(a.dirs.map(String), a.report));
  if (!a.json && !a.quiet) process.stderr.write(`merged ${a.dirs.length} shards: wrote ${run.written.json}, ${run.written.html}, ${run.written.perSample}\n`);
  process.stdout.write(a.json ? `${JSON.stringify(run.report, null, 1)}\n` : `${formatTable(run.report)}\n`);
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <dirs..>',
  describe: 'combine the shard reports of `eval --shard i/n` (all n of them) into the unsharded run\'s report',
  builder: (y) => y
    .positional('dirs', { type: 'string', array: true, describe: 'the shard report folders', demandOption: true })
    .option('report', { type: 'string', demandOption: true, describe: 'folder for the merged report.json, report.html and per-sample.jsonl' })
    .option('json', { type: 'boolean', describe: 'print the merged report.json to stdout instead of the table' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no summary line on stderr' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'stack traces on errors' }) as unknown as Argv<MergeArgs>,
  handler: async (argv: ArgumentsCamelCase<MergeArgs>) => runMerge(argv),
};
