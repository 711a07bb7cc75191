import { NUM_POS_TOKENS, posToken, SPECIAL_TOKENS } from './special.js';

/**
 * LLaMA-3's pre-tokenizer pattern (tokenizer.json, Split/Isolated), as written for the Rust crate,
 * and the same pattern in JavaScript syntax for training-time splitting.
 */
export const LLAMA3_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const SPLIT_RE =
  /'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte -> printable character table used by ByteLevel pre-tokenizers and decoders. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const table: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(keep.includes(b) ? b : 256 + n++);
  return table;
})();

/** Splits text into LLaMA-3 pre-tokens and writes each in byte-level characters. */
export function pretokenize(text: string): string[] {
  const enc = new TextEncoder();
  return (text.match(SPLIT_RE) ?? []).map((piece) => Array.from(enc.encode(piece), (b) => BYTE_TO_UNICODE[b]).join(''));
}

export interface BpeModel {
  /** token -> id; ids 0..255 are the 256 byte characters, then one per merge. */
  vocab: Map<string, number>;
  merges: [string, string][];
}

/**
 * Trains byte-level BPE: counts pre-tokens, then repeatedly merges the most frequent adjacent
 * pair (ties: the lexicographically smaller merged token) until `vocabSize` minus the special and
 * position tokens is reached or no pair occurs twice. Deterministic.
 * @example const model = trainBpe(['grinning face', 'smiling face'], 300);
 */
export function trainBpe(texts: Iterable<string>, vocabSize: number): BpeModel {
  const reserved = SPECIAL_TOKENS.length + NUM_POS_TOKENS;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + reserved) {
    throw new Error(`vocabulary size must be at least ${256 + reserved} (256 bytes + ${reserved} special), got ${vocabSize}`);
  }
  const wordCounts = new Map<string, number>();
  for (const t of texts) for (const w of pretokenize(t)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);

  const vocab = new Map<string, number>();
  const symbols: string[] = [];
  for (let b = 0; b < 256; b++) {
    vocab.set(BYTE_TO_UNICODE[b], b);
    symbols.push(BYTE_TO_UNICODE[b]);
  }
  const idOf = (s: string) => vocab.get(s)!;
  const words = [...wordCounts.keys()].sort();
  const seqs = words.map((w) => Array.from(w, idOf));
  const counts = words.map((w) => wordCounts.get(w)!);

  // Pair statistics, kept up to date as words change. Key: a * 2^20 + b (vocab < 2^20).
  const K = 1 << 20;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addWord = (w: number, sign: 1 | -1) => {
    const s = seqs[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] * K + s[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[w]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  seqs.forEach((_, w) => addWord(w, 1));

  const merges: [string, string][] = [];
  const target = vocabSize - reserved;
  while (vocab.size < target) {
    let best = -1, bestCount = 1, bestToken = '';
    for (const [key, c] of pairCount) {
      if (c < bestCount) continue;
      const token = symbols[Math.floor(key / K)] + symbols[key % K];
      if (c > bestCount || token < bestToken) [best, bestCount, bestToken] = [key, c, token];
    }
    if (best < 0 || bestCount < 2) break;
    const a = Math.floor(best / K), b = best % K;
    const id = symbols.length;
    symbols.push(bestToken);
    vocab.set(bestToken, id);
    merges.push([symbols[a], symbols[b]]);
    for (const w of pairWords.get(best) ?? []) {
      const s = seqs[w];
      addWord(w, -1);
      const merged: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          merged.push(id);
          i++;
        } else merged.push(s[i]);
      }
      seqs[w] = merged;
      addWord(w, 1);
    }
    pairWords.delete(best);
    pairCount.delete(best);
  }
  return { vocab, merges };
}

/**
 * Applies the merges to one pre-token in rank order (a whole pre-token already in the vocabulary is
 * kept whole, as ignore_merges says): the reference encoder the tests check the library against.
 */
export function applyMerges(word: string, ranks: Map<string, number>, vocab?: Map<string, number>): string[] {
  if (vocab?.has(word)) return [word];
  let parts = Array.from(word);
  for (;;) {
    let bestRank = Infinity, at = -1;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < bestRank) [bestRank, at] = [r, i];
    }
    if (at < 0) return parts;
    parts = [...parts.slice(0, at), parts[at] + parts[at + 1], ...parts.slice(at + 2)];
  }
}

/**
 * A Hugging Face tokenizer.json for a trained model, laid out like LLaMA-3's (Split + ByteLevel
 * pre-tokenizer, ByteLevel decoder, BPE with ignore_merges), specials and <pos_i> after the merges.
 */
export function toTokenizerJson(model: BpeModel): object {
  const vocab: Record<string, number> = {};
  for (const [tok, id] of model.vocab) vocab[tok] = id;
  let next = model.vocab.size;
  const added = [...SPECIAL_TOKENS, ...Array.from({ length: NUM_POS_TOKENS }, (_, i) => posToken(i))].map((content) => ({
    id: next++,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges: model.merges,
    },
  };
}
