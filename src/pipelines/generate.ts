// Text-to-image (paper 3.3, 4.2): after `<s> prompt [IMG]` the MLLM regresses f4, then the 4
// tokens of f3, ... and stops after the finest scale asked for; each scale's decoder turns its
// features into images, one decode per seed. `best` is the paper's "5-scale Max" (Table 6): every
// requested scale is decoded and the image with the highest CLIP score against the prompt kept,
// per seed and over all seeds (on the emoji model the best of 2 seeds x 5 scales finds the prompted
// concept in the top 5 a little more often than one seed's 5-scale Max, 21.9% against 20.1%: docs/PUMA.md).
import { wordnet } from '../data/definitions.js';
import { neighbourText } from '../data/neighbours.js';
import { wordsOf } from '../data/tokenizer/corpus.js';
import { chwToImage } from '../io/image.js';
import type { PumaMLLM } from '../models/puma/mllm.js';
import * as T from '../tensor/index.js';
import { CLIP_TEXT_LEN } from '../train/recipes/clip.js';
import { textBatch } from '../train/recipes/common.js';
import { decodeFeatures, T2I_DECODE_GUIDANCE, type DecodeOptions } from './decode.js';
import { mllmFor, type MllmStage, type PumaModel } from './model.js';
import { clipNormalize, prepareImage } from './reconstruct.js';

export const ALL_SCALES: readonly number[] = [4, 3, 2, 1, 0];

/** Settings shared by every image-writing task: which scales, which seeds, how to decode. */
export interface ImageTaskOptions extends Omit<DecodeOptions, 'seed' | 'onStep'> {
  /** Scales to decode, 4 (f4, coarsest) .. 0 (f0, finest). */
  scales?: readonly number[];
  /** One decode per seed (the MLLM's regression is deterministic; the decoders bring the diversity). */
  seeds?: readonly number[];
  onProgress?: (message: string) => void;
}

export interface GenerateOptions extends ImageTaskOptions {
  /** 5-scale Max: keep, per seed and over all seeds, the image that scores highest with CLIP against the prompt. */
  best?: boolean;
  /** Classifier-free guidance on the prompt in the MLLM (PumaMLLM.generateImage); 1 = the paper's plain regression. */
  textGuidance?: number;
  /** When the MLLM reads the prompt as its dictionary definitions (modelPrompt); default 'auto'. */
  define?: DefineWhen;
  /** Unseen words read as their nearest known words, when the model has the table (modelPrompt); default true. */
  neighbours?: boolean;
}

/**
 * 'auto': a prompt with words no training caption has is given as its definitions, if the MLLM
 * was trained with them (MllmConfig.definitions); 'always': every prompt (an error for an MLLM
 * trained without them); 'never': the prompt as written.
 */
export type DefineWhen = 'auto' | 'always' | 'never';
export const DEFINE_WHEN: readonly DefineWhen[] = ['auto', 'always', 'never'];

/** The decodes of one seed: images [1, 3, 64, 64] in [0, 1] by scale, and for `best` their scores. */
export interface SeedImages {
  seed: number;
  images: Map<number, T.Tensor>;
  scores?: Map<number, number>;
  /** The scale with the highest score (5-scale Max). */
  best?: number;
}

export interface ImageTaskResult {
  /** The MLLM that wrote the features, and why, when it is not the task's own. */
  stage: MllmStage;
  note?: string;
  /** Regressed [f0..f4], each [1, n_k, C]; null for scales finer than the finest requested. */
  features: (T.Tensor | null)[];
  rows: SeedImages[];
  /** Words of the prompt that no training caption has (unseenWords); the images can only follow the others. */
  unseenWords?: string[];
  /** The text the MLLM read instead of the prompt, and why (modelPrompt). */
  readPrompt?: string;
  readAs?: ReadAs;
}

/** What generate returns: for `best`, also the one image of all seeds and scales with the highest score. */
export interface GenerateResult extends ImageTaskResult {
  best?: { seed: number; scale: number; score: number };
}

