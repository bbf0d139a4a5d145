// A deliberately plain float64 interpreter for the few ops of the real CNNs (LeNet, ResNet-20), written
// from the ONNX operator definitions. It is the "hand-computed reference" that converted models are
// checked against: it shares no code with ONNX Runtime.

import { AttributeType } from '../../src/ir/attribute.js';
import { readExternalBytes } from '../../src/ir/io.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import type { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';

interface Arr { dims: number[]; data: Float64Array }

const ints = (n: Node, name: string, dflt: number[]): number[] => {
  const a = n.attr(name);
  return a && a.data.type === AttributeType.INTS ? (a.data.value as bigint[]).map(Number) : dflt;
};
const int = (n: Node, name: string, dflt: number): number => Number(n.attr(name)?.asInt() ?? dflt);
const float = (n: Node, name: string, dflt: number): number => n.attr(name)?.asFloat() ?? dflt;

function fromTensor(t: Tensor): Arr {
  const f = t.float32Data(readExternalBytes);
  return { dims: t.dims.map(Number), data: Float64Array.from(f) };
}

function conv(n: Node, x: Arr, w: Arr, b: Arr | undefined): Arr {
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [M, Cg, KH, KW] = w.dims as [number, number, number, number];
  const group = int(n, 'group', 1);
  const [sh, sw] = ints(n, 'strides', [1, 1]) as [number, number];
  const [dh, dw] = ints(n, 'dilations', [1, 1]) as [number, number];
  const [pt, pl, pb, pr] = ints(n, 'pads', [0, 0, 0, 0]) as [number, number, number, number];
  const OH = Math.floor((H + pt + pb - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + pl + pr - dw * (KW - 1) - 1) / sw) + 1;
  const out = new Float64Array(N * M * OH * OW);
  const mPerGroup = M / group;
  for (let b0 = 0; b0 < N; b0++) for (let m = 0; m < M; m++) {
    const g = Math.floor(m / mPerGroup);
    for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      let acc = b ? b.data[m]! : 0;
      for (let c = 0; c < Cg; c++) for (let kh = 0; kh < KH; kh++) {
        const ih = oh * sh - pt + kh * dh;
        if (ih < 0 || ih >= H) continue;
        for (let kw = 0; kw < KW; kw++) {
          const iw = ow * sw - pl + kw * dw;
          if (iw < 0 || iw >= W) continue;
          acc += x.data[((b0 * C + g * Cg + c) * H + ih) * W + iw]! * w.data[((m * Cg + c) * KH + kh) * KW + kw]!;
        }
      }
      out[((b0 * M + m) * OH + oh) * OW + ow] = acc;
    }
  }
  return { dims: [N, M, OH, OW], data: out };
}

function maxPool(n: Node, x: Arr): Arr {
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [KH, KW] = ints(n, 'kernel_shape', []) as [number, number];
  const [sh, sw] = ints(n, 'strides', [1, 1]) as [number, number];
  const [pt, pl, pb, pr] = ints(n, 'pads', [0, 0, 0, 0]) as [number, number, number, number];
  const OH = Math.floor((H + pt + pb - KH) / sh) + 1;
  const OW = Math.floor((W + pl + pr - KW) / sw) + 1;
  const out = new Float64Array(N * C * OH * OW);
  for (let nc = 0; nc < N * C; nc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    let m = -Infinity;
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * sh - pt + kh;
      const iw = ow * sw - pl + kw;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) m = Math.max(m, x.data[(nc * H + ih) * W + iw]!);
    }
    out[(nc * OH + oh) * OW + ow] = m;
  }
  return { dims: [N, C, OH, OW], data: out };
}

function gemm(n: Node, a: Arr, b: Arr, c: Arr | undefined): Arr {
  const tA = int(n, 'transA', 0);
  const tB = int(n, 'transB', 0);
  const alpha = float(n, 'alpha', 1);
  const beta = float(n, 'beta', 1);
  const M = tA ? a.dims[1]! : a.dims[0]!;
  const K = tA ? a.dims[0]! : a.dims[1]!;
  const N = tB ? b.dims[0]! : b.dims[1]!;
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let acc = 0;
    for (let k = 0; k < K; k++) {
      acc += (tA ? a.data[k * M + i]! : a.data[i * K + k]!) * (tB ? b.data[j * K + k]! : b.data[k * N + j]!);
    }
    const cv = c ? c.data[c.data.length === N ? j : c.data.length === 1 ? 0 : i * N + j]! : 0;
    out[i * N + j] = alpha * acc + beta * cv;
  }
  return { dims: [M, N], data: out };
}

/** Evaluates the main graph for one input; returns the first output. */
export function referenceEval(model: Model, input: Float32Array, dims: number[]): Arr {
  const env = new Map<Value, Arr>();
  const get = (v: Value | null | undefined): Arr | undefined => {
    if (!v) return undefined;
    const known = env.get(v);
    if (known) return known;
    if (v.initializer) { const a = fromTensor(v.initializer); env.set(v, a); return a; }
    throw new Error(`reference: value ${v.name} not computed`);
  };
  env.set(model.graph.inputs.find((v) => !v.initializer)!, { dims, data: Float64Array.from(input) });
  for (const n of model.graph.nodes) {
    const x = (): Arr => get(n.inputs[0])!;
    let out: Arr;
    switch (n.opType) {
      case 'Conv': out = conv(n, x(), get(n.inputs[1])!, get(n.inputs[2])); break;
      case 'MaxPool': out = maxPool(n, x()); break;
      case 'Relu': out = { dims: x().dims, data: x().data.map((v) => (v > 0 ? v : 0)) }; break;
      case 'ThresholdedRelu': { const k = Math.fround(float(n, 'alpha', 1)); out = { dims: x().dims, data: x().data.map((v) => (v > k ? v : 0)) }; break; }
      case 'Add': { const a = x(); const b = get(n.inputs[1])!; out = { dims: a.dims, data: a.data.map((v, i) => v + b.data[b.data.length === a.data.length ? i : 0]!) }; break; }
      case 'GlobalAveragePool': {
        const a = x(); const [N, C] = a.dims as [number, number]; const hw = a.data.length / (N * C);
        const d = new Float64Array(N * C);
        for (let i = 0; i < N * C; i++) { let s = 0; for (let k = 0; k < hw; k++) s += a.data[i * hw + k]!; d[i] = s / hw; }
        out = { dims: [N, C, 1, 1], data: d };
        break;
      }
      case 'Flatten': { const a = x(); const ax = int(n, 'axis', 1); const lead = a.dims.slice(0, ax).reduce((p, q) => p * q, 1); out = { dims: [lead, a.data.length / lead], data: a.data }; break; }
      case 'Reshape': { const a = x(); const s = get(n.inputs[1])!; const shape = [...s.data].map((v, i) => (v === 0 ? a.dims[i]! : v)); const known = shape.filter((v) => v > 0).reduce((p, q) => p * q, 1); out = { dims: shape.map((v) => (v === -1 ? a.data.length / known : v)), data: a.data }; break; }
      case 'Constant': { const t = n.attr('value')!.data.value as Tensor; out = t.dataType === 7 ? { dims: t.dims.map(Number), data: Float64Array.from(new BigInt64Array(new Uint8Array(t.inlineRawData!).buffer), Number) } : fromTensor(t); break; }
      case 'Gemm': out = gemm(n, x(), get(n.inputs[1])!, get(n.inputs[2])); break;
      default: throw new Error(`reference: op ${n.opType} not implemented`);
    }
    env.set(n.outputs[0]!, out);
  }
  return env.get(model.graph.outputs[0]!)!;
}
