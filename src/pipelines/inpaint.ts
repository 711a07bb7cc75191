// Inpainting (paper 4.4, conditional generation): the holes of the input are painted grey
// (HOLE_VALUE, as the training data's masked images are), the prompt is the caption plus an
// instruction, and the cond MLLM regresses the whole image. With the pixels around the holes kept
// (the default) it is decoded at f4, without them at f0 (inpaintScales).
import { HOLE_VALUE } from '../data/derive.js';
import { COND } from '../data/tasks/templates.js';
import { toGrayscale, type Image } from '../io/image.js';
import { resizeImage } from '../io/resize.js';
import { compositeResult, keepKnown } from './composite.js';
import { FINE_SCALES, imageToImage, modelImage, type EditOptions, type ImageToImageResult } from './edit.js';
import type { PumaModel } from './model.js';
import { prepareImage } from './reconstruct.js';

/** A rectangle in the input image's pixels: left, top, width, height. */
export type Box = readonly [x: number, y: number, w: number, h: number];

/** Where to inpaint: a mask image (white = fill) of the input's size, or a box. */
export type InpaintRegion = { mask: Image } | { box: Box };

export interface ConditionOptions extends EditOptions {
  /** The target's caption (the training prompts always carry one). */
  caption?: string;
  /** Prefix the task instruction, as half the training prompts do (default true). */
  instruction?: boolean;
}

/**
 * The scales inpainting decodes unless told: with the pixels around the holes kept, f4, whose
 * decode fills a hole with the kind of thing around it (held-out cases, three draws: 17.7 dB against
 * 16.4 at f0, docs/PUMA.md); the plain decode, f0 (the paper's scale for conditional generation).
 *
 * @example
 * inpaintScales(true); // [4]
 */
export function inpaintScales(keepInput = true): readonly number[] {
  return keepInput ? [4] : FINE_SCALES;
}

/**
 * Parses `x,y,w,h` (non-negative integers, w and h at least 1).
 *
 * @example
 * parseBox('8,8,32,16'); // [8, 8, 32, 16]
 */
export function parseBox(v: string): Box {
  const parts = v.split(',').map((s) => s.trim());
  const n = parts.map(Number);
  if (parts.length !== 4 || parts.some((s) => s === '') || n.some((x) => !Number.isInteger(x) || x < 0) || n[2] < 1 || n[3] < 1) {
    throw new Error(`--box takes x,y,w,h in pixels (non-negative integers, w and h at least 1), got '${v}'`);
  }
  return [n[0], n[1], n[2], n[3]];
}

/**
 * The holes (1) at the model's size, from a region on a width x height input: the region is drawn
 * at the input's size, resized bilinearly, and pixels at least half covered become holes.
 *
 * @example
 * holeMask({ box: [0, 0, 32, 64] }, 64, 64); // left half 1, right half 0
 */
export function holeMask(region: InpaintRegion, width: number, height: number, size = 64): Uint8Array {
  const holes = regionPixels(region, width, height, size);
  if (!holes.includes(1)) throw new Error('the region to fill is empty (white pixels of the mask, or the box, mark it)');
  return holes;
}

/** holeMask without the check that the region covers a pixel at this size. */
function regionPixels(region: InpaintRegion, width: number, height: number, size: number): Uint8Array {
  let full: Image;
  if ('box' in region) {
    const [x, y, w, h] = region.box;
    if (x + w > width || y + h > height) throw new Error(`box ${region.box.join(',')} extends past the ${width}x${height} image`);
    full = { width, height, channels: 1, data: new Uint8Array(width * height) };
    for (let r = y; r < y + h; r++) full.data.fill(255, r * width + x, r * width + x + w);
  } else {
    const m = region.mask;
    if (m.width !== width || m.height !== height) throw new Error(`the mask is ${m.width}x${m.height} but the image is ${width}x${height}`);
    // white marks the hole; an RGBA mask counts its colour, not its alpha
    full = toGrayscale(m);
  }
  const small = full.width === size && full.height === size ? full : resizeImage(full, size, size, 'bilinear');
  return Uint8Array.from(small.data, (v) => (v >= 128 ? 1 : 0));
}

/** The model-size input with its holes painted grey, as renderRef's 'masked' images. */
export function maskedImage(img64: Image, holes: Uint8Array): Image {
  const out: Image = { ...img64, data: img64.data.slice() };
  for (let i = 0; i < holes.length; i++) if (holes[i]) out.data.fill(HOLE_VALUE, 3 * i, 3 * i + 3);
  return out;
}

/** Caption and instruction as the cond samples join them: `instruction caption`. */
export function conditionPrompt(instruction: string, o: { caption?: string; instruction?: boolean }): string {
  const caption = o.caption?.trim() ?? '';
  if (o.instruction === false && !caption) throw new Error('without the instruction the prompt needs a caption');
  return [o.instruction === false ? '' : instruction, caption].filter(Boolean).join(' ');
}

/**
 * Fills a region of an image.
 *
 * @example
 * const r = inpaint(puma, img, { box: [16, 16, 24, 24] }, { caption: 'grinning face' });
 */
export function inpaint(model: PumaModel, image: Image, region: InpaintRegion, opts: ConditionOptions = {}): ImageToImageResult {
  const holes = holeMask(region, image.width, image.height);
  const input = maskedImage(modelImage(image), holes);
  const scales = opts.scales ?? inpaintScales(opts.keepInput !== false);
  const r = imageToImage(model, 'cond', input, conditionPrompt(COND.inpaint[0], opts), { ...opts, scales });
  if (opts.keepInput === false) return r;
  return compositeResult(r, 'known-pixels', (x) => {
    // the decoders' size (64 here; 1024 with SDXL's) decides the size the region is drawn at
    const size = x.shape[2];
    const known = prepareImage(modelImage(image, size), size);
    const y = keepKnown(x, known, size === 64 ? holes : regionPixels(region, image.width, image.height, size));
    known.dispose();
    return y;
  });
}
