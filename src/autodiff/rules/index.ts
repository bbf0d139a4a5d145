// The VJP rule of each supported op, by domain and op type.

import type { Node } from '../../ir/node.js';
import type { Rule } from './context.js';
import { elementwiseRules, jumpReluRule } from './elementwise.js';
import { linearRules } from './linear.js';
import { poolRules } from './pool.js';
import { shapeRules } from './shape.js';
import { activationRules } from './activations.js';
import { einsumRules } from './einsum.js';
import { mathRules } from './math.js';
import { movementRules } from './movement.js';
import { normalizationRules } from './normalization.js';
import { reduceRules } from './reduce.js';

export type { Rule, RuleContext } from './context.js';

/** Domains of the JumpReLU forms that are not standard ops. */
import { CUSTOM_DOMAIN, FUNCTION_DOMAIN } from '../../retrofit/record.js';
import { formOfNode } from '../../retrofit/forms/index.js';

export const JUMPRELU_FUNCTION_DOMAIN = FUNCTION_DOMAIN;
export const JUMPRELU_CUSTOM_DOMAIN = CUSTOM_DOMAIN;

const standard: Record<string, Rule> = {
  ...elementwiseRules, ...linearRules, ...poolRules, ...shapeRules,
  ...activationRules, ...mathRules, ...normalizationRules, ...reduceRules, ...movementRules, ...einsumRules,
};

/** Op types of the default domain that have a rule (for documentation and error messages). */
export const SUPPORTED_OPS: readonly string[] = Object.keys(standard).sort();

export function ruleFor(node: Node): Rule | undefined {
  if (node.domain === '' || node.domain === 'ai.onnx') return Object.hasOwn(standard, node.opType) ? standard[node.opType] : undefined;
  // The non-standard JumpReLU forms (function call, custom op): the form reads its own node.
  return formOfNode(node) ? jumpReluRule : undefined;
}
