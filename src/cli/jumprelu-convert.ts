#!/usr/bin/env node
// `jumprelu-convert IN OUT --kappa K` — the same as `jumprelu convert`. Its argv is parsed by the small
// parser in convert-options.ts, not yargs, and the converter is imported only when a conversion runs:
// start-up time (docs/converter.md).
import { type ParsedConvertArgv, convertHelp, parseConvertArgv } from './convert-options.js';
import { isVerbose, reportError } from './errors.js';

const PROG = 'jumprelu-convert';
const argv = process.argv.slice(2);
// `jumprelu-convert m.onnx --list | head`: a reader that stops early is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
try {
  const parsed: ParsedConvertArgv = parseConvertArgv(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(convertHelp(PROG));
  } else if (parsed.kind === 'version') {
    const { toolVersion } = await import('../runtime/version.js');
    process.stdout.write(`${toolVersion()}\n`);
  } else {
    const { runConvert } = await import('./convert-command.js');
    await runConvert(parsed.args);
  }
} catch (err) {
  process.exitCode = reportError(PROG, err, isVerbose(argv));
}
