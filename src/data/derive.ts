import { canny } from '../io/canny.js';
import { grayToRgb, type Image, toGrayscale } from '../io/image.js';
import { resizeImage } from '../io/resize.js';
import type { EmojiWorld } from './emoji/world.js';
import { makeMask, type MaskSpec } from './masks.js';

/** Grey written into inpainting holes: visible on white backgrounds and on dark strokes alike. */
export const HOLE_VALUE = 128;

/**
 * An image a sample refers to: a stored emoji, or one derived from it on demand.
 * - grayscale: luma replicated to RGB (colorization input);
 * - canny: cv2.Canny(gray, low, high) edges, white on black, as RGB (canny-to-image input);
 * - masked: holes of `mask` painted HOLE_VALUE (inpainting input);
 * - placed: the emoji scaled to size x size and pasted at (x, y) on a white canvas (grounding).
 */
export type ImageRef =
  | { image: number; op?: undefined }
  | { image: number; op: 'grayscale' }
  | { image: number; op: 'canny'; low: number; high: number }
  | { image: number; op: 'masked'; mask: MaskSpec }
  | { image: number; op: 'placed'; x: number; y: number; size: number };

/** A short human-readable name, e.g. "#12", "canny(#12)", "masked(#12,strokes:5)". */
export function describeRef(ref: ImageRef): string {
  const id = `#${ref.image}`;
  switch (ref.op) {
    case undefined:
      return id;
    case 'grayscale':
      return `gray(${id})`;
    case 'canny':
      return `canny(${id})`;
    case 'masked':
      return `masked(${id},${ref.mask.kind}:${ref.mask.seed})`;
    case 'placed':
      return `placed(${id},${ref.size}@${ref.x},${ref.y})`;
  }
}

/**
 * Renders a reference to 8-bit RGB at the dataset's size.
 * @example const edges = renderRef(world, { image: 3, op: 'canny', low: 100, high: 200 });
 */
export function renderRef(world: EmojiWorld, ref: ImageRef): Image {
  const rgb = world.rgb(ref.image);
  const copy = (): Image => ({ ...rgb, data: rgb.data.slice() });
  switch (ref.op) {
    case undefined:
      return copy();
    case 'grayscale':
      return grayToRgb(toGrayscale(rgb));
    case 'canny':
      return grayToRgb(canny(rgb, ref.low, ref.high));
    case 'masked': {
      const out = copy();
      const mask = makeMask(ref.mask, rgb.width, rgb.height);
      for (let i = 0; i < mask.length; i++) if (mask[i]) out.data.fill(HOLE_VALUE, 3 * i, 3 * i + 3);
      return out;
    }
    case 'placed': {
      const out: Image = { width: rgb.width, height: rgb.height, channels: 3, data: new Uint8Array(rgb.data.length).fill(255) };
      const small = resizeImage(rgb, ref.size, ref.size, 'bilinear');
      for (let y = 0; y < ref.size; y++) {
        const from = y * ref.size * 3;
        out.data.set(small.data.subarray(from, from + ref.size * 3), ((ref.y + y) * out.width + ref.x) * 3);
      }
      return out;
    }
  }
}

/** Alpha of a 'placed' reference, for its box: the alpha plane scaled and pasted the same way. */
export function placedAlpha(world: EmojiWorld, ref: Extract<ImageRef, { op: 'placed' }>): Uint8Array {
  const alpha: Image = { width: world.width, height: world.height, channels: 1, data: world.alpha(ref.image) };
  const small = resizeImage(alpha, ref.size, ref.size, 'bilinear');
  const out = new Uint8Array(world.width * world.height);
  for (let y = 0; y < ref.size; y++) {
    out.set(small.data.subarray(y * ref.size, (y + 1) * ref.size), (ref.y + y) * world.width + ref.x);
  }
  return out;
}
