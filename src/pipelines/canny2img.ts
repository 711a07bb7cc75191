// Canny-to-image (paper 4.4, conditional generation): the condition is built as the training
// data's: cv2.Canny(gray, 100, 200) of the 64x64 input, white edges on black as RGB; the prompt
// is the caption, after the task instruction by default. f0 by default. Runs on mllm-canny (or,
// in models without one, mllm-cond).
import { COND } from '../data/tasks/templates.js';
import { canny } from '../io/canny.js';
import { grayToRgb, toGrayscale, type Image } from '../io/image.js';
import { imageToImage, modelImage, type ImageToImageResult } from './edit.js';
import { unseenWords } from './generate.js';
import { conditionPrompt, type ConditionOptions } from './inpaint.js';
import type { PumaModel } from './model.js';

export interface CannyOptions extends Omit<ConditionOptions, 'keepInput'> {
  /** The input already is an edge map: use it as is (made grey and 64x64). */
  edges?: boolean;
}

/** The model-size edge map of an image, as renderRef's 'canny' images (low 100, high 200). */
export function cannyInput(image: Image, edges = false): Image {
  const rgb = modelImage(image);
  return grayToRgb(edges ? toGrayscale(rgb) : canny(rgb, 100, 200));
}

/**
 * Draws an image from the edges of another and a caption.
 *
 * @example
 * const r = canny2img(puma, await readImage('face.png'), 'grinning face', { seeds: [0, 1] });
 */
export function canny2img(model: PumaModel, image: Image, caption: string, opts: CannyOptions = {}): ImageToImageResult {
  if (!caption.trim()) throw new Error('the prompt is empty');
  const r = imageToImage(model, 'canny', cannyInput(image, opts.edges), conditionPrompt(COND.canny[0], { ...opts, caption }), opts, true);
  return { ...r, unseenWords: unseenWords(model, caption) };
}
