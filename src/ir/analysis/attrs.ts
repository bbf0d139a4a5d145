// Reading node attributes with their ONNX defaults.

import { AttributeType } from '../attribute.js';
import type { Node } from '../node.js';
import type { Tensor } from '../tensor.js';

export function attrInt(node: Node, name: string, fallback: number): number {
  const v = node.attr(name)?.asInt();
  return v === undefined ? fallback : Number(v);
}

export function attrFloat(node: Node, name: string, fallback: number): number {
  return node.attr(name)?.asFloat() ?? fallback;
}

export function attrString(node: Node, name: string, fallback: string): string {
  return node.attr(name)?.asString() ?? fallback;
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = node.attr(name);
  if (!a || a.data.type !== AttributeType.INTS) return undefined;
  return (a.data.value as bigint[]).map(Number);
}

export function attrFloats(node: Node, name: string): number[] | undefined {
  const a = node.attr(name);
  if (!a || a.data.type !== AttributeType.FLOATS) return undefined;
  return [...(a.data.value as number[])];
}

export function attrTensor(node: Node, name: string): Tensor | undefined {
  const a = node.attr(name);
  return a && a.data.type === AttributeType.TENSOR ? (a.data.value as Tensor) : undefined;
}
