// One conversion in a fresh process, for the benchmark: prints wall time and peak RSS as JSON. It
// imports what `jumprelu-convert` imports (not the package entry, which loads the harness and ORT).
import { loadModel, saveModel } from '../src/ir/io.js';
import { retrofit } from '../src/passes/retrofit.js';

const [input, output] = process.argv.slice(2) as [string, string];
const t0 = performance.now();
const model = loadModel(input);
retrofit(model, { kappa: 0.07 });
saveModel(model, output);
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ ms, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
