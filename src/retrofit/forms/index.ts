// The JumpReLU forms, by target name, and recognising one from a node (with or without the record).

import type { Node } from '../../ir/node.js';
import type { SiteRecord, Target } from '../record.js';
import { customForm } from './custom.js';
import { isOutputNode } from './common.js';
import type { JumpReluForm } from './form.js';
import { functionForm } from './function.js';
import { thresholdedReluForm } from './thresholded-relu.js';
import { whereForm } from './where.js';

export type { CheckContext, JumpGradient, JumpReluForm, JumpSpec, LoweringContext } from './form.js';
export { constant, replaceConstant } from './common.js';
export { ActivationTypes } from './types.js';
export { customForm, functionForm, thresholdedReluForm, whereForm };

export const FORMS: Readonly<Record<Target, JumpReluForm>> = {
  'thresholded-relu': thresholdedReluForm,
  'where': whereForm,
  'function': functionForm,
  'custom': customForm,
};

export function formFor(target: Target): JumpReluForm {
  return FORMS[target];
}

/** A κ = 0 site kept as its Relu node (recorded when it has a gradient κ): not a form, but recognised like one. */
const KEPT_RELU = { opType: 'Relu', domain: '', input: 0 } as const;

/** Whether `node` is the output node of the site `record` describes. */
export function recognisesSite(node: Node, record: SiteRecord): boolean {
  if (record.target === 'relu') return isOutputNode(KEPT_RELU, node);
  const form = Object.hasOwn(FORMS, record.target) ? FORMS[record.target] : undefined;
  return form !== undefined && form.recognises(node, record);
}

/** Which input of a recorded site's output node is the activation x. */
export function activationInput(record: SiteRecord): number {
  return record.target === 'relu' ? KEPT_RELU.input : FORMS[record.target].output.input;
}

/** The form whose output op `node` is (without the record: by op and domain), or undefined. */
export function formOfNode(node: Node): JumpReluForm | undefined {
  for (const t of ['thresholded-relu', 'where', 'function', 'custom'] as const) {
    if (isOutputNode(FORMS[t].output, node)) return FORMS[t];
  }
  return undefined;
}
