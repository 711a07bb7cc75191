// Keeping what the input already fixes (our addition; the paper returns the decoder's image as
// is). Inpainting tools paste the known pixels back around the filled region, and colorization
// keeps the input's lightness and takes only the colour from the model (as Lab "ab" models do).
// An edit is applied as a change: the input plus the difference between the edited decode and
// the decode of the input's own features under the same noise, so the decoder's blur, in both,
// cancels. The decoders draw the whole image, blurring what was given; these put the given part back.
import * as T from '../tensor/index.js';
import type { ImageToImageResult } from './edit.js';

/** OpenCV's luma weights (io/image toGrayscale), so a grey input's value is its luma. */
const LUMA = [0.299, 0.587, 0.114] as const;

/** What a task keeps of its input: the pixels outside the holes, the lightness, or all but the change. */
export type Kept = 'known-pixels' | 'luma' | 'all-but-the-change';

function checkPair(out: T.Tensor, input: T.Tensor): [n: number, hw: number] {
  const [n, c, h, w] = out.shape;
  if (out.shape.length !== 4 || c !== 3 || input.shape.join() !== out.shape.join()) {
    throw new Error(`composite needs two [N, 3, H, W] images of one shape, got [${out.shape}] and [${input.shape}]`);
  }
  return [n, h * w];
}

/**
 * The output's colour with the input's luma: each pixel moves along grey by Y(input) - Y(output)
 * (YCbCr with Cb, Cr kept), clamped to [0, 1]. Both [N, 3, H, W] in [0, 1].
 *
 * @example
 * keepLuma(decoded, greyInput); // the decoded colours at the grey image's lightness
 */
export function keepLuma(out: T.Tensor, input: T.Tensor): T.Tensor {
  const [n, hw] = checkPair(out, input);
  const o = out.contiguous().data, g = input.contiguous().data;
  const r = T.Tensor.empty(out.shape);
  for (let b = 0; b < n; b++) {
    const base = b * 3 * hw;
    for (let i = 0; i < hw; i++) {
      let d = 0;
      for (let c = 0; c < 3; c++) d += LUMA[c] * (g[base + c * hw + i] - o[base + c * hw + i]);
      for (let c = 0; c < 3; c++) r.data[base + c * hw + i] = Math.min(1, Math.max(0, o[base + c * hw + i] + d));
    }
  }
  return r;
}

/**
 * The input where it is known, the output in its holes. `holes` (1 = fill) is H*W, shared by
 * the batch, or N*H*W.
 *
 * @example
 * keepKnown(decoded, maskedInput, holes); // the input's pixels around the painted region
 */
export function keepKnown(out: T.Tensor, input: T.Tensor, holes: Uint8Array): T.Tensor {
  const [n, hw] = checkPair(out, input);
  if (holes.length !== hw && holes.length !== n * hw) throw new Error(`the hole mask has ${holes.length} pixels, the images ${n} x ${hw}`);
  const o = out.contiguous().data, x = input.contiguous().data;
  const r = T.Tensor.empty(out.shape);
  for (let b = 0; b < n; b++) {
    const m = holes.length === hw ? 0 : b * hw;
    for (let c = 0; c < 3; c++) {
      const base = (b * 3 + c) * hw;
      for (let i = 0; i < hw; i++) r.data[base + i] = holes[m + i] ? o[base + i] : x[base + i];
    }
  }
  return r;
}

/**
 * The input plus a change: input + strength x (out - base), clamped to [0, 1], where `base` is the
 * decode of the input's own features with the same noise as `out`. All [N, 3, H, W] in [0, 1].
 *
 * @example
 * keepChange(editedDecode, input, inputDecode); // the input, with what the edit changed
 * keepChange(editedDecode, input, inputDecode, 2); // the change doubled
 */
export function keepChange(out: T.Tensor, input: T.Tensor, base: T.Tensor, strength = 1): T.Tensor {
  checkPair(out, input);
  checkPair(out, base);
  if (!(strength >= 0) || !Number.isFinite(strength)) throw new RangeError(`strength must be a number >= 0, got ${strength}`);
  return T.tidy(() => input.add(out.sub(base).mul(strength)).clamp(0, 1).keep());
}

/** The tasks that keep part of their input. */
export type KeepingTask = 'edit' | 'inpaint' | 'colorize';

/**
 * What a task's pipeline returns for decodes `out` of `input` (the evaluation and the figures score
 * and show it): inpaint needs the holes, edit a decode of the input's own features made with the
 * same noise as `out` (disposed here).
 *
 * @example
 * keepInputOf('inpaint', decoded, maskedInput, { holes });
 */
export function keepInputOf(
  task: KeepingTask, out: T.Tensor, input: T.Tensor, o: { holes?: Uint8Array; inputDecode?: () => T.Tensor } = {},
): T.Tensor {
  if (task === 'colorize') return keepLuma(out, input);
  if (task === 'inpaint') {
    if (!o.holes) throw new Error('inpaint keeps the pixels outside its holes: give the hole mask');
    return keepKnown(out, input, o.holes);
  }
  if (!o.inputDecode) throw new Error('edit keeps all but the change: give a decode of the input\'s own features');
  const base = o.inputDecode();
  const y = keepChange(out, input, base);
  base.dispose();
  return y;
}

/** Applies a composite to every decoded image of a result (the old tensors are disposed). */
export function compositeResult(
  r: ImageToImageResult, kept: Kept, f: (img: T.Tensor, scale: number, seed: number) => T.Tensor,
): ImageToImageResult {
  for (const row of r.rows) {
    for (const [k, x] of row.images) {
      row.images.set(k, f(x, k, row.seed).keep());
      x.dispose();
    }
  }
  return { ...r, kept };
}
