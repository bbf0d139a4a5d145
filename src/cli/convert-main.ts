// The converter's command line without yargs, shared by the `jumprelu-convert` bin and `jumprelu convert`:
// argv is read by the small parser in convert-options.ts and the converter is imported only when a
// conversion (or --list/--dry-run) runs, so neither bin loads yargs or onnxruntime-node for the converter
// (start-up time, issue 10: docs/converter.md; test/cli-startup.test.ts checks the modules loaded).

import { type ParsedConvertArgv, convertHelp, parseConvertArgv } from './convert-options.js';
import { isVerbose, reportError } from './errors.js';
import { exitQuietlyOnEpipe } from './stdout-epipe.js';

/**
 * Runs the convert command on `argv` (what follows the bin, or `jumprelu convert`). `usage` starts the
 * --help text ('jumprelu-convert', 'jumprelu convert'); `prog` starts error lines. Sets the exit code.
 */
export async function convertMain(argv: readonly string[], names: { usage: string; prog: string }): Promise<void> {
  exitQuietlyOnEpipe();
  try {
    const parsed: ParsedConvertArgv = parseConvertArgv(argv);
    if (parsed.kind === 'help') {
      process.stdout.write(convertHelp(names.usage));
    } else if (parsed.kind === 'version') {
      await printVersion();
    } else {
      const { runConvert } = await import('./convert-command.js');
      await runConvert(parsed.args);
    }
  } catch (err) {
    process.exitCode = reportError(names.prog, err, isVerbose(argv));
  }
}

/** `--version`: the package version on stdout (the only module it needs is version.js). */
export async function printVersion(): Promise<void> {
  const { toolVersion } = await import('../runtime/version.js');
  process.stdout.write(`${toolVersion()}\n`);
}
