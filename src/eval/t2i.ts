// Tables 2 and 6 of the paper on the emoji world: text-to-image from the held-out concepts' names.
// Per scale: CLIP-I (generated vs the concept's ground-truth image), CLIP-T (generated vs the
// prompt), diversity between two seeds (PSNR_d, and 1 - cosine of the image embeddings), and the
// "5-scale Max" row: per prompt and seed, the scale the model's own CLIP scores highest. Ours:
// R@1 and R@5, whether the generated image is recognisably its concept, as image retrieval
// among every held-out concept of the split (a concept scores its best-matching image).
import type { EmojiWorld } from '../data/emoji/world.js';
import { imageBatch } from '../data/batches.js';
import { mllmFor, type MllmStage, type PumaModel } from '../pipelines/model.js';
import * as T from '../tensor/index.js';
import { T2I_DECODE_GUIDANCE } from '../pipelines/decode.js';
import { type DefineWhen, modelPrompt } from '../pipelines/generate.js';
import { reconstruct } from '../pipelines/reconstruct.js';
import { bestScale, conceptImages, decodeMany, knownWordsTest, markdownTable, mean, pickRows, SCALES_COARSE_FIRST, type EvalOptions } from './common.js';
import { STANDIN, type EvalEncoder } from './encoder.js';
import { psnr } from './metrics.js';

export interface T2iRow {
  scale: string; clipI: number; clipT: number; psnrD: number; distD: number;
  /** Retrieval among the split's concepts, over all prompts and over names made only of training words (NaN if none). */
  r1: number; r5: number; r5Known: number; prompts: number;
  /**
   * R@5 of the concept's own image features decoded at this scale (seed `seed`), no MLLM: what
   * the decoder lets a perfect text-to-image regression reach (NaN for the 5-scale Max row).
   */
  r5Own: number;
  /** The share whose first retrieved concept is of the prompted kind (kindMatch): generated, and own features decoded (NaN for Max). */
  kind1: number; kind1Own: number;
  /** kind1 over the names made only of training words (NaN if none). */
  kind1Known: number;
  /** kind1 over the other names, those with a word no training label or tag has (NaN if none). */
  kind1Unseen: number;
}
export interface T2iResult {
  stage: MllmStage; note?: string; textGuidance: number; decodeGuidance: number; rows: T2iRow[]; concepts: number; knownPrompts: number;
  /** kind1 of a first concept drawn at random from the retrieval set. */
  kindChance: number;
}

/** Images of a split's concepts to retrieve from: their eval-CLIP embeddings and each one's concept. */
export interface RetrievalSet { embeds: T.Tensor; concepts: readonly number[] }

/** Every image of the split (each concept in both drawing styles where it has them), embedded. */
export function retrievalSet(world: EmojiWorld, ev: EvalEncoder, split: 'val' | 'test'): RetrievalSet {
  const imgs = world.imagesIn(split);
  const embeds: T.Tensor[] = [];
  for (let s = 0; s < imgs.length; s += 64) {
    embeds.push(T.tidy(() => ev.images(imageBatch(world, imgs.slice(s, s + 64).map((i) => i.id), '01')).keep()));
  }
  const all = T.cat(embeds, 0).keep();
  embeds.forEach((e) => e.dispose());
  return { embeds: all, concepts: imgs.map((i) => i.concept) };
}

/** Where an image's concept lands in the retrieval: its rank (0 = first) and the concept ranked first. */
export interface Retrieval { rank: number; top: number }

/**
 * Each image's concept's rank when the set's concepts are ordered by their best image's cosine to
 * it (rank < 1 is R@1, rank < 5 is R@5), and the concept ranked first.
 */
export function conceptRetrieval(ev: EvalEncoder, x: T.Tensor, concepts: readonly number[], set: RetrievalSet): Retrieval[] {
  if (concepts.length !== x.shape[0]) throw new RangeError(`${x.shape[0]} images but ${concepts.length} concepts`);
  const sims = T.tidy(() => ev.images(x).matmul(set.embeds.transpose(0, 1)).toArray());
  const n = set.concepts.length;
  return concepts.map((want, i) => {
    const best = new Map<number, number>();
    for (let j = 0; j < n; j++) best.set(set.concepts[j], Math.max(best.get(set.concepts[j]) ?? -Infinity, sims[i * n + j]));
    const mine = best.get(want);
    if (mine === undefined) throw new RangeError(`concept ${want} has no image in the retrieval set`);
    let rank = 0, top = want, topSim = -Infinity;
    for (const [c, v] of best) {
      if (v > mine) rank++;
      if (v > topSim) { top = c; topSim = v; }
    }
    return { rank, top };
  });
}

