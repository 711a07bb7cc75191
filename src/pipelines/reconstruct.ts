// Image -> multi-granular features -> one decoded image per scale (paper Fig. 3).
import { CLIP_MEAN, CLIP_STD, compositeOver, type Image } from '../io/image.js';
import { resizeImage, type ResizeFilter } from '../io/resize.js';
import * as T from '../tensor/index.js';
import { decodeFeatures, type DecodeOptions } from './decode.js';
import type { PumaModel } from './model.js';

/**
 * An RGB(A) image of any size -> the model's input on white, as [1, 3, size, size] in [0, 1]
 * (bicubic for the small model; the release script resizes with PIL's bilinear filter).
 */
export function prepareImage(img: Image, size = 64, filter: ResizeFilter = 'bicubic'): T.Tensor {
  const rgb = img.channels === 4 ? compositeOver(img, 255).rgb : img.channels === 1
    ? { ...img, channels: 3 as const, data: Uint8Array.from({ length: img.width * img.height * 3 }, (_, i) => img.data[Math.floor(i / 3)]) }
    : img;
  const small = rgb.width === size && rgb.height === size ? rgb : resizeImage(rgb, size, size, filter);
  const out = T.Tensor.empty([1, 3, size, size]);
  for (let c = 0; c < 3; c++) for (let i = 0; i < size * size; i++) out.data[c * size * size + i] = small.data[i * 3 + c] / 255;
  return out;
}

/** [B, 3, H, W] in [0, 1] -> CLIP normalisation. */
export function clipNormalize(x: T.Tensor): T.Tensor {
  const mean = T.fromArray(CLIP_MEAN as unknown as number[], [1, 3, 1, 1]), std = T.fromArray(CLIP_STD as unknown as number[], [1, 3, 1, 1]);
  return x.sub(mean).div(std);
}

/** f0..f4 of images in [0, 1]. */
export function encodeScales(model: PumaModel, images: T.Tensor): T.Tensor[] {
  return model.encoder.encode(clipNormalize(images));
}

/**
 * Decodes images at the requested scales: result[k] is [B, 3, 64, 64] for each k in `scales`.
 *
 * @example
 * const out = reconstruct(puma, prepareImage(img), [4, 0], { seed: 1 });
 */
export function reconstruct(
  model: PumaModel, images: T.Tensor, scales: readonly number[], opts: Omit<DecodeOptions, 'onStep'> & { onStep?: (scale: number, done: number, total: number) => void } = {},
): Map<number, T.Tensor> {
  const feats = T.tidy(() => encodeScales(model, images).map((f) => f.keep()));
  const out = new Map<number, T.Tensor>();
  for (const k of scales) {
    const dec = model.decoders[k];
    if (!dec) throw new Error(`no decoder for scale f${k}: train it with 'puma train decoder --scale ${k}'`);
    const onStep = opts.onStep;
    out.set(k, decodeFeatures(dec, model.vae, model.scalingFactor, feats[k], model.nullScales[k], {
      ...opts, onStep: onStep && ((i, n) => onStep(k, i, n)),
    }).keep());
  }
  for (const f of feats) f.dispose();
  return out;
}
