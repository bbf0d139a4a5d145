// A tiny deterministic PRNG (mulberry32), uniform in [0, 1): reproducible random starts and test data
// without a dependency. Not for anything security-related.

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The random stream of one sample: seeded from (seed, the sample's index in the whole evaluated set), so a
 * sample draws the same numbers whichever batch, shard or restart subset it is attacked in (shards merge to
 * the unsharded run). `salt` separates the streams of different attacks with the same seed (pgd's random start
 * and APGD's would otherwise start at nearly the same point). The integers are mixed with murmur3's finaliser
 * before seeding mulberry32.
 */
export function sampleStream(seed: number, sample: number, salt = 0): () => number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(sample >>> 0, 0x85ebca6b) ^ Math.imul(salt >>> 0, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return mulberry32(h);
}
