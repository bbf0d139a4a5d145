// The κ models of a run, built when first asked for and released when the run moves on: at most `capacity`
// of them hold ONNX Runtime sessions at once (least recently used released first). A κ model's memory is its
// IR (the weights), its forward session and the gradient sessions its attacks asked for; a run's peak memory is
// then that of its largest single κ setting, not the sum over the grid. evaluate() walks κ in order in each
// phase, so capacity 1 costs at most a few forward-session rebuilds per κ, never a second gradient build for
// the same (κ, attack).

import type { ModelOracle } from './oracle.js';

/** κ models alive at once in evaluate() (documented in docs/harness.md, 'Memory'). */
export const ORACLE_POOL_CAPACITY = 1;

export class OraclePool {
  /** Alive oracles, least recently used first (a Map keeps insertion order). */
  private readonly live = new Map<number, ModelOracle>();
  /** Oracles built so far (a κ released and asked for again counts twice). */
  built = 0;

  /** Builds the oracle of a κ (set before the first get: evaluate() knows how only once the input is resolved). */
  make: ((kappa: number) => ModelOracle) | null = null;

  constructor(readonly capacity = ORACLE_POOL_CAPACITY) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError('OraclePool capacity must be a positive integer');
  }

  /** The oracle of κ, built if it is not alive (after releasing the least recently used one if full). */
  async get(kappa: number): Promise<ModelOracle> {
    const alive = this.live.get(kappa);
    if (alive) {
      this.live.delete(kappa);
      this.live.set(kappa, alive);
      return alive;
    }
    while (this.live.size >= this.capacity) {
      const [k, old] = this.live.entries().next().value as [number, ModelOracle];
      this.live.delete(k);
      await old.release();
    }
    if (!this.make) throw new Error('OraclePool.get before make was set');
    const or = this.make(kappa);
    this.built++;
    this.live.set(kappa, or);
    return or;
  }

  /** κ values whose oracle is alive now, least recently used first. */
  get alive(): number[] {
    return [...this.live.keys()];
  }

  async releaseAll(): Promise<void> {
    const held = [...this.live.values()];
    this.live.clear();
    for (const or of held) await or.release();
  }
}
