// Deterministic shards of an evaluation: `--shard i/n` evaluates the i-th of n contiguous, near-equal parts
// of the samples (1-based i), so n machines can each run one and `jumprelu merge` (merge.ts) combines their
// reports into the report of the unsharded run. Contiguous rather than strided: a shard is one slice of the
// data file (its indices, pictures and per-sample rows stay in order), and since every sample's attack is
// independent of the others (per-sample random streams, curves of fixed length), a slice costs what any other
// subset of the same size does, up to how hard its samples are.

import { UsageError } from '../ir/errors.js';

export const SHARD_SCHEME = 'contiguous' as const;

export interface ShardSpec {
  /** 1-based: shard `index` of `count`. */
  index: number;
  count: number;
}

/** Parses `i/n` (1 ≤ i ≤ n). */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 1 && index <= count)) {
    throw new UsageError(`--shard '${text}': expected i/n with 1 ≤ i ≤ n (e.g. --shard 2/4)`, { code: 'shard-spec' });
  }
  return { index, count };
}

/** The samples [start, end) of shard `s` of a set of `total`: shard i gets ⌊(i−1)·total/n⌋ … ⌊i·total/n⌋. */
export function shardRange(s: ShardSpec, total: number): { start: number; end: number } {
  if (s.count > total) {
    throw new UsageError(`--shard ${s.index}/${s.count}: ${s.count} shards of ${total} sample${total === 1 ? '' : 's'} would leave some empty; use at most ${total}`, { code: 'shard-spec' });
  }
  return { start: Math.floor(((s.index - 1) * total) / s.count), end: Math.floor((s.index * total) / s.count) };
}
