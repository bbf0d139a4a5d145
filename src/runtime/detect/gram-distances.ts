// Squared Euclidean distances for wide layers through ONNX Runtime: ‖q − r‖² = ‖q‖² + ‖r‖² − 2 q·r with the
// q·rᵀ products as one Gemm (MLAS: vectorised and threaded, tens of times faster than a JavaScript loop; a
// CIFAR ResNet's first layers have 16,384 values per sample). The shortcut cancels when the distances are
// small next to the norms, so both sides are first centred on the references' mean (distances do not
// change; the norms shrink to the spread of the data), the norms are summed in float64, and a pair closer than
// a tenth of the norms (where float32 products would matter) is summed exactly. Small problems take the exact
// loop of knn.ts. The tests bound the difference to it.

import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { ortCall } from '../oracle.js';
import { squaredDistances } from './knn.js';

const { onnx } = onnxProto;

/** Multiply-adds below which the exact loop is used. */
const SMALL = 4_000_000;

function gramModel(): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const io = (name: string, dims: string[]) => ({
    name, type: { tensorType: { elemType: F, shape: { dim: dims.map((d) => ({ dimParam: d })) } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: 'jumprelu-detect',
    graph: {
      name: 'gram',
      node: [{ opType: 'Gemm', input: ['q', 'r'], output: ['g'], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] }],
      input: [io('q', ['n', 'd']), io('r', ['m', 'd'])],
      output: [io('g', ['n', 'm'])],
    },
  }).finish();
}

export class GramDistances {
  private session: Promise<ort.InferenceSession> | null = null;

  constructor(private readonly threads: number) {}

  private s(): Promise<ort.InferenceSession> {
    this.session ??= ortCall('load the distance model', () => ort.InferenceSession.create(gramModel(), {
      intraOpNumThreads: this.threads, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 4,
    }));
    return this.session;
  }

  /** Squared distances [nq, nr] between the rows of q ([nq, dim]) and r ([nr, dim]). */
  async squared(q: Float32Array, nq: number, r: Float32Array, nr: number, dim: number): Promise<Float64Array> {
    if (nq * nr * dim < SMALL) return squaredDistances(q, nq, r, nr, dim);
    const mean = new Float64Array(dim);
    for (let j = 0; j < nr; j++) for (let p = 0; p < dim; p++) mean[p]! += r[j * dim + p]!;
    for (let p = 0; p < dim; p++) mean[p] = mean[p]! / nr;
    const centre = (a: Float32Array, rows: number) => {
      const c = new Float32Array(rows * dim);
      const norms = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let p = 0; p < dim; p++) {
          const v = Math.fround(a[i * dim + p]! - mean[p]!);
          c[i * dim + p] = v;
          s += v * v;
        }
        norms[i] = s;
      }
      return { c, norms };
    };
    const cq = centre(q, nq);
    const cr = centre(r, nr);
    const s = await this.s();
    const out = await ortCall('compute distances', () => s.run({
      q: new ort.Tensor('float32', cq.c, [nq, dim]), r: new ort.Tensor('float32', cr.c, [nr, dim]),
    }));
    const g = out['g']!.data as Float32Array;
    const sq = new Float64Array(nq * nr);
    for (let i = 0; i < nq; i++) {
      for (let j = 0; j < nr; j++) {
        const scale = cq.norms[i]! + cr.norms[j]!;
        const d = scale - 2 * g[i * nr + j]!;
        // float32 products err by about 1e-6 of the norms: a pair this close is summed exactly instead
        if (d < 1e-2 * scale) {
          let e = 0;
          for (let p = 0; p < dim; p++) {
            const t = q[i * dim + p]! - r[j * dim + p]!;
            e += t * t;
          }
          sq[i * nr + j] = e;
        } else sq[i * nr + j] = d;
      }
    }
    return sq;
  }

  async release(): Promise<void> {
    if (this.session) await (await this.session).release();
    this.session = null;
  }
}
