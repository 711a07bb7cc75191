// PUMA's multi-granular image features (paper section 3.1): a frozen CLIP vision tower gives
// a grid of patch features f0 (CLS dropped); 2x2 average pooling gives f1..f4.
import type { CLIPVisionTransformer } from '../clip/model.js';
import { CLIP_MEAN, CLIP_STD } from '../../io/image.js';
import { avgPool2d, cat, noGrad, Tensor, tidy } from '../../tensor/index.js';

/** Tokens per scale, f0 (finest) to f4 (coarsest), for a 16x16 grid: 256, 64, 16, 4, 1. */
export const SCALE_TOKENS = [256, 64, 16, 4, 1] as const;
export const NUM_SCALES = 5;

/**
 * f0..f4 from CLIP-normalised pixels.
 *
 * @example
 * const enc = new MultiGranularEncoder(clip.vision_model);
 * const [f0, f1, f2, f3, f4] = enc.encode(pixels); // [B, 256, C] ... [B, 1, C]
 */
export class MultiGranularEncoder {
  constructor(readonly vision: CLIPVisionTransformer) {}

  get featureDim(): number {
    return this.vision.config.hiddenSize;
  }

  /**
   * f0..f4 of an all-black image: the unconditional branch of the decoders' guidance (the
   * authors' release), each [1, tokens, C].
   */
  nullScales(size = this.vision.config.imageSize): Tensor[] {
    return tidy(() => {
      const black = Tensor.empty([1, 3, size, size]);
      for (let c = 0; c < 3; c++) black.data.fill(-CLIP_MEAN[c] / CLIP_STD[c], c * size * size, (c + 1) * size * size);
      return this.encode(black).map((x) => x.keep());
    });
  }

  /** Features of every scale, finest first, each [B, tokens, C] in row-major grid order. */
  encode(pixels: Tensor): Tensor[] {
    return noGrad(() => {
      const h = this.vision.forward(pixels).lastHiddenState;
      const [b, n1, c] = h.shape;
      const side = Math.round(Math.sqrt(n1 - 1));
      if (side * side !== n1 - 1) throw new Error(`encoder: ${n1 - 1} patch tokens do not form a square grid`);
      return poolScales(h.narrow(1, 1, n1 - 1), b, side, c);
    });
  }
}

/** f0 [B, side*side, C] -> [f0, f1, ...] down to a 1x1 grid, by 2x2 average pooling. */
export function poolScales(f0: Tensor, b: number, side: number, c: number): Tensor[] {
  const out = [f0.contiguous()];
  let grid = f0.transpose(1, 2).reshape([b, c, side, side]);
  for (let s = side; s > 1; s /= 2) {
    grid = avgPool2d(grid, 2);
    out.push(grid.reshape([b, c, (s / 2) * (s / 2)]).transpose(1, 2).contiguous());
  }
  return out;
}

/** The MLLM's order: f4, f3, f2, f1, f0 concatenated to [B, 341, C]. */
export function coarseToFine(scales: readonly Tensor[]): Tensor {
  return cat([...scales].reverse(), 1);
}

/** Splits a [B, 341, C] coarse-to-fine sequence back into [f0, ..., f4]. */
export function splitCoarseToFine(seq: Tensor): Tensor[] {
  const parts: Tensor[] = [];
  let at = 0;
  for (let k = NUM_SCALES - 1; k >= 0; k--) {
    parts[k] = seq.narrow(1, at, SCALE_TOKENS[k]);
    at += SCALE_TOKENS[k];
  }
  return parts;
}
