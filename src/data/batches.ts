// Batches of emoji images as tensors.
import { CLIP_MEAN, CLIP_STD } from '../io/image.js';
import { Tensor } from '../tensor/index.js';
import type { EmojiWorld } from './emoji/world.js';

export type PixelRange = '01' | '-11' | 'clip';

/**
 * Images by id as one [B, 3, H, W] tensor: in [0, 1], [-1, 1], or CLIP-normalised.
 *
 * @example
 * const x = imageBatch(world, [0, 5, 9], '-11'); // [3, 3, 64, 64]
 */
export function imageBatch(world: EmojiWorld, ids: readonly number[], range: PixelRange): Tensor {
  const H = world.height, W = world.width, n = H * W;
  const out = Tensor.empty([ids.length, 3, H, W]);
  const d = out.data;
  for (let b = 0; b < ids.length; b++) {
    const px = world.rgb(ids[b]).data;
    for (let c = 0; c < 3; c++) {
      const base = (b * 3 + c) * n;
      const [scale, shift] = range === '01' ? [1 / 255, 0] : range === '-11' ? [2 / 255, -1]
        : [1 / (255 * CLIP_STD[c]), -CLIP_MEAN[c] / CLIP_STD[c]];
      for (let i = 0; i < n; i++) d[base + i] = px[i * 3 + c] * scale + shift;
    }
  }
  return out;
}

/** Converts a [B, 3, H, W] batch back to [0, 1] from the given range (for images and metrics). */
export function toUnitRange(x: Tensor, range: PixelRange): Tensor {
  if (range === '01') return x;
  if (range === '-11') return x.mul(0.5).add(0.5).clamp(0, 1);
  const [B, C, H, W] = x.shape;
  const out = Tensor.empty(x.shape);
  const s = x.contiguous().data, d = out.data, n = H * W;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < n; i++) {
        const v = s[(b * C + c) * n + i] * CLIP_STD[c] + CLIP_MEAN[c];
        d[(b * C + c) * n + i] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  return out;
}
