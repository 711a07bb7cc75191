// Grounding (paper 3.3): the understanding layout with a grounding question; the answer is four
// of the 224 position tokens, [x_min, y_min, x_max, y_max] on the image (boxToPosTokens), read
// back to the input's pixels and drawn on it.
import { fill, GROUND } from '../data/tasks/templates.js';
import { posTokensToBox } from '../data/tokenizer/special.js';
import { compositeOver, type Image } from '../io/image.js';
import { questionParts } from '../models/puma/mllm-prompt.js';
import { imageSlots } from './ask.js';
import { modelImage } from './edit.js';
import { mllmFor, type MllmStage, type PumaModel } from './model.js';

/** Inclusive pixel box [x0, y0, x1, y1]. */
export type PixelBox = [number, number, number, number];

export interface Grounding {
  /** On the input image's pixels; null when the answer holds no four position tokens. */
  box: PixelBox | null;
  answer: string;
  question: string;
  stage: MllmStage;
  note?: string;
  /** The input (RGB on white, its own size) with the box drawn in red. */
  drawn: Image;
}

/** The question the grounding samples ask first: "Where is the {label} in the image? ...". */
export function groundingQuestion(phrase: string): string {
  return fill(GROUND[0], { label: phrase.trim() });
}

/**
 * Finds a phrase in an image.
 *
 * @example
 * const g = ground(puma, await readImage('scene.png'), 'grinning face');
 * g.box; // [12, 20, 43, 51]
 */
export function ground(model: PumaModel, image: Image, phrase: string, opts: { maxTokens?: number } = {}): Grounding {
  if (!phrase.trim()) throw new Error('the phrase is empty');
  const { mllm, stage, note } = mllmFor(model, 'understand');
  const question = groundingQuestion(phrase);
  const slots = imageSlots(model, modelImage(image));
  const ids = mllm.generateText(questionParts(model.tokenizer, slots, question), { maxTokens: opts.maxTokens ?? 8, greedy: true });
  slots.dispose();
  // (the tokenizer refuses to decode nothing: a model may stop at once)
  const answer = ids.length ? model.tokenizer.decode(ids).trim() : '';
  // the image was resized (not cropped) to the model's size, so relative positions carry over
  const box = posTokensToBox(answer, image.width, image.height);
  const rgb = compositeOver(image, 255).rgb;
  return { box, answer, question, stage, note, drawn: box ? drawBox(rgb, box) : rgb };
}

/** A copy of an RGB image with a box outline, about 1/32 of the shorter side thick. */
export function drawBox(img: Image, box: PixelBox, color: readonly [number, number, number] = [230, 30, 30]): Image {
  const out: Image = { ...img, data: img.data.slice() };
  const t = Math.max(1, Math.round(Math.min(img.width, img.height) / 32));
  const [x0, y0, x1, y1] = box.map((v, i) => Math.min(Math.max(v, 0), (i % 2 ? img.height : img.width) - 1));
  const put = (x: number, y: number) => out.data.set(color, (y * img.width + x) * img.channels);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (x < x0 + t || x > x1 - t || y < y0 + t || y > y1 - t) put(x, y);
    }
  }
  return out;
}
