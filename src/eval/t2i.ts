// Tables 2 and 6 of the paper on the emoji world: text-to-image from the held-out concepts' names.
// Per scale: CLIP-I (generated vs the concept's ground-truth image), CLIP-T (generated vs the
// prompt), diversity between two seeds (PSNR_d, and 1 - cosine of the image embeddings), and the
// "5-scale Max" row: per prompt and seed, the scale the model's own CLIP scores highest.
import type { EmojiWorld } from '../data/emoji/world.js';
import { imageBatch } from '../data/batches.js';
import { mllmFor, type MllmStage, type PumaModel } from '../pipelines/model.js';
import * as T from '../tensor/index.js';
import { bestScale, conceptImages, decodeMany, markdownTable, mean, pickRows, SCALES_COARSE_FIRST, type EvalOptions } from './common.js';
import { STANDIN, type EvalEncoder } from './encoder.js';
import { psnr } from './metrics.js';

export interface T2iRow { scale: string; clipI: number; clipT: number; psnrD: number; distD: number; prompts: number }
export interface T2iResult { stage: MllmStage; note?: string; textGuidance: number; rows: T2iRow[] }

/**
 * Generates every held-out concept's name (up to n) at every scale with seeds seed and seed + 1.
 *
 * @example
 * const r = evalT2i(puma, world, EvalEncoder.load('models/puma-emoji'), { n: 16 });
 */
export function evalT2i(model: PumaModel, world: EmojiWorld, ev: EvalEncoder, opts: EvalOptions & { split?: 'val' | 'test'; textGuidance?: number } = {}): T2iResult {
  const items = conceptImages(world, opts.split ?? 'test', opts.n ?? 64);
  const prompts = items.map((i) => world.concepts[i.concept].label);
  const { mllm, stage, note } = mllmFor(model, 't2i');
  const scales = SCALES_COARSE_FIRST.filter((k) => model.decoders[k]);
  const finest = Math.min(...scales);
  const feats = prompts.map((p, i) => {
    opts.onProgress?.(`t2i: MLLM ${i + 1}/${prompts.length}`);
    return mllm.generateImage(model.tokenizer.encode(p), { upToScale: finest, guidance: opts.textGuidance }).map((f) => f?.keep() ?? null);
  });
  const seed = opts.seed ?? 0;
  const gt = imageBatch(world, items.map((i) => i.id), '01').keep();
  const decoded = [seed, seed + 1].map((s) => scales.map((k) => {
    opts.onProgress?.(`t2i: decoding f${k} seed ${s}`);
    return decodeMany(model, k, feats.map((f) => f[k]!), { ...opts, seed: s });
  }));
  const row = (scale: string, a: T.Tensor, b: T.Tensor): T2iRow => {
    const ab = [a, b];
    return {
      scale,
      clipI: mean(ab.flatMap((x) => ev.imageSimilarity(x, gt))),
      clipT: mean(ab.flatMap((x) => ev.textSimilarity(x, prompts))),
      psnrD: mean(psnr(a, b)),
      distD: 1 - mean(ev.imageSimilarity(a, b)),
      prompts: prompts.length,
    };
  };
  const rows = scales.map((k, j) => row(`f${k}`, decoded[0][j], decoded[1][j]));
  if (scales.length > 1) {
    const picks = decoded.map((byScale) => pickRows(byScale, bestScale(model, byScale, prompts)));
    rows.push(row('5-scale Max', picks[0], picks[1]));
    picks.forEach((p) => p.dispose());
  }
  decoded.flat().forEach((t) => t.dispose());
  feats.flat().forEach((t) => t?.dispose());
  gt.dispose();
  return { stage, note, textGuidance: opts.textGuidance ?? 1, rows };
}

export function t2iTable(r: T2iResult): string {
  return markdownTable(
    ['scale', `CLIP-I ${STANDIN}`, `CLIP-T ${STANDIN}`, 'PSNR_d (dB)', `1-cos_d ${STANDIN}`, 'prompts'],
    r.rows.map((x) => [x.scale, x.clipI, x.clipT, +x.psnrD.toFixed(2), x.distD, String(x.prompts)]),
  );
}
