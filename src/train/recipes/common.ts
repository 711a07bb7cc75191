// Pieces shared by the training recipes: run folders, captions, tokenised text batches.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EmojiWorld } from '../../data/emoji/world.js';
import { STYLE_NAMES } from '../../data/emoji/meta.js';
import type { PumaTokenizer } from '../../data/tokenizer/tokenizer.js';
import { loadTokenizer } from '../../data/tokenizer/tokenizer.js';
import { toTokenizerJson, trainBpe } from '../../data/tokenizer/bpe.js';
import { captionCorpus } from '../../data/tokenizer/corpus.js';
import type { Generator } from '../../tensor/index.js';
import { fromArray, type Tensor } from '../../tensor/index.js';

export interface RecipeOptions {
  /** Dataset folder (puma data build). */
  data: string;
  /** Where runs live: <runs>/<stage>/. */
  runs: string;
  steps?: number;
  batch?: number;
  seed?: number;
  progress?: boolean;
}

/** The run's tokenizer: <runs>/tokenizer.json, trained on first use (a few seconds). */
export function runTokenizer(world: EmojiWorld, runs: string, vocab = 4096): PumaTokenizer {
  const path = join(runs, 'tokenizer.json');
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(toTokenizerJson(trainBpe(captionCorpus(world.concepts), vocab))));
  }
  return loadTokenizer(path);
}

/** A caption of an image, varied: the label, the label with its style, or tags. */
export function captionOf(world: EmojiWorld, id: number, rng: Generator): string {
  const c = world.concept(id), img = world.images[id];
  const r = rng.uniform();
  const label = c.label.toLowerCase();
  if (r < 0.5) return label;
  if (r < 0.8) return `${label}, ${STYLE_NAMES[img.style]}`;
  return c.tags.length ? `${label}: ${c.tags.slice(0, 4).join(', ')}` : label;
}

/** `<s> text </s>` ids padded to length t with <pad> (truncated keeping </s>), as [B, t] int32. */
export function textBatch(tok: PumaTokenizer, texts: readonly string[], t: number): Tensor {
  const out = new Int32Array(texts.length * t).fill(tok.special.pad);
  texts.forEach((s, i) => {
    const ids = [tok.special.bos, ...tok.encode(s).slice(0, t - 2), tok.special.eos];
    out.set(ids, i * t);
  });
  return fromArray(out, [texts.length, t], 'int32');
}

/** B distinct concepts from a split, one random image (style, tone) of each. */
export function distinctConceptBatch(world: EmojiWorld, split: 'train' | 'val' | 'test', b: number, rng: Generator): number[] {
  const imgs = world.imagesIn(split);
  const seen = new Set<number>(), ids: number[] = [];
  while (ids.length < b) {
    const img = imgs[rng.randint(0, imgs.length)];
    if (seen.has(img.concept)) continue;
    seen.add(img.concept);
    ids.push(img.id);
  }
  return ids;
}
