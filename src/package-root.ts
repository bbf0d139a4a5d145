// Where this package is installed: the folder holding its package.json. The CLI uses it to find the
// bundled default models (fixtures/default) and the custom-op sources (customops/).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JumpReluError } from './ir/errors.js';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'jumprelu') return (cached = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new JumpReluError('cannot find the jumprelu package folder');
    dir = up;
  }
}
