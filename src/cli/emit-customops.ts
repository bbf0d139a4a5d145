// --emit-customops DIR: build the custom-op library from customops/ and copy it, with its usage
// note, into DIR.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JumpReluError } from '../ir/errors.js';
import { packageRoot } from '../package-root.js';

export function emitCustomOps(destDir: string): string {
  const root = packageRoot();
  const script = path.join(root, 'customops', 'build.sh');
  if (!fs.existsSync(script)) throw new JumpReluError('customops/build.sh is missing from this installation');
  const r = spawnSync('bash', [script, path.join(root, 'customops', 'build')], { encoding: 'utf8' });
  if (r.status !== 0) throw new JumpReluError(`building the custom-op library failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  const lib = r.stdout.trim().split('\n').pop()!;
  if (!fs.existsSync(lib)) throw new JumpReluError(`custom-op build did not produce a library (${lib})`);
  fs.mkdirSync(destDir, { recursive: true });
  const dest = path.join(destDir, path.basename(lib));
  fs.copyFileSync(lib, dest);
  const usage = path.join(root, 'customops', 'USAGE.md');
  if (fs.existsSync(usage)) fs.copyFileSync(usage, path.join(destDir, 'JUMPRELU_CUSTOMOPS.md'));
  return dest;
}
