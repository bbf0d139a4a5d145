// The report's opening: the masking-aware verdict (verdict.ts) and the worst case over attacks per κ and threat
// model, next to each attack (the way AutoAttack reports), labelled as upper bounds on robust accuracy.

import type { Report } from './schema.js';
import { esc, pct } from './html-format.js';

function arr<T>(v: T[] | undefined): T[] {
  return Array.isArray(v) ? v : [];
}

/** The verdict's lines and masking findings ('' when the report has none). */
export function verdictBody(r: Report): string {
  const v = r.verdict;
  if (!v || !Array.isArray(v.lines) || v.lines.length === 0) return '';
  const [head, ...rest] = v.lines;
  const masked = arr(v.kappas).some((k) => k.masking);
  const findings = arr(v.masking);
  return (
    `<div class="card"><p><strong>${esc(head)}</strong></p>` +
    (rest.length ? `<ul>${rest.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : '') +
    (masked
      ? `<p class="note">Gradient masking: other attacks beat the white-box one beyond chance (paired tests on the same samples), so the white-box figures overstate robustness.</p>` +
        `<ul>${findings.map((f) => `<li>${esc(f.message)}</li>`).join('')}</ul>`
      : `<p class="note">No masking evidence: adaptive, gray-box and gradient-free attacks did not beat the white-box ones beyond chance.</p>`) +
    `</div>`
  );
}

/** Worst case over attacks per κ and threat model, with each counted attack's own figure. */
export function worstCaseBody(r: Report): string {
  const wc = arr(r.worst_case);
  if (wc.length === 0) return '';
  const tables = new Map<string, typeof wc>();
  for (const w of wc) {
    const key = `${w.norm === 'linf' ? 'L∞' : 'L2'} ε = ${w.eps}`;
    let list = tables.get(key);
    if (!list) tables.set(key, (list = []));
    list.push(w);
  }
  const parts: string[] = [
    `<p class="note">Robust accuracy (%) under the worst case over every attack run: a sample counts as robust only when no attack, in any mode, ` +
      `found a misclassified example within ε (minimal-perturbation attacks such as DeepFool count where their example lies within ε). ` +
      `<strong>These are upper bounds on true robust accuracy: a stronger attack could lower them.</strong></p>`,
  ];
  for (const [title, list] of tables) {
    const cols = [...new Set(list.flatMap((w) => w.attacks.map((a) => `${a.attack} · ${a.mode}`)))];
    parts.push(
      `<div class="scroll"><table><caption>${esc(title)} (${esc(r.data?.space ?? '')} space)</caption><thead><tr><th scope="col">κ</th><th scope="col">worst case</th>` +
        cols.map((c) => `<th scope="col">${esc(c)}</th>`).join('') + `</tr></thead><tbody>` +
        list.map((w) => {
          const cell = (c: string) => {
            const a = w.attacks.find((x) => `${x.attack} · ${x.mode}` === c);
            return a ? pct(a.accuracy) : '—';
          };
          return `<tr><th scope="row" class="num">${esc(w.kappa)}</th><td class="num"><strong>${pct(w.accuracy)}</strong></td>${cols.map((c) => `<td class="num">${cell(c)}</td>`).join('')}</tr>`;
        }).join('') +
        `</tbody></table></div>`,
    );
  }
  return parts.join('');
}
