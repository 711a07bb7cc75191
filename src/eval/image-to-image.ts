// Table 3 (editing) and the conditional-generation table on the emoji world: held-out samples of
// the instruction-tuning tasks, `<s>[IMG]input[/IMG] text [IMG]` -> f4..f0 -> each decoder.
// Editing follows Emu Edit's protocol as the paper does: CLIP-I and DINO between the input and
// the output (what is kept), CLIP-T between the output and the target's caption (what changed);
// the emoji world also has the true target, so PSNR and CLIP-I to it are reported as well.
// Conditional generation (canny, inpainting, colorization) is scored against the true image.
import { renderRef } from '../data/derive.js';
import { makeMask } from '../data/masks.js';
import { STYLE_NAMES } from '../data/emoji/meta.js';
import type { EmojiWorld } from '../data/emoji/world.js';
import { Rng } from '../data/rng.js';
import { makeSample, sampleTask, taskItems } from '../data/tasks/samplers.js';
import type { Sample } from '../data/tasks/sample.js';
import { coarseToFine } from '../models/puma/encoder.js';
import { IMAGE_SLOTS } from '../models/puma/mllm.js';
import { instructionParts } from '../models/puma/mllm-prompt.js';
import { keepInputOf } from '../pipelines/composite.js';
import { inpaintScales } from '../pipelines/inpaint.js';
import { mllmFor, type MllmStage, type PumaModel } from '../pipelines/model.js';
import { encodeScales, prepareImage } from '../pipelines/reconstruct.js';
import type { MllmTask } from '../train/recipes/mllm.js';
import * as T from '../tensor/index.js';
import { bestScale, decodeMany, markdownTable, mean, pickRows, SCALES_COARSE_FIRST, type EvalOptions } from './common.js';
import { STANDIN, type EvalEncoder } from './encoder.js';
import { psnr } from './metrics.js';
import { ssim } from './ssim.js';

/**
 * One held-out example: the input image, the text, the true output, the output's caption, and
 * for inpainting the holes (1 = painted over).
 */
interface Case { input: T.Tensor; text: string; target: T.Tensor; caption: string; holes?: Uint8Array }

export interface ImageToImageRow {
  scale: string;
  /** Output vs input (editing: preservation). */
  clipIIn: number;
  dinoIn: number;
  /** Output vs the target caption. */
  clipT: number;
  /** Output vs the true target image. */
  clipITarget: number;
  psnrTarget: number;
  ssimTarget: number;
  n: number;
}
export interface ImageToImageResult { task: string; stage: MllmStage; note?: string; rows: ImageToImageRow[] }

/** The text between a case's two images (the instruction, or the conditional prompt). */
export function caseText(s: Sample): string {
  return s.segments.flatMap((g) => (g.kind === 'text' ? [g.text] : [])).join('').trim();
}

export function caseOf(world: EmojiWorld, s: Sample): Case {
  const imgs = s.segments.filter((g) => g.kind === 'image');
  const text = caseText(s);
  const [inRef, outRef] = imgs.map((g) => (g.kind === 'image' ? g.ref : null));
  const target = world.images[outRef!.image];
  return {
    input: prepareImage(renderRef(world, inRef!)).keep(),
    text,
    target: prepareImage(renderRef(world, outRef!)).keep(),
    caption: `${world.concepts[target.concept].label}, ${STYLE_NAMES[target.style]}`,
    holes: inRef!.op === 'masked' ? makeMask(inRef!.mask, world.width, world.height) : undefined,
  };
}

/**
 * What the pipelines keep of an evaluated task's input (composite.ts), as a function of the decodes
 * at scale k; null for canny. An edit decodes the inputs' own features with the same noise (decodeMany).
 */
function keepInput(
  model: PumaModel, task: ImageTask, cases: readonly Case[], input: T.Tensor, k: number, opts: EvalOptions,
): ((x: T.Tensor) => T.Tensor) | null {
  if (task === 'canny') return null;
  const holes = task === 'inpaint' ? new Uint8Array(cases.flatMap((c) => [...c.holes!])) : undefined;
  const inputDecode = () => {
    opts.onProgress?.(`${task}: decoding the inputs' own f${k}`);
    const own = cases.map((c) => T.tidy(() => encodeScales(model, c.input)[k].keep()));
    const base = decodeMany(model, k, own, opts);
    own.forEach((f) => f.dispose());
    return base;
  };
  return (x) => keepInputOf(task, x, input, { holes, inputDecode });
}

/** The evaluated image-to-image tasks. */
export type ImageTask = 'edit' | 'canny' | 'inpaint' | 'colorize';

/** The MLLM an evaluated task runs on: edit, canny, or cond (inpainting and colorization). */
export function mllmTaskOf(task: ImageTask): MllmTask {
  return task === 'edit' || task === 'canny' ? task : 'cond';
}

