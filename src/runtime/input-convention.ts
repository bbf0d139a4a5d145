// What a classifier expects at its input, read from its graph, and what the harness therefore feeds it.
//
// Exported models often carry their preprocessing in their first nodes: a Cast from uint8, a Transpose from
// NHWC, then a chain of elementwise ops with constant operands (Sub/Div, Mul/Add, a BatchNormalization) that
// maps the raw input u to a·u + b per channel. Feeding such a model already-normalised data normalises twice
// and gives confident, wrong figures, so the convention is resolved before anything runs:
//   - the leading Cast/Transpose are cut (the harness feeds float NCHW; the graph keeps everything else),
//   - a final Softmax/LogSoftmax is cut (attacks want the logits that feed it),
//   - with --preprocessing auto: a graph that preprocesses gets [0,1] pixels (or 0–255 when it divides by
//     255 itself); a graph that does not gets the data kind's mean/std; flags that contradict the graph are
//     refused with one line naming the flags to use.

import { UnsupportedModelError, UsageError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { DataType } from '../ir/tensor.js';
import { Value } from '../ir/value.js';
import { ValueInfo } from '../ir/value-info.js';
import { constantOf } from '../ir/analysis/constants.js';
import type { InputConvention, InputSpace, Preprocessing } from './report/schema.js';

export type PreprocessMode = 'auto' | 'normalize' | 'none';
export const PREPROCESS_MODES: readonly PreprocessMode[] = ['auto', 'normalize', 'none'];

export interface InputAnalysis {
  /** The leading nodes the harness removes (Cast from uint8, Transpose NHWC→NCHW), in graph order. */
  cut: Node[];
  /** Labels of what the graph does first, e.g. ['Transpose NHWC→NCHW', 'Sub', 'Div']. */
  chain: string[];
  /** The model's own input layout and element type, before the cut. */
  layout: 'NCHW' | 'NHWC';
  uint8: boolean;
  /** Per-channel affine the chain applies to the (cut) input: y = a[c]·u + b[c]; null when it applies none. */
  affine: { a: number[]; b: number[] } | null;
  /** Channels, height, width of the input after the cut, where the declaration says. */
  shape: [number | null, number | null, number | null];
  /** The final op cut from the output ('Softmax', 'LogSoftmax') or null. */
  finalCut: string | null;
}

function dimOf(d: bigint | string | null | undefined): number | null {
  return typeof d === 'bigint' ? Number(d) : null;
}

function perm(node: Node): number[] | null {
  const a = node.attr('perm');
  return a && Array.isArray(a.data.value) ? (a.data.value as bigint[]).map(Number) : null;
}

/** Per-channel values of a constant that broadcasts against an NCHW tensor along the channel axis only. */
function channelConstant(v: Value | null | undefined, channels: number | null): number[] | null {
  const c = constantOf(v);
  if (!c || c.values.length === 0 || c.values.some((x) => !Number.isFinite(x))) return null;
  if (c.values.length === 1) return [c.values[0]!];
  const dims = [...c.dims];
  if (dims.length > 4) return null;
  while (dims.length < 4) dims.unshift(1);
  if (dims[0] !== 1 || dims[2] !== 1 || dims[3] !== 1) return null;
  if (channels !== null && dims[1] !== channels) return null;
  return c.values;
}

function only(v: Value, g: Graph): Node | null {
  if (v.uses.length !== 1 || g.hasOutput(v)) return null;
  return v.uses[0]!.node;
}

/** Reads the leading preprocessing chain of a one-input classifier. */
export function analyseInput(model: Model): InputAnalysis {
  const g = model.graph;
  const inputs = g.inputs.filter((v) => !v.initializer);
  const input = inputs[0];
  const out: InputAnalysis = { cut: [], chain: [], layout: 'NCHW', uint8: false, affine: null, shape: [null, null, null], finalCut: null };
  const last = g.outputs[0]?.producer;
  if (last && (last.opType === 'Softmax' || last.opType === 'LogSoftmax') && last.domain === '' && last.inputs[0]) out.finalCut = last.opType;
  if (inputs.length !== 1 || !input) return out;
  const t = g.declaredType(input)?.tensorType;
  const s = t?.shape ?? null;
  out.uint8 = t?.elemType === DataType.UINT8;
  let v: Value = input;
  let layoutShape: [number | null, number | null, number | null] = s && s.length === 4 ? [dimOf(s[1]), dimOf(s[2]), dimOf(s[3])] : [null, null, null];
  // the leading Cast / Transpose run
  for (;;) {
    const n = only(v, g);
    if (!n || n.domain !== '') break;
    if (n.opType === 'Cast' && out.uint8 && out.cut.every((c) => c.opType !== 'Cast')) {
      out.cut.push(n);
      out.chain.push('Cast uint8→float');
    } else if (n.opType === 'Transpose' && out.layout === 'NCHW' && perm(n)?.join(',') === '0,3,1,2') {
      out.cut.push(n);
      out.chain.push('Transpose NHWC→NCHW');
      out.layout = 'NHWC';
      layoutShape = [layoutShape[2], layoutShape[0], layoutShape[1]];
    } else break;
    v = n.outputs[0]!;
  }
  if (out.uint8 && !out.cut.some((c) => c.opType === 'Cast')) {
    throw new UnsupportedModelError('the model takes uint8 input without a leading Cast to float: it cannot be differentiated, so it cannot be attacked', { code: 'uint8-input' });
  }
  out.shape = layoutShape;
  const channels = layoutShape[0];
  // the elementwise chain with constant operands
  let a: number[] = [1];
  let b: number[] = [0];
  const bc = (x: number[], y: number[], f: (p: number, q: number) => number) => {
    const k = Math.max(x.length, y.length);
    return Array.from({ length: k }, (_, i) => f(x[x.length === 1 ? 0 : i]!, y[y.length === 1 ? 0 : i]!));
  };
  let any = false;
  for (;;) {
    const n = only(v, g);
    if (!n || n.domain !== '') break;
    const [p, q] = n.inputs;
    const k = ['Sub', 'Add', 'Mul', 'Div'].includes(n.opType) && n.inputs.length === 2
      ? p === v ? { c: channelConstant(q, channels), left: false } : q === v ? { c: channelConstant(p, channels), left: true } : null
      : null;
    if (k && k.c && !(k.c.length > 1 && a.length > 1 && k.c.length !== a.length)) {
      const c = k.c;
      if (n.opType === 'Add') b = bc(b, c, (x, y) => x + y);
      else if (n.opType === 'Sub') {
        if (k.left) { a = a.map((x) => -x); b = bc(b, c, (x, y) => y - x); } else b = bc(b, c, (x, y) => x - y);
      } else if (n.opType === 'Mul') { a = bc(a, c, (x, y) => x * y); b = bc(b, c, (x, y) => x * y); }
      else {
        if (k.left || c.some((x) => x === 0)) break; // c / x is not affine
        a = bc(a, c, (x, y) => x / y); b = bc(b, c, (x, y) => x / y);
      }
      if (a.length !== b.length) {
        const zeros = new Array<number>(Math.max(a.length, b.length)).fill(0);
        a = bc(a, zeros, (x) => x);
        b = bc(b, zeros, (x) => x);
      }
      out.chain.push(n.opType);
      any = true;
    } else if (n.opType === 'BatchNormalization' && n.inputs[0] === v && n.outputs.length === 1) {
      const [sc, bias, mean, vr] = [1, 2, 3, 4].map((i) => channelConstant(n.inputs[i], channels));
      if (!sc || !bias || !mean || !vr) break;
      const eps = n.attr('epsilon')?.asFloat() ?? 1e-5;
      const m = Math.max(sc.length, bias.length, mean.length, vr.length, a.length);
      const at = (x: number[], i: number) => x[x.length === 1 ? 0 : i]!;
      const s = Array.from({ length: m }, (_, i) => at(sc, i) / Math.sqrt(at(vr, i) + eps));
      const na = Array.from({ length: m }, (_, i) => at(a, i) * s[i]!);
      const nb = Array.from({ length: m }, (_, i) => (at(b, i) - at(mean, i)) * s[i]! + at(bias, i));
      a = na;
      b = nb;
      out.chain.push('BatchNormalization');
      any = true;
    } else break;
    v = n.outputs[0]!;
  }
  if (any) out.affine = { a, b };
  return out;
}

/** Cuts the leading Cast/Transpose (the input becomes float NCHW) and a final Softmax/LogSoftmax (the output becomes the logits). */
export function prepareClassifier(model: Model, analysis: InputAnalysis = analyseInput(model)): InputAnalysis {
  const g = model.graph;
  if (analysis.cut.length > 0) {
    const old = analysis.cut[0]!.inputs[0]!;
    const declared = g.declaredType(old)?.tensorType?.shape ?? null;
    const batch = declared && declared.length === 4 ? declared[0]! : 'N';
    const [c, h, w] = analysis.shape;
    const fresh = new Value(old.name);
    fresh.scope = g;
    analysis.cut[analysis.cut.length - 1]!.outputs[0]!.replaceAllUsesWith(fresh);
    for (const n of [...analysis.cut].reverse()) g.remove(n);
    g.replaceInput(old, fresh, ValueInfo.tensor(DataType.FLOAT, [batch, c, h, w]));
  }
  if (analysis.finalCut) {
    const out = g.outputs[0]!;
    const node = out.producer!;
    const logits = node.inputs[0]!;
    // the logits must not be another output already; keep the declaration ([N, classes] either way)
    if (!g.outputs.includes(logits)) {
      g.replaceOutput(out, logits);
      if (out.uses.length === 0) g.remove(node);
    }
  }
  return analysis;
}

/** What the user asked for (flags); anything left out is resolved from the graph or the data kind. */
export interface InputRequest {
  preprocess?: PreprocessMode;
  space?: InputSpace;
  mean?: number[];
  std?: number[];
}

export interface ResolvedInput {
  /** What the harness applies to [0,1] pixels to make the model's input: (p − mean)/std. */
  mean: number[];
  std: number[];
  space: InputSpace;
  /** What the model itself takes when it is not (p − mean)/std (a model that normalises itself, attacked in its normalised space). */
  feed?: { mean: number[]; std: number[] };
  convention: InputConvention;
  /** One line for the start of the run. */
  summary: string;
  /** Notes worth a warning in the report (an assumption the graph could not confirm). */
  notes: string[];
}

const fmt = (v: readonly number[]) => v.map((x) => String(Math.round(x * 1e4) / 1e4)).join(',');

function same(x: readonly number[], y: readonly number[]): boolean {
  const k = Math.max(x.length, y.length);
  for (let i = 0; i < k; i++) {
    const p = x[x.length === 1 ? 0 : i]!;
    const q = y[y.length === 1 ? 0 : i]!;
    if (Math.abs(p - q) > 1e-6 * Math.max(1, Math.abs(q))) return false;
  }
  return true;
}

/**
 * Decides what to feed the model. `dataDefaults` are the data kind's statistics (MNIST's, CIFAR-10's, or
 * mean 0 / std 1 for array files).
 */
export function resolveInput(analysis: InputAnalysis, request: InputRequest, data: { kind: string; defaults: Preprocessing }): ResolvedInput {
  const mode = request.preprocess ?? 'auto';
  if (!PREPROCESS_MODES.includes(mode)) throw new UsageError(`--preprocessing '${mode}': one of ${PREPROCESS_MODES.join(', ')}`);
  const cuts: string[] = [...analysis.cut.map((n) => n.opType === 'Cast' ? 'a leading Cast from uint8 (fed as float)' : 'a leading Transpose from NHWC (fed as NCHW)')];
  if (analysis.finalCut) cuts.push(`the final ${analysis.finalCut} (attacks use the logits that feed it)`);
  const graphCut = cuts.length ? [`cut ${cuts.join(' and ')}`] : [];
  const given = request.mean !== undefined || request.std !== undefined;
  const preprocesses = analysis.affine !== null || analysis.uint8;
  if (preprocesses) {
    // The raw scale the graph expects: 0–255 when it casts from uint8 or divides by ~255 itself.
    const a = analysis.affine?.a ?? [1];
    const b = analysis.affine?.b ?? [0];
    const raw = analysis.uint8 || a.every((x) => Math.abs(1 / x) > 20) ? 255 : 1;
    const innerStd = a.map((x) => 1 / (x * raw));
    const innerMean = a.map((x, i) => -b[i]! / (x * raw));
    const identity = same(innerMean, [0]) && same(innerStd, [1]);
    const ops = analysis.chain.join(', ');
    const what = `the model preprocesses its input itself (${ops}${identity ? '' : `: mean ${fmt(innerMean)}, std ${fmt(innerStd)}`})`;
    const feed = raw === 255 ? { mean: [0], std: [1 / 255] } : { mean: [0], std: [1] };
    if (mode === 'normalize') throw new UsageError(`${what}, so --preprocessing normalize would normalise twice: use --preprocessing auto`, { code: 'input-convention' });
    const inGraphSpace = request.space === 'normalized' && !identity;
    const matchesGraph = same(request.mean ?? innerMean, innerMean) && same(request.std ?? innerStd, innerStd);
    if (given && !(inGraphSpace && matchesGraph) && !(same(request.mean ?? feed.mean, feed.mean) && same(request.std ?? feed.std, feed.std))) {
      throw new UsageError(`${what}, but --mean/--std ask the harness to normalise too: drop --mean/--std (the harness feeds it ${raw === 255 ? '0–255' : '[0,1]'} pixels)`, { code: 'input-convention' });
    }
    if (request.space === 'normalized' && identity) {
      throw new UsageError(`${what}, but it does not normalise them (no mean/std to measure ε in): use --space pixel (or leave --space out)`, { code: 'input-convention' });
    }
    const expects = `${raw === 255 ? '0–255' : '[0,1]'} pixels${analysis.layout === 'NHWC' ? ' NHWC' : ''}${analysis.uint8 ? ' (uint8)' : ''}, ${identity ? 'scaled' : 'normalised'} in its graph (${ops}${identity ? '' : `: mean ${fmt(innerMean)}, std ${fmt(innerStd)}`})`;
    const gives = raw === 255 ? '0–255 pixels (255 × [0,1])' : '[0,1] pixels';
    if (inGraphSpace) {
      // ε in the space the graph normalises to: the attack variable is z = (p − mean)/std, the model is fed p
      const epsilonIn = `the model's own normalised input ((p − mean)/std with its graph's mean ${fmt(innerMean)}, std ${fmt(innerStd)})`;
      const convention: InputConvention = {
        preprocessing: mode, resolved_from: 'graph', model_expects: expects, data_gives: gives, epsilon_in: epsilonIn,
        graph_ops: [...analysis.chain, ...(analysis.finalCut ? [analysis.finalCut] : [])], cut: cuts,
        model_mean: innerMean.map(round6), model_std: innerStd.map(round6),
      };
      return {
        mean: innerMean.map(round6), std: innerStd.map(round6), space: 'normalized', feed, convention, notes: [],
        summary: `input: the model expects ${expects}; feeding ${gives}; ε, clamping and ρ in ${epsilonIn} (--space normalized)${graphCut.length ? `; ${graphCut[0]}` : ''}`,
      };
    }
    const convention: InputConvention = {
      preprocessing: mode, resolved_from: 'graph', model_expects: expects, data_gives: gives, epsilon_in: '[0,1] pixels',
      graph_ops: [...analysis.chain, ...(analysis.finalCut ? [analysis.finalCut] : [])], cut: cuts,
      ...(identity ? {} : { model_mean: innerMean.map(round6), model_std: innerStd.map(round6) }),
    };
    return {
      ...feed, space: 'pixel', convention, notes: [],
      summary: `input: the model expects ${expects}; feeding ${gives}; ε, clamping and ρ in [0,1] pixels${graphCut.length ? `; ${graphCut[0]}` : ''}`,
    };
  }
  // Nothing in the graph preprocesses.
  if (mode === 'none') {
    if (given) throw new UsageError('--preprocessing none feeds [0,1] pixels unchanged: drop --mean/--std, or use --preprocessing normalize', { code: 'input-convention' });
    const convention: InputConvention = {
      preprocessing: mode, resolved_from: 'flags', model_expects: `[0,1] pixels${analysis.layout === 'NHWC' ? ' NHWC' : ''} (as --preprocessing none says; its graph does not normalise)`,
      data_gives: '[0,1] pixels', epsilon_in: '[0,1] pixels', graph_ops: [...analysis.chain, ...(analysis.finalCut ? [analysis.finalCut] : [])], cut: cuts,
    };
    return { mean: [0], std: [1], space: 'pixel', convention, notes: [], summary: `input: feeding [0,1] pixels (--preprocessing none); ε, clamping and ρ in [0,1] pixels${graphCut.length ? `; ${graphCut[0]}` : ''}` };
  }
  const mean = request.mean ?? data.defaults.mean;
  const std = request.std ?? data.defaults.std;
  const identity = same(mean, [0]) && same(std, [1]);
  const space = request.space ?? (identity ? 'pixel' : 'normalized');
  const source = given ? '--mean/--std' : identity ? `no known statistics for ${data.kind} data` : `the ${data.kind} statistics`;
  const notes: string[] = [];
  if (!given && mode === 'auto') {
    notes.push(identity
      ? `the model's graph does not normalise its input and ${data.kind} data carry no statistics: feeding [0,1] pixels; pass --mean/--std if the model expects normalised input`
      : `the model's graph does not normalise its input: feeding data normalised with the ${data.kind} mean ${fmt(mean)}, std ${fmt(std)}; pass --preprocessing none if it takes [0,1] pixels`);
  }
  const gives = identity ? '[0,1] pixels' : `(p − mean)/std with mean ${fmt(mean)}, std ${fmt(std)} (${source})`;
  const convention: InputConvention = {
    preprocessing: mode, resolved_from: given ? 'flags' : 'data kind',
    model_expects: `${identity ? '[0,1] pixels' : 'normalised input'}${analysis.layout === 'NHWC' ? ' NHWC' : ''} (its graph does not normalise)`,
    data_gives: gives, epsilon_in: space === 'pixel' || identity ? '[0,1] pixels' : 'the normalised input (the paper\'s space)',
    graph_ops: [...analysis.chain, ...(analysis.finalCut ? [analysis.finalCut] : [])], cut: cuts,
  };
  return { mean: [...mean], std: [...std], space, convention, notes, summary: `input: the model's graph does not normalise its input; feeding ${gives}; ε, clamping and ρ in ${convention.epsilon_in}${graphCut.length ? `; ${graphCut[0]}` : ''}` };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
