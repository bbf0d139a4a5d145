// Intermediate activations of a retrofitted classifier in ONNX Runtime: the model gets one extra graph output
// per ReLU/JumpReLU site of its main graph (in graph order), and the logits stay its first output. One run
// gives the logits (hence the predictions) and every layer the LID features are computed in.
//
// Sites inside subgraphs (If/Loop bodies) or functions cannot be graph outputs; they are left out and said so
// (`skipped`), never silently.

import * as ort from 'onnxruntime-node';
import { freeBatchDimension } from '../../autodiff/index.js';
import { sessionBytes } from '../../ir/io.js';
import { JumpReluError, UsageError } from '../../ir/errors.js';
import type { Model } from '../../ir/model.js';
import { DataType } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { ValueInfo } from '../../ir/value-info.js';
import { findSites } from '../../passes/sites.js';
import { classifierInterface, ortCall } from '../oracle.js';
import type { SpaceMap } from '../space.js';

export interface Layer {
  /** The site's node name (or its output's name), or 'logits'. */
  name: string;
  kind: 'site' | 'logits';
  /** The graph output it is read from. */
  output: string;
  /** Values per sample (known after the first run). */
  dim: number;
}

export interface ProbeOptions {
  threads: number;
  /** Samples per ONNX Runtime call. */
  batch: number;
  space: SpaceMap;
}

export class ActivationProbe {
  readonly layers: Layer[] = [];
  /** Sites that could not be read, with the reason. */
  readonly skipped: string[] = [];
  private readonly input: string;
  private session: Promise<ort.InferenceSession> | null = null;

  /** Takes ownership of `model` (a retrofitted classifier: retrofittedModel()) and adds the outputs. */
  constructor(private readonly model: Model, private readonly options: ProbeOptions) {
    const { input, output } = classifierInterface(model);
    this.input = input;
    const g = model.graph;
    const outputs = new Set<Value>(g.outputs);
    for (const site of findSites(model)) {
      if (site.kind !== 'relu' && site.kind !== 'jumprelu') continue;
      const label = site.node.name || site.node.outputs[0]?.name || `site #${site.index}`;
      if (site.graph !== g) {
        this.skipped.push(`${label} (in ${site.graphPath}: not a main-graph value, cannot be an output)`);
        continue;
      }
      const v = site.node.outputs[0]!;
      if (!outputs.has(v)) {
        g.addOutput(v, ValueInfo.tensor(DataType.FLOAT, null));
        outputs.add(v);
      }
      this.layers.push({ name: label, kind: 'site', output: v.name, dim: 0 });
    }
    this.layers.push({ name: 'logits', kind: 'logits', output, dim: 0 });
    try {
      freeBatchDimension(model);
    } catch (e) {
      if (!(e instanceof JumpReluError)) throw e;
      throw new UsageError(`cannot run the model on batches: ${e.message}`);
    }
  }

  private sessionS(): Promise<ort.InferenceSession> {
    const { threads } = this.options;
    this.session ??= ortCall('load the model with its activation outputs', () => ort.InferenceSession.create(sessionBytes(this.model), {
      intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 4,
    }));
    return this.session;
  }

  /** Every layer's activations ([n, dim] each, in `layers` order) at x (n samples, attack space). */
  async run(x: Float32Array, n: number): Promise<Float32Array[]> {
    const s = await this.sessionS();
    const { space, batch } = this.options;
    const { channels, height, width } = space.shape;
    const size = space.size;
    const out: Float32Array[] = [];
    for (let start = 0; start < n; start += batch) {
      const m = Math.min(batch, n - start);
      const xin = space.toModel(x.subarray(start * size, (start + m) * size));
      const res = await ortCall('run the model', () => s.run({ [this.input]: new ort.Tensor('float32', xin, [m, channels, height, width]) }));
      this.layers.forEach((l, i) => {
        const data = res[l.output]!.data as Float32Array;
        const dim = data.length / m;
        if (l.dim === 0) l.dim = dim;
        else if (l.dim !== dim) throw new JumpReluError(`layer ${l.name}: ${dim} values per sample, ${l.dim} before`);
        if (start === 0) out[i] = new Float32Array(n * dim);
        out[i]!.set(data, start * dim);
      });
    }
    return out;
  }

  async release(): Promise<void> {
    if (this.session) await (await this.session).release();
    this.session = null;
  }
}