/** n held-out cases of a task: 'edit' (kind-balanced pairs) or one conditional task. */
export function imageToImageCases(world: EmojiWorld, task: ImageTask, n: number, seed = 0, split: 'val' | 'test' = 'test'): Sample[] {
  if (task === 'edit') return sampleTask(world, 'edit', split, n, seed);
  const rng = new Rng(`eval:${task}:${split}:${seed}`);
  const items = rng.shuffle(taskItems(world, task, split).slice()).slice(0, n);
  return items.map((it) => makeSample(world, task, split, it, rng));
}

/**
 * Runs the task's MLLM on each case and decodes every scale; scores as described above.
 *
 * @example
 * evalImageToImage(puma, world, ev, 'edit', { n: 16 });
 */
export function evalImageToImage(
  model: PumaModel, world: EmojiWorld, ev: EvalEncoder, task: ImageTask, opts: EvalOptions = {},
): ImageToImageResult {
  const mllmTask = mllmTaskOf(task);
  const { mllm, stage, note } = mllmFor(model, mllmTask);
  const cases = imageToImageCases(world, task, opts.n ?? 32, opts.seed ?? 0).map((s) => caseOf(world, s));
  const scales = SCALES_COARSE_FIRST.filter((k) => model.decoders[k]);
  const finest = Math.min(...scales);
  const feats = cases.map((c, i) => {
    opts.onProgress?.(`${task}: MLLM ${i + 1}/${cases.length}`);
    return T.tidy(() => {
      const slots = coarseToFine(encodeScales(model, c.input)).reshape([IMAGE_SLOTS, -1]);
      const parts = instructionParts(model.tokenizer, slots, c.text, task === 'canny');
      return mllm.generateImage(parts, { upToScale: finest }).map((f) => f?.keep() ?? null);
    });
  });
  const input = T.cat(cases.map((c) => c.input), 0).keep();
  const target = T.cat(cases.map((c) => c.target), 0).keep();
  const captions = cases.map((c) => c.caption);
  const byScale = scales.map((k) => {
    opts.onProgress?.(`${task}: decoding f${k}`);
    return decodeMany(model, k, feats.map((f) => f[k]!), opts);
  });
  const row = (scale: string, x: T.Tensor): ImageToImageRow => ({
    scale,
    clipIIn: mean(ev.imageSimilarity(x, input)),
    dinoIn: mean(ev.patchSimilarity(x, input)),
    clipT: mean(ev.textSimilarity(x, captions)),
    clipITarget: mean(ev.imageSimilarity(x, target)),
    psnrTarget: mean(psnr(x, target)),
    ssimTarget: mean(ssim(x, target)),
    n: cases.length,
  });
  const rows = scales.map((k, j) => row(`f${k}`, byScale[j]));
  if (scales.length > 1) {
    const pick = pickRows(byScale, bestScale(model, byScale, captions));
    rows.push(row('5-scale Max', pick));
    pick.dispose();
  }
  // what the pipelines return: the decode with the input's known part put back, at the finest scale
  // and, for inpainting, at its default f4 (inpaintScales)
  const keptAt = task === 'inpaint' ? [...new Set([...inpaintScales().filter((k) => scales.includes(k)), finest])] : [finest];
  for (const k of keptAt) {
    const kept = keepInput(model, task, cases, input, k, opts);
    if (!kept) break;
    const y = kept(byScale[scales.indexOf(k)]);
    rows.push(row(`f${k}, input kept`, y));
    y.dispose();
  }
  // the yardstick: the input image itself as the answer (no edit; the condition image as is)
  rows.push(row('input as is', input));
  byScale.forEach((t) => t.dispose());
  feats.flat().forEach((t) => t?.dispose());
  for (const c of cases) { c.input.dispose(); c.target.dispose(); }
  input.dispose();
  target.dispose();
  return { task, stage, note, rows };
}

export function editTable(r: ImageToImageResult): string {
  return markdownTable(
    ['scale', `CLIP-I (input) ${STANDIN}`, `CLIP-T ${STANDIN}`, `DINO-style (input) ${STANDIN}`, `CLIP-I (target) ${STANDIN}`, 'PSNR target (dB)', 'SSIM target', 'pairs'],
    r.rows.map((x) => [x.scale, x.clipIIn, x.clipT, x.dinoIn, x.clipITarget, x.psnrTarget.toFixed(2), x.ssimTarget, String(x.n)]),
  );
}

export function conditionalTable(results: readonly ImageToImageResult[]): string {
  return markdownTable(
    ['task', 'scale', 'PSNR (dB)', 'SSIM', `CLIP-I ${STANDIN}`, `CLIP-T ${STANDIN}`, 'images'],
    results.flatMap((r) => r.rows.map((x) => [r.task, x.scale, x.psnrTarget.toFixed(2), x.ssimTarget, x.clipITarget, x.clipT, String(x.n)])),
  );
}