/**
 * Text -> images at the requested scales. The decoders run at T2I_DECODE_GUIDANCE unless
 * `opts.guidance` says otherwise.
 *
 * @example
 * const r = generate(puma, 'grinning face', { scales: [4, 0], seeds: [0, 1], best: true });
 * r.rows[0].images.get(0); // [1, 3, 64, 64]
 * r.rows[0].best;          // 4 or 0: seed 0's best scale
 * r.best;                  // { seed: 1, scale: 4, score: 0.31 }: the best of all four images
 */
export function generate(model: PumaModel, prompt: string, opts: GenerateOptions = {}): GenerateResult {
  if (!prompt.trim()) throw new Error('the prompt is empty');
  const scales = checkScales(model, opts.scales ?? ALL_SCALES);
  const { mllm, stage, note } = mllmFor(model, 't2i');
  const { text, as } = promptReading(model, mllm, prompt, opts.define, opts.neighbours);
  opts.onProgress?.(`MLLM (${stage}) writes f4..f${Math.min(...scales)}`);
  const features = mllm.generateImage(model.tokenizer.encode(text), { upToScale: Math.min(...scales), guidance: opts.textGuidance });
  const rows = (opts.seeds ?? [0]).map((seed): SeedImages => {
    const images = decodeScales(model, features, scales, seed, { ...opts, guidance: opts.guidance ?? T2I_DECODE_GUIDANCE });
    if (!opts.best) return { seed, images };
    const s = clipScores(model, prompt, scales.map((k) => images.get(k)!));
    return { seed, images, scores: new Map(scales.map((k, i) => [k, s[i]])), best: scales[argmax(s)] };
  });
  return {
    stage, note, features, rows, unseenWords: unseenWords(model, prompt), ...(as ? { readPrompt: text, readAs: as } : {}),
    ...(opts.best ? { best: bestOf(rows) } : {}),
  };
}

/** The seed and scale of the highest score over all rows (the first on ties). */
function bestOf(rows: readonly SeedImages[]): { seed: number; scale: number; score: number } {
  const all = rows.map((r) => ({ seed: r.seed, scale: r.best!, score: r.scores!.get(r.best!)! }));
  return all[argmax(all.map((c) => c.score))];
}

/** Why the MLLM read another text than the prompt: its words' definitions, or its unseen words' nearest known words. */
export type ReadAs = 'definitions' | 'neighbours';

/**
 * What the text-to-image MLLM reads for a prompt: the prompt; or (see DefineWhen) the WordNet
 * definitions of its words, as an MLLM trained with --definitions read 2 in 9 of its captions;
 * or else, when the model has the table and `neighbours` is not false, the prompt with each
 * unseen word replaced by its nearest known word (src/data/neighbours.ts).
 *
 * @example
 * modelPrompt(puma, mllm, 'pineapple'); // 'a tropical american plant bearing ...' (definitions), 'mango' (neighbours)
 */
export function modelPrompt(model: PumaModel, mllm: PumaMLLM, prompt: string, define: DefineWhen = 'auto', neighbours = true): string {
  return promptReading(model, mllm, prompt, define, neighbours).text;
}

/** modelPrompt's text, and why it is not the prompt (`as`, absent when it is). */
export function promptReading(
  model: PumaModel, mllm: PumaMLLM, prompt: string, define: DefineWhen = 'auto', neighbours = true,
): { text: string; as?: ReadAs } {
  if (!DEFINE_WHEN.includes(define)) throw new Error(`unknown define setting '${define}': use ${DEFINE_WHEN.join(', ')}`);
  if (define === 'always' && !mllm.config.definitions) {
    throw new Error('this MLLM was not trained with definitions (puma train mllm --definitions): it cannot read them');
  }
  const unseen = unseenWords(model, prompt);
  if (define !== 'never' && mllm.config.definitions && (define === 'always' || unseen.length)) {
    const text = wordnet().defineText(prompt) || prompt;
    return text === prompt ? { text } : { text, as: 'definitions' };
  }
  if (!neighbours || !model.neighbours || !unseen.length) return { text: prompt };
  const text = neighbourText(prompt, model.neighbours, (w) => unseen.includes(w));
  return text === prompt ? { text } : { text, as: 'neighbours' };
}

