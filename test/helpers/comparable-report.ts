// Reports compared across runs that must agree (sharded vs unsharded, Ray vs local): what may differ is left out.

import type { Report } from '../../src/runtime/report/schema.js';

/** The fields that may differ between a merged and an unsharded run: timings, peak memory and provenance. */
const VARYING = ['created', 'wall_s', 'merged_from', 'resources'];

/** The report without what may differ between a merged and an unsharded run, at any depth. */
export function comparable(r: Report): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).filter(([k]) => !VARYING.includes(k)).map(([k, x]) => [k, strip(x)]));
    }
    return v;
  };
  return strip(r);
}
