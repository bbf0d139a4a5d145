// Where this package is installed: the folder holding jumprelu's package.json, found by walking up
// from this module (src/ or dist/src/). The CLI uses it to find the bundled default models
// (fixtures/default) and the custom-op sources (customops/); reports quote its version; tests use it
// as the repository root.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JumpReluError } from './ir/errors.js';

let cached: { root: string; version: string } | undefined;

function find(): { root: string; version: string } {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        const json = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
        if (json.name === 'jumprelu') return (cached = { root: dir, version: json.version ?? '0.0.0' });
      } catch {
        // not ours (or unreadable): keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new JumpReluError('cannot find the jumprelu package folder');
    dir = up;
  }
}

export function packageRoot(): string {
  return find().root;
}

export function packageVersion(): string {
  return find().version;
}
