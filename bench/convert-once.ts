// One conversion in a fresh process, for the benchmark: prints wall time and peak RSS as JSON.
import { loadModel, retrofit, saveModel } from '../src/index.js';

const [input, output] = process.argv.slice(2) as [string, string];
const t0 = performance.now();
const model = loadModel(input);
retrofit(model, { kappa: 0.07 });
saveModel(model, output);
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ ms, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
