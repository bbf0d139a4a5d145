// What one way of writing a JumpReLU site J(x) = x·1[x > κ] in ONNX knows about itself. Each form
// (thresholded-relu, where, function, custom) is one object with the whole of its behaviour: the
// opset it needs, whether a site can take it (and why not), how to lower a site to it, how to
// recognise it from a node plus the retrofit record, how to change its κ in place, how to take it out
// again, and what the gradient compiler needs to differentiate it. The retrofit pass and the gradient
// compiler only call these; neither switches on the target name. (The shape follows onnxscript's
// rewrite rules and MLIR's RewritePattern: pattern, check with a failure reason, rewrite, in one place.)

import type { JumpReluError } from '../../ir/errors.js';
import type { IrFunction } from '../../ir/function.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { NameAuthority } from '../../ir/names.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import type { Kappa, SiteRecord, Target } from '../record.js';
import type { ActivationTypes } from './types.js';

export interface LoweringContext {
  model: Model;
  names: NameAuthority;
  /** The graph holding the site. */
  graph: Graph;
  /** Its path as the record spells it ("main", "main/loop.body", "function d::f"). */
  graphPath: string;
  /** The model-local function whose body (or a subgraph of it) holds the site; null in the main graph. */
  fn: IrFunction | null;
  /** The opset that governs this graph's ai.onnx ops. */
  opset: bigint;
  /** Declared or inferred element types and shapes of activations. */
  types: ActivationTypes;
}

export interface JumpSpec {
  kappa: Kappa;
  gradKappa?: Kappa;
  /** Name for the node that will produce the output. */
  name: string;
}

/** The site a check looks at: its graph (path and opset) and its activation. */
export type CheckContext = Pick<LoweringContext, 'graph' | 'graphPath' | 'opset' | 'types'>;

/** What the gradient compiler needs from a form's output node. */
export interface JumpGradient {
  /** The activation x. */
  x: Value;
  /** The forward κ read off the node; null when it is a tensor input (see kappaInput). */
  kappa: number | null;
  /** A κ tensor the node reads (the custom op's per-channel [C] input, the where form's constant). */
  kappaInput: Value | null;
  /** The node's own gradient κ (the custom op's and the function call's grad_kappa attribute). */
  gradKappa?: number;
}

export interface JumpReluForm {
  readonly target: Target;
  /** The ai.onnx opset the form's ops need in the graph holding the site. */
  readonly requiredOpset: bigint;
  /** Whether κ may be a list (one per channel along axis 1). */
  readonly perChannel: boolean;
  /** The node a lowered site ends in (the one the record names) and which of its inputs is x. */
  readonly output: { readonly opType: string; readonly domain: string; readonly input: number };

  /**
   * Why the site cannot take this form (opset, per-channel κ, element type, channel count), or null
   * when it can. Nothing is changed: the pass checks every site before it edits any.
   */
  check(ctx: CheckContext, x: Value, spec: Pick<JumpSpec, 'kappa' | 'name'>): JumpReluError | null;

  /**
   * Inserts the form's nodes for y = J(x) before `anchor`, the last one producing `y` (so the users
   * of the activation are not touched). The caller has run check() on this site and κ and got null
   * (the pass checks every site before it edits any); lower does not check again, since on a 128k-site
   * graph the second type lookup per site is a measurable part of the conversion.
   */
  lower(ctx: LoweringContext, x: Value, y: Value, anchor: Node, spec: JumpSpec): { nodes: Node[]; record: SiteRecord };

  /** Whether `node` is the output node of a site that the record says has this form. */
  recognises(node: Node, record: SiteRecord): boolean;

  /** The record brought in line with the graph (another tool may have renamed what it names). */
  sync(node: Node, record: SiteRecord): SiteRecord;

  /** Same form, new κ: edits the site in place and returns its new record, or null when it must be re-lowered. */
  update(ctx: LoweringContext, node: Node, old: SiteRecord, spec: Omit<JumpSpec, 'name'>): SiteRecord | null;

  /**
   * Removes the site's output node (leaving y without a producer) and returns x and the values it
   * orphaned (κ constants, the mask), for the caller to remove if nothing else reads them.
   */
  unlower(graph: Graph, node: Node, record: SiteRecord): { x: Value; orphans: Value[] };

  /**
   * x and the forward κ of a node of this form, for its derivative 1[x > κ_grad]; null when the node
   * is not the form's pattern. `functionDefault` reads a float attribute's default in the
   * model-local function the node calls.
   */
  gradient(node: Node, functionDefault: (name: string) => number | undefined): JumpGradient | null;
}
