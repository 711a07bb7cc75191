// Pieces every task evaluation shares: batched decoding of many regressed feature sets, the
// model's own CLIP score (which picks the "5-scale Max"), and markdown tables.
import type { EmojiWorld } from '../data/emoji/world.js';
import { wordsOf } from '../data/tokenizer/corpus.js';
import type { DecodeOptions } from '../pipelines/decode.js';
import { decodeFeatures } from '../pipelines/decode.js';
import type { PumaModel } from '../pipelines/model.js';
import { clipNormalize } from '../pipelines/reconstruct.js';
import * as T from '../tensor/index.js';
import { CLIP_TEXT_LEN } from '../train/recipes/clip.js';
import { textBatch } from '../train/recipes/common.js';

export const SCALES_COARSE_FIRST: readonly number[] = [4, 3, 2, 1, 0];

export interface EvalOptions extends Omit<DecodeOptions, 'onStep'> {
  /** Items to evaluate (prompts, pairs, questions, images). */
  n?: number;
  /** Decodes per call of the decoder (each doubles under guidance). */
  batch?: number;
  onProgress?: (message: string) => void;
}

/**
 * Decodes scale k of many feature sets (each [1, n_k, C]) with one seed, in batches:
 * [N, 3, 64, 64] in [0, 1]. The noise of item i depends on the batch it falls in, so results are
 * reproducible for the same (n, batch, seed).
 */
export function decodeMany(model: PumaModel, k: number, features: readonly T.Tensor[], opts: EvalOptions = {}): T.Tensor {
  const decoder = model.decoders[k];
  if (!decoder) throw new Error(`no decoder for scale f${k}`);
  const batch = opts.batch ?? 16, out: T.Tensor[] = [];
  for (let s = 0; s < features.length; s += batch) {
    const f = T.tidy(() => T.cat(features.slice(s, s + batch), 0).keep());
    out.push(decodeFeatures(decoder, model.vae, model.scalingFactor, f, model.nullScales[k], {
      scheduler: opts.scheduler, steps: opts.steps, guidance: opts.guidance, seed: (opts.seed ?? 0) * 1000 + s,
    }).keep());
    f.dispose();
  }
  const all = out.length === 1 ? out[0] : T.cat(out, 0).keep();
  if (out.length > 1) out.forEach((t) => t.dispose());
  return all;
}

/** The model's own CLIP score (cosine) of image i with text i: what 5-scale Max maximises. */
export function modelClipScores(model: PumaModel, x: T.Tensor, texts: readonly string[]): number[] {
  return T.noGrad(() => T.tidy(() => {
    const unit = (e: T.Tensor) => e.div(e.square().sum(-1, true).sqrt().add(1e-12));
    const txt = unit(model.clip.textEmbeds(textBatch(model.tokenizer, texts.map((s) => s.toLowerCase()), CLIP_TEXT_LEN)));
    const img = unit(model.clip.imageEmbeds(clipNormalize(x)));
    return Array.from(img.mul(txt).sum(-1).toArray());
  }));
}

/**
 * Per item, the scale whose image scores highest with the model's CLIP: index into `scales`.
 * `byScale[j]` holds the images of scales[j], [N, 3, H, W].
 */
export function bestScale(model: PumaModel, byScale: readonly T.Tensor[], texts: readonly string[]): number[] {
  const scores = byScale.map((x) => modelClipScores(model, x, texts));
  return texts.map((_, i) => scores.reduce((b, s, j) => (s[i] > scores[b][i] ? j : b), 0));
}

/** Rows i of x picked by index: out[i] = x[from[i]][i]. */
export function pickRows(byScale: readonly T.Tensor[], from: readonly number[]): T.Tensor {
  return T.tidy(() => T.cat(from.map((j, i) => byScale[j].narrow(0, i, 1)), 0).keep());
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / Math.max(xs.length, 1);
}

/** A markdown table; numbers are printed with `digits` decimals. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], digits = 3): string {
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isFinite(v) ? v.toFixed(digits) : 'n/a') : v);
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

/**
 * n of the split's distinct concepts, one image each (its first), spread evenly over the split's
 * stable order, so that every part of it (faces, hands, people, animals, ..., flags) is sampled
 * rather than only its first concepts.
 */
export function conceptImages(world: { imagesIn(split: 'val' | 'test'): { id: number; concept: number }[] }, split: 'val' | 'test', n: number): { id: number; concept: number }[] {
  const seen = new Set<number>(), all: { id: number; concept: number }[] = [];
  for (const img of world.imagesIn(split)) {
    if (seen.has(img.concept)) continue;
    seen.add(img.concept);
    all.push(img);
  }
  if (n >= all.length) return all;
  return Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)]);
}

/**
 * Whether a concept's name is made only of words some training label or tag has: a held-out
 * name the model can at best compose from known words (117 of the 195 held-out names have a word
 * no training text shows, which nothing trained here can read).
 */
export function knownWordsTest(world: Pick<EmojiWorld, 'concepts' | 'imagesIn'>): (concept: number) => boolean {
  const train = trainingLabelWords(world);
  return (c) => wordsOf(world.concepts[c].label).every((w) => train.has(w));
}

/** Every word of the training split's labels and tags (the model's trainingWords hold every word of its captions, templates too). */
export function trainingLabelWords(world: Pick<EmojiWorld, 'concepts' | 'imagesIn'>): Set<string> {
  return new Set(world.imagesIn('train').flatMap((im) => [world.concepts[im.concept].label, ...world.concepts[im.concept].tags].flatMap(wordsOf)));
}
