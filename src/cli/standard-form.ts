// onnxruntime-node cannot load the custom-op library (its binding never calls RegisterCustomOpsLibrary),
// so the commands that run or differentiate a model in Node rewrite `--target custom` sites into a
// standard lowering that computes the same function, and say so: ThresholdedRelu for a scalar κ (bit for
// bit the custom kernel's output), Greater+Where for a per-channel κ or an opset below 10 (the same
// values; a passed -0.0 comes out as +0.0). The rewrite goes through the retrofit pass, which re-lowers
// recorded sites by target and keeps their κ and gradient κ.

import { CUSTOM_DOMAIN, findSites, graphsWithPaths } from '../passes/sites.js';
import { UnsupportedModelError } from '../ir/errors.js';
import type { Model } from '../ir/model.js';
import type { KappaMap } from '../passes/kappa-map.js';
import { retrofit } from '../index.js';

export interface StandardFormResult {
  /** Custom-op sites rewritten to ThresholdedRelu and to Greater+Where. */
  thresholdedRelu: number;
  where: number;
}

/** Number of com.jumprelu nodes in every graph of the model. */
function customNodeCount(model: Model): number {
  let n = 0;
  for (const { graph } of graphsWithPaths(model)) for (const node of graph.nodes) if (node.domain === CUSTOM_DOMAIN) n++;
  return n;
}

/**
 * Rewrites the model's custom-op JumpReLU sites (in place) into standard ONNX ops. Refuses a model whose
 * com.jumprelu nodes are not all sites recorded by this tool (nothing then says what their κ is).
 */
export function customToStandardForm(model: Model): StandardFormResult {
  const result: StandardFormResult = { thresholdedRelu: 0, where: 0 };
  const total = customNodeCount(model);
  if (total === 0) return result;
  const sites = findSites(model).filter((s) => s.kind === 'jumprelu' && s.record?.target === 'custom');
  if (sites.length !== total) {
    throw new UnsupportedModelError(`the model has ${total} ${CUSTOM_DOMAIN} node(s) but only ${sites.length} recorded JumpReLU site(s): ` +
      'onnxruntime-node cannot load the custom-op library and the other nodes\' κ is unknown; convert the original model with --target thresholded-relu',
      { code: 'custom-sites-unrecorded' });
  }
  const opset = model.opsetVersion('') ?? 0n;
  const byTarget = { 'thresholded-relu': new Map(), where: new Map() } satisfies Record<string, KappaMap['byIndex']>;
  for (const s of sites) {
    const r = s.record!;
    const target = typeof r.kappa === 'number' && opset >= 10n && !s.graphPath.startsWith('function ') ? 'thresholded-relu' : 'where';
    byTarget[target].set(s.index, { kappa: r.kappa, ...(r.grad_kappa !== undefined ? { gradKappa: r.grad_kappa } : {}) });
  }
  // One retrofit per target; site indices stay the same because the rewrite keeps every site.
  for (const target of ['thresholded-relu', 'where'] as const) {
    const byIndex = byTarget[target];
    if (byIndex.size === 0) continue;
    const report = retrofit(model, { target, onlyMapped: true, kappaMap: { byName: new Map(), byIndex, byRegex: [] } });
    const done = report.sites.filter((s) => s.action === 'updated').length;
    if (target === 'thresholded-relu') result.thresholdedRelu = done;
    else result.where = done;
  }
  const left = customNodeCount(model);
  if (left !== 0) throw new UnsupportedModelError(`${left} ${CUSTOM_DOMAIN} node(s) could not be rewritten into standard ops`, { code: 'custom-sites-unrecorded' });
  return result;
}

/** The stderr line that says what customToStandardForm did (empty when it did nothing); `why` starts it. */
export function describeStandardForm(r: StandardFormResult, why: string): string {
  const n = r.thresholdedRelu + r.where;
  if (n === 0) return '';
  const parts = [r.thresholdedRelu ? `${r.thresholdedRelu} as ThresholdedRelu` : '', r.where ? `${r.where} as Greater+Where` : ''].filter(Boolean);
  return `note: ${why}: the model's ${n} ${CUSTOM_DOMAIN}::JumpRelu site(s) are rewritten into standard ops with the same κ ` +
    `(${parts.join(', ')}; same outputs)\n`;
}
