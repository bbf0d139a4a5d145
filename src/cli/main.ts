// Shared bin plumbing: yargs setup, one-line errors, exit codes.

import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError } from '../ir/errors.js';
import { isVerbose, reportError } from './errors.js';

export async function runCli(prog: string, configure: (y: Argv) => Argv): Promise<void> {
  const argv = hideBin(process.argv);
  const verbose = isVerbose(argv);
  try {
    await configure(yargs(argv).scriptName(prog))
      .strict()
      .help()
      .version(false)
      .fail((msg, err) => {
        throw err ?? new UsageError(msg);
      })
      .parseAsync();
  } catch (err) {
    process.exitCode = reportError(prog, err, verbose);
  }
}
