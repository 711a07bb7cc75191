// Keywords for a word from WordNet (Debian's `wordnet` package, its `wn` command): the words of
// its senses' direct hypernyms and of its first gloss that a given vocabulary knows. An
// experiment in giving the MLLM what a pretrained LLM would know about a word it never saw
// (docs/PUMA.md, session 9); analysis only, nothing in src/ uses it.
import { execFileSync } from 'node:child_process';
import { wordsOf as words } from '../../src/data/tokenizer/corpus.js';

const STOP = new Set('a an the of and or with to in on for by as at from is are be its it that this which who into out up down over under very usually especially often used any some one two small large'.split(' '));

function wn(args: string[]): string {
  try {
    return execFileSync('wn', args, { encoding: 'utf8' });
  } catch (err) {
    // wn exits non-zero with its answer on stdout; a missing wn is the caller's error
    const e = err as { code?: string; stdout?: string };
    if (e.code === 'ENOENT') throw new Error('wn not found: apt-get install wordnet');
    return String(e.stdout ?? '');
  }
}

/** Up to `max` keywords of `word` that `known` has; [] when WordNet lacks it. */
export function wordnetKeywords(word: string, known: ReadonlySet<string>, max = 6): string[] {
  const out: string[] = [];
  const add = (w: string) => { if (known.has(w) && !STOP.has(w) && w !== word && !out.includes(w)) out.push(w); };
  // the direct hypernyms of every sense, nouns first (verbs only for a word with no noun sense)
  for (const pos of ['n', 'v']) {
    for (const m of wn([word, `-hype${pos}`]).matchAll(/^Sense \d+\n.*\n\s+=> (.*)$/gm)) words(m[1]).forEach(add);
    if (out.length) break;
  }
  // the gloss of the first sense of the first part of speech listed, up to its first ';'
  const gloss = /^1\. .*? -- \((.*?)(;|\))/m.exec(wn([word, '-over']));
  if (gloss) words(gloss[1]).forEach(add);
  return out.slice(0, max);
}
