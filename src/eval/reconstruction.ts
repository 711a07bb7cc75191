// Table 1 of the paper on the emoji world: per scale, PSNR between the input and its decode
// (PSNR_r, higher = more faithful) and between two decodes with different seeds (PSNR_d,
// lower = more diverse). distance_r and distance_d (the paper's LPIPS) are 1 - the DINO-style
// patch similarity of the evaluation encoder, when one is given.
import type { EmojiWorld } from '../data/emoji/world.js';
import { imageBatch } from '../data/batches.js';
import type { DecodeOptions } from '../pipelines/decode.js';
import type { PumaModel } from '../pipelines/model.js';
import { reconstruct } from '../pipelines/reconstruct.js';
import * as T from '../tensor/index.js';
import { markdownTable } from './common.js';
import { STANDIN, type EvalEncoder } from './encoder.js';
import { mean, psnr } from './metrics.js';
import { ssim } from './ssim.js';

export interface ReconstructionRow {
  scale: string;
  psnrR: number;
  ssimR: number;
  psnrD: number;
  /** 1 - DINO-style similarity to the input / between the two decodes (NaN without an evaluation encoder). */
  distR: number;
  distD: number;
  images: number;
}

/** Evaluates every trained decoder on the first n images of a split (two seeds each). */
export function evalReconstruction(
  model: PumaModel, world: EmojiWorld,
  opts: DecodeOptions & { split?: 'val' | 'test'; n?: number; batch?: number; onProgress?: (msg: string) => void; encoder?: EvalEncoder } = {},
): ReconstructionRow[] {
  const { split = 'test', n = 32, batch = 16 } = opts;
  const ids = world.imagesIn(split).slice(0, n).map((i) => i.id);
  const scales = [4, 3, 2, 1, 0].filter((k) => model.decoders[k]);
  const r = new Map<number, number[]>(), d = new Map<number, number[]>(), sr = new Map<number, number[]>();
  const dr = new Map<number, number[]>(), dd = new Map<number, number[]>();
  for (const k of scales) { r.set(k, []); d.set(k, []); sr.set(k, []); dr.set(k, []); dd.set(k, []); }
  const ev = opts.encoder;
  const seed = opts.seed ?? 0;
  for (let s = 0; s < ids.length; s += batch) {
    T.tidy(() => {
      const chunk = ids.slice(s, s + batch);
      const x = imageBatch(world, chunk, '01');
      const a = reconstruct(model, x, scales, { ...opts, seed });
      const b = reconstruct(model, x, scales, { ...opts, seed: seed + 1 });
      for (const k of scales) {
        r.get(k)!.push(...psnr(a.get(k)!, x));
        d.get(k)!.push(...psnr(a.get(k)!, b.get(k)!));
        sr.get(k)!.push(...ssim(a.get(k)!, x));
        if (ev) {
          dr.get(k)!.push(...ev.patchSimilarity(a.get(k)!, x).map((v) => 1 - v));
          dd.get(k)!.push(...ev.patchSimilarity(a.get(k)!, b.get(k)!).map((v) => 1 - v));
        }
        a.get(k)!.dispose();
        b.get(k)!.dispose();
      }
      opts.onProgress?.(`${Math.min(s + batch, ids.length)}/${ids.length} images`);
    });
  }
  return scales.map((k) => ({ scale: `f${k}`, psnrR: +mean(r.get(k)!).toFixed(2), ssimR: +mean(sr.get(k)!).toFixed(4), psnrD: +mean(d.get(k)!).toFixed(2),
    distR: ev ? +mean(dr.get(k)!).toFixed(4) : NaN, distD: ev ? +mean(dd.get(k)!).toFixed(4) : NaN, images: ids.length,
  }));
}

export function reconstructionTable(rows: ReconstructionRow[]): string {
  return markdownTable(
    ['scale', 'PSNR_r (dB)', 'SSIM_r', `distance_r ${STANDIN}`, 'PSNR_d (dB)', `distance_d ${STANDIN}`, 'images'],
    rows.map((r) => [r.scale, r.psnrR.toFixed(2), r.ssimR, r.distR, r.psnrD.toFixed(2), r.distD, String(r.images)]),
  );
}
