// Forgets every message's source bytes and field order, so the next encode writes the whole model
// canonically. Tests use it to check that the canonical encoder alone preserves meaning (the
// byte-exact round trip would otherwise be carried by the source bytes).

import type { Model } from './model.js';

export function dropSourceBytes(model: Model): void {
  model.layout = null;
  for (const o of model.opsetImports) o.origin = null;
  for (const m of model.metadataProps) m.origin = null;
  for (const f of model.functions) {
    f.layout = null;
    for (const o of f.opsetImports) o.origin = null;
    for (const a of f.attributeDefaults) a.origin = null;
  }
  for (const g of model.graphs()) {
    g.layout = null;
    for (const info of [...g.inputInfos, ...g.outputInfos, ...g.valueInfos.map((e) => e.info)]) info.origin = null;
    for (const n of g.nodes) {
      n.origin = null;
      for (const a of n.attributes.values()) a.origin = null;
    }
  }
}
