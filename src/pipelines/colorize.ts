// Colorization (paper 4.4, conditional generation): the input's luma, replicated to RGB as the
// training data's grayscale images are, and the prompt `instruction caption`; f0 by default.
import { COND } from '../data/tasks/templates.js';
import { grayToRgb, toGrayscale, type Image } from '../io/image.js';
import { compositeResult, keepLuma } from './composite.js';
import { imageToImage, modelImage, type ImageToImageResult } from './edit.js';
import { conditionPrompt, type ConditionOptions } from './inpaint.js';
import type { PumaModel } from './model.js';
import { prepareImage } from './reconstruct.js';

/** The model-size grayscale input (OpenCV's luma, three equal channels). */
export function grayscaleInput(image: Image, size = 64): Image {
  return grayToRgb(toGrayscale(modelImage(image, size)));
}

/**
 * Colours a grayscale (or colour, which is made grey first) image.
 *
 * @example
 * const r = colorize(puma, await readImage('gray.png'), { caption: 'red apple' });
 */
export function colorize(model: PumaModel, image: Image, opts: ConditionOptions = {}): ImageToImageResult {
  const grey = grayscaleInput(image);
  const r = imageToImage(model, 'cond', grey, conditionPrompt(COND.colorize[0], opts), opts);
  if (opts.keepInput === false) return r;
  return compositeResult(r, 'luma', (x) => {
    const size = x.shape[2];
    const luma = prepareImage(size === 64 ? grey : grayscaleInput(image, size), size);
    const y = keepLuma(x, luma);
    luma.dispose();
    return y;
  });
}
