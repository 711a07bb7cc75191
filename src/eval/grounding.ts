// Grounding on held-out images (paper 3.3: boxes as four of the 224 position tokens): each case is
// a test-split emoji placed at a random size and position on a blank 64x64 canvas, as the
// grounding training samples are, and the understanding MLLM is asked where it is. Scored by the
// IoU of its box with the emoji's visible pixels: accuracy at IoU >= 0.5 (the usual REC measure)
// and the mean IoU, against the best constant answer, the mean box of the training samples. As in
// Table 5 (understanding.ts), the image is given at one scale alone (the others a blank image's)
// or at all five.
import { renderRef } from '../data/derive.js';
import type { EmojiWorld } from '../data/emoji/world.js';
import { Rng } from '../data/rng.js';
import { makeSample, sampleTask, taskItems } from '../data/tasks/samplers.js';
import { posTokensToBox } from '../data/tokenizer/special.js';
import { questionParts } from '../models/puma/mllm-prompt.js';
import type { PixelBox } from '../pipelines/ground.js';
import { mllmFor, type MllmStage, type PumaModel } from '../pipelines/model.js';
import { encodeScales, prepareImage } from '../pipelines/reconstruct.js';
import * as T from '../tensor/index.js';
import { markdownTable, type EvalOptions } from './common.js';
import { slotsShowing, UNDERSTANDING_INPUTS } from './understanding.js';

/** Inclusive pixel box [x0, y0, x1, y1], as `puma ground` answers. */
type Box = Readonly<PixelBox>;

/**
 * Intersection over union of two inclusive pixel boxes (0 when either is empty).
 *
 * @example
 * boxIoU([0, 0, 9, 9], [5, 0, 14, 9]); // 50 / 150
 */
export function boxIoU(a: Box, b: Box): number {
  const area = (x: Box) => Math.max(0, x[2] - x[0] + 1) * Math.max(0, x[3] - x[1] + 1);
  const inter = area([Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])]);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

export interface GroundingRow {
  /** 'MLLM, <input>' (f4 .. f0 alone, f4-f0) or the constant baseline. */
  answer: string;
  /** Share of cases with IoU >= 0.5. */
  accuracy: number;
  meanIoU: number;
  /** Share of answers that hold four position tokens. */
  parsed: number;
  cases: number;
}
export interface GroundingResult {
  stage: MllmStage;
  note?: string;
  rows: GroundingRow[];
  examples: { question: string; answer: string; box: Box | null; truth: Box; iou: number }[];
}

/** The mean box of n training grounding samples, rounded: the best single guess without the image. */
export function meanTrainingBox(world: EmojiWorld, n = 512): Box {
  const sums = [0, 0, 0, 0];
  const samples = sampleTask(world, 'ground', 'train', n, 0);
  for (const s of samples) (s.meta.box as number[]).forEach((v, i) => { sums[i] += v; });
  const [x0, y0, x1, y1] = sums.map((v) => Math.round(v / samples.length));
  return [x0, y0, x1, y1];
}

/**
 * @example
 * const r = evalGrounding(puma, world, { n: 100 }); // r.rows[5].accuracy: all scales, IoU >= 0.5
 */
export function evalGrounding(model: PumaModel, world: EmojiWorld, opts: EvalOptions & { split?: 'val' | 'test' } = {}): GroundingResult {
  const { mllm, stage, note } = mllmFor(model, 'understand');
  const split = opts.split ?? 'test';
  const rng = new Rng(`eval:ground:${split}:${opts.seed ?? 0}`);
  const samples = rng.shuffle(taskItems(world, 'ground', split).slice()).slice(0, opts.n ?? 100).map((it) => makeSample(world, 'ground', split, it, rng));
  const constant = meanTrainingBox(world);
  // per input of Table 5 (one scale alone, the others a blank image's; or all five): IoUs, answers with a box
  const ious = UNDERSTANDING_INPUTS.map((): number[] => []), parsed = UNDERSTANDING_INPUTS.map(() => 0);
  const constIous: number[] = [];
  const examples: GroundingResult['examples'] = [];
  samples.forEach((s, i) => {
    opts.onProgress?.(`grounding: case ${i + 1}/${samples.length}`);
    const img = s.segments.find((g) => g.kind === 'image')!;
    const truth = s.meta.box as unknown as Box, question = String(s.meta.question);
    const scales = T.tidy(() => encodeScales(model, prepareImage(renderRef(world, img.kind === 'image' ? img.ref : { image: 0 }))).map((f) => f.keep()));
    UNDERSTANDING_INPUTS.forEach((inp, j) => {
      const answer = T.tidy(() => {
        const ids = mllm.generateText(questionParts(model.tokenizer, slotsShowing(model, scales, inp.scales), question), { maxTokens: 8, greedy: true });
        return ids.length ? model.tokenizer.decode(ids).trim() : '';
      });
      const box = posTokensToBox(answer, world.width, world.height);
      if (box) parsed[j]++;
      const iou = box ? boxIoU(box, truth) : 0;
      ious[j].push(iou);
      if (j === UNDERSTANDING_INPUTS.length - 1 && examples.length < 12) examples.push({ question, answer, box, truth, iou });
    });
    scales.forEach((f) => f.dispose());
    constIous.push(boxIoU(constant, truth));
  });
  const row = (answer: string, xs: number[], p: number): GroundingRow => ({
    answer, accuracy: xs.filter((v) => v >= 0.5).length / xs.length, meanIoU: xs.reduce((a, b) => a + b, 0) / xs.length, parsed: p, cases: xs.length,
  });
  return {
    stage, note, examples,
    rows: [
      ...UNDERSTANDING_INPUTS.map((inp, j) => row(`MLLM, ${inp.name}`, ious[j], parsed[j] / samples.length)),
      row(`constant: the mean training box ${constant.join(',')}`, constIous, 1),
    ],
  };
}

export function groundingTable(r: GroundingResult): string {
  return markdownTable(
    ['answer', 'IoU >= 0.5', 'mean IoU', 'four position tokens', 'cases'],
    r.rows.map((x) => [x.answer, x.accuracy, x.meanIoU, x.parsed, String(x.cases)]),
  );
}
