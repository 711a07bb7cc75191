import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { BOS, EOS, IMG_END, IMG_START, NUM_POS_TOKENS, PAD, posToken } from './special.js';

/** What the rest of PUMA needs from a tokenizer, whichever file it came from. */
export interface PumaTokenizer {
  /** Ids of the text alone: no <s> or </s> added. Special tokens written in the text are recognised. */
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Largest id + 1, added tokens included: the embedding table's row count. */
  vocabSize: number;
  special: { bos: number; eos: number; imgStart: number; imgEnd: number; pad: number };
  /** Id of <pos_i>, 0 <= i < 224. */
  posId(i: number): number;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
  [k: string]: unknown;
}
interface TokenizerJson {
  added_tokens?: AddedTokenJson[];
  model?: { type?: string; vocab?: Record<string, number> | unknown[] };
  [k: string]: unknown;
}

/** LLaMA-3's names for the sequence markers, used when a file has no <s> / </s>. */
const ALIASES: Record<string, string[]> = {
  [BOS]: ['<|begin_of_text|>', '<bos>'],
  [EOS]: ['<|end_of_text|>', '<eos>', '<|endoftext|>'],
  [PAD]: ['<|finetune_right_pad_id|>', '[PAD]'],
};

/**
 * Loads a Hugging Face tokenizer.json (ours from `puma tokenizer train`, or LLaMA-3's) through
 * @huggingface/tokenizers. PUMA's tokens that the file lacks ([IMG], [/IMG], <pad>, <pos_0..223>,
 * and <s> </s> unless an alias such as <|begin_of_text|> exists) are appended after the largest id.
 * Nothing is downloaded.
 * @example const tok = loadTokenizer('tokenizer.json'); tok.encode('grinning face');
 */
export function loadTokenizer(source: string | object): PumaTokenizer {
  let json: TokenizerJson;
  if (typeof source === 'string') {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch {
      throw new Error(`tokenizer file not found: ${source}`);
    }
    try {
      json = JSON.parse(text) as TokenizerJson;
    } catch {
      throw new Error(`${source} is not valid JSON`);
    }
  } else {
    json = structuredClone(source) as TokenizerJson;
  }
  if (!json.model || typeof json.model.vocab !== 'object') {
    throw new Error(`${typeof source === 'string' ? source : 'tokenizer'} is not a Hugging Face tokenizer.json (no model.vocab)`);
  }
  const added = (json.added_tokens ??= []);
  const known = new Map<string, number>();
  const vocab = json.model.vocab;
  if (!Array.isArray(vocab)) for (const [t, id] of Object.entries(vocab)) known.set(t, id);
  let maxId = -1;
  for (const id of known.values()) maxId = Math.max(maxId, id);
  for (const a of added) {
    known.set(a.content, a.id);
    maxId = Math.max(maxId, a.id);
  }
  const resolved = new Map<string, number>();
  const ensure = (token: string): number => {
    const direct = known.get(token);
    if (direct !== undefined) return direct;
    for (const alias of ALIASES[token] ?? []) {
      const id = known.get(alias);
      if (id !== undefined) return id;
    }
    const id = ++maxId;
    added.push({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    known.set(token, id);
    return id;
  };
  for (const t of [BOS, EOS, IMG_START, IMG_END, PAD]) resolved.set(t, ensure(t));
  const posBase: number[] = [];
  for (let i = 0; i < NUM_POS_TOKENS; i++) posBase.push(ensure(posToken(i)));

  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, {});
  } catch (err) {
    throw new Error(`cannot build tokenizer: ${(err as Error).message.split('\n')[0]}`);
  }
  const specialIds = new Set(added.filter((a) => a.special).map((a) => a.id));
  return {
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids, opts = {}) => {
      const keep = opts.skipSpecial ? ids.filter((id) => !specialIds.has(id)) : ids;
      return tok.decode([...keep], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    },
    tokenToId: (token) => tok.token_to_id(token) ?? known.get(token),
    idToToken: (id) => tok.id_to_token(id),
    vocabSize: maxId + 1,
    special: {
      bos: resolved.get(BOS)!,
      eos: resolved.get(EOS)!,
      imgStart: resolved.get(IMG_START)!,
      imgEnd: resolved.get(IMG_END)!,
      pad: resolved.get(PAD)!,
    },
    posId: (i) => {
      if (!Number.isInteger(i) || i < 0 || i >= NUM_POS_TOKENS) throw new Error(`position token ${i} out of range 0..223`);
      return posBase[i];
    },
  };
}
