// Declared tensor types as the shape inference sees them (numbers, symbolic names, null).

import type { ValueInfo } from '../value-info.js';

/** A dimension: a number, a symbolic name, or null (unknown). */
export type Dim = number | string | null;

/** The declared shape of a ValueInfo with dims as numbers, names or null. */
export function declaredShape(info: ValueInfo | null | undefined): { elemType: number; shape: Dim[] | null } | null {
  const t = info?.tensorType;
  if (!t) return null;
  return { elemType: t.elemType, shape: t.shape ? t.shape.map((d) => (typeof d === 'bigint' ? Number(d) : d)) : null };
}
