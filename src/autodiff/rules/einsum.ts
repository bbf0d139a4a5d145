// VJP rule of Einsum with an explicit output ("ij,jk->ik", "bhqd,bhkd->bhqk", "...ij,...jk->...ik"):
// the gradient of operand k is itself an Einsum of the output gradient with the other operands,
// writing k's labels; labels that only operand k has (summed inside it) are broadcast back, and an
// ellipsis that broadcast is summed back to the operand's shape.

import type { Value } from '../../ir/value.js';
import { attrString } from '../../ir/analysis/attrs.js';
import { type Rule, type RuleContext, fail, unbroadcast } from './context.js';

interface Equation { inputs: string[]; output: string }

/** Labels of one term: letters, and '.' for the ellipsis. */
function labels(term: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < term.length; i++) {
    if (term.startsWith('...', i)) { out.push('.'); i += 2; } else out.push(term[i]!);
  }
  return out;
}

export function parseEquation(c: RuleContext, equation: string, operands: number): Equation {
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  if (arrow < 0) fail(c, `equation '${equation}' has no explicit output ('->')`);
  const inputs = eq.slice(0, arrow).split(',');
  if (inputs.length !== operands) fail(c, `equation '${equation}' names ${inputs.length} operands, the node has ${operands}`);
  for (const t of inputs) {
    const ls = labels(t).filter((l) => l !== '.');
    if (new Set(ls).size !== ls.length) fail(c, `equation '${equation}' repeats a label within operand '${t}' (diagonals are not supported)`);
  }
  return { inputs, output: eq.slice(arrow + 2) };
}

const einsum: Rule = (c) => {
  const operands = c.node.inputs.map((v) => v!);
  const eq = parseEquation(c, attrString(c.node, 'equation', ''), operands.length);
  const gy = c.gy[0]!;
  const outLabels = new Set(labels(eq.output));
  return operands.map((x, k) => {
    if (!c.needs(k)) return null;
    const own = labels(eq.inputs[k]!);
    const elsewhere = new Set([...outLabels, ...eq.inputs.flatMap((t, j) => (j === k ? [] : labels(t)))]);
    const kept = own.filter((l) => elsewhere.has(l));
    const others = operands.filter((_, j) => j !== k);
    const term = (ls: string[]) => ls.map((l) => (l === '.' ? '...' : l)).join('');
    const equation = [eq.output, ...eq.inputs.filter((_, j) => j !== k)].join(',') + '->' + term(kept);
    let g = c.e.one('Einsum', [gy, ...others], { equation });
    if (kept.length < own.length) {
      const missing = own.map((l, i) => (elsewhere.has(l) ? -1 : i)).filter((i) => i >= 0);
      if (own.includes('.')) fail(c, 'a label summed inside one operand next to an ellipsis is not supported');
      g = c.e.one('Expand', [c.e.one('Unsqueeze', [g, c.e.ints(missing)]), c.e.shapeOf(x)]);
    }
    // Only an ellipsis can broadcast in an Einsum.
    return own.includes('.') ? unbroadcast(c, g, x) : g;
  });
};

export const einsumRules: Record<string, Rule> = { Einsum: einsum };
