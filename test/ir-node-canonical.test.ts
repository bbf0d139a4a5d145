// The decoder's wire-level canonical check for nodes (src/ir/node-canonical.ts) must agree with the full
// re-encode it replaces: for every decoded node, its origin says "source bytes are canonical" (canon null)
// exactly when encodeNode(node) at decode time gives back the source bytes. Generated NodeProtos mix what
// the encoder normalises: fields out of order, padded varints, repeated or empty names, duplicate attribute
// names, non-ASCII and invalid UTF-8 strings, unknown fields before and after known ones.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { decodeModel } from '../src/ir/decode.js';
import { encodeNode } from '../src/ir/encode.js';
import { bytesEqual } from '../src/ir/wire.js';

function varint(n: number, pad = 0): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  if (pad === 0) {
    out.push(n);
    return out;
  }
  out.push(n | 0x80);
  for (let i = 1; i < pad; i++) out.push(0x80);
  out.push(0);
  return out;
}

function ld(no: number, payload: number[], padTag = 0, padLen = 0): number[] {
  return [...varint(no * 8 + 2, padTag), ...varint(payload.length, padLen), ...payload];
}

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const ATTR_INT = (name: string, v: number): number[] => [...ld(1, ascii(name)), 0x18, ...varint(v), 0xa0, 0x01, 2];

const stringPayload = fc.oneof(
  fc.constantFrom('', 'x', 'Relu', 'a/b:0', 'ai.onnx').map(ascii),
  fc.constantFrom('', 'x', 'Relu', 'a/b:0', 'ai.onnx').map(ascii),
  fc.constant<number[]>([0xc3, 0xa9]), // é
  fc.constant<number[]>([0xff, 0xfe]), // invalid UTF-8
  fc.constant<number[]>([0xef, 0xbb, 0xbf, 0x61]), // BOM + a
);
const field = fc.oneof(
  fc.record({ no: fc.constantFrom(1, 2, 3, 4, 6, 7, 8), payload: stringPayload }),
  fc.record({ no: fc.constant(5), payload: fc.constantFrom('alpha', 'beta').map((n) => ATTR_INT(n, 3)) }),
  fc.record({ no: fc.constantFrom(9, 20), payload: stringPayload }),
);
const nodeMessage = fc.tuple(
  fc.array(fc.record({ f: field, padTag: fc.constantFrom(0, 0, 0, 0, 0, 0, 1), padLen: fc.constantFrom(0, 0, 0, 0, 0, 0, 1) }), { maxLength: 6 }),
  fc.boolean(),
).map(([fs, sorted]) => {
  const list = sorted ? [...fs].sort((a, b) => a.f.no - b.f.no) : fs;
  // Every node needs an op_type: add one where the draw has none.
  if (!list.some((x) => x.f.no === 4)) list.push({ f: { no: 4, payload: ascii('Relu') }, padTag: 0, padLen: 0 });
  return list.flatMap((x) => ld(x.f.no, x.f.payload, x.padTag, x.padLen));
});

function modelWith(nodes: number[][]): Uint8Array {
  const graph = [...nodes.flatMap((n) => ld(1, n)), ...ld(2, ascii('g'))];
  const opset = [...ld(1, []), 0x10, 13];
  return Uint8Array.from([0x08, 8, ...ld(8, opset), ...ld(7, graph)]);
}

function checkAgreement(bytes: Uint8Array): number {
  const model = decodeModel(bytes);
  let canonical = 0;
  for (const node of model.graph.nodes) {
    const origin = node.origin!;
    const reencoded = encodeNode(node);
    assert.equal(origin.canon === null, bytesEqual(origin.src, reencoded), `node ${Buffer.from(origin.src).toString('hex')}`);
    if (origin.canon === null) canonical++;
    else assert.ok(bytesEqual(origin.canon, reencoded));
  }
  return canonical;
}

test('node origins: the wire check agrees with a full re-encode (fast-check)', () => {
  let canonical = 0;
  let total = 0;
  fc.assert(fc.property(fc.array(nodeMessage, { minLength: 1, maxLength: 4 }), (nodes) => {
    canonical += checkAgreement(modelWith(nodes));
    total += nodes.length;
  }), { numRuns: 400, seed: 10, endOnFailure: true });
  // Both answers were exercised.
  assert.ok(canonical > 0 && canonical < total, `${canonical} of ${total} canonical`);
});

test('node origins: typical nodes are canonical, normalised ones are not', () => {
  const relu = [...ld(1, ascii('x')), ...ld(2, ascii('y')), ...ld(3, ascii('r')), ...ld(4, ascii('Relu'))];
  const padded = [...ld(1, ascii('x'), 0, 1), ...ld(2, ascii('y')), ...ld(4, ascii('Relu'))];
  const emptyName = [...ld(1, ascii('x')), ...ld(3, []), ...ld(4, ascii('Relu'))];
  const outOfOrder = [...ld(4, ascii('Relu')), ...ld(1, ascii('x'))];
  const dupAttr = [...ld(4, ascii('Elu')), ...ld(5, ATTR_INT('alpha', 1)), ...ld(5, ATTR_INT('alpha', 2))];
  const model = decodeModel(modelWith([relu, padded, emptyName, outOfOrder, dupAttr]));
  assert.deepEqual(model.graph.nodes.map((n) => n.origin!.canon === null), [true, false, false, false, false]);
  checkAgreement(modelWith([relu, padded, emptyName, outOfOrder, dupAttr]));
});
