// Image editing (paper 4.3) and the layout conditional generation shares with it (4.4):
//   <s>[IMG] source f4..f0 [/IMG] text [IMG]  -> the MLLM regresses the target's f4..f0
// (as the edit and cond instruction-tuning samples are written), then the decoders draw them.
// Editing wants fine scales: f0 by default (paper 4.2, Table 3).
import { chwToImage, type Image } from '../io/image.js';
import { coarseToFine } from '../models/puma/encoder.js';
import { IMAGE_SLOTS } from '../models/puma/mllm.js';
import { instructionParts } from '../models/puma/mllm-prompt.js';
import type { MllmTask } from '../train/recipes/mllm.js';
import * as T from '../tensor/index.js';
import { compositeResult, keepChange, type Kept } from './composite.js';
import { checkScales, decodeScales, type ImageTaskOptions, type ImageTaskResult } from './generate.js';
import { mllmFor, type PumaModel } from './model.js';
import { encodeScales, prepareImage } from './reconstruct.js';

/** Editing and conditional generation decode f0 unless told otherwise. */
export const FINE_SCALES: readonly number[] = [0];

export interface EditOptions extends ImageTaskOptions {
  /**
   * Put back what the input fixes (default true; our addition, composite.ts): an edit is applied as
   * a change to the input, inpainting keeps the pixels outside the holes, colorization the input's
   * luma. False returns the decoder's images as they are.
   */
  keepInput?: boolean;
  /**
   * Edits only, with the input kept: how much of the decoded change to add (default 1; our
   * addition). The change an edit decodes is often faint (a gender edit moves the image toward its
   * target by less than a person sees, docs/PUMA.md); 2 doubles it, at some cost in fidelity.
   */
  strength?: number;
}

export interface ImageToImageResult extends ImageTaskResult {
  /** The input image as the model saw it (64x64, the condition for inpaint/colorize/canny). */
  input: Image;
  /** The text between the two images. */
  text: string;
  /** What the images keep of the input (edit, inpaint, colorize; composite.ts); absent for their plain decodes. */
  kept?: Kept;
}

/**
 * Edits an image by an instruction.
 *
 * @example
 * const r = edit(puma, await readImage('face.png'), 'Make the skin darker.', { seeds: [0, 1] });
 * r.rows[1].images.get(0); // [1, 3, 64, 64]
 */
export function edit(model: PumaModel, image: Image, instruction: string, opts: EditOptions = {}): ImageToImageResult {
  if (!instruction.trim()) throw new Error('the instruction is empty');
  const strength = checkStrength(opts.strength, opts.keepInput);
  const source = modelImage(image);
  if (opts.keepInput === false) return imageToImage(model, 'edit', source, instruction.trim(), opts);
  // the input's own features: the MLLM reads them, and each scale and seed decodes them with the edit's noise
  const own = T.tidy(() => encodeScales(model, prepareImage(source)).map((f) => f.keep()));
  const r = imageToImage(model, 'edit', source, instruction.trim(), opts, false, own);
  const out = compositeResult(r, 'all-but-the-change', (x, k, seed) => {
    const base = decodeScales(model, own, [k], seed, { ...opts, onProgress: (m) => opts.onProgress?.(`the input's own ${m}`) }).get(k)!;
    const input = prepareImage(source, x.shape[2]);
    const y = keepChange(x, input, base, strength);
    base.dispose();
    input.dispose();
    return y;
  });
  own.forEach((f) => f.dispose());
  return out;
}

/** The edit strength to use (1 when unset); throws for a negative one, or one set with the input not kept. */
export function checkStrength(strength: number | undefined, keepInput: boolean | undefined): number {
  const s = strength ?? 1;
  if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`strength must be a number >= 0, got ${strength}`);
  if (s !== 1 && keepInput === false) throw new Error('strength scales the change added to the input: it needs the input kept (drop --no-keep-input)');
  return s;
}

/**
 * `<s>[IMG]input[/IMG] text [IMG]` -> f4..f0 (down to the finest requested scale) -> images.
 * `source` is the model-size RGB image, `task` picks the instruction-tuned MLLM ('edit', 'cond' or 'canny');
 * `edgeMap`: the source is an edge map (canny-to-image); `sourceScales`: its f0..f4 when the caller
 * has encoded it already (not disposed here).
 */
export function imageToImage(
  model: PumaModel, task: MllmTask, source: Image, text: string, opts: ImageTaskOptions = {}, edgeMap = false, sourceScales?: readonly T.Tensor[],
): ImageToImageResult {
  const scales = checkScales(model, opts.scales ?? FINE_SCALES);
  const { mllm, stage, note } = mllmFor(model, task);
  // the source's 341 feature slots, coarse to fine: [1, 341, C] -> [341, C]
  const slots = T.tidy(() => coarseToFine(sourceScales ?? encodeScales(model, prepareImage(source))).reshape([IMAGE_SLOTS, -1]).keep());
  const parts = instructionParts(model.tokenizer, slots, text, edgeMap);
  opts.onProgress?.(`MLLM (${stage}) writes f4..f${Math.min(...scales)}`);
  const features = mllm.generateImage(parts, { upToScale: Math.min(...scales) });
  slots.dispose();
  const rows = (opts.seeds ?? [0]).map((seed) => ({ seed, images: decodeScales(model, features, scales, seed, opts) }));
  return { stage, note, features, rows, input: source, text };
}

/** Any RGB(A) or grey image -> the model's 64x64 RGB input, composited on white (as prepareImage). */
export function modelImage(img: Image, size = 64): Image {
  const x = prepareImage(img, size);
  return chwToImage({ data: x.data, shape: [3, size, size] }, '01');
}
