// Table 1 of the paper on the emoji world: per scale, PSNR between the input and its decode
// (PSNR_r, higher = more faithful) and between two decodes with different seeds (PSNR_d,
// lower = more diverse).
import type { EmojiWorld } from '../data/emoji/world.js';
import { imageBatch } from '../data/batches.js';
import type { DecodeOptions } from '../pipelines/decode.js';
import type { PumaModel } from '../pipelines/model.js';
import { reconstruct } from '../pipelines/reconstruct.js';
import * as T from '../tensor/index.js';
import { mean, psnr } from './metrics.js';

export interface ReconstructionRow {
  scale: string;
  psnrR: number;
  psnrD: number;
  images: number;
}

/** Evaluates every trained decoder on the first n images of a split (two seeds each). */
export function evalReconstruction(
  model: PumaModel, world: EmojiWorld, opts: DecodeOptions & { split?: 'val' | 'test'; n?: number; batch?: number; onProgress?: (msg: string) => void } = {},
): ReconstructionRow[] {
  const { split = 'test', n = 32, batch = 16 } = opts;
  const ids = world.imagesIn(split).slice(0, n).map((i) => i.id);
  const scales = [4, 3, 2, 1, 0].filter((k) => model.decoders[k]);
  const r = new Map<number, number[]>(), d = new Map<number, number[]>();
  for (const k of scales) { r.set(k, []); d.set(k, []); }
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
        a.get(k)!.dispose();
        b.get(k)!.dispose();
      }
      opts.onProgress?.(`${Math.min(s + batch, ids.length)}/${ids.length} images`);
    });
  }
  return scales.map((k) => ({ scale: `f${k}`, psnrR: +mean(r.get(k)!).toFixed(2), psnrD: +mean(d.get(k)!).toFixed(2), images: ids.length }));
}

export function reconstructionTable(rows: ReconstructionRow[]): string {
  const lines = ['| scale | PSNR_r (dB) | PSNR_d (dB) | images |', '|---|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.scale} | ${r.psnrR} | ${r.psnrD} | ${r.images} |`);
  return lines.join('\n');
}