/** conceptRetrieval's ranks alone. */
export function conceptRanks(ev: EvalEncoder, x: T.Tensor, concepts: readonly number[], set: RetrievalSet): number[] {
  return conceptRetrieval(ev, x, concepts, set).map((r) => r.rank);
}

/** A concept's kind: its Unicode subcategory ("animal-mammal", "country-flag", "hand-fingers-open", ...). */
const kindOf = (world: EmojiWorld, c: number) => world.concepts[c].subcategory;

/**
 * The share of retrievals whose first concept is of the wanted concept's kind: is the image at
 * least the prompted kind of emoji? found[i] is concepts[i % concepts.length]'s (several seeds in a row).
 */
export function kindMatch(world: EmojiWorld, concepts: readonly number[], found: readonly Retrieval[]): number {
  return mean(found.map((r, i) => (kindOf(world, r.top) === kindOf(world, concepts[i % concepts.length]) ? 1 : 0)));
}

/** kindMatch for a first concept drawn at random from the set's concepts. */
export function kindChance(world: EmojiWorld, concepts: readonly number[], set: RetrievalSet): number {
  const pool = [...new Set(set.concepts)];
  return mean(concepts.map((c) => pool.filter((p) => kindOf(world, p) === kindOf(world, c)).length / pool.length));
}

/**
 * The decoders' ceiling for text-to-image: each image of `x` ([N, 3, H, W], concept concepts[i])
 * encoded and decoded at each scale, no MLLM, and where its concept lands (conceptRetrieval) per scale.
 */
export function ownFeatureRetrieval(
  model: PumaModel, ev: EvalEncoder, x: T.Tensor, concepts: readonly number[], set: RetrievalSet, scales: readonly number[], opts: EvalOptions = {},
): Map<number, Retrieval[]> {
  const found = new Map<number, Retrieval[]>(scales.map((k) => [k, []]));
  const batch = opts.batch ?? 16, n = x.shape[0];
  for (let s = 0; s < n; s += batch) {
    T.tidy(() => {
      const out = reconstruct(model, x.narrow(0, s, Math.min(batch, n - s)), scales, opts);
      for (const k of scales) {
        found.get(k)!.push(...conceptRetrieval(ev, out.get(k)!, concepts.slice(s, s + batch), set));
        out.get(k)!.dispose();
      }
    });
  }
  return found;
}

/**
 * Generates every held-out concept's name (up to n) at every scale with seeds seed and seed + 1.
 *
 * @example
 * const r = evalT2i(puma, world, EvalEncoder.load('models/puma-emoji'), { n: 16 });
 */
