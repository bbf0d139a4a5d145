// Runs passes in order and verifies the IR before the first and after each one, so a broken
// invariant is reported against the pass that broke it rather than as an invalid output file.

import { assertValid, runVerified } from '../ir/verify.js';
import type { Model } from '../ir/model.js';

export interface Pass<R = unknown> {
  readonly name: string;
  run(model: Model): R;
}

export interface PassRecord {
  pass: string;
  result: unknown;
  ms: number;
}

export class PassManager {
  private readonly passes: Pass[] = [];

  add(pass: Pass): this {
    this.passes.push(pass);
    return this;
  }

  run(model: Model): PassRecord[] {
    assertValid(model, 'input model', 'verify-input');
    const records: PassRecord[] = [];
    for (const pass of this.passes) {
      const t0 = performance.now();
      const result = runVerified(model, pass.name, (m) => pass.run(m), false);
      records.push({ pass: pass.name, result, ms: performance.now() - t0 });
    }
    return records;
  }
}
