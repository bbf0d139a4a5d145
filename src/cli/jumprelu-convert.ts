#!/usr/bin/env node
// `jumprelu-convert IN OUT --kappa K` — the same as `jumprelu convert`, through the same yargs-free
// entry point (convert-main.ts: start-up time, docs/converter.md).
import { convertMain } from './convert-main.js';

await convertMain(process.argv.slice(2), { usage: 'jumprelu-convert', prog: 'jumprelu-convert' });
