// The library's retrofit: the JumpReLU pass run through the pass manager, which verifies the graph
// before and after. Its own module (not the package entry) so the convert command can load it without
// the runtime and onnxruntime-node.

import type { Model } from '../ir/model.js';
import { type RetrofitOptions, type RetrofitReport, jumpReluPass } from './jumprelu.js';
import { PassManager } from './pass-manager.js';

/** Replaces the model's ReLUs with JumpReLU (in place). Returns what happened to every site. */
export function retrofit(model: Model, options: RetrofitOptions): RetrofitReport {
  const [record] = new PassManager().add(jumpReluPass(options)).run(model);
  return record!.result as RetrofitReport;
}
