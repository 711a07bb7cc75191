// Understanding (paper 4.5): the image's f4..f0 (341 slots) in the training layout
//   <s> system USER: [IMG] f4..f0 [/IMG] question ASSISTANT:
// and the understand MLLM writes the answer. The pretrained MLLM never saw that layout; it only
// learned image-to-text captions (`<s>[IMG]..[/IMG] caption</s>`), so without an
// instruction-tuned model the image is captioned instead and the question is not asked.
import type { Image } from '../io/image.js';
import { coarseToFine } from '../models/puma/encoder.js';
import { IMAGE_SLOTS, type MllmPart } from '../models/puma/mllm.js';
import { promptParts, questionParts } from '../models/puma/mllm-prompt.js';
import * as T from '../tensor/index.js';
import { modelImage } from './edit.js';
import { mllmFor, type MllmStage, type PumaModel } from './model.js';
import { encodeScales, prepareImage } from './reconstruct.js';

export interface AskOptions {
  maxTokens?: number;
  /** 0 = greedy (the default); above 0 samples with top-p from `seed`. */
  temperature?: number;
  topP?: number;
  seed?: number;
}

export interface Answer {
  answer: string;
  /** The generated ids (special tokens such as <pos_i> included in `answer`). */
  ids: number[];
  stage: MllmStage;
  note?: string;
  /** The image as the model saw it (64x64). */
  input: Image;
}

/**
 * Answers a question about an image.
 *
 * @example
 * ask(puma, await readImage('face.png'), 'What does this emoji show?').answer; // 'grinning face'
 */
export function ask(model: PumaModel, image: Image, question: string, opts: AskOptions = {}): Answer {
  if (!question.trim()) throw new Error('the question is empty');
  const { mllm, stage, note } = mllmFor(model, 'understand');
  const input = modelImage(image);
  const slots = imageSlots(model, input);
  const parts: MllmPart[] = stage === 'pretrain'
    ? promptParts([{ kind: 'image', ref: { image: 0 }, role: 'input' }], model.tokenizer, [slots])
    : questionParts(model.tokenizer, slots, question.trim());
  const temperature = opts.temperature ?? 0;
  const ids = mllm.generateText(parts, {
    maxTokens: opts.maxTokens ?? 32, greedy: temperature <= 0, temperature, topP: opts.topP ?? 0.9,
    generator: new T.Generator(opts.seed ?? 0),
  });
  slots.dispose();
  const why = stage === 'pretrain' ? `${note}; it captions the image instead of answering` : note;
  return { answer: ids.length ? model.tokenizer.decode(ids).trim() : '', ids, stage, note: why, input };
}

/** The 341 feature slots [341, C] (f4..f0) of a model-size image. */
export function imageSlots(model: PumaModel, img64: Image): T.Tensor {
  return T.tidy(() => coarseToFine(encodeScales(model, prepareImage(img64))).reshape([IMAGE_SLOTS, -1]).keep());
}
