// What the by-eye forced choices (t2i-by-eye.ts, edit-by-eye.ts) share: the judge's answers file
// and the share of right picks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `<dir>/answers.txt`, one "<number> <letter>" a line ("12 b", "12: (b)"), as a map; an error
 * naming every question of `numbers` left unanswered.
 * @example readAnswers('docs/results/by-eye-s20/t2i-test', 'abcd', [1, 2, 3]).get(2); // 'c'
 */
export function readAnswers(dir: string, letters: string, numbers: readonly number[]): Map<number, string> {
  const answers = new Map<number, string>();
  const pattern = new RegExp(`^\\s*(\\d+)\\s*[:.]?\\s*\\(?([${letters}])\\)?`, 'i');
  for (const line of readFileSync(join(dir, 'answers.txt'), 'utf8').split('\n')) {
    const m = pattern.exec(line);
    if (m) answers.set(Number(m[1]), m[2].toLowerCase());
  }
  const missing = numbers.filter((n) => !answers.has(n));
  if (missing.length) throw new Error(`${join(dir, 'answers.txt')} has no answer for ${missing.join(', ')}`);
  return answers;
}

/** "right/all (percent%)" of the questions whose pick is their answer. */
export function rate<Q extends { answer: string }>(qs: readonly Q[], pick: (q: Q) => string | undefined): string {
  const right = qs.filter((q) => pick(q) === q.answer).length;
  return `${right}/${qs.length} (${((100 * right) / Math.max(1, qs.length)).toFixed(1)}%)`;
}
