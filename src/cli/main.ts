// Shared bin plumbing: yargs setup, one-line errors, exit codes.

import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError } from '../ir/errors.js';
import { toolVersion } from '../runtime/version.js';
import { isVerbose, reportError } from './errors.js';
import { exitQuietlyOnEpipe } from './stdout-epipe.js';

export async function runCli(prog: string, configure: (y: Argv) => Argv): Promise<void> {
  const argv = hideBin(process.argv);
  exitQuietlyOnEpipe();
  const verbose = isVerbose(argv);
  try {
    await configure(yargs(argv).scriptName(prog))
      .strict()
      .help()
      .version('version', 'print the version and exit', toolVersion())
      .fail((msg, err) => {
        // yargs reports its own validation (and coerce) failures as YError: those are usage errors.
        if (!err || err.name === 'YError') throw new UsageError(err?.message ?? msg);
        throw err;
      })
      .parseAsync();
  } catch (err) {
    process.exitCode = reportError(prog, err, verbose);
  }
}