export function evalT2i(model: PumaModel, world: EmojiWorld, ev: EvalEncoder, opts: EvalOptions & { split?: 'val' | 'test'; textGuidance?: number; define?: DefineWhen; neighbours?: boolean } = {}): T2iResult {
  const items = conceptImages(world, opts.split ?? 'test', opts.n ?? 64);
  const prompts = items.map((i) => world.concepts[i.concept].label);
  const { mllm, stage, note } = mllmFor(model, 't2i');
  const scales = SCALES_COARSE_FIRST.filter((k) => model.decoders[k]);
  const finest = Math.min(...scales);
  const feats = prompts.map((p, i) => {
    opts.onProgress?.(`t2i: MLLM ${i + 1}/${prompts.length}`);
    // the MLLM reads what `puma generate` gives it (a name's unseen words as their definitions or nearest known words); the scores use the name
    const text = modelPrompt(model, mllm, p, opts.define, opts.neighbours);
    return mllm.generateImage(model.tokenizer.encode(text), { upToScale: finest, guidance: opts.textGuidance }).map((f) => f?.keep() ?? null);
  });
  const seed = opts.seed ?? 0, decodeGuidance = opts.guidance ?? T2I_DECODE_GUIDANCE;
  const gt = imageBatch(world, items.map((i) => i.id), '01').keep();
  const decoded = [seed, seed + 1].map((s) => scales.map((k) => {
    opts.onProgress?.(`t2i: decoding f${k} seed ${s}`);
    return decodeMany(model, k, feats.map((f) => f[k]!), { ...opts, guidance: decodeGuidance, seed: s });
  }));
  const set = retrievalSet(world, ev, opts.split ?? 'test');
  const concepts = items.map((i) => i.concept);
  const known = concepts.map(knownWordsTest(world));
  // ab: the two seeds' images of each prompt, or one image per prompt (then no diversity)
  const row = (scale: string, ...ab: T.Tensor[]): Omit<T2iRow, 'r5Own' | 'kind1Own'> => {
    const [a, b] = ab;
    // both seeds' retrievals in a row: prompt i's are at i and i + prompts.length
    const found = ab.flatMap((x) => conceptRetrieval(ev, x, concepts, set)), ranks = found.map((r) => r.rank);
    // the names of known words only, their seeds in the same order
    const anyKnown = known.some((k) => k), foundKnown = found.filter((_, i) => known[i % known.length]);
    const anyUnseen = known.some((k) => !k), foundUnseen = found.filter((_, i) => !known[i % known.length]);
    return {
      scale,
      clipI: mean(ab.flatMap((x) => ev.imageSimilarity(x, gt))),
      clipT: mean(ab.flatMap((x) => ev.textSimilarity(x, prompts))),
      psnrD: b ? mean(psnr(a, b)) : NaN,
      distD: b ? 1 - mean(ev.imageSimilarity(a, b)) : NaN,
      r1: mean(ranks.map((r) => (r < 1 ? 1 : 0))),
      r5: mean(ranks.map((r) => (r < 5 ? 1 : 0))),
      r5Known: anyKnown ? mean(foundKnown.map((r) => (r.rank < 5 ? 1 : 0))) : NaN,
      kind1: kindMatch(world, concepts, found),
      kind1Known: anyKnown ? kindMatch(world, concepts.filter((_, i) => known[i]), foundKnown) : NaN,
      kind1Unseen: anyUnseen ? kindMatch(world, concepts.filter((_, i) => !known[i]), foundUnseen) : NaN,
      prompts: prompts.length,
    };
  };
  opts.onProgress?.('t2i: decoding the concepts\' own features');
  const own = ownFeatureRetrieval(model, ev, gt, concepts, set, scales, { ...opts, guidance: decodeGuidance, seed });
  const rows: T2iRow[] = scales.map((k, j) => ({
    ...row(`f${k}`, decoded[0][j], decoded[1][j]),
    r5Own: mean(own.get(k)!.map((r) => (r.rank < 5 ? 1 : 0))),
    kind1Own: kindMatch(world, concepts, own.get(k)!),
  }));
  if (scales.length > 1) {
    const picks = decoded.map((byScale) => pickRows(byScale, bestScale(model, byScale, prompts)));
    rows.push({ ...row('5-scale Max', picks[0], picks[1]), r5Own: NaN, kind1Own: NaN });
    picks.forEach((p) => p.dispose());
  }
  // `puma generate --best` over two seeds: the one image of the ten (2 seeds x 5 scales) the model's CLIP scores highest
  const both = decoded.flat(), all = pickRows(both, bestScale(model, both, prompts));
  rows.push({ ...row(`Max of 2 seeds x ${scales.length} scales`, all), r5Own: NaN, kind1Own: NaN });
  all.dispose();
  decoded.flat().forEach((t) => t.dispose());
  feats.flat().forEach((t) => t?.dispose());
  gt.dispose();
  set.embeds.dispose();
  return {
    stage, note, textGuidance: opts.textGuidance ?? 1, decodeGuidance, rows, concepts: new Set(set.concepts).size,
    knownPrompts: known.filter((k) => k).length, kindChance: kindChance(world, concepts, set),
  };
}

export function t2iTable(r: T2iResult): string {
  return markdownTable(
    ['scale', `CLIP-I ${STANDIN}`, `CLIP-T ${STANDIN}`, 'PSNR_d (dB)', `1-cos_d ${STANDIN}`, `R@1 of ${r.concepts}`, `R@5 of ${r.concepts}`, `R@5, ${r.knownPrompts} names of known words`, 'R@5 of own features decoded', `kind@1 (chance ${r.kindChance.toFixed(3)})`, `kind@1, ${r.knownPrompts} names of known words`, `kind@1, ${r.rows[0]?.prompts - r.knownPrompts} names with unseen words`, 'kind@1 of own features decoded', 'prompts'],
    r.rows.map((x) => [x.scale, x.clipI, x.clipT, +x.psnrD.toFixed(2), x.distD, x.r1, x.r5, x.r5Known, x.r5Own, x.kind1, x.kind1Known, x.kind1Unseen, x.kind1Own, String(x.prompts)]),
  );
}