/**
 * The words of a text (lower-case a-z runs) that no training caption of the model has, each once:
 * a small model has nothing to draw them from. [] when the model does not know its training words.
 *
 * @example
 * unseenWords(puma, 'a pineapple emoji'); // ['pineapple'] for the emoji model, which never saw one
 */
export function unseenWords(model: PumaModel, text: string): string[] {
  const known = model.trainingWords;
  return known ? [...new Set(wordsOf(text).filter((w) => !known.has(w)))] : [];
}

/** What to tell a user about unseenWords, in one line (and what the MLLM read instead, and why, when it did). */
export function unseenNote(words: readonly string[], readPrompt?: string, as: ReadAs = 'definitions'): string {
  const list = words.map((w) => `"${w}"`).join(', ');
  if (readPrompt && as === 'definitions') return `no training caption has ${list}: the MLLM reads the prompt as its WordNet definitions: "${readPrompt}"`;
  if (readPrompt) return `no training caption has ${list}: the MLLM reads the nearest known words in their place (word-neighbours.tsv): "${readPrompt}"`;
  return `no training caption has ${list}: the model cannot read ${words.length === 1 ? 'this word' : 'these words'}, so the images follow the prompt's other words only`;
}

/** Checks scales (0..4, no repeats) against the decoders the model has; returns them. */
export function checkScales(model: PumaModel, scales: readonly number[]): number[] {
  if (scales.length === 0) throw new Error('no scales given');
  for (const k of scales) {
    if (!Number.isInteger(k) || k < 0 || k > 4) throw new Error(`unknown scale ${k}: scales are 0 (f0, finest) .. 4 (f4, coarsest)`);
    if (!model.decoders[k]) throw new Error(`no decoder for scale f${k}: train it with 'puma train decoder --scale ${k}'`);
  }
  return [...new Set(scales)];
}

/** Decodes regressed features at each scale with one seed: scale -> [1, 3, 64, 64] in [0, 1]. */
export function decodeScales(
  model: PumaModel, features: readonly (T.Tensor | null)[], scales: readonly number[], seed: number, opts: ImageTaskOptions = {},
): Map<number, T.Tensor> {
  const out = new Map<number, T.Tensor>();
  for (const k of scales) {
    const f = features[k];
    if (!f) throw new Error(`f${k} was not generated`);
    out.set(k, decodeFeatures(model.decoders[k]!, model.vae, model.scalingFactor, f, model.nullScales[k], {
      scheduler: opts.scheduler, steps: opts.steps, guidance: opts.guidance, seed,
      onStep: (i, n) => opts.onProgress?.(`f${k} seed ${seed}: step ${i}/${n}`),
    }).keep());
  }
  return out;
}

/**
 * Cosine similarity of each image ([1, 3, H, W] in [0, 1]) with the text, by the model's CLIP
 * (both projections): the CLIP-T score. The mini CLIP was trained on lower-case captions, so the
 * text is lower-cased; images of another size are resized to CLIP's input.
 *
 * @example
 * clipScores(puma, 'grinning face', [img4, img0]); // [0.21, 0.34]
 */
export function clipScores(model: PumaModel, text: string, images: readonly T.Tensor[]): number[] {
  const size = model.clip.config.visionConfig.imageSize;
  return T.noGrad(() => T.tidy(() => {
    const norm = (e: T.Tensor) => e.div(e.square().sum(-1, true).sqrt());
    const txt = norm(model.clip.textEmbeds(textBatch(model.tokenizer, [text.toLowerCase()], CLIP_TEXT_LEN)));
    const pixels = T.cat(images.map((x) => (x.shape[2] === size && x.shape[3] === size ? x
      : prepareImage(chwToImage({ data: x.contiguous().data, shape: [3, x.shape[2], x.shape[3]] }, '01'), size))), 0);
    const img = norm(model.clip.imageEmbeds(clipNormalize(pixels)));
    return Array.from(img.matmul(txt.transpose(0, 1)).toArray());
  }));
}

/** Index of the largest value (the first one on ties). */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
